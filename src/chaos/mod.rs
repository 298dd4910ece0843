//! `kirikae chaos`: the fault suite. Runs the hub as separate processes (two APIs, the
//! projector, ten connectors, ten simulators) on a broker and a PostgreSQL cluster of its own,
//! drives an open-loop mixed load over HTTPS, kills and restarts parts of it at moments a
//! seeded RNG picks, and then checks from the topics, the database, the simulators and the push
//! as a client gets it (the change feed, a webhook) — not from the hub's own counters — that
//! every accepted request ended exactly once and its end was pushed. Prints one table; fails
//! when anything was lost or doubled, and gives no verdict when a source could not be read.

mod check;
mod cluster;
mod faults;
mod load;
mod push;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;

pub use check::{FaultLine, Latency, Report, Verdict};
pub use faults::Kind as FaultKind;

use crate::config::Settings;

#[derive(clap::Args, Debug, Clone)]
pub struct ChaosArgs {
    /// Seconds of load (faults fall in its middle 60 %).
    #[arg(long, default_value_t = 300)]
    pub duration: u64,
    /// Open-loop submissions a second (switches file two requests), besides the chains.
    #[arg(long, default_value_t = 20.0)]
    pub rate: f64,
    /// Picks the faults' order, moments, lengths and targets.
    #[arg(long, default_value_t = 14)]
    pub seed: u64,
    /// The faults, each once (default: all).
    #[arg(long, value_delimiter = ',', value_enum)]
    pub faults: Vec<FaultKind>,
    /// Ordered chains of submissions to one point each (checked for order).
    #[arg(long, default_value_t = 10)]
    pub chains: usize,
    /// Submissions in flight at most; more are counted as not sent.
    #[arg(long, default_value_t = 128)]
    pub in_flight: usize,
    /// How long to wait after the load for every accepted request to end (and its end to
    /// reach the webhook).
    #[arg(long, default_value_t = 240)]
    pub drain_secs: u64,
    /// How long the check keeps trying to read a source (a topic, the database, a simulator,
    /// a change feed) before it names it as not read and gives no verdict.
    #[arg(long, default_value_t = 180)]
    pub read_secs: u64,
    /// The tansu binary (default: $TANSU_BINARY).
    #[arg(long, env = "TANSU_BINARY")]
    pub tansu: PathBuf,
    /// The `kirikae` executable to run the hub's processes from (default: this one).
    #[arg(long)]
    pub exe: Option<PathBuf>,
    /// Keep the run's folder (logs, broker and database data) afterwards.
    #[arg(long)]
    pub keep: bool,
}

/// Runs the suite and prints its table; the report says whether every promise held.
pub async fn run(settings: Settings, args: ChaosArgs) -> anyhow::Result<Report> {
    let kinds = if args.faults.is_empty() {
        FaultKind::ALL.to_vec()
    } else {
        args.faults.clone()
    };
    let exe = match &args.exe {
        Some(e) => e.clone(),
        None => std::env::current_exe()?,
    };
    let duration = Duration::from_secs(args.duration);
    let plan = faults::plan(&kinds, duration, args.seed);
    println!(
        "chaos: {} s at {}/s + {} chains, seed {}, faults: {}",
        args.duration,
        args.rate,
        args.chains,
        args.seed,
        plan.iter()
            .map(|p| format!(
                "{} ({}) at {:.0} s for {:.1} s",
                p.kind.name(),
                p.target(),
                p.at.as_secs_f64(),
                p.length.as_secs_f64()
            ))
            .collect::<Vec<_>>()
            .join("; ")
    );
    let started = Instant::now();
    let cluster = cluster::Cluster::start(&settings, exe, args.tansu.clone(), args.keep)
        .await
        .context("starting the run's hub")?;
    let run_settings = cluster.settings.clone();
    let sims = cluster.sims.clone();
    let apis = cluster.apis.clone();
    let cluster = Arc::new(Mutex::new(cluster));
    let outcome = drive(&run_settings, &sims, &apis, &cluster, &args, plan).await;
    let crashed = cluster.lock().expect("cluster").exited();
    cluster.lock().expect("cluster").stop();
    let report = outcome?;
    println!("{report}");
    for (part, status) in crashed {
        println!("note: {part} exited on its own ({status})");
    }
    println!(
        "verdict: {} ({:.0} s in all)",
        match report.verdict() {
            Verdict::Held => "every promise held".to_string(),
            Verdict::Broken => "BROKEN PROMISES".to_string(),
            Verdict::NoVerdict => format!(
                "NO VERDICT: nothing broken in what was read, but {} source(s) could not be read",
                report.unread.len()
            ),
        },
        started.elapsed().as_secs_f64()
    );
    Ok(report)
}

