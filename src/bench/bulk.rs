//! `kirikae bench --bulk`: one 一括申請 file of `--n` rows (需要者情報変更, over the simulator's
//! registered points of all ten areas) uploaded, confirmed and followed until every row is
//! final; prints the time and rows/s of the preview (upload → preview answered), of the
//! filing (upload → every row holding a request id) and to the end (upload → every row
//! completed, rejected or failed), the hub's resident memory sampled during the run
//! (`--hub-pid`) and every hub process's CPU and peak memory (from `/proc`), beside the raw
//! produce rate with `--raw`. Figures, not assertions.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::Value;

use super::{BenchArgs, raw_produce};
use crate::config::Settings;
use crate::domain::Area;
use crate::tso_sim::register;

/// The file: the template's header and one 需要者情報変更 per row, dated a week ahead.
fn file(settings: &Settings, n: usize) -> Vec<u8> {
    let kind = crate::bulk::BulkKind::parse("customer-change").expect("a bulk function");
    let mut text = crate::bulk::template(kind);
    let date = (crate::domain::today_jst() + chrono::Duration::days(7)).format("%Y/%m/%d");
    for i in 0..n {
        let point = register::point_id(
            Area::ALL[i % 10],
            (i / 10) as u32 % settings.sim_points_per_area,
        );
        text.push_str(&format!(
            "{point},{date},需要者 {i},03-0000-{:04},東京都千代田区丸の内1-{i}\r\n",
            i % 10_000
        ));
    }
    text.into_bytes()
}

/// The resident memory (VmRSS, KiB) of process `pid` now.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Samples the resident memory of `pid` every 50 ms until stopped: its peak then.
struct RssWatch {
    stop: tokio_util::sync::CancellationToken,
    task: tokio::task::JoinHandle<u64>,
}

impl RssWatch {
    fn start(pid: u32) -> Self {
        let stop = tokio_util::sync::CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak = 0;
            while !stopped.is_cancelled() {
                peak = peak.max(rss_kib(pid).unwrap_or(0));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            peak
        });
        RssWatch { stop, task }
    }

    async fn peak_kib(self) -> u64 {
        self.stop.cancel();
        self.task.await.unwrap_or(0)
    }
}

/// The batch now.
async fn batch(
    client: &reqwest::Client,
    args: &BenchArgs,
    token: &str,
    id: &str,
) -> anyhow::Result<Value> {
    Ok(client
        .get(format!("{}/api/v1/bulk/batches/{id}", args.api))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

/// The count `name` of a batch's `counts`.
fn count(batch: &Value, name: &str) -> u64 {
    batch["counts"][name].as_u64().unwrap_or_default()
}

/// Uploads, confirms and follows one file until every row is final; prints the times and
/// rates, and the hub's memory.
pub async fn run(
    settings: &Settings,
    args: &BenchArgs,
    client: &reqwest::Client,
    token: &str,
) -> anyhow::Result<()> {
    let bytes = file(settings, args.n);
    println!(
        "bench --bulk: one customer-change file of {} rows ({} KiB)",
        args.n,
        bytes.len() / 1024
    );
    let hub = args
        .hub_pid
        .map(|pid| (pid, rss_kib(pid), RssWatch::start(pid)));
    let processes = super::procs::Sampler::start(&args.pids);
    let started = Instant::now();
    let preview: Value = client
        .post(format!("{}/api/v1/bulk/customer-change", args.api))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(bytes)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let preview_secs = started.elapsed().as_secs_f64();
    println!(
        "preview: {} rows ({} good, {} bad) in {preview_secs:.2} s = {:.0} rows/s",
        count(&preview, "rows"),
        count(&preview, "good"),
        count(&preview, "bad"),
        args.n as f64 / preview_secs
    );
    let confirm = preview["confirm_url"]
        .as_str()
        .context("the preview names its confirm url")?;
    client
        .post(format!("{}{confirm}?only_good=true", args.api))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?;
    let id = preview["batch_id"].as_str().context("a batch id")?;
    let good = count(&preview, "good");
    let deadline = started + Duration::from_secs(args.wait_secs);
    let (mut filed_secs, mut final_secs, mut last) = (None, None, Value::Null);
    let filed = |last: &Value| count(last, "filed");
    while final_secs.is_none() {
        last = batch(client, args, token, id).await?;
        let secs = started.elapsed().as_secs_f64();
        if filed_secs.is_none() && last["state"] == "filed" {
            filed_secs = Some(secs);
            // At once: a hub run without its connectors (the filing alone) files and stops.
            println!(
                "filing: upload → every row filed ({} filed, {} refused) in {secs:.2} s = {:.0} rows/s",
                filed(&last),
                count(&last, "refused"),
                filed(&last) as f64 / secs
            );
        }
        let settled = ["completed", "rejected", "failed", "refused"]
            .iter()
            .map(|c| count(&last, c))
            .sum::<u64>();
        if settled >= good {
            final_secs = Some(secs);
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "not final within {} s: {last}",
            args.wait_secs
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let wall = started.elapsed();
    let rate = |secs: f64| filed(&last) as f64 / secs;
    let secs = final_secs.unwrap_or_default();
    println!(
        "final:  upload → every row final ({} completed, {} rejected, {} failed) in {secs:.2} s = {:.0} rows/s",
        count(&last, "completed"),
        count(&last, "rejected"),
        count(&last, "failed"),
        rate(secs)
    );
    if let Some((pid, before, watch)) = hub {
        let peak = watch.peak_kib().await;
        println!(
            "hub (pid {pid}) resident memory: {:.1} MiB before, peak {:.1} MiB during the run",
            before.unwrap_or(0) as f64 / 1024.0,
            peak as f64 / 1024.0
        );
    }
    processes.print(wall);
    if args.raw {
        let raw = raw_produce(settings, args.n).await?;
        println!("raw:  {raw:.0} records/s produced straight to the broker");
        if let Some(secs) = filed_secs {
            println!(
                "ratio: the bulk filing runs at {:.1}% of the bare producer's rate",
                100.0 * rate(secs) / raw
            );
        }
    }
    Ok(())
}
