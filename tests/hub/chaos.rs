//! The fault suite, short: `kirikae chaos` on a small load with a few faults (an API, a
//! connector and the broker killed with SIGKILL, PostgreSQL crashed, an operator down), on its
//! own broker and PostgreSQL cluster. Its verdict comes from the topics, the database and the
//! simulators, not from the hub's counters.

use std::path::PathBuf;

use kirikae::chaos::{ChaosArgs, FaultKind};
use kirikae::config::Settings;

use crate::broker_restart::tansu_binary;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn under_kills_and_outages_no_accepted_request_is_lost_or_doubled() {
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
    assert!(report.ok(), "{report}");
}
