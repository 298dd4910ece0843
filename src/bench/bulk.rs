//! `kirikae bench --bulk`: one 一括申請 file of `--n` rows (需要者情報変更, over the simulator's
//! registered points of all ten areas) uploaded, confirmed and followed until every row is
//! filed; prints rows/s of the preview (upload → preview answered) and of the filing (confirm
//! → every row holding a request id), beside the raw produce rate with `--raw`. Figures, not
//! assertions.

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

/// Uploads, confirms and follows one file; prints the rates.
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
    let counts = &preview["counts"];
    println!(
        "preview: {} rows ({} good, {} bad) in {preview_secs:.2} s = {:.0} rows/s",
        counts["rows"],
        counts["good"],
        counts["bad"],
        args.n as f64 / preview_secs
    );
    let confirm = preview["confirm_url"]
        .as_str()
        .context("the preview names its confirm url")?;
    let started = Instant::now();
    client
        .post(format!("{}{confirm}?only_good=true", args.api))
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?;
    let id = preview["batch_id"].as_str().context("a batch id")?;
    let deadline = started + Duration::from_secs(args.wait_secs);
    let filed = loop {
        let now: Value = client
            .get(format!("{}/api/v1/bulk/batches/{id}", args.api))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        if now["state"] == "filed" {
            break now;
        }
        anyhow::ensure!(Instant::now() < deadline, "not filed in time: {now}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let filing_secs = started.elapsed().as_secs_f64();
    let rows = filed["counts"]["filed"].as_u64().unwrap_or_default();
    let filing_rate = rows as f64 / filing_secs;
    println!(
        "filing: {rows} rows filed ({} refused) in {filing_secs:.2} s = {filing_rate:.0} rows/s",
        filed["counts"]["refused"]
    );
    if args.raw {
        let raw = raw_produce(settings, args.n).await?;
        println!("raw:  {raw:.0} records/s produced straight to the broker");
        println!(
            "ratio: the bulk filing runs at {:.1}% of the bare producer's rate",
            100.0 * filing_rate / raw
        );
    }
    Ok(())
}
