//! The faults of a run: which, when and for how long, drawn from a seeded RNG so that a run
//! can be repeated, and how each is done to the cluster and undone.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::cluster::{Cluster, Part};
use crate::domain::Area;

/// A kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Kind {
    /// kill -9 one API process, start it again.
    Api,
    /// kill -9 one area's connector, start it again.
    Connector,
    /// kill -9 the projector, start it again.
    Projector,
    /// kill -9 the broker, start it again on the same data.
    Broker,
    /// Stop PostgreSQL as a crash would (`pg_ctl -m immediate`), start it again.
    Postgres,
    /// One area's operator down (every call answered 503) for up to 60 s.
    SimDown,
    /// One area's operator failing about a third of the calls.
    SimFlaky,
    /// One area's operator answering garbage now and then.
    SimGarbage,
    /// One area's operator answering after 1.5 s.
    SimSlow,
}

impl Kind {
    pub const ALL: [Kind; 9] = [
        Kind::Api,
        Kind::Connector,
        Kind::Projector,
        Kind::Broker,
        Kind::Postgres,
        Kind::SimDown,
        Kind::SimFlaky,
        Kind::SimGarbage,
        Kind::SimSlow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Api => "kill -9 api",
            Kind::Connector => "kill -9 connector",
            Kind::Projector => "kill -9 projector",
            Kind::Broker => "kill -9 broker",
            Kind::Postgres => "crash PostgreSQL",
            Kind::SimDown => "operator down",
            Kind::SimFlaky => "operator flaky 1/3",
            Kind::SimGarbage => "operator garbage",
            Kind::SimSlow => "operator slow 1.5 s",
        }
    }

    /// Whether the fault is confined to one area.
    pub fn area_scoped(self) -> bool {
        matches!(
            self,
            Kind::Connector | Kind::SimDown | Kind::SimFlaky | Kind::SimGarbage | Kind::SimSlow
        )
    }
}

/// A fault to do: `at` after the load starts, lasting `length`.
#[derive(Debug, Clone, Copy)]
pub struct Planned {
    pub kind: Kind,
    pub at: Duration,
    pub length: Duration,
    pub area: Area,
    pub api: usize,
}

impl Planned {
    pub fn target(&self) -> String {
        match self.kind {
            Kind::Api => format!("api {}", self.api + 1),
            Kind::Projector | Kind::Broker | Kind::Postgres => "-".into(),
            _ => format!("area {}", self.area.code()),
        }
    }
}

/// A fault done: when it began and when it was undone (the part running or the operator
/// normal again).
#[derive(Debug, Clone)]
pub struct Done {
    pub planned: Planned,
    pub began: DateTime<Utc>,
    pub healed: DateTime<Utc>,
    pub error: Option<String>,
}

/// The faults of `kinds`, one each in turn (in an order the seed picks), spread over the
/// middle of a load of `duration`: the first 15 % and the last 25 % stay calm, so that the
/// run shows the hub before and after.
pub fn plan(kinds: &[Kind], duration: Duration, seed: u64) -> Vec<Planned> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut kinds = kinds.to_vec();
    kinds.shuffle(&mut rng);
    let from = duration.as_secs_f64() * 0.15;
    let window = duration.as_secs_f64() * 0.60;
    let slot = window / kinds.len().max(1) as f64;
    kinds
        .into_iter()
        .enumerate()
        .map(|(k, kind)| {
            let at = from + slot * k as f64 + rng.gen_range(0.0..0.25) * slot;
            let secs = match kind {
                Kind::Api | Kind::Connector | Kind::Projector => rng.gen_range(1.0..4.0),
                Kind::Broker | Kind::Postgres => rng.gen_range(2.0..5.0),
                Kind::SimDown => 60.0,
                Kind::SimFlaky | Kind::SimSlow => slot * 0.5,
                Kind::SimGarbage => slot * 0.3,
            };
            let length = secs.min(slot * 0.6).max(0.5);
            Planned {
                kind,
                at: Duration::from_secs_f64(at),
                length: Duration::from_secs_f64(length),
                area: Area::ALL[rng.gen_range(0..10)],
                api: rng.gen_range(0..2),
            }
        })
        .collect()
}

/// Does `fault` to the cluster and undoes it after its length.
pub async fn inject(cluster: &Arc<Mutex<Cluster>>, fault: Planned, seed: u64) -> Done {
    let began = Utc::now();
    let outcome = run(cluster, fault, seed).await;
    Done {
        planned: fault,
        began,
        healed: Utc::now(),
        error: outcome.err().map(|e| format!("{e:#}")),
    }
}

async fn run(cluster: &Arc<Mutex<Cluster>>, fault: Planned, seed: u64) -> anyhow::Result<()> {
    let part = match fault.kind {
        Kind::Api => Some(Part::Api(fault.api)),
        Kind::Connector => Some(Part::Connector(fault.area)),
        Kind::Projector => Some(Part::Projector),
        _ => None,
    };
    if let Some(part) = part {
        blocking(cluster, move |c| {
            c.kill(part);
            Ok(())
        })
        .await?;
        tokio::time::sleep(fault.length).await;
        return blocking(cluster, move |c| c.restart(part)).await;
    }
    match fault.kind {
        Kind::Broker => {
            blocking(cluster, |c| {
                c.kill_broker();
                Ok(())
            })
            .await?;
            tokio::time::sleep(fault.length).await;
            blocking(cluster, |c| c.restart_broker()).await
        }
        Kind::Postgres => {
            blocking(cluster, |c| c.crash_postgres()).await?;
            tokio::time::sleep(fault.length).await;
            blocking(cluster, |c| c.start_postgres()).await
        }
        _ => operator(cluster, fault, seed).await,
    }
}

/// The simulator faults, through its control endpoint. Flaky and garbage flip the mode every
/// 200 ms, by a coin from the seed.
async fn operator(cluster: &Arc<Mutex<Cluster>>, fault: Planned, seed: u64) -> anyhow::Result<()> {
    let addr = cluster.lock().expect("cluster").sims[&fault.area];
    let url = format!("http://{addr}/sim/control");
    let http = reqwest::Client::new();
    let set = |mode: serde_json::Value| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            http.post(&url)
                .json(&mode)
                .send()
                .await?
                .error_for_status()?;
            Ok::<_, anyhow::Error>(())
        }
    };
    let end = tokio::time::Instant::now() + fault.length;
    match fault.kind {
        Kind::SimDown => {
            set(json!({"mode": "fail"})).await?;
            tokio::time::sleep_until(end).await;
        }
        Kind::SimSlow => {
            set(json!({"mode": "slow", "delay_ms": 1500})).await?;
            tokio::time::sleep_until(end).await;
        }
        Kind::SimFlaky | Kind::SimGarbage => {
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fault.at.as_millis() as u64);
            let (bad, share) = match fault.kind {
                Kind::SimFlaky => ("fail", 1.0 / 3.0),
                _ => ("malformed", 0.1),
            };
            while tokio::time::Instant::now() < end {
                let mode = if rng.gen_bool(share) { bad } else { "normal" };
                set(json!({ "mode": mode })).await?;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        _ => unreachable!("process faults are handled by run"),
    }
    set(json!({"mode": "normal"})).await
}

/// Runs `f` on the cluster off the async threads (killing and starting processes blocks).
async fn blocking(
    cluster: &Arc<Mutex<Cluster>>,
    f: impl FnOnce(&mut Cluster) -> anyhow::Result<()> + Send + 'static,
) -> anyhow::Result<()> {
    let cluster = cluster.clone();
    tokio::task::spawn_blocking(move || f(&mut cluster.lock().expect("cluster"))).await?
}
