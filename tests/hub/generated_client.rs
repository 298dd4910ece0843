//! An integrator's view: a client generated from `/openapi.json` alone, by an independent
//! generator (`openapi-python-client` from PyPI), drives a running hub.

use std::path::Path;
use std::process::Command;

use chrono::{Duration, Utc};
use kirikae::domain::{Area, Function, SupplyPointId};
use kirikae::tso_sim::register::{PointKind, incumbent_code, point_of};
use serde_json::{Value, json};

use crate::harness::*;

fn day(days_ahead: i64) -> String {
    (Utc::now().date_naive() + Duration::days(days_ahead)).to_string()
}

/// One body of every function at `area`'s points, as the other tests send them: what the hub
/// accepts (the operator may still refuse those that need another party or another retailer).
fn a_body_of_every_function(app: &TestApp, area: Area) -> serde_json::Map<String, Value> {
    let incumbent = incumbent_code(area);
    let low = app.incumbent_point(area, PointKind::LowVoltage, 0);
    let vacant = point_of(area, PointKind::Vacant, 0);
    let high = app.incumbent_point(area, PointKind::HighVoltage, 0);
    let fit = app.incumbent_point(area, PointKind::Fit, 0);
    let post_fit = app.incumbent_point(area, PointKind::PostFit, 0);
    let id = |p: &SupplyPointId| p.as_str().to_string();
    let switch_end = |p: &SupplyPointId| {
        json!({"supply_point_id": id(p), "planned_date": day(14),
               "new_retailer_code": RETAILER_B, "customer_number": "0012-3456-78"})
    };
    let mut hv_start = switch_start_body(&high, &incumbent);
    hv_start["contract_kw"] = json!(320.0);
    let bodies = json!({
        "facility-inquiry": {"supply_point_id": id(&low)},
        "usage-password": {"supply_point_id": id(&low),
                           "customer_name": app.customer_name(area, &low)},
        "usage-inquiry": {"supply_point_id": id(&low), "usage_password": "not-it", "months": 3},
        "reconnection": reconnection_body(&vacant),
        "abolition": {"supply_point_id": id(&vacant), "planned_date": day(10),
                      "with_removal": true},
        "switch-start": switch_start_body(&low, &incumbent),
        "switch-end": switch_end(&low),
        "customer-change": {"supply_point_id": id(&low), "effective_date": day(5),
                            "mailing_address": "東京都千代田区1-1"},
        "ampere-change": {"supply_point_id": id(&low), "planned_date": day(7),
                          "contract_ampere": 40},
        "hv-usage-request": {"supply_point_id": id(&high), "voltage_class": "HV_BELOW_500KW",
                             "customer_name": "株式会社テスト工業",
                             "consent_reference": "DOC-2026-001"},
        "hv-usage-inquiry": {"supply_point_id": id(&high), "application_number": "03-000001"},
        "hv-abolition": {"supply_point_id": id(&high), "planned_date": day(60),
                         "with_removal": false},
        "hv-switch-start": hv_start,
        "hv-switch-end": switch_end(&high),
        "hv-customer-change": {"supply_point_id": id(&high), "effective_date": day(40),
                               "customer_phone": "06-1234-5678"},
        "gen-facility-inquiry": {"supply_point_id": id(&fit)},
        "gen-reconnection": {"supply_point_id": id(&post_fit), "planned_date": day(30),
                             "customer_name": "太陽 一郎", "agreed_to_grid_terms": true},
        "gen-abolition": {"supply_point_id": id(&post_fit), "planned_date": day(25),
                          "with_removal": false},
        "gen-switch-start": switch_start_body(&post_fit, &incumbent),
        "gen-switch-end": switch_end(&post_fit),
        "gen-producer-change": {"supply_point_id": id(&post_fit), "effective_date": day(20),
                                "customer_name": "太陽 一郎"},
        "point-search": {"area": area.code(), "meter_number": "no-such-meter"},
    });
    let Value::Object(bodies) = bodies else {
        unreachable!()
    };
    bodies
}

