//! `kirikae bench`: submits N applications over HTTPS with mTLS — a mix of look-ups and
//! applications that complete on their own (設備情報照会 low voltage and FIT, パスワード取得申請,
//! 高圧使用量情報照会申請) over all ten areas — either closed-loop at a concurrency or open-loop at
//! a target rate (`--rate`), waits for their results, and prints accepted/s, the answers by kind
//! (202, 429, 503, other) rather than stopping at the first refusal, accepted→final latency
//! percentiles in all and per protocol family, how busy the whole machine was while the
//! submissions ran and the CPU each accepted one cost it, and the CPU seconds and peak memory of
//! every hub process on this machine (from `/proc`); then produces the same number of encoded
//! records straight to the broker (`--raw`) so the API's cost over a bare producer shows as a
//! ratio.
//! Figures, not assertions.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use hdrhistogram::Histogram;
use serde::Deserialize;

use crate::config::Settings;
use crate::domain::{Area, CompanyCode, Function, RequestId, UpdateFlag};
use crate::kafka::{self, Publisher};
use crate::messages::{Codec, FacilityInquiry, Payload, RequestRecord};
use crate::tso_sim::register;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// The API's base URL.
    #[arg(long, default_value = "https://localhost:8443")]
    pub api: String,
    /// Submissions in all.
    #[arg(long, default_value_t = 2000)]
    pub n: usize,
    /// Submissions in flight at once (closed loop), or the cap on them with `--rate`.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Open loop: start submissions at this many per second whatever the answers take, and
    /// measure each one's time from when it was due (so a stall is not hidden). Submissions
    /// that would exceed `--concurrency` in flight are counted as `dropped`, not queued.
    #[arg(long)]
    pub rate: Option<f64>,
    #[arg(long, default_value = "A0001")]
    pub company: String,
    #[arg(long, default_value = "demo-a0001")]
    pub user: String,
    #[arg(long, default_value = crate::up::DEMO_PASSWORD)]
    pub password: String,
    /// Where ca.pem and client-<company>.pem/.key are (default: tls_dir).
    #[arg(long)]
    pub tls_dir: Option<PathBuf>,
    /// Also produce the same records straight to the broker, for the ratio.
    #[arg(long)]
    pub raw: bool,
    /// How long to wait for every result.
    #[arg(long, default_value_t = 300)]
    pub wait_secs: u64,
    /// Instead: one 一括申請 file of `--n` rows, its preview and filing rates (`bench/bulk.rs`).
    #[arg(long)]
    pub bulk: bool,
    /// A national peak day's mix instead of the look-ups over all areas alike: the areas in
    /// their real proportions (東京 ≈ 45%, 関西 ≈ 20%, the rest spread), one submission in ten a
    /// half of a 東京 switch pair (the switch-start as `--company`, the switch-end as the
    /// incumbent `--incumbent`). Meant for `--n` up to 1,000,000 by hand.
    #[arg(long)]
    pub peak_day: bool,
    /// The current retailer who files the switch-ends of `--peak-day` (up's Tokyo incumbent).
    #[arg(long, default_value = "Z0300")]
    pub incumbent: String,
    #[arg(long, default_value = "demo-z0300")]
    pub incumbent_user: String,
    /// Instead: submit nothing, and report the CPU the hub's processes use idle over this
    /// many seconds.
    #[arg(long)]
    pub idle: Option<u64>,
    /// Report only these processes (the hub's `kirikae up` and its broker's tansu, say) rather
    /// than every kirikae, tansu and postgres process on the machine, which on a shared
    /// machine counts other people's too.
    #[arg(long = "pid")]
    pub pids: Vec<u32>,
    /// With `--bulk`: the hub process whose resident memory is sampled during the run.
    #[arg(long)]
    pub hub_pid: Option<u32>,
}

mod bulk;

#[derive(Deserialize)]
struct Accepted {
    request_id: String,
}

