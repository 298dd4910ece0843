//! `kafka_security_protocol = "ssl"` against a real TLS endpoint: a private tansu whose
//! advertised listener is a TLS-terminating proxy (tokio-rustls, a certificate from a test CA
//! made by `certs`) in front of it. The hub's `kafka::Link` from those settings creates a topic,
//! produces and consumes through the proxy; with a CA that did not sign the proxy's certificate
//! the handshake is refused and nothing reaches the broker.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use kirikae::config::{KafkaSecurityProtocol, Settings};
use kirikae::kafka::{self, Link, Publisher};
use rdkafka::Message;

use crate::broker_restart::start_tansu;
use crate::harness::free_port;

/// TLS handshakes the proxy completed, and those it refused.
#[derive(Default)]
struct Handshakes {
    done: AtomicUsize,
    refused: AtomicUsize,
}

/// Terminates TLS on `listener` with `pki`'s `server.pem`/`server.key` and forwards the clear
/// bytes to the broker on `upstream`, until the test ends.
fn start_proxy(listener: tokio::net::TcpListener, pki: &Path, upstream: u16) -> Arc<Handshakes> {
    let acceptor = crate::harness::tls_acceptor(pki);
    let seen = Arc::new(Handshakes::default());
    let counts = seen.clone();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, counts) = (acceptor.clone(), counts.clone());
            tokio::spawn(async move {
                let mut tls = match acceptor.accept(tcp).await {
                    Ok(tls) => tls,
                    Err(_) => {
                        counts.refused.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                };
                counts.done.fetch_add(1, Ordering::SeqCst);
                let Ok(mut broker) = tokio::net::TcpStream::connect(("127.0.0.1", upstream)).await
                else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut broker).await;
            });
        }
    });
    seen
}

/// The settings of a hub reaching the brokers at `brokers` over TLS, trusting `ca`.
fn tls_settings(brokers: &str, ca: &Path) -> Settings {
    Settings {
        kafka_brokers: brokers.to_string(),
        kafka_security_protocol: KafkaSecurityProtocol::Ssl,
        kafka_ca_file: Some(ca.to_path_buf()),
        ..Settings::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hub_speaks_tls_to_kafka_with_its_ca_and_refuses_a_broker_its_ca_did_not_sign() {
    let pki = tempfile::tempdir().unwrap();
    kirikae::certs::generate(pki.path(), "kafka test CA", &[]).unwrap();
    let stranger = tempfile::tempdir().unwrap();
    kirikae::certs::generate(stranger.path(), "another CA", &[]).unwrap();
    let data = tempfile::tempdir().unwrap();
    let proxy = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = proxy.local_addr().unwrap().port();
    let broker_port = free_port();
    // The broker's address as clients see it: the proxy, by the name its certificate carries.
    let brokers = format!("localhost:{proxy_port}");
    let _broker = start_tansu(data.path(), broker_port, &brokers);
    let handshakes = start_proxy(proxy, pki.path(), broker_port);

    // Refused: a CA that did not sign the proxy's certificate. No handshake completes, so not
    // a byte reaches the broker.
    let untrusting = Link::of(&tls_settings(&brokers, &stranger.path().join("ca.pem")));
    let publisher = Publisher::new(&untrusting, Duration::from_secs(5), false).unwrap();
    let reachable = tokio::task::spawn_blocking(move || publisher.broker_reachable())
        .await
        .unwrap();
    assert!(
        !reachable,
        "the broker was reached through an untrusted certificate"
    );
    assert!(
        handshakes.refused.load(Ordering::SeqCst) > 0,
        "no handshake tried"
    );
    assert_eq!(handshakes.done.load(Ordering::SeqCst), 0);

    // Allowed: the CA that signed it. A topic is made, a record produced and read back.
    let link = Link::of(&tls_settings(&brokers, &pki.path().join("ca.pem")));
    let topic = "kirikae-tls-check".to_string();
    kafka::ensure_topics(&link, &[(topic.clone(), -1)], 1, 1)
        .await
        .unwrap();
    let publisher = Publisher::new(&link, Duration::from_secs(30), false).unwrap();
    publisher
        .publish(&topic, "key-1", b"over TLS")
        .await
        .unwrap();
    let read = {
        let (link, topic) = (link.clone(), topic.clone());
        tokio::task::spawn_blocking(move || kafka::read_to_end(&link, &topic, |low, _| low))
            .await
            .unwrap()
            .unwrap()
    };
    let payloads: Vec<&[u8]> = read.iter().filter_map(|m| m.payload()).collect();
    assert_eq!(payloads, [b"over TLS".as_slice()]);
    assert!(handshakes.done.load(Ordering::SeqCst) > 0);
}
