//! A request the broker wrote but never acknowledged (its answer lost on the way) is not
//! answered "nothing was accepted": the hub sends the same record again, under the same
//! request id, and the request is carried out once.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kirikae::domain::Area;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::broker_restart::start_tansu;
use crate::harness::*;

/// The Kafka API key of Produce.
const PRODUCE: i16 = 0;

/// Between the hub and the broker: passes every byte, except the answers to the next
/// `lose` produce requests naming `topic`, which the broker gets (and writes) but whose
/// answers never reach the client.
struct LosingProxy {
    /// Set once the hub (whose topics the proxy carries) has its settings.
    topic: std::sync::OnceLock<Vec<u8>>,
    lose: AtomicUsize,
}

/// One Kafka frame (length-prefixed) from `from`, or `None` at the end of the stream.
async fn frame(from: &mut (impl AsyncReadExt + Unpin)) -> Option<Vec<u8>> {
    let mut len = [0u8; 4];
    from.read_exact(&mut len).await.ok()?;
    let mut body = vec![0u8; i32::from_be_bytes(len).max(0) as usize];
    from.read_exact(&mut body).await.ok()?;
    Some([len.to_vec(), body].concat())
}

impl LosingProxy {
    async fn serve(self: Arc<Self>, listener: TcpListener, broker: u16) {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(upstream) = TcpStream::connect(("127.0.0.1", broker)).await else {
                continue;
            };
            let lost = Arc::new(Mutex::new(HashSet::new()));
            let (mut client_rx, mut client_tx) = client.into_split();
            let (mut broker_rx, mut broker_tx) = upstream.into_split();
            let (this, marked) = (self.clone(), lost.clone());
            tokio::spawn(async move {
                while let Some(f) = frame(&mut client_rx).await {
                    // Request header: api key (2 bytes), version (2), correlation id (4).
                    let api_key = i16::from_be_bytes([f[4], f[5]]);
                    let names_topic = this
                        .topic
                        .get()
                        .is_some_and(|t| f.windows(t.len()).any(|w| w == t.as_slice()));
                    if api_key == PRODUCE
                        && names_topic
                        && this
                            .lose
                            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                            .is_ok()
                    {
                        marked.lock().unwrap().insert(f[8..12].to_vec());
                    }
                    if broker_tx.write_all(&f).await.is_err() {
                        break;
                    }
                }
            });
            tokio::spawn(async move {
                // Response header: correlation id (4 bytes).
                while let Some(f) = frame(&mut broker_rx).await {
                    if lost.lock().unwrap().remove(&f[4..8]) {
                        continue;
                    }
                    if client_tx.write_all(&f).await.is_err() {
                        break;
                    }
                }
            });
        }
    }
}

#[tokio::test]
async fn a_request_written_but_not_acknowledged_is_sent_again_accepted_and_carried_out_once() {
    let area = Area::Kansai;
    let data = tempfile::tempdir().unwrap();
    let broker_port = free_port();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let brokers = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let _broker = start_tansu(data.path(), broker_port, &brokers);
    let proxy = Arc::new(LosingProxy {
        topic: Default::default(),
        lose: AtomicUsize::new(0),
    });
    // On a thread and runtime of its own: the hub's clients make blocking calls on the test's.
    let serving = proxy.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = TcpListener::from_std(listener).unwrap();
            serving.serve(listener, broker_port).await
        })
    });
    let app = spawn_app_on_broker(&[area], &brokers).await;
    proxy
        .topic
        .set(app.settings.requests_topic(area).into_bytes())
        .unwrap();
    let a = app.login(RETAILER_A).await;
    // One request first, so the producer's connection and metadata are warm.
    let (warm, _) = app.point(area, 1);
    let warm = a.facility_inquiry(&warm).await;
    a.final_status(&warm).await;

    // The next request's answer from the broker is lost: the broker has the record, the hub
    // hears nothing until its delivery timeout.
    proxy.lose.store(1, Ordering::SeqCst);
    let answer = a
        .submit("reconnection", reconnection_body(&vacant_point(area, 0)))
        .await;
    let status = answer.status();
    let body: serde_json::Value = answer.json().await.unwrap();
    assert_eq!(proxy.lose.load(Ordering::SeqCst), 0, "an answer was lost");
    assert_eq!(
        status, 202,
        "the record the broker holds is not refused: {body}"
    );
    let id = body["request_id"].as_str().unwrap().to_string();
    let done = a.final_status(&id).await;
    assert_eq!(done["status"], "completed", "{done}");
    // Two copies on the request topic (the one whose answer was lost, and the one sent
    // again), one final result, one application at the operator.
    let codec = kirikae::messages::Codec::new();
    let copies = read_topic(
        &app.settings.kafka_brokers,
        &app.settings.requests_topic(area),
    )
    .iter()
    .filter_map(|b| codec.decode_request(b).ok())
    .filter(|r| r.request_id.to_string() == id)
    .count();
    assert_eq!(copies, 2, "the lost answer's record and the one sent again");
    assert_eq!(final_results_for(&app, area, &id), 1);
    let applied = app.sim(area).1.applied();
    let times = applied
        .iter()
        .find(|(r, _)| r.to_string() == id)
        .map(|(_, n)| *n);
    assert_eq!(times, Some(1), "the operator carried it out once");
}