#[derive(Deserialize)]
struct View {
    status: String,
    accepted_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

pub async fn run(settings: Settings, args: BenchArgs) -> anyhow::Result<()> {
    if let Some(secs) = args.idle {
        println!("bench: the hub idle for {secs} s, nothing submitted");
        let processes = procs::Sampler::start(&args.pids);
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        processes.print(started.elapsed());
        return Ok(());
    }
    let dir = args.tls_dir.clone().unwrap_or(settings.tls_dir.clone());
    let client = https_client(&dir, &args.company)?;
    let token = login(&client, &args.user, &args.password, &args.api).await?;
    if args.bulk {
        return bulk::run(&settings, &args, &client, &token).await;
    }
    let incumbent = if args.peak_day {
        let c = https_client(&dir, &args.incumbent)?;
        let t = login(&c, &args.incumbent_user, &args.password, &args.api).await?;
        Some((c, t))
    } else {
        None
    };
    let callers = Callers {
        main: (client, token),
        incumbent,
    };
    let pace = match args.rate {
        Some(rate) => format!(
            "open loop at {rate:.0}/s, at most {} in flight",
            args.concurrency
        ),
        None => format!("closed loop, concurrency {}", args.concurrency),
    };
    let mix = if args.peak_day {
        "a peak day: areas in real proportions, one in ten a half of a 東京 switch pair, the rest"
    } else {
        "over all ten areas alike"
    };
    println!(
        "bench: {} submissions ({}), {pace}, {mix}",
        args.n,
        MIX.iter().map(|f| f.slug()).collect::<Vec<_>>().join(", "),
    );
    let families: Vec<&'static str> = Area::ALL
        .iter()
        .map(|&a| {
            crate::connector::definition::ConnectorDefinition::load(&settings.connectors_dir, a)
                .map(|d| d.protocol.name())
                .unwrap_or("unknown")
        })
        .collect();

    let processes = procs::Sampler::start(&args.pids);
    let machine = procs::Machine::now();
    let started = Instant::now();
    let outcome = submit_all(&callers, &args, &settings).await?;
    let submit_secs = started.elapsed().as_secs_f64();
    let machine = machine.zip(procs::Machine::now()).map(|(a, b)| b.since(&a));
    let submitted = &outcome.accepted;
    let ids: Vec<(String, Who)> = submitted
        .iter()
        .map(|(id, _, who)| (id.clone(), *who))
        .collect();
    let accepted_per_sec = ids.len() as f64 / submit_secs;
    println!(
        "api:  {} accepted in {submit_secs:.2} s = {accepted_per_sec:.0} accepted/s",
        ids.len()
    );
    if let Some(machine) = machine {
        println!(
            "{}",
            machine.during_submissions(ids.len(), args.rate.is_none())
        );
    }
    println!("{}", outcome.counts);
    let a = &outcome.accept_ms;
    println!(
        "accept: due→202 p50 {} ms, p95 {} ms, p99 {} ms, max {} ms",
        a.value_at_quantile(0.50),
        a.value_at_quantile(0.95),
        a.value_at_quantile(0.99),
        a.max()
    );

    let (latencies, finals) = wait_for_results(&callers, &args, &ids).await?;
    let mut all = Histogram::<u64>::new(3)?;
    let mut by_family: std::collections::BTreeMap<&str, Histogram<u64>> = Default::default();
    for (id, area, _) in submitted {
        if let Some(&ms) = latencies.get(id) {
            all.record(ms)?;
            let family = families[area.number() as usize - 1];
            by_family
                .entry(family)
                .or_insert_with(|| Histogram::new(3).expect("3 significant digits"))
                .record(ms)?;
        }
    }
    print_latency("e2e", &all, ids.len());
    println!(
        "final: {}",
        finals
            .iter()
            .map(|(status, n)| format!("{n} {status}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (family, hist) in &by_family {
        let submitted_here = submitted
            .iter()
            .filter(|(_, a, _)| families[a.number() as usize - 1] == *family)
            .count();
        print_latency(&format!("  {family}"), hist, submitted_here);
    }
    processes.print(started.elapsed());
    if args.raw {
        let raw_per_sec = raw_produce(&settings, args.n).await?;
        println!(
            "raw:  {raw_per_sec:.0} records/s produced straight to the broker (acks=all, idempotence {})",
            settings.kafka_idempotence
        );
        println!(
            "ratio: the API accepts at {:.1}% of the bare producer's rate",
            100.0 * accepted_per_sec / raw_per_sec
        );
    }
    Ok(())
}

/// The functions the bench submits, in turn: each completes without another party.
const MIX: [Function; 4] = [
    Function::FacilityInquiry,
    Function::UsagePassword,
    Function::HvUsageRequest,
    Function::GenFacilityInquiry,
];

fn print_latency(label: &str, hist: &Histogram<u64>, submitted: usize) {
    println!(
        "{label}: accepted→final p50 {} ms, p95 {} ms, p99 {} ms, max {} ms ({} of {submitted} final)",
        hist.value_at_quantile(0.50),
        hist.value_at_quantile(0.95),
        hist.value_at_quantile(0.99),
        hist.max(),
        hist.len(),
    );
}

/// The `i`-th submission: its function, area and body.
fn submission(i: usize, registers: &[register::Register]) -> (Function, Area, serde_json::Value) {
    submission_in(Area::ALL[i % 10], i, registers)
}

/// The `i`-th submission of the look-up mix, in `area`.
fn submission_in(
    area: Area,
    i: usize,
    registers: &[register::Register],
) -> (Function, Area, serde_json::Value) {
    let function = MIX[(i / 10) % MIX.len()];
    let n = (i / 40) as u32;
    // Each function of the mix looks at points of its own: a point's requests are handled one
    // after another, so two look-ups of one point 10 submissions apart would measure that
    // order (a whole operator round trip behind the first, a batch file's in the batch areas),
    // not the hub.
    let (kind, n) = match function {
        Function::HvUsageRequest => (register::PointKind::HighVoltage, n),
        Function::GenFacilityInquiry => (register::PointKind::Fit, n),
        Function::UsagePassword => (register::PointKind::LowVoltage, 2 * n + 1),
        _ => (register::PointKind::LowVoltage, 2 * n),
    };
    let point = register::point_of(area, kind, n);
    let body = match function {
        Function::UsagePassword => {
            let name = registers[area.number() as usize - 1]
                .get(&point)
                .map(|p| p.customer_name.clone())
                .unwrap_or_default();
            serde_json::json!({"supply_point_id": point.as_str(), "customer_name": name})
        }
        Function::HvUsageRequest => serde_json::json!({
            "supply_point_id": point.as_str(), "voltage_class": "HV_BELOW_500KW",
            "customer_name": "ベンチ工業株式会社", "consent_reference": format!("BENCH-{i}")}),
        _ => serde_json::json!({"supply_point_id": point.as_str()}),
    };
    (function, area, body)
}

/// Who files a submission: `--company`, or (a switch-end of `--peak-day`) the incumbent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Main,
    Incumbent,
}

/// The HTTPS clients (each with its own client certificate) and bearer tokens.
struct Callers {
    main: (reqwest::Client, String),
    incumbent: Option<(reqwest::Client, String)>,
}

impl Callers {
    fn of(&self, who: Who) -> &(reqwest::Client, String) {
        match (who, &self.incumbent) {
            (Who::Incumbent, Some(c)) => c,
            _ => &self.main,
        }
    }
}

/// A peak day's areas outside the switch pairs, in per mille of those submissions: with the
/// pairs (one submission in ten, all 東京) 東京 comes to ≈ 45% and 関西 to ≈ 20% of the day.
const PEAK_AREAS: [(Area, u32); 10] = [
    (Area::Hokkaido, 44),
    (Area::Tohoku, 78),
    (Area::Tokyo, 389),
    (Area::Chubu, 111),
    (Area::Hokuriku, 22),
    (Area::Kansai, 222),
    (Area::Chugoku, 44),
    (Area::Shikoku, 22),
    (Area::Kyushu, 62),
    (Area::Okinawa, 6),
];

/// The `i`-th submission of a peak day. Of every twenty, the first is a 東京 switch-start by
/// `--company` from the incumbent and the second its switch-end by the incumbent (same point,
/// same date), so the operator matches them; the rest are the usual mix in an area drawn by
/// [`PEAK_AREAS`] (spread evenly over `i`, not at random, so a run is repeatable).
fn peak_day_submission(
    i: usize,
    registers: &[register::Register],
    incumbent_points: &[crate::domain::SupplyPointId],
    main: &str,
    incumbent: &str,
) -> (Function, Area, serde_json::Value, Who) {
    let pair = i / 20;
    let date = (Utc::now().date_naive()
        + chrono::Duration::days(14 + (pair / incumbent_points.len().max(1)) as i64 % 60))
    .to_string();
    let point = || incumbent_points[pair % incumbent_points.len()].as_str();
    match i % 20 {
        0 => {
            let body = serde_json::json!({
                "supply_point_id": point(), "planned_date": date,
                "previous_retailer_code": incumbent, "previous_customer_number": "0012-3456-78",
                "customer_name": "山田 太郎", "customer_phone": "03-1234-5678",
                "agreed_to_grid_terms": true});
            (Function::SwitchStart, Area::Tokyo, body, Who::Main)
        }
        1 => {
            let body = serde_json::json!({
                "supply_point_id": point(), "planned_date": date, "new_retailer_code": main,
                "customer_number": "0012-3456-78"});
            (Function::SwitchEnd, Area::Tokyo, body, Who::Incumbent)
        }
        _ => {
            // 7919 is prime to 1000: i → bucket visits every per mille evenly.
            let bucket = (i as u64 * 7919 % 1000) as u32;
            let mut upto = 0;
            let area = PEAK_AREAS
                .iter()
                .find(|(_, share)| {
                    upto += share;
                    bucket < upto
                })
                .map_or(Area::Tokyo, |(a, _)| *a);
            let (function, _, body) = submission_in(area, i, registers);
            (function, area, body, Who::Main)
        }
    }
}

pub(crate) fn https_client(
    dir: &std::path::Path,
    company: &str,
) -> anyhow::Result<reqwest::Client> {
    let read =
        |f: String| std::fs::read(dir.join(&f)).with_context(|| format!("{}/{f}", dir.display()));
    let mut identity = read(format!("client-{company}.pem"))?;
    identity.extend(read(format!("client-{company}.key"))?);
    Ok(reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&read("ca.pem".into())?)?)
        .identity(reqwest::Identity::from_pem(&identity)?)
        .pool_max_idle_per_host(256)
        .build()?)
}

