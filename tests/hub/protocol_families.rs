//! Each area's connector speaks the protocol family its definition names: the same hub, the
//! same simulator program, SOAP/XML for one area, JSON over HTTPS for another and batch files
//! through a folder for a third.

use kirikae::connector::definition::{ConnectorDefinition, ProtocolFamily};
use kirikae::domain::Area;

use crate::harness::*;

/// How many calls to `area`'s operator this process has timed in `family`. The registry is the
/// test process's, which concurrent tests move too: compare a count taken before this test's
/// own call with one after (it can only grow, so "grew" can fail only if no call of the family
/// was timed at all).
fn calls_timed(area: Area, family: ProtocolFamily) -> u64 {
    let series = format!(
        "kirikae_tso_call_seconds_count{{area=\"{}\",family=\"{}\"}} ",
        area.code(),
        family.name()
    );
    kirikae::metrics::render()
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn every_area_answers_over_its_own_family() {
    let families = [
        (Area::Tokyo, ProtocolFamily::Soap),
        (Area::Chubu, ProtocolFamily::Json),
        (Area::Hokuriku, ProtocolFamily::Batch),
    ];
    let app = spawn_app(&families.map(|(area, _)| area)).await;
    let a = app.login(RETAILER_A).await;
    for (area, family) in families {
        let def = ConnectorDefinition::load(&app.settings.connectors_dir, area).unwrap();
        assert_eq!(
            def.protocol,
            family,
            "the definition of area {}",
            area.code()
        );
        let (point, current) = app.point(area, 17);
        let timed_before = calls_timed(area, family);
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
            calls_timed(area, family) > timed_before,
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
