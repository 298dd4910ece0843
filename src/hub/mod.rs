//! The one builder of the hub: every process (`api`, `connector`, `projector`, `tso-sim`) and
//! the jobs next to the projector are started here, and [`start`] puts them together. The
//! CLI's process commands, `kirikae up` (everything in one process) and the integration tests
//! all start through these functions, so that no two of them can wire a part differently.

mod placement;

use anyhow::Context;
use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::domain::Area;
use crate::intermediation::expiry;
use crate::ops::ReadyCheck;
use crate::tso_sim::{SimConfig, Simulator};
use crate::{accounts, api, audit, connector, db, kafka, notices, ops, projector, tso_sim};
pub use placement::Placement;

/// Creates the database and topics when missing and runs the migrations as the owner, makes the
/// services' login role a member of the services' group role, and returns the services' pool.
/// Idempotent.
pub async fn prepare(settings: &Settings) -> anyhow::Result<Pool> {
    let owner = db::Connect::owner(settings)?;
    let service = db::Connect::service(settings)?;
    db::create_database_if_missing(&owner).await?;
    db::ensure_service_role(&owner, &service).await?;
    db::migrate(&owner).await?;
    let topics: Vec<(String, i64)> = settings
        .all_topics()
        .into_iter()
        .map(|t| {
            let retention = settings.retention_ms(&t);
            (t, retention)
        })
        .collect();
    kafka::ensure_topics(
        &kafka::Link::of(settings),
        &topics,
        settings.topic_partitions,
        settings.topic_replication,
    )
    .await?;
    pool(settings)
}

/// The services' pool: `database_url`'s role, never the owner.
pub fn pool(settings: &Settings) -> anyhow::Result<Pool> {
    let service = db::Connect::service(settings)?;
    Ok(db::pool(&service, settings.database_pool_size)?)
}

pub async fn start_api(
    settings: &Settings,
    pool: Pool,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let state = api::AppState::new(settings.clone(), pool)?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| {
            cannot_listen(
                "the API",
                listen,
                "set api_listen (KIRIKAE_API_LISTEN) or pass --listen",
            )
        })?;
    api::serve(state, listener, shutdown).await
}

/// [`start_api`] as a task: the address, and the task's handle, which ends once `shutdown`
/// has come and the requests in flight are answered.
pub async fn spawn_api(
    settings: &Settings,
    pool: Pool,
    listen: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    let state = api::AppState::new(settings.clone(), pool)?;
    let listener = tokio::net::TcpListener::bind(listen).await?;
    let (addr, serving) = api::serving(state, listener, shutdown)?;
    Ok((addr, tokio::spawn(serving)))
}

/// Runs `f` as a task that logs its failure; `what` names it in the log.
fn supervised<F>(what: String, f: F) -> JoinHandle<anyhow::Result<()>>
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        let ended = f.await;
        if let Err(e) = &ended {
            tracing::error!(error = format!("{e:#}"), "{what} stopped");
        }
        ended
    })
}

/// A job of the hub: runs until shutdown, or fails with the reason.
pub type Job = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send>>;

/// The periodic jobs that run next to the projector, each with its name for the log: the
/// expiry of undecided intermediations, the disabling of unused accounts, the notice mailer
/// and the audit relay. The one list of them, for every process that runs the projector.
pub fn jobs(
    settings: &Settings,
    pool: &Pool,
    shutdown: &CancellationToken,
) -> Vec<(&'static str, Job)> {
    let (s, p, t) = (|| settings.clone(), || pool.clone(), || shutdown.clone());
    vec![
        (
            "intermediation expiry",
            Box::pin(expiry::run(s(), p(), t())),
        ),
        (
            "account disabling",
            Box::pin(accounts::run_disable_job(s(), p(), t())),
        ),
        (
            "notice mailer",
            Box::pin(notices::run_mailer(s(), p(), t())),
        ),
        ("audit relay", Box::pin(audit_relay(s(), p(), t()))),
        (
            "bulk filing",
            Box::pin(crate::bulk::run_filing(s(), p(), t())),
        ),
        (
            "dead-letter depth",
            Box::pin(crate::requests::run_depth_gauge(s(), p(), t())),
        ),
        (
            "webhook delivery",
            Box::pin(crate::push::run_delivery(s(), p(), t())),
        ),
    ]
}

/// The audit relay, its topic copies sealed by this hub's vault.
async fn audit_relay(
    settings: Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let vault = crate::vault::Vault::new(crate::vault::keys(&settings)?, pool.clone());
    audit::run_relay(settings, pool, shutdown, crate::vault::audit_seal(vault)).await
}

/// Starts the [`jobs`] as supervised tasks.
fn start_jobs(settings: &Settings, pool: &Pool, shutdown: &CancellationToken) {
    for (what, job) in jobs(settings, pool, shutdown) {
        supervised(what.into(), job);
    }
}

