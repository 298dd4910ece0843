//! Graceful shutdown: on SIGTERM a connector stops taking work, finishes the calls it has in
//! flight and produces their results, commits its offsets and exits 0; after a restart every
//! request has exactly one final result. An API process stops accepting, answers every request
//! it took and exits 0. A hub in one process stops whole when one of its parts fails.

use std::collections::HashMap;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use kirikae::domain::Area;
use serde_json::json;

use crate::connector_crash::{connector_process, connector_process_with};
use crate::harness::*;

fn terminate(child: &Child) {
    let sent = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill(1)");
    assert!(sent.success());
}

async fn exit_within(child: &mut Child, grace: Duration) -> ExitStatus {
    let deadline = Instant::now() + grace;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("still running {grace:?} after SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Final results on `area`'s result topic, per request id.
fn final_results(app: &TestApp, area: Area) -> HashMap<String, usize> {
    let codec = kirikae::messages::Codec::new();
    let mut counts = HashMap::new();
    let topic = app.settings.results_topic(area);
    for bytes in read_topic(&app.settings.kafka_brokers, &topic) {
        if let Ok(r) = codec.decode_result(&bytes)
            && r.status.is_final()
        {
            *counts.entry(r.request_id.to_string()).or_default() += 1;
        }
    }
    counts
}

#[tokio::test]
async fn a_connector_stopped_by_sigterm_mid_load_finishes_its_calls_and_exits_cleanly() {
    let area = Area::Tohoku; // SOAP
    let app = spawn_app_without_connectors(&[area]).await;
    // Each call takes a second, so the connector is stopped with calls in flight.
    app.set_sim_mode(area, json!({"mode": "slow", "delay_ms": 1000}))
        .await;
    let a = app.login(RETAILER_A).await;
    let mut ids = Vec::new();
    for n in 0..60 {
        let point = vacant_point(area, n);
        ids.push(a.accepted("reconnection", reconnection_body(&point)).await);
    }
    let sim = app.sim(area).1.clone();
    // Four calls at once: sixty requests take fifteen one-second rounds, and the signal comes
    // in the second, with four calls in flight and most requests not yet started.
    let mut first = connector_process_with(&app, area, &[("KIRIKAE_CONNECTOR_LANES", "4")]);
    eventually(90, "calls under way", || sim.calls() > 4).await;
    terminate(&first);
    let status = exit_within(&mut first, Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "SIGTERM ends the connector cleanly: {status}"
    );

    // Every call that reached the operator (counted on arrival, so the ones in flight at the
    // signal too) was finished and has its result: none was cut off, none started after.
    let by_first = final_results(&app, area);
    assert!(by_first.len() < ids.len(), "stopped mid-load");
    assert_eq!(
        sim.calls() as usize,
        by_first.len(),
        "each call the operator got has its result"
    );
    assert_eq!(sim.applications(), by_first.len());

    app.set_sim_mode(area, json!({"mode": "normal"})).await;
    let mut second = connector_process(&app, area);
    for id in &ids {
        assert_eq!(a.final_status(id).await["status"], "completed", "{id}");
    }
    terminate(&second);
    assert!(
        exit_within(&mut second, Duration::from_secs(30))
            .await
            .success()
    );
    let all = final_results(&app, area);
    for id in &ids {
        assert_eq!(all.get(id), Some(&1), "exactly one final result for {id}");
    }
    assert_eq!(sim.applications(), ids.len(), "each applied once");
}

/// What one submission got from an API process being stopped.
#[derive(Debug)]
enum Answer {
    /// 202 and the request id.
    Accepted(String),
    /// Any other answer: its status and error code.
    Refused(u16, String),
    /// No answer: the connection was refused or broken, at this moment.
    NoConnection(Instant, String),
}

/// SIGTERM to a `kirikae api` process under a steady load of submissions (HTTP/1.1 and HTTP/2
/// clients): it stops accepting, answers every request it had taken and exits 0 within its
/// grace period. Every 202 is on the request topic exactly once, nothing is on it that was not
/// answered 202, every answer is a 202 or a 503 with its code, and connections fail only after
/// the signal.
#[tokio::test]
async fn an_api_stopped_by_sigterm_under_load_answers_every_request_it_took_and_exits_cleanly() {
    use kirikae::tso_sim::register::{PointKind, point_of};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
    const WORKERS: usize = 12;
    const MAX_SUBMISSIONS: u32 = 3000;
    let area = Area::Tokyo;
    let app = spawn_app(&[]).await;
    let (listen, ops) = (free_port(), free_port());
    let mut api = api_process(&app, listen, ops);
    // It serves its ops endpoints once its API listens.
    metrics_of(ops).await;
    let base = format!("https://localhost:{listen}");
    let token = app.login(RETAILER_A).await.token;

    let next = Arc::new(AtomicU32::new(0));
    let accepted = Arc::new(AtomicUsize::new(0));
    let signalled = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..WORKERS {
        let http = http_client(&app, RETAILER_A, w % 2 == 0);
        let (url, token) = (format!("{base}/api/v1/facility-inquiry"), token.clone());
        let (next, accepted, signalled) = (next.clone(), accepted.clone(), signalled.clone());
        workers.push(tokio::spawn(async move {
            let mut answers = Vec::new();
            loop {
                let n = next.fetch_add(1, Ordering::SeqCst);
                if n >= MAX_SUBMISSIONS {
                    break;
                }
                let point = point_of(area, PointKind::LowVoltage, n);
                let sent = http
                    .post(&url)
                    .bearer_auth(&token)
                    .json(&json!({"supply_point_id": point.as_str()}))
                    .send()
                    .await;
                let answer = match sent {
                    Err(e) => Answer::NoConnection(Instant::now(), format!("{e:?}")),
                    Ok(resp) => {
                        let status = resp.status().as_u16();
                        let body: serde_json::Value = resp.json().await.unwrap_or_default();
                        if status == 202 {
                            accepted.fetch_add(1, Ordering::SeqCst);
                            Answer::Accepted(body["request_id"].as_str().unwrap().to_string())
                        } else {
                            Answer::Refused(status, body["code"].as_str().unwrap_or("").into())
                        }
                    }
                };
                let refused_after_the_signal =
                    matches!(answer, Answer::NoConnection(..)) && signalled.load(Ordering::SeqCst);
                answers.push((point.as_str().to_string(), answer));
                if refused_after_the_signal {
                    break;
                }
            }
            answers
        }));
    }

    let under_load = Instant::now() + Duration::from_secs(120);
    while accepted.load(Ordering::SeqCst) < 100 {
        assert!(Instant::now() < under_load, "the load never got going");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let signal_at = Instant::now();
    signalled.store(true, Ordering::SeqCst);
    terminate(&api.0);
    let status = exit_within(&mut api.0, Duration::from_secs(30)).await;
    assert!(status.success(), "SIGTERM ends the API cleanly: {status}");
    let exited_in = signal_at.elapsed();

    let mut answers = Vec::new();
    for w in workers {
        answers.extend(w.await.unwrap());
    }
    let mut accepted_ids = std::collections::HashSet::new();
    let mut without_202 = std::collections::HashSet::new();
    let mut refused = HashMap::<(u16, String), usize>::new();
    let mut broken = 0;
    for (point, answer) in &answers {
        match answer {
            Answer::Accepted(id) => {
                accepted_ids.insert(id.clone());
            }
            Answer::Refused(status, code) => {
                assert_eq!(*status, 503, "every answer is a 202 or a clear 503: {code}");
                assert!(!code.is_empty(), "a 503 says why");
                *refused.entry((*status, code.clone())).or_default() += 1;
                without_202.insert(point.clone());
            }
            Answer::NoConnection(at, error) => {
                assert!(
                    *at >= signal_at,
                    "a connection failed before the signal: {error}"
                );
                broken += 1;
                without_202.insert(point.clone());
            }
        }
    }
    assert!(
        broken > 0,
        "no submission met the stopped listener: stopped after the load?"
    );
    let summary = format!(
        "{} accepted, refused {refused:?}, {broken} without a connection; exited in {exited_in:?}",
        accepted_ids.len()
    );

    let codec = kirikae::messages::Codec::new();
    let mut on_topic = HashMap::<String, usize>::new();
    for bytes in read_topic(
        &app.settings.kafka_brokers,
        &app.settings.requests_topic(area),
    ) {
        let record = codec.decode_request(&bytes).expect("a request record");
        assert!(
            !without_202.contains(record.point_id.as_str()),
            "{} is on the topic, but its client got no 202 ({summary})",
            record.point_id.as_str()
        );
        *on_topic.entry(record.request_id.to_string()).or_default() += 1;
    }
    for id in &accepted_ids {
        assert_eq!(on_topic.get(id), Some(&1), "{id} answered 202 ({summary})");
    }
    assert_eq!(on_topic.len(), accepted_ids.len(), "{summary}");
    println!("{summary}");
}

/// A part of a hub in one process (`kirikae up`) that fails, here a connector whose definition
/// names no usable endpoint, stops the whole hub with its reason: the rest would otherwise go
/// on accepting that area's requests with no one to carry them out.
#[tokio::test]
async fn a_hub_in_one_process_whose_part_fails_stops_with_its_reason() {
    use kirikae::hub;
    use tokio_util::sync::CancellationToken;
    let app = spawn_app_without_connectors(&[]).await;
    let connectors = tempfile::tempdir().unwrap();
    let area = Area::Hokkaido;
    let definition = std::fs::read_to_string(
        app.settings
            .connectors_dir
            .join(area.code())
            .join("connector.toml"),
    )
    .unwrap();
    let broken: String = definition
        .lines()
        .map(|l| {
            if l.starts_with("endpoint") {
                "endpoint = \"not a url\"".to_string()
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::create_dir_all(connectors.path().join(area.code())).unwrap();
    std::fs::write(
        connectors.path().join(area.code()).join("connector.toml"),
        broken,
    )
    .unwrap();
    let mut settings = app.settings.clone();
    settings.connectors_dir = connectors.path().to_path_buf();
    settings.sim_base_port = free_port() - area.number();
    settings.api_listen = "127.0.0.1:0".parse().unwrap();
    let pool = hub::pool(&settings).unwrap();
    let shutdown = CancellationToken::new();
    let started = hub::start(
        &settings,
        &pool,
        &[area],
        &hub::Placement::Configured,
        true,
        &shutdown,
        &tokio::runtime::Handle::current(),
    )
    .await
    .expect("the hub starts: the definition is read when the connector starts");
    let ended = tokio::time::timeout(Duration::from_secs(60), started.run_until(&shutdown))
        .await
        .expect("the hub stops by itself, without a shutdown");
    let reason = format!("{:#}", ended.expect_err("a part failed"));
    assert!(reason.contains("connector 01 stopped"), "{reason}");
    assert!(shutdown.is_cancelled(), "the other parts were stopped too");
}
