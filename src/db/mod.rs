//! PostgreSQL: the pool, the database's creation, and the numbered migrations.

pub mod cursor;

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

mod embedded {
    refinery::embed_migrations!("src/db/migrations");
}

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database URL: {0}")]
    Url(#[source] tokio_postgres::Error),
    #[error("database: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    #[error("database pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("building the pool: {0}")]
    Build(#[from] deadpool_postgres::BuildError),
    #[error("migration: {0}")]
    Migration(#[from] refinery::Error),
}

/// How long a call waits for a pooled connection (or for a new one to connect).
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

pub fn pool(url: &str, size: usize) -> Result<Pool, DbError> {
    let cfg = tokio_postgres::Config::from_str(url).map_err(DbError::Url)?;
    let mgr = Manager::from_config(
        cfg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    // A call waits at most `POOL_WAIT` for a connection (then `database_unavailable`, 503),
    // never without end behind calls that hold every connection.
    Ok(Pool::builder(mgr)
        .max_size(size)
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .wait_timeout(Some(POOL_WAIT))
        .create_timeout(Some(POOL_WAIT))
        .recycle_timeout(Some(POOL_WAIT))
        .build()?)
}

/// Creates the database named in `url` when it does not exist yet (connecting to `postgres`).
pub async fn create_database_if_missing(url: &str) -> Result<(), DbError> {
    let cfg = tokio_postgres::Config::from_str(url).map_err(DbError::Url)?;
    let name = cfg.get_dbname().unwrap_or("postgres").to_string();
    let mut admin = cfg.clone();
    admin.dbname("postgres");
    let (client, conn) = admin.connect(NoTls).await?;
    let task = tokio::spawn(conn);
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        let quoted = name.replace('"', "\"\"");
        client
            .batch_execute(&format!("CREATE DATABASE \"{quoted}\""))
            .await?;
    }
    drop(client);
    let _ = task.await;
    Ok(())
}

/// Runs the numbered migrations in `src/db/migrations` that have not run yet.
pub async fn migrate(pool: &Pool) -> Result<(), DbError> {
    let mut obj = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut obj;
    embedded::migrations::runner().run_async(client).await?;
    Ok(())
}

impl From<deadpool_postgres::PoolError> for crate::domain::Refusal {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        crate::domain::Refusal::DatabaseUnavailable(e.to_string())
    }
}

impl From<tokio_postgres::Error> for crate::domain::Refusal {
    /// A database error as a refusal, which is logged: the SQLSTATE and the server's message,
    /// never its DETAIL or HINT, which quote the row's values (a user id, a mail address).
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) if !e.is_closed() => crate::domain::Refusal::Internal(anyhow::anyhow!(
                "database error {}: {}",
                db.code().code(),
                db.message()
            )),
            _ => crate::domain::Refusal::DatabaseUnavailable(e.to_string()),
        }
    }
}