/// Starts the projector and, next to it, the [`jobs`], as tasks.
pub fn start_projector(
    settings: &Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> JoinHandle<anyhow::Result<()>> {
    start_jobs(settings, &pool, &shutdown);
    supervised(
        "projector".into(),
        projector::run(settings.clone(), pool, shutdown),
    )
}

/// `kirikae projector`: the [`jobs`] as tasks, and the projector until shutdown.
pub async fn run_projector(
    settings: Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    start_jobs(&settings, &pool, &shutdown);
    projector::run(settings, pool, shutdown).await
}

/// Starts the local mail sink (a loopback SMTP server writing each message to `mail_dir`) on
/// `smtp_host:smtp_port`; returns its address.
pub async fn start_mail_sink(
    settings: &Settings,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    let ip: std::net::IpAddr = settings.smtp_host.parse()?;
    let listen = SocketAddr::new(ip, settings.smtp_port);
    crate::mail::sink::start(listen, &settings.mail_dir, shutdown)
        .await
        .with_context(|| {
            cannot_listen(
                "the local mail sink",
                listen,
                "set smtp_host and smtp_port (KIRIKAE_SMTP_HOST, KIRIKAE_SMTP_PORT)",
            )
        })
}

/// `kirikae connector`: `area`'s connector until shutdown; `endpoint` overrides its
/// definition's.
pub async fn run_connector(
    settings: Settings,
    area: Area,
    endpoint: Option<String>,
    ops_listen: SocketAddr,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    // Ready only while the broker answers and the connector holds and works through its
    // share of the requests.
    let health = connector::Health::default();
    let ready = ops::both(ready_check(&settings, None)?, health.check());
    let addr = ops::serve(ops_listen, ready, shutdown.clone())
        .await
        .with_context(|| cannot_listen(OPS, ops_listen, OPS_HOW))?;
    tracing::info!(%addr, "ops endpoints listening");
    connector::run_with_health(settings, area, endpoint, health, shutdown).await
}

/// Starts `area`'s connector as a task; `endpoint` overrides its definition's.
pub fn start_connector(
    settings: &Settings,
    area: Area,
    endpoint: Option<String>,
    shutdown: CancellationToken,
) -> JoinHandle<anyhow::Result<()>> {
    let what = format!("connector {}", area.code());
    supervised(
        what,
        connector::run(settings.clone(), area, endpoint, shutdown),
    )
}

/// Starts the simulator of `area` on `listen` and, given a folder, its batch desk there;
/// returns its address and its shared state.
pub async fn start_sim(
    settings: &Settings,
    area: Area,
    listen: SocketAddr,
    batch: Option<PathBuf>,
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
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| {
        cannot_listen(
            &format!("the simulator of area {}", area.code()),
            listen,
            "set sim_base_port (KIRIKAE_SIM_BASE_PORT; area N listens on it + N) or pass --listen",
        )
    })?;
    let addr = listener.local_addr()?;
    if let Some(dir) = batch {
        tokio::spawn(tso_sim::serve_batch(dir, sim.clone(), shutdown.clone()));
    }
    let serving = sim.clone();
    tokio::spawn(async move {
        if let Err(e) = tso_sim::serve(listener, serving, shutdown).await {
            tracing::error!(error = %e, "simulator stopped");
        }
    });
    Ok((addr, sim))
}

/// A part of the hub by name, running as a task.
type Part = (String, JoinHandle<anyhow::Result<()>>);

/// What [`start`] started: the API's address and each area's simulator.
pub struct Started {
    pub api: SocketAddr,
    pub sims: HashMap<Area, (SocketAddr, Arc<Simulator>)>,
    /// The API, connectors and projector by name, each ending once shutdown has come and its
    /// work in hand is done, or earlier when it fails.
    parts: Vec<Part>,
}

impl Started {
    /// Runs until `shutdown`, or until a part ends before it; then stops the others and waits
    /// until each has finished its work in hand. A part that ended first is the error: the
    /// rest would go on accepting requests that no one carries out.
    pub async fn run_until(self, shutdown: &CancellationToken) -> anyhow::Result<()> {
        // Never empty (`select_all` would panic): [`start`] always starts the projector and
        // the API.
        let mut parts = self.parts;
        let first = tokio::select! {
            () = shutdown.cancelled() => None,
            (ended, index, _) = futures::future::select_all(parts.iter_mut().map(|(_, p)| p)) => {
                Some((index, ended))
            }
        };
        shutdown.cancel();
        let failure = first.map(|(index, ended)| {
            let (what, _) = parts.remove(index);
            match ended {
                Ok(Ok(())) => anyhow::anyhow!("{what} stopped before the hub did"),
                Ok(Err(e)) => e.context(format!("{what} stopped")),
                Err(e) => anyhow::anyhow!("{what} stopped: {e}"),
            }
        });
        for (_, part) in parts {
            let _ = part.await;
        }
        failure.map_or(Ok(()), Err)
    }
}

