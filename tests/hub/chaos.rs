//! The fault suite, short: `kirikae chaos` on a small load with a few faults (an API, a
//! connector and the broker killed with SIGKILL, PostgreSQL crashed, an operator down), on its
//! own broker and PostgreSQL cluster. Its verdict comes from the topics, the database, the
//! simulators and the push as a client gets it (each company's change feed, a webhook
//! receiver), not from the hub's counters.

use std::path::PathBuf;

use kirikae::chaos::{ChaosArgs, FaultKind};
use kirikae::config::Settings;

use crate::broker_restart::tansu_binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_kills_and_outages_no_accepted_request_is_lost_or_doubled_and_each_end_is_pushed() {
    let args = ChaosArgs {
        duration: 60,
        rate: 8.0,
        seed: 2026,
        faults: vec![
            FaultKind::Api,
            FaultKind::Connector,
            FaultKind::Broker,
            FaultKind::Postgres,
            FaultKind::SimDown,
        ],
        chains: 4,
        in_flight: 64,
        drain_secs: 120,
        read_secs: 60,
        tansu: tansu_binary(),
        exe: Some(PathBuf::from(env!("CARGO_BIN_EXE_kirikae"))),
        keep: std::env::var_os("KEEP_CHAOS_DIR").is_some(),
    };
    let settings = Settings {
        connectors_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("connectors"),
        ..Settings::default()
    };
    let report = kirikae::chaos::run(settings, args).await.expect("the run");
    assert!(report.accepted >= 200, "a load worth the name: {report}");
    assert_eq!(report.faults.len(), 5, "{report}");
    assert_eq!(report.lost, 0, "{report}");
    assert_eq!(report.doubled, 0, "{report}");
    assert!(report.unread.is_empty(), "every source read: {report}");
    assert!(
        report.feed_checked >= 200,
        "the feeds were checked: {report}"
    );
    assert_eq!(report.feed_missing, 0, "{report}");
    assert_eq!(report.feed_doubled, 0, "{report}");
    assert!(
        report.webhook_checked >= 100,
        "the webhook was checked: {report}"
    );
    assert_eq!(report.webhook_missing, 0, "{report}");
    assert!(report.ok(), "{report}");
}
