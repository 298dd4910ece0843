//! PostgreSQL: the pool, the database's creation, the hub's own role, the numbered migrations,
//! and TLS to the server (rustls).
//!
//! Two roles meet the database. The owner (`database_owner`) creates it, owns every table and
//! runs the migrations; the services connect as the login role of `database_url`, a member of
//! `kirikae_service`, which the migrations grant the rows it works on but no ownership: it
//! cannot drop or disable the triggers that keep `audit_log` append-only, nor alter a table.

pub mod cursor;
pub mod group;
mod tls;

use std::str::FromStr;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::Settings;

pub use tls::TlsError;

mod embedded {
    refinery::embed_migrations!("src/db/migrations");
}

/// The group role the migrations grant the services' privileges to (V10); the login role of
/// `database_url` is made a member of it.
pub const SERVICE_ROLE: &str = "kirikae_service";

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
    #[error("database TLS: {0}")]
    Tls(#[from] TlsError),
    #[error("database_url names no user: the services need their own login role")]
    NoUser,
}

/// How long a call waits for a pooled connection (or for a new one to connect).
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// How to reach the database as one role: the server, database and user, and the TLS.
#[derive(Clone)]
pub struct Connect {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
}

impl Connect {
    /// The services' connection: `database_url` with the TLS the settings ask for.
    pub fn service(settings: &Settings) -> Result<Self, DbError> {
        let mut config =
            tokio_postgres::Config::from_str(&settings.database_url).map_err(DbError::Url)?;
        without_jit(&mut config);
        let tls = tls::configure(&mut config, settings)?;
        Ok(Connect { config, tls })
    }

    /// The owner's connection: the same server and database as the services', as
    /// `database_owner`.
    pub fn owner(settings: &Settings) -> Result<Self, DbError> {
        let mut owner = Self::service(settings)?;
        owner.config.user(&settings.database_owner);
        // Not the services' password: the owner's, or none (local trust authentication).
        let password = settings.database_owner_password.as_deref().unwrap_or("");
        owner.config.password(password);
        Ok(owner)
    }

    pub fn user(&self) -> Option<&str> {
        self.config.get_user()
    }

    /// One connection, its driver running as a task.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, DbError> {
        let (client, conn) = self.config.connect(self.tls.clone()).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "database connection closed");
            }
        });
        Ok(client)
    }

    /// A connection that `LISTEN`s on `channel`: `heard` is woken at each notification, and
    /// once more when the connection ends (so its owner may look for what it missed, and
    /// listen again). The connection lasts as long as the client returned.
    pub async fn listen(
        &self,
        channel: &str,
        heard: std::sync::Arc<tokio::sync::Notify>,
    ) -> Result<tokio_postgres::Client, DbError> {
        let (client, mut conn) = self.config.connect(self.tls.clone()).await?;
        tokio::spawn(async move {
            use futures::StreamExt;
            let mut messages = futures::stream::poll_fn(move |cx| conn.poll_message(cx));
            while let Some(message) = messages.next().await {
                match message {
                    Ok(tokio_postgres::AsyncMessage::Notification(_)) => heard.notify_one(),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::debug!(error = %e, "listening connection closed");
                        break;
                    }
                }
            }
            heard.notify_one();
        });
        client
            .batch_execute(&format!("LISTEN \"{channel}\""))
            .await?;
        Ok(client)
    }

    /// The same, to another database of the server.
    fn to_database(&self, name: &str) -> Self {
        let mut other = self.clone();
        other.config.dbname(name);
        other
    }
}

/// Turns PostgreSQL's JIT off for the hub's sessions, unless `database_url`'s `options` set
/// `jit` themselves. Every statement of the hub is short, yet the planner's estimate of some
/// grows with their tables (a subquery over `events`, say), and past `jit_above_cost` each
/// execution compiles with LLVM first: at 258,000 events the webhook backlog's count took
/// 470 ms with JIT and 0.09 ms without (docs/performance.md).
fn without_jit(config: &mut tokio_postgres::Config) {
    let options = config.get_options().unwrap_or_default();
    if !options.contains("jit") {
        let options = format!("{options} -c jit=off");
        config.options(options.trim_start());
    }
}

pub fn pool(connect: &Connect, size: usize) -> Result<Pool, DbError> {
    let mgr = Manager::from_config(
        connect.config.clone(),
        connect.tls.clone(),
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

/// Creates the database `owner` names when it does not exist yet (connecting to `postgres`),
/// owned by the owner.
pub async fn create_database_if_missing(owner: &Connect) -> Result<(), DbError> {
    let name = owner.config.get_dbname().unwrap_or("postgres").to_string();
    let client = owner.to_database("postgres").connect().await?;
    let exists = client
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .await?
        .is_some();
    if !exists {
        client
            .batch_execute(&format!("CREATE DATABASE {}", quote_ident(&name)))
            .await?;
    }
    Ok(())
}

/// Makes `service`'s login role a member of [`SERVICE_ROLE`], creating either role when missing
/// (with the password `service` carries, if any). Roles belong to the whole server, so this
/// runs in the `postgres` database under an advisory lock: hubs migrating side by side (the
/// tests) do not race to create them. A service role that is the owner itself, or a superuser,
/// is left alone and reported, since the trail is then unprotected.
pub async fn ensure_service_role(owner: &Connect, service: &Connect) -> Result<(), DbError> {
    let user = service.user().ok_or(DbError::NoUser)?.to_string();
    let mut client = owner.to_database("postgres").connect().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(4807112010)", &[])
        .await?;
    let group = tx
        .query_opt(
            "SELECT 1 FROM pg_roles WHERE rolname = $1::name",
            &[&SERVICE_ROLE],
        )
        .await?;
    if group.is_none() {
        tx.batch_execute(&format!("CREATE ROLE {SERVICE_ROLE} NOLOGIN"))
            .await?;
    }
    let found = tx
        .query_opt(
            "SELECT rolsuper, rolname = current_user,
                    pg_has_role($1::name, $2::name, 'MEMBER')
             FROM pg_roles WHERE rolname = $1::name",
            &[&user, &SERVICE_ROLE],
        )
        .await?;
    match found {
        None => {
            let password = match service.config.get_password() {
                Some(p) => format!(" PASSWORD {}", quote_literal(&String::from_utf8_lossy(p))),
                None => String::new(),
            };
            tx.batch_execute(&format!(
                "CREATE ROLE {} LOGIN{password} IN ROLE {SERVICE_ROLE}",
                quote_ident(&user)
            ))
            .await?;
        }
        Some(row) if row.get::<_, bool>(0) || row.get::<_, bool>(1) => {
            tracing::warn!(
                user,
                "the services connect as the owner or a superuser: the audit trail is not \
                 protected from them (set database_url to the hub's own role)"
            );
        }
        Some(row) if !row.get::<_, bool>(2) => {
            tx.batch_execute(&format!("GRANT {SERVICE_ROLE} TO {}", quote_ident(&user)))
                .await?;
        }
        Some(_) => {}
    }
    tx.commit().await?;
    Ok(())
}

/// Runs the numbered migrations in `src/db/migrations` that have not run yet, as the owner.
pub async fn migrate(owner: &Connect) -> Result<(), DbError> {
    let mut client = owner.connect().await?;
    embedded::migrations::runner()
        .run_async(&mut client)
        .await?;
    Ok(())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
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