async fn login(
    client: &reqwest::Client,
    user: &str,
    password: &str,
    api: &str,
) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Token {
        token: String,
    }
    let resp = client
        .post(format!("{api}/api/v1/session"))
        .json(&serde_json::json!({"user_id": user, "password": password}))
        .send()
        .await?
        .error_for_status()?;
    Ok(resp.json::<Token>().await?.token)
}

/// How every submission was answered.
#[derive(Default, Debug)]
struct Counts {
    sent: usize,
    accepted: usize,
    too_many: usize,
    unavailable: usize,
    other_status: usize,
    transport: usize,
    dropped: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "answers: {} sent, {} accepted (202), {} refused 429, {} refused 503, {} other status, \
             {} transport errors, {} dropped (over the in-flight cap)",
            self.sent,
            self.accepted,
            self.too_many,
            self.unavailable,
            self.other_status,
            self.transport,
            self.dropped
        )
    }
}

struct Outcome {
    accepted: Vec<(String, Area, Who)>,
    counts: Counts,
    /// Time to the 202, from when the submission was due.
    accept_ms: Histogram<u64>,
}

/// One submission's answer: the request id and area when accepted, else the HTTP status
/// (`None` when the request never got an answer).
type Answer = Result<(String, Area, Who), Option<u16>>;

