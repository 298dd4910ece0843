//! Each area's connector speaks the protocol family its definition names: the same hub, the
//! same simulator program, SOAP/XML for one area, JSON over HTTPS for another and batch files
//! through a folder for a third.

use kirikae::connector::definition::{ConnectorDefinition, ProtocolFamily};
use kirikae::domain::Area;

use crate::harness::*;

/// How many calls to `area`'s operator the connector whose ops endpoints listen on `ops` has
/// timed in `family`. Each connector is a process of its own, started by the test, so the
/// count is of this test's calls alone.
async fn calls_timed(ops: u16, area: Area, family: ProtocolFamily) -> f64 {
    let series = format!(
        "kirikae_tso_call_seconds_count{{area=\"{}\",family=\"{}\"}}",
        area.code(),
        family.name()
    );
    sample(&metrics_of(ops).await, &series)
}

#[tokio::test]
async fn every_area_answers_over_its_own_family() {
    let families = [
        (Area::Tokyo, ProtocolFamily::Soap),
        (Area::Chubu, ProtocolFamily::Json),
        (Area::Hokuriku, ProtocolFamily::Batch),
    ];
    let app = spawn_app_without_connectors(&families.map(|(area, _)| area)).await;
    let a = app.login(RETAILER_A).await;
    let mut connectors = Vec::new();
    for (area, _) in families {
        let ops = free_port();
        let child = connector_command(&app, area, &format!("127.0.0.1:{ops}"))
            .spawn()
            .expect("the kirikae binary");
        connectors.push((ops, ChildProcess(child)));
    }
    for ((area, family), (ops, _)) in families.into_iter().zip(&connectors) {
        assert_eq!(
            calls_timed(*ops, area, family).await,
            0.0,
            "a fresh connector"
        );
        let def = ConnectorDefinition::load(&app.settings.connectors_dir, area).unwrap();
        assert_eq!(
            def.protocol,
            family,
            "the definition of area {}",
            area.code()
        );
        let (point, current) = app.point(area, 17);
        let calls_before = app.sim(area).1.calls();
        let id = a.facility_inquiry(&point).await;
        let done = a.final_status(&id).await;
        assert_eq!(done["status"], "completed", "{done}");
        assert_eq!(done["area"], area.code());
        assert_eq!(done["result"]["current_retailer_code"], current.as_str());
        // This test's own simulator of the area (no other test's) was called, at the path of the
        // family (an HTTP family; the batch family's files are checked below).
        assert!(
            app.sim(area).1.calls() > calls_before,
            "area {}'s operator was called",
            area.code()
        );
        if family != ProtocolFamily::Batch {
            assert!(
                app.sim_endpoint(area)
                    .ends_with(kirikae::tso_sim::path_of(family)),
                "area {}'s connector is pointed at the {} desk",
                area.code(),
                family.name()
            );
        }
        assert!(
            calls_timed(*ops, area, family).await >= 1.0,
            "area {}'s connector called in {}",
            area.code(),
            family.name()
        );
        if family == ProtocolFamily::Batch {
            let dir = batch_dir(&app.settings, area).expect("a batch folder");
            for done in ["inbox/done", "outbox/done"] {
                let files = std::fs::read_dir(dir.join(done)).unwrap().count();
                assert!(files >= 1, "area {}'s {done} holds the files", area.code());
            }
        }
    }
}
