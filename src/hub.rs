//! Starting the parts of the hub: shared by the CLI's subcommands, `kirikae up` (everything in
//! one process) and the integration tests, so that all three start them the same way.

use std::net::SocketAddr;
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::Area;
use crate::ops::ReadyCheck;
use crate::tso_sim::{SimConfig, Simulator};
use crate::{api, connector, db, kafka, projector, tso_sim};

/// Creates the database and topics when missing and runs the migrations. Idempotent.
pub async fn prepare(settings: &Settings) -> anyhow::Result<Pool> {
    db::create_database_if_missing(&settings.database_url).await?;
    let pool = db::pool(&settings.database_url, settings.database_pool_size)?;
    db::migrate(&pool).await?;
    kafka::ensure_topics(
        &settings.kafka_brokers,
        &settings.all_topics(),
        settings.topic_partitions,
        settings.topic_replication,
        settings.topic_retention_ms,
    )
    .await?;
    Ok(pool)
}

pub fn pool(settings: &Settings) -> anyhow::Result<Pool> {
    Ok(db::pool(
        &settings.database_url,
        settings.database_pool_size,
    )?)
}

pub async fn start_api(
    settings: &Settings,
    pool: Pool,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let state = api::AppState::new(settings.clone(), pool)?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    api::serve(state, listener, shutdown).await
}

/// Runs `f` as a task that logs its failure; `what` names it in the log.
fn supervised<F>(what: String, f: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = f.await {
            tracing::error!(error = format!("{e:#}"), "{what} stopped");
        }
    })
}

/// Starts the projector and, next to it, the hub's periodic jobs: the expiry of undecided
/// intermediations, the disabling of unused accounts, the notice mailer and the audit relay.
pub fn start_projector(
    settings: &Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    start_intermediation_expiry(settings, pool.clone(), shutdown.clone());
    start_account_disabling(settings, pool.clone(), shutdown.clone());
    start_notice_mailer(settings, pool.clone(), shutdown.clone());
    start_audit_relay(settings, pool.clone(), shutdown.clone());
    supervised(
        "projector".into(),
        projector::run(settings.clone(), pool, shutdown),
    )
}

/// The periodic job that disables accounts unused for `disable_after_days`.
pub fn start_account_disabling(
    settings: &Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    supervised(
        "account disabling".into(),
        crate::accounts::run_disable_job(settings.clone(), pool, shutdown),
    )
}

/// The relay of the audit trail to topic `<prefix>.audit`.
pub fn start_audit_relay(
    settings: &Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    supervised(
        "audit relay".into(),
        crate::audit::run_relay(settings.clone(), pool, shutdown),
    )
}

/// The notice mailer, which sends terms-change mails until each is accepted.
pub fn start_notice_mailer(
    settings: &Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    supervised(
        "notice mailer".into(),
        crate::notices::run_mailer(settings.clone(), pool, shutdown),
    )
}

/// Starts the local mail sink (a loopback SMTP server writing each message to `mail_dir`) on
/// `smtp_host:smtp_port`; returns its address.
pub async fn start_mail_sink(
    settings: &Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let ip: std::net::IpAddr = settings.smtp_host.parse()?;
    crate::mail::sink::start(
        SocketAddr::new(ip, settings.smtp_port),
        &settings.mail_dir,
        shutdown,
    )
    .await
}

/// The periodic job that expires intermediations left without a decision.
pub fn start_intermediation_expiry(
    settings: &Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    supervised(
        "intermediation expiry".into(),
        crate::intermediation::expiry::run(settings.clone(), pool, shutdown),
    )
}

pub fn start_connector(
    settings: &Settings,
    area: Area,
    endpoint: Option<String>,
    shutdown: CancellationToken,
) -> JoinHandle<()> {
    let what = format!("connector {}", area.code());
    supervised(
        what,
        connector::run(settings.clone(), area, endpoint, shutdown),
    )
}

/// Starts the simulator of `area` on `listen`; returns its address and its shared state.
pub async fn start_sim(
    settings: &Settings,
    area: Area,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, Arc<Simulator>)> {
    let sim = Simulator::new(SimConfig {
        area,
        seed: settings.sim_seed,
        points: settings.sim_points_per_area,
        match_window: settings
            .sim_match_window_ms
            .map(std::time::Duration::from_millis),
    });
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let serving = sim.clone();
    tokio::spawn(async move {
        if let Err(e) = tso_sim::serve(listener, serving, shutdown).await {
            tracing::error!(error = %e, "simulator stopped");
        }
    });
    Ok((addr, sim))
}

/// Starts the batch desk of `sim` on `dir` (for an area of the batch family): the folder the
/// area's connector exchanges files through.
pub fn start_batch_desk(sim: Arc<Simulator>, dir: std::path::PathBuf, shutdown: CancellationToken) {
    tokio::spawn(tso_sim::serve_batch(dir, sim, shutdown));
}

/// Starts the batch desk of `area`'s simulator on its definition's folder, if the area's
/// family is batch.
pub fn start_batch_desk_of(
    settings: &Settings,
    area: Area,
    sim: Arc<Simulator>,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let def = connector::definition::ConnectorDefinition::load(&settings.connectors_dir, area)?;
    if def.protocol == connector::definition::ProtocolFamily::Batch {
        let dir = connector::batch::folder_of(&def.endpoint)?;
        start_batch_desk(sim, dir, shutdown);
    }
    Ok(())
}

/// Readiness: the broker answers metadata and the database answers a query.
pub fn ready_check(settings: &Settings, pool: Option<Pool>) -> anyhow::Result<ReadyCheck> {
    let publisher = kafka::Publisher::new(
        &settings.kafka_brokers,
        std::time::Duration::from_secs(5),
        settings.kafka_idempotence,
    )?;
    Ok(Arc::new(move || {
        let (publisher, pool) = (publisher.clone(), pool.clone());
        Box::pin(async move {
            let broker = tokio::task::spawn_blocking(move || publisher.broker_reachable())
                .await
                .unwrap_or(false);
            if !broker {
                return Err("broker unreachable".to_string());
            }
            if let Some(pool) = pool {
                let client = pool.get().await.map_err(|e| format!("database: {e}"))?;
                client
                    .simple_query("SELECT 1")
                    .await
                    .map_err(|e| format!("database: {e}"))?;
            }
            Ok(())
        })
    }))
}