async fn submit_one(req: reqwest::RequestBuilder, area: Area, who: Who) -> Answer {
    let resp = req.send().await.map_err(|_| None)?;
    let status = resp.status();
    if !status.is_success() {
        return Err(Some(status.as_u16()));
    }
    let accepted = resp
        .json::<Accepted>()
        .await
        .map_err(|_| Some(status.as_u16()))?;
    Ok((accepted.request_id, area, who))
}

async fn submit_all(
    callers: &Callers,
    args: &BenchArgs,
    settings: &Settings,
) -> anyhow::Result<Outcome> {
    let registers: Vec<register::Register> = Area::ALL
        .iter()
        .map(|&a| register::Register::generate(a, settings.sim_seed, settings.sim_points_per_area))
        .collect();
    // 東京's low-voltage points the incumbent supplies: where a switch pair can match.
    let incumbent_points: Vec<crate::domain::SupplyPointId> = if args.peak_day {
        let tokyo = &registers[Area::Tokyo.number() as usize - 1];
        (0..settings.sim_points_per_area)
            .map(|n| register::point_of(Area::Tokyo, register::PointKind::LowVoltage, n))
            .filter(|p| {
                tokyo
                    .get(p)
                    .is_some_and(|s| s.current_retailer_code == args.incumbent)
            })
            .collect()
    } else {
        Vec::new()
    };
    anyhow::ensure!(
        !args.peak_day || !incumbent_points.is_empty(),
        "no 東京 point of {} in the simulator's register",
        args.incumbent
    );
    let request = |i: usize| {
        let (function, area, body, who) = if args.peak_day {
            peak_day_submission(
                i,
                &registers,
                &incumbent_points,
                &args.company,
                &args.incumbent,
            )
        } else {
            let (f, a, b) = submission(i, &registers);
            (f, a, b, Who::Main)
        };
        let (client, token) = callers.of(who);
        let req = client
            .post(format!("{}/api/v1/{}", args.api, function.slug()))
            .bearer_auth(token)
            .json(&body);
        (req, area, who)
    };
    let progress = Progress::new(args.n);
    let answers: Vec<(Answer, Duration)> = match args.rate {
        None => {
            futures::stream::iter(0..args.n)
                .map(|i| {
                    let (req, area, who) = request(i);
                    let progress = &progress;
                    async move {
                        let due = Instant::now();
                        let answer = submit_one(req, area, who).await;
                        progress.tick(answer.is_ok());
                        (answer, due.elapsed())
                    }
                })
                .buffer_unordered(args.concurrency)
                .collect()
                .await
        }
        Some(rate) => {
            anyhow::ensure!(rate > 0.0, "--rate must be above 0");
            let in_flight = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
            let start = Instant::now();
            let mut tasks = Vec::with_capacity(args.n);
            let mut dropped = 0;
            for i in 0..args.n {
                let due = start + Duration::from_secs_f64(i as f64 / rate);
                tokio::time::sleep_until(due.into()).await;
                let Ok(permit) = in_flight.clone().try_acquire_owned() else {
                    dropped += 1;
                    continue;
                };
                let (req, area, who) = request(i);
                let progress = progress.clone();
                tasks.push(tokio::spawn(async move {
                    let answer = submit_one(req, area, who).await;
                    drop(permit);
                    progress.tick(answer.is_ok());
                    (answer, due.elapsed())
                }));
            }
            let mut answers = Vec::with_capacity(tasks.len());
            for t in tasks {
                answers.push(t.await?);
            }
            progress.dropped(dropped);
            answers
        }
    };
    progress.finish();
    let mut outcome = Outcome {
        accepted: Vec::with_capacity(answers.len()),
        counts: Counts {
            sent: answers.len(),
            dropped: args.n - answers.len(),
            ..Counts::default()
        },
        accept_ms: Histogram::new(3)?,
    };
    for (answer, took) in answers {
        match answer {
            Ok(accepted) => {
                outcome.counts.accepted += 1;
                outcome.accept_ms.record(took.as_millis() as u64)?;
                outcome.accepted.push(accepted);
            }
            Err(Some(429)) => outcome.counts.too_many += 1,
            Err(Some(503)) => outcome.counts.unavailable += 1,
            Err(Some(_)) => outcome.counts.other_status += 1,
            Err(None) => outcome.counts.transport += 1,
        }
    }
    Ok(outcome)
}