/// The hub in one process: the simulators of `areas` placed by `placement` (with their
/// connectors if `connectors`) on `operators` (`kirikae up`'s [`OperatorsRuntime`], or the
/// current runtime's handle for one runtime), the projector with its jobs and the API on
/// `api_listen` on the current runtime.
pub async fn start(
    settings: &Settings,
    pool: &Pool,
    areas: &[Area],
    placement: &Placement,
    connectors: bool,
    shutdown: &CancellationToken,
    operators: &tokio::runtime::Handle,
) -> anyhow::Result<Started> {
    crate::telemetry::export::install(settings.otlp_endpoint.as_deref());
    // Started from a task of that runtime, so that what they spawn and the sockets they
    // open belong to it.
    let (sims, mut parts) = operators
        .spawn(start_operators(
            settings.clone(),
            areas.to_vec(),
            placement.clone(),
            connectors,
            shutdown.clone(),
        ))
        .await??;
    let projector = start_projector(settings, pool.clone(), shutdown.clone());
    parts.push(("projector".into(), projector));
    let (api, serving) = spawn_api(
        settings,
        pool.clone(),
        settings.api_listen,
        shutdown.clone(),
    )
    .await?;
    let serving = tokio::spawn(async move { serving.await.map_err(anyhow::Error::from) });
    parts.push(("the API".into(), serving));
    Ok(Started { api, sims, parts })
}

/// The simulators of `areas` and, if `connectors`, their connectors, started as tasks of the
/// current runtime; the connectors by name.
async fn start_operators(
    settings: Settings,
    areas: Vec<Area>,
    placement: Placement,
    connectors: bool,
    shutdown: CancellationToken,
) -> anyhow::Result<(HashMap<Area, (SocketAddr, Arc<Simulator>)>, Vec<Part>)> {
    let mut sims = HashMap::new();
    let mut parts = Vec::new();
    for area in areas {
        let listen = placement.sim_listen(&settings, area);
        let batch = placement.batch_folder(&settings, area)?;
        let (addr, sim) = start_sim(&settings, area, listen, batch, shutdown.clone()).await?;
        if connectors {
            let endpoint = placement.endpoint(&settings, area, addr)?;
            let connector = start_connector(&settings, area, endpoint, shutdown.clone());
            parts.push((format!("connector {}", area.code()), connector));
        }
        sims.insert(area, (addr, sim));
    }
    Ok((sims, parts))
}

/// A runtime of its own for the operators' side of a hub in one process (`kirikae up`): the
/// simulators standing in for the grid operators and the connectors that call them, on half
/// the cores, while the API, the projector and their jobs keep the other half
/// ([`half_the_cores`] for the main runtime). On one work-stealing runtime the two sides kept
/// waking each other's worker threads; apart, each thread runs its own side's tasks back to
/// back. On 2 cores the peak day's mix went from 2,262–2,358 to 2,565–2,625 accepted/s with a
/// seventh less CPU in this process, and the latency at 1,000/s stayed as it was
/// (docs/performance.md, "Two runtimes in `kirikae up`").
pub struct OperatorsRuntime(Option<tokio::runtime::Runtime>);

impl OperatorsRuntime {
    pub fn new() -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(half_the_cores())
            .thread_name("kirikae-operators")
            .enable_all()
            .build()?;
        Ok(OperatorsRuntime(Some(runtime)))
    }

    pub fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("present until dropped").handle()
    }
}

impl Drop for OperatorsRuntime {
    /// Dropped in async code, where a runtime may not block on its tasks: what was in hand was
    /// finished before ([`Started::run_until`]), and what is left (servers, timers) is let go.
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Half of this machine's cores, at least one: each side's share in `kirikae up`.
pub fn half_the_cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| (n.get() / 2).max(1))
}

/// Serves a process's `/metrics`, `/healthz` and `/readyz` on `listen`; ready once the broker
/// (and the database, given `pool`) answer.
pub async fn serve_ops(
    settings: &Settings,
    listen: SocketAddr,
    pool: Option<Pool>,
    shutdown: &CancellationToken,
) -> anyhow::Result<SocketAddr> {
    ops::serve(listen, ready_check(settings, pool)?, shutdown.clone())
        .await
        .with_context(|| cannot_listen(OPS, listen, OPS_HOW))
}

/// The ops listener in [`cannot_listen`]'s words.
const OPS: &str = "the ops endpoints (/metrics, /healthz, /readyz)";
const OPS_HOW: &str = "set ops_listen (KIRIKAE_OPS_LISTEN; the projector takes its port + 1, \
    the connector of area N its port + 10 + N) or pass --ops-listen";

/// What a process says when it cannot bind `addr`: which listener, and what moves it.
pub fn cannot_listen(what: &str, addr: SocketAddr, how: &str) -> String {
    format!("cannot listen on {addr} for {what}; {how}")
}

/// Readiness: the broker answers metadata and the database answers a query.
pub fn ready_check(settings: &Settings, pool: Option<Pool>) -> anyhow::Result<ReadyCheck> {
    let publisher = crate::kafka::Publisher::of(settings, std::time::Duration::from_secs(5))?;
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