/// Runs `program args…`; what it wrote to stdout and to stderr, or a panic with both.
fn run(program: &str, args: &[&str]) -> (String, String) {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        out.status.success(),
        "{program} {args:?}\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// The operations the generator may leave out: it generates no `text/csv` body, and only the
/// bulk files take one.
const WITHOUT_CSV: [&str; 2] = [
    "WARNING parsing POST /api/v1/admin/users/bulk within 管理者機能. Endpoint will not be generated.",
    "WARNING parsing POST /api/v1/bulk/{function} within 一括申請. Endpoint will not be generated.",
];

/// Generates the Python package `kirikae_client` in `dir` from the document at `doc`,
/// installing the generator from PyPI first when it is missing.
fn generate_client(doc: &Path, dir: &Path) {
    let present = Command::new("python3")
        .args(["-c", "import openapi_python_client"])
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let pip = |extra: &[&str]| {
            Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", "openapi-python-client"])
                .args(extra)
                .status()
                .is_ok_and(|s| s.success())
        };
        assert!(
            pip(&[]) || pip(&["--break-system-packages"]),
            "pip install openapi-python-client failed"
        );
    }
    let config = dir.join("generator.yaml");
    std::fs::write(
        &config,
        "package_name_override: kirikae_client\nproject_name_override: kirikae-client\n",
    )
    .unwrap();
    let package = dir.join("kirikae_client");
    let (_, said) = run(
        "python3",
        &[
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            doc.to_str().unwrap(),
            "--config",
            config.to_str().unwrap(),
            "--meta",
            "none",
            "--output-path",
            package.to_str().unwrap(),
        ],
    );
    // The generator warns (on stderr) of what it left out: anything but the CSV uploads is a
    // fault of the document.
    let warnings: Vec<&str> = said
        .lines()
        .map(str::trim)
        .filter(|l| {
            !l.is_empty()
                && !l.starts_with("Warning(s) encountered")
                && !l.starts_with("If you believe this was a mistake")
        })
        .filter(|l| *l != "Unsupported content type text/csv" && !WITHOUT_CSV.contains(l))
        .collect();
    assert!(warnings.is_empty(), "the generator warned:\n{said}");
}

#[tokio::test]
async fn a_client_generated_from_the_document_submits_every_function_and_reads_its_status() {
    let area = Area::Tokyo;
    let app = spawn_app(&[area]).await;
    let doc = app.openapi_document().await;
    let dir = tempfile::tempdir().unwrap();
    let doc_file = dir.path().join("openapi.json");
    std::fs::write(&doc_file, &doc).unwrap();
    let into = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || generate_client(&doc_file, &into))
        .await
        .unwrap();

    let bodies = a_body_of_every_function(&app, area);
    let bodies_file = dir.path().join("bodies.json");
    std::fs::write(&bodies_file, serde_json::to_vec(&bodies).unwrap()).unwrap();
    let certs = app.certs.path();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/hub/generated_client.py");
    let args: Vec<String> = [
        script.to_str().unwrap(),
        dir.path().to_str().unwrap(),
        &app.api,
        certs.join("ca.pem").to_str().unwrap(),
        certs
            .join(format!("client-{RETAILER_A}.pem"))
            .to_str()
            .unwrap(),
        certs
            .join(format!("client-{RETAILER_A}.key"))
            .to_str()
            .unwrap(),
        &user_of(RETAILER_A),
        PASSWORD,
        bodies_file.to_str().unwrap(),
    ]
    .map(String::from)
    .into();
    // Off the test's runtime, which also serves the hub the script calls.
    let (out, _) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        run("python3", &args)
    })
    .await
    .unwrap();
    let results: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let functions = &results["functions"];
    for f in Function::ALL {
        let r = &functions[f.slug()];
        assert_eq!(r["submitted"], 202, "{}: {r}", f.slug());
        assert_eq!(r["status_code"], 200, "{}: {r}", f.slug());
        assert_eq!(
            r["view"]["request_id"],
            r["request_id"],
            "{}: {r}",
            f.slug()
        );
        assert_eq!(r["view"]["function"], f.slug(), "{}: {r}", f.slug());
        assert!(r["view"]["status"].is_string(), "{}: {r}", f.slug());
    }
}