/// A one-line progress report on stderr, once a second, while submissions run.
#[derive(Clone)]
struct Progress {
    total: usize,
    done: Arc<std::sync::atomic::AtomicUsize>,
    ok: Arc<std::sync::atomic::AtomicUsize>,
    stop: tokio_util::sync::CancellationToken,
}

impl Progress {
    fn new(total: usize) -> Self {
        let p = Progress {
            total,
            done: Default::default(),
            ok: Default::default(),
            stop: Default::default(),
        };
        let shown = p.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            loop {
                tokio::select! {
                    _ = shown.stop.cancelled() => break,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                let done = shown.done.load(std::sync::atomic::Ordering::Relaxed);
                let ok = shown.ok.load(std::sync::atomic::Ordering::Relaxed);
                let width = 30 * done / shown.total.max(1);
                eprint!(
                    "\r[{}{}] {done}/{} answered, {ok} accepted, {:.0}/s   ",
                    "#".repeat(width),
                    ".".repeat(30 - width),
                    shown.total,
                    done as f64 / started.elapsed().as_secs_f64()
                );
            }
            eprintln!();
        });
        p
    }

    fn tick(&self, accepted: bool) {
        self.done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if accepted {
            self.ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    fn dropped(&self, n: usize) {
        self.done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
    }

    fn finish(&self) {
        self.stop.cancel();
    }
}

/// Polls every accepted request (each with the caller that filed it) until it is final or
/// `--wait-secs` pass: accepted→final in ms by id, and how many ended in each final status.
async fn wait_for_results(
    callers: &Callers,
    args: &BenchArgs,
    ids: &[(String, Who)],
) -> anyhow::Result<(
    std::collections::HashMap<String, u64>,
    std::collections::BTreeMap<String, usize>,
)> {
    let mut done = std::collections::HashMap::new();
    let mut finals = std::collections::BTreeMap::new();
    let mut pending: Vec<(String, Who)> = ids.to_vec();
    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    while !pending.is_empty() && Instant::now() < deadline {
        let views: Vec<((String, Who), Option<View>)> = futures::stream::iter(pending.clone())
            .map(|(id, who)| {
                let (client, token) = callers.of(who);
                let req = client
                    .get(format!("{}/api/v1/requests/{id}", args.api))
                    .bearer_auth(token);
                async move {
                    let view = async { req.send().await?.error_for_status()?.json::<View>().await };
                    ((id, who), view.await.ok())
                }
            })
            .buffer_unordered(args.concurrency)
            .collect()
            .await;
        pending.clear();
        for (id, view) in views {
            match view {
                Some(v) if matches!(v.status.as_str(), "completed" | "rejected" | "failed") => {
                    let ms =
                        (v.finished_at.unwrap_or(v.accepted_at) - v.accepted_at).num_milliseconds();
                    done.insert(id.0, ms.max(0) as u64);
                    *finals.entry(v.status).or_insert(0) += 1;
                }
                _ => pending.push(id),
            }
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    if !pending.is_empty() {
        finals.insert("not final in time".into(), pending.len());
    }
    Ok((done, finals))
}

/// Produces `n` encoded facility inquiries to a bench topic, all in flight at once.
async fn raw_produce(settings: &Settings, n: usize) -> anyhow::Result<f64> {
    let topic = format!("{}.bench.raw", settings.topic_prefix);
    kafka::ensure_topics(
        &kafka::Link::of(settings),
        // A scratch topic: an hour is plenty.
        &[(topic.clone(), 3_600_000)],
        settings.topic_partitions,
        settings.topic_replication,
    )
    .await?;
    let publisher = Arc::new(Publisher::new(
        &crate::kafka::Link::of(settings),
        Duration::from_secs(30),
        settings.kafka_idempotence,
    )?);
    let codec = Codec::new();
    let company = CompanyCode::parse("A0001")?;
    let records: Vec<(String, Vec<u8>)> = (0..n)
        .map(|i| {
            let point = register::point_id(
                Area::ALL[i % 10],
                (i / 10) as u32 % settings.sim_points_per_area,
            );
            let r = RequestRecord {
                request_id: RequestId::new(),
                function: crate::domain::Function::FacilityInquiry,
                company_code: company.clone(),
                user_id: "bench".into(),
                point_id: point,
                update_flag: UpdateFlag::Register,
                original_request_id: None,
                accepted_at: Utc::now(),
                payload: Payload::FacilityInquiry(FacilityInquiry {}),
                replay: 0,
            };
            Ok((r.point_id.to_string(), codec.encode_request(&r)?))
        })
        .collect::<anyhow::Result<_>>()?;
    // One record first, acknowledged before the clock starts: a producer that has not yet
    // seen the new topic's leader waits for a metadata refresh (up to a second), which would
    // otherwise be timed as if it were the broker's produce rate.
    if let Some((key, bytes)) = records.first() {
        publisher.publish(&topic, key, bytes).await?;
    }
    let started = Instant::now();
    let sends = records
        .iter()
        .map(|(key, bytes)| publisher.publish(&topic, key, bytes));
    for r in futures::future::join_all(sends).await {
        r?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}

/// CPU time and peak memory of the hub's processes on this machine, read from `/proc`: the
/// `kirikae` processes, the broker and PostgreSQL. Figures for the bench's note, so a change
/// that buys throughput with memory or CPU elsewhere shows.
mod procs {
    use std::collections::BTreeMap;
    use std::time::Duration;

    /// Linux reports CPU time in USER_HZ ticks, 100 per second on every mainstream platform.
    const TICKS_PER_SEC: f64 = 100.0;
    const WATCHED: [&str; 3] = ["kirikae", "tansu", "postgres"];

    pub struct Sampler {
        before: BTreeMap<u32, (String, u64)>,
        /// Only these processes, when given.
        only: Vec<u32>,
    }

    struct Proc {
        label: String,
        cpu_ticks: u64,
        peak_kib: u64,
    }

    fn read(pid: u32, any_name: bool) -> Option<Proc> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may hold spaces; the fields follow it.
        let (head, rest) = stat.rsplit_once(')')?;
        let comm = head.split_once('(')?.1;
        if !any_name && !WATCHED.iter().any(|w| comm.starts_with(w)) {
            return None;
        }
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // utime and stime are fields 14 and 15 of stat; `rest` starts at field 3.
        let cpu_ticks =
            fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let peak_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0);
        // PostgreSQL and the broker as one line each (PostgreSQL rewrites its backends'
        // command lines); kirikae by its subcommand (`kirikae connector --area 03`, …).
        if !comm.starts_with("kirikae") {
            return Some(Proc {
                label: comm.to_string(),
                cpu_ticks,
                peak_kib,
            });
        }
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let mut label = args
            .first()
            .map(|a| a.rsplit('/').next().unwrap_or(a).to_string())
            .unwrap_or_else(|| comm.to_string());
        for a in args.iter().skip(1).take(3) {
            if a.starts_with("--") && !a.contains("area") {
                break;
            }
            label.push(' ');
            label.push_str(a);
        }
        Some(Proc {
            label,
            cpu_ticks,
            peak_kib,
        })
    }

    fn all(only: &[u32]) -> BTreeMap<u32, Proc> {
        if !only.is_empty() {
            return only
                .iter()
                .filter_map(|&pid| Some((pid, read(pid, true)?)))
                .collect();
        }
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return BTreeMap::new();
        };
        dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
            .filter(|&pid| pid != std::process::id())
            .filter_map(|pid| Some((pid, read(pid, false)?)))
            .collect()
    }

    /// The whole machine's CPU time by state, in ticks summed over its cores (the `cpu` line
    /// of `/proc/stat`): whether a run kept the cores busy or left them waiting, and the CPU
    /// each accepted submission cost the whole machine — the hub does less work per request
    /// the more it can batch, so two runs at different concurrency compare by it, not by rate.
    /// A closed loop whose machine sat partly idle measured how many submissions its clients
    /// kept in flight (their concurrency over the latency), not what the hub can carry.
    #[derive(Debug, Clone, Copy, PartialEq)]
    pub struct Machine {
        cores: usize,
        busy: u64,
        idle: u64,
        iowait: u64,
        steal: u64,
    }

    impl Machine {
        pub fn now() -> Option<Self> {
            Self::parse(&std::fs::read_to_string("/proc/stat").ok()?)
        }

        /// From the text of `/proc/stat`: the `cpu` line's user, nice, system, idle, iowait,
        /// irq, softirq and steal, and the count of `cpuN` lines.
        pub(super) fn parse(stat: &str) -> Option<Self> {
            let line = stat.lines().find(|l| l.starts_with("cpu "))?;
            let t: Vec<u64> = line
                .split_whitespace()
                .skip(1)
                .take(8)
                .map(|f| f.parse().ok())
                .collect::<Option<_>>()?;
            let &[user, nice, system, idle, iowait, irq, softirq, steal] = t.as_slice() else {
                return None;
            };
            let cores = stat
                .lines()
                .filter(|l| l.starts_with("cpu") && !l.starts_with("cpu "))
                .count();
            Some(Machine {
                cores,
                busy: user + nice + system + irq + softirq,
                idle,
                iowait,
                steal,
            })
        }

        /// The ticks spent from `earlier` to `self`.
        pub fn since(&self, earlier: &Machine) -> Machine {
            Machine {
                cores: self.cores,
                busy: self.busy.saturating_sub(earlier.busy),
                idle: self.idle.saturating_sub(earlier.idle),
                iowait: self.iowait.saturating_sub(earlier.iowait),
                steal: self.steal.saturating_sub(earlier.steal),
            }
        }

        /// The line the bench prints for the submissions' span, in which `accepted` were
        /// accepted; with `closed_loop`, a note when over a tenth of the machine sat idle.
        pub fn during_submissions(&self, accepted: usize, closed_loop: bool) -> String {
            let all = (self.busy + self.idle + self.iowait + self.steal).max(1) as f64;
            let share = |t: u64| 100.0 * t as f64 / all;
            let mut line = format!(
                "machine: {} cores {:.0}% busy during the submissions ({:.0}% idle, {:.0}% iowait, {:.0}% steal): {:.2} ms of CPU per accepted submission, the bench's own included",
                self.cores,
                share(self.busy),
                share(self.idle),
                share(self.iowait),
                share(self.steal),
                self.busy as f64 * 1000.0 / TICKS_PER_SEC / accepted.max(1) as f64
            );
            if closed_loop && share(self.idle + self.iowait) > 10.0 {
                line.push_str(
                    "\n  over a tenth idle: the clients' --concurrency, not the machine, set this rate; raise it to find the hub's capacity",
                );
            }
            line
        }
    }

    impl Sampler {
        pub fn start(only: &[u32]) -> Self {
            Sampler {
                before: all(only)
                    .into_iter()
                    .map(|(pid, p)| (pid, (p.label, p.cpu_ticks)))
                    .collect(),
                only: only.to_vec(),
            }
        }

        /// One line per process kind: CPU seconds spent since `start`, as a share of the
        /// wall time, and the largest peak resident memory among its processes.
        pub fn print(&self, wall: Duration) {
            let mut by_label: BTreeMap<String, (f64, u64, usize)> = BTreeMap::new();
            for (pid, p) in all(&self.only) {
                let before = self.before.get(&pid).map(|b| b.1).unwrap_or(0);
                let cpu = p.cpu_ticks.saturating_sub(before) as f64 / TICKS_PER_SEC;
                let e = by_label.entry(p.label).or_default();
                e.0 += cpu;
                e.1 = e.1.max(p.peak_kib);
                e.2 += 1;
            }
            if by_label.is_empty() {
                println!("processes: none of {WATCHED:?} found on this machine");
                return;
            }
            println!(
                "processes over {:.1} s (CPU seconds, share of one core, peak resident):",
                wall.as_secs_f64()
            );
            for (label, (cpu, peak_kib, n)) in by_label {
                println!(
                    "  {label:<32} ×{n:<3} {cpu:>7.2} s {:>5.0}%  {:>7.1} MiB",
                    100.0 * cpu / wall.as_secs_f64(),
                    peak_kib as f64 / 1024.0
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::procs::Machine;

    const STAT: &str = "cpu  700 0 200 80 20 0 0 0 0 0\ncpu0 350 0 100 40 10 0 0 0 0 0\n\
                        cpu1 350 0 100 40 10 0 0 0 0 0\nintr 1 2 3\nctxt 9\n";

    #[test]
    fn the_machine_line_counts_user_system_and_irq_as_busy_over_every_core() {
        let m = Machine::parse(STAT).expect("a cpu line");
        let line = m.during_submissions(3, true);
        assert!(line.starts_with("machine: 2 cores 90% busy"), "{line}");
        assert!(line.contains("(8% idle, 2% iowait, 0% steal)"), "{line}");
        // 900 ticks of 10 ms over three submissions.
        assert!(
            line.contains(": 3000.00 ms of CPU per accepted submission"),
            "{line}"
        );
        assert!(!line.contains("over a tenth idle"), "{line}");
    }

    #[test]
    fn a_closed_loop_that_left_the_machine_idle_says_its_clients_set_the_rate() {
        let before = Machine::parse(STAT).expect("a cpu line");
        let after = Machine::parse(&STAT.replace("cpu  700 0 200 80 20", "cpu  1400 0 300 280 20"))
            .expect("a cpu line");
        let line = after.since(&before).during_submissions(800, true);
        assert!(line.contains("2 cores 80% busy during"), "{line}");
        assert!(line.contains("over a tenth idle"), "{line}");
        assert!(
            line.contains(": 10.00 ms of CPU per accepted submission"),
            "{line}"
        );
        let open_loop = after.since(&before).during_submissions(800, false);
        assert!(!open_loop.contains("over a tenth"), "{open_loop}");
    }
}