async fn drive(
    settings: &Settings,
    sims: &std::collections::BTreeMap<crate::domain::Area, std::net::SocketAddr>,
    apis: &[std::net::SocketAddr],
    cluster: &Arc<Mutex<cluster::Cluster>>,
    args: &ChaosArgs,
    plan: Vec<faults::Planned>,
) -> anyhow::Result<Report> {
    let clients = Arc::new(load::Clients::login(&settings.tls_dir, apis).await?);
    let receiver = push::Receiver::start(&settings.tls_dir, &clients, cluster::RETAILER)
        .await
        .context("the webhook receiver")?;
    let mix = Arc::new(load::Mix::new(settings, args.seed));
    let load_began = chrono::Utc::now();
    let began = tokio::time::Instant::now();
    let load = tokio::spawn(load::run(
        clients.clone(),
        mix,
        args.rate,
        Duration::from_secs(args.duration),
        args.in_flight,
        args.chains,
    ));
    let mut done = Vec::new();
    for fault in plan {
        tokio::time::sleep_until(began + fault.at).await;
        eprintln!(
            "chaos: {:.0} s: {} ({})",
            began.elapsed().as_secs_f64(),
            fault.kind.name(),
            fault.target()
        );
        done.push(faults::inject(cluster, fault, args.seed).await);
    }
    let (outcomes, figures) = load.await?;
    eprintln!(
        "chaos: load done, {} submissions; waiting for every accepted request to end",
        outcomes.len()
    );
    let ids: HashSet<String> = outcomes
        .iter()
        .filter_map(|o| match &o.answer {
            load::Answer::Accepted(id) => Some(id.clone()),
            _ => None,
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(args.drain_secs);
    loop {
        let left = check::unfinished(settings, &ids).await;
        if matches!(left, Ok(0)) {
            break;
        }
        if Instant::now() > deadline {
            eprintln!(
                "chaos: still unfinished after {} s: {left:?}",
                args.drain_secs
            );
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // The webhook delivers one event at a time: give it the drain's time, and 30 s at least.
    let pushed: HashSet<&str> = outcomes
        .iter()
        .filter(|o| o.company == receiver.company)
        .filter_map(|o| match &o.answer {
            load::Answer::Accepted(id) => Some(id.as_str()),
            _ => None,
        })
        .collect();
    let deadline = deadline.max(Instant::now() + Duration::from_secs(30));
    loop {
        let delivered = receiver.delivered();
        let done: HashSet<&str> = delivered
            .iter()
            .filter(|d| matches!(d.status.as_str(), "completed" | "rejected" | "failed"))
            .map(|d| d.subject_id.as_str())
            .collect();
        let left = pushed.iter().filter(|id| !done.contains(*id)).count();
        if left == 0 {
            break;
        }
        if Instant::now() > deadline {
            eprintln!("chaos: {left} final results not at the webhook by the deadline");
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    // Results that are final in the database stand on the topics already; read them all.
    let evidence = check::Evidence::gather(
        settings,
        sims,
        &clients,
        Some(&receiver),
        Duration::from_secs(args.read_secs),
    )
    .await;
    Ok(check::verdict(
        &outcomes, figures, &done, load_began, &evidence,
    ))
}
