//! `kirikae bench`: submits N applications over HTTPS with mTLS at a given concurrency — a mix
//! of look-ups and applications that complete on their own (設備情報照会 low voltage and FIT,
//! パスワード取得申請, 高圧使用量情報照会申請) over all ten areas — waits for their results, and
//! prints accepted/s and accepted→final latency percentiles, in all and per protocol family;
//! then produces the same number of encoded records straight to the broker (`--raw`) so the
//! API's cost over a bare producer shows as a ratio. Figures, not assertions.

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
    /// Submissions in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
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
}

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
    let dir = args.tls_dir.clone().unwrap_or(settings.tls_dir.clone());
    let client = https_client(&dir, &args.company)?;
    let token = login(&client, &args).await?;
    println!(
        "bench: {} submissions ({}), concurrency {}, over all ten areas",
        args.n,
        MIX.iter().map(|f| f.slug()).collect::<Vec<_>>().join(", "),
        args.concurrency
    );
    let families: Vec<&'static str> = Area::ALL
        .iter()
        .map(|&a| {
            crate::connector::definition::ConnectorDefinition::load(&settings.connectors_dir, a)
                .map(|d| d.protocol.name())
                .unwrap_or("unknown")
        })
        .collect();

    let started = Instant::now();
    let submitted = submit_all(&client, &args, &token, &settings).await?;
    let ids: Vec<String> = submitted.iter().map(|(id, _)| id.clone()).collect();
    let submit_secs = started.elapsed().as_secs_f64();
    let accepted_per_sec = ids.len() as f64 / submit_secs;
    println!(
        "api:  {} accepted in {submit_secs:.2} s = {accepted_per_sec:.0} accepted/s",
        ids.len()
    );

    let latencies = wait_for_results(&client, &args, &token, &ids).await?;
    let mut all = Histogram::<u64>::new(3)?;
    let mut by_family: std::collections::BTreeMap<&str, Histogram<u64>> = Default::default();
    for (id, area) in &submitted {
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
    for (family, hist) in &by_family {
        let submitted_here = submitted
            .iter()
            .filter(|(_, a)| families[a.number() as usize - 1] == *family)
            .count();
        print_latency(&format!("  {family}"), hist, submitted_here);
    }
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
    let area = Area::ALL[i % 10];
    let function = MIX[(i / 10) % MIX.len()];
    let n = (i / 40) as u32;
    let kind = match function {
        Function::HvUsageRequest => register::PointKind::HighVoltage,
        Function::GenFacilityInquiry => register::PointKind::Fit,
        _ => register::PointKind::LowVoltage,
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

fn https_client(dir: &std::path::Path, company: &str) -> anyhow::Result<reqwest::Client> {
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

async fn login(client: &reqwest::Client, args: &BenchArgs) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Token {
        token: String,
    }
    let resp = client
        .post(format!("{}/api/v1/session", args.api))
        .json(&serde_json::json!({"user_id": args.user, "password": args.password}))
        .send()
        .await?
        .error_for_status()?;
    Ok(resp.json::<Token>().await?.token)
}

async fn submit_all(
    client: &reqwest::Client,
    args: &BenchArgs,
    token: &str,
    settings: &Settings,
) -> anyhow::Result<Vec<(String, Area)>> {
    let registers: Vec<register::Register> = Area::ALL
        .iter()
        .map(|&a| register::Register::generate(a, settings.sim_seed, settings.sim_points_per_area))
        .collect();
    let results: Vec<anyhow::Result<(String, Area)>> = futures::stream::iter(0..args.n)
        .map(|i| {
            let (function, area, body) = submission(i, &registers);
            let req = client
                .post(format!("{}/api/v1/{}", args.api, function.slug()))
                .bearer_auth(token)
                .json(&body);
            async move {
                let resp = req.send().await?.error_for_status()?;
                Ok((resp.json::<Accepted>().await?.request_id, area))
            }
        })
        .buffer_unordered(args.concurrency)
        .collect()
        .await;
    results.into_iter().collect()
}

async fn wait_for_results(
    client: &reqwest::Client,
    args: &BenchArgs,
    token: &str,
    ids: &[String],
) -> anyhow::Result<std::collections::HashMap<String, u64>> {
    let mut done = std::collections::HashMap::new();
    let mut pending: Vec<String> = ids.to_vec();
    let deadline = Instant::now() + Duration::from_secs(args.wait_secs);
    while !pending.is_empty() && Instant::now() < deadline {
        let views: Vec<(String, Option<View>)> = futures::stream::iter(pending.clone())
            .map(|id| {
                let req = client
                    .get(format!("{}/api/v1/requests/{id}", args.api))
                    .bearer_auth(token);
                async move {
                    let view = async { req.send().await?.error_for_status()?.json::<View>().await };
                    (id, view.await.ok())
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
                    done.insert(id, ms.max(0) as u64);
                }
                _ => pending.push(id),
            }
        }
        if !pending.is_empty() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
    Ok(done)
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
    let started = Instant::now();
    let sends = records
        .iter()
        .map(|(key, bytes)| publisher.publish(&topic, key, bytes));
    for r in futures::future::join_all(sends).await {
        r?;
    }
    Ok(n as f64 / started.elapsed().as_secs_f64())
}
