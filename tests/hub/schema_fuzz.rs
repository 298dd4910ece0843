//! Schema-driven fuzzing of the HTTP API: schemathesis (PyPI, installed by `scripts/lib.sh`)
//! reads the OpenAPI document the API serves and sends each documented operation requests
//! made from its schemas — valid ones and broken ones — with a client certificate and a bearer
//! token, and checks every answer (docs/reliability.md, "Schema-driven fuzzing").

use std::path::Path;

use serde_json::Value;

use crate::harness::*;
use crate::openapi::python;

/// Operations never fuzzed, each for a reason of the test's own, not of the product: the
/// logout would end the token every other request carries; the event stream never ends (an
/// answer that is a stream, which schemathesis would wait out); and a webhook registered with
/// a generated URL would be called by the hub's delivery job, traffic to an address that is
/// not this machine's.
const LEFT_OUT: [&str; 3] = ["delete_session", "get_events_stream", "put_admin_webhook"];

/// Fuzzed on its own, after everything else: schemathesis takes the user ids it sends from the
/// user list, so it sets the fuzzing administrator's own permissions, and every submission
/// after that would be refused `function_not_permitted` before its body is read.
const LAST: &str = "put_admin_users_user_id_permissions";

/// What every answer is checked for: no 5xx (`not_a_server_error`, the documented 503s too),
/// and that it is documented — its status, media type, headers and body schema; besides, a
/// call without the token is refused, and a method a path does not take is 405. Left off:
/// `positive_data_acceptance`, since the schemas describe less than the rules check (a point
/// id's 22 digits, a date's window), so a schema-valid body is often rightly refused.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
    response_headers_conformance,response_schema_conformance,ignored_auth,unsupported_method";

/// Generated test cases per operation and phase: 10 keeps the test near a minute; a longer
/// run by hand sets `FUZZ_EXAMPLES` (docs/reliability.md).
fn examples() -> String {
    std::env::var("FUZZ_EXAMPLES").unwrap_or_else(|_| "10".into())
}

/// Runs `schemathesis run` with the arguments given to this script, from the folder named
/// first (where it may leave files).
const RUN: &str = "import os, sys\n\
    os.chdir(sys.argv[1])\n\
    from schemathesis.cli import schemathesis\n\
    sys.argv = ['schemathesis', 'run'] + sys.argv[2:]\n\
    schemathesis()\n";

/// No documented operation answers a 5xx to any request schemathesis makes from its schema,
/// and every answer is one the document describes ([`CHECKS`]).
#[tokio::test]
async fn requests_made_from_the_openapi_document_never_get_a_server_error() {
    let app = spawn_app_tweaked(&[], |s| {
        // The fuzzer is one client sending thousands of requests: no rate limit meets it.
        s.login_per_user_per_min = 100_000;
        s.login_per_certificate_per_min = 100_000;
        s.rate_limit_per_sec = 100_000;
        s.rate_limit_burst = 100_000;
    })
    .await;
    // The registration's administrator, so the administration paths are reached too.
    let admin = app.login(RETAILER_A).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("openapi.json"),
        app.openapi_document().await,
    )
    .unwrap();

    let mut everything_else: Vec<String> = Vec::new();
    for id in LEFT_OUT.iter().chain([&LAST]) {
        everything_else.extend(["--exclude-operation-id".into(), id.to_string()]);
    }
    let last = vec!["--include-operation-id".into(), LAST.to_string()];
    let (mut operations, mut cases) = (0, 0);
    for (run, filter) in [("first", everything_else), ("last", last)] {
        let report = schemathesis(&app, &admin.token, dir.path(), run, filter).await;
        let failures = &report["failures"];
        assert_eq!(failures.as_array().map(Vec::len), Some(0), "{failures:#}");
        let tested = &report["operations"];
        assert_eq!(tested["tested"], tested["selected"], "{tested}");
        operations += tested["tested"].as_u64().unwrap();
        cases += report["test_cases"]["generated"].as_u64().unwrap();
        println!(
            "schemathesis, {run} run: {} operations, {} test cases, {} failures, {:.0} s",
            tested["tested"],
            report["test_cases"]["generated"],
            report["test_cases"]["with_failures"],
            report["running_time"].as_f64().unwrap_or_default()
        );
    }
    println!("schemathesis: {operations} operations, {cases} test cases, no failure");
}

/// One `schemathesis run` against `app`'s API, as `token`'s user with company A's
/// certificate, of the operations `filter` selects; its JSON report. Panics with its output
/// if it fails.
async fn schemathesis(
    app: &TestApp,
    token: &str,
    dir: &Path,
    run: &str,
    filter: Vec<String>,
) -> Value {
    let report = dir.join(format!("{run}.json"));
    let certs = app.certs.path();
    let path = |p: &Path| p.to_str().unwrap().to_string();
    let mut args = vec![
        path(dir),
        path(&dir.join("openapi.json")),
        "--url".into(),
        app.api.clone(),
        "--request-cert".into(),
        path(&certs.join(format!("client-{RETAILER_A}.pem"))),
        "--request-cert-key".into(),
        path(&certs.join(format!("client-{RETAILER_A}.key"))),
        "--tls-verify".into(),
        path(&certs.join("ca.pem")),
        "--header".into(),
        format!("Authorization: Bearer {token}"),
        "--checks".into(),
        CHECKS.into(),
        "--max-examples".into(),
        examples(),
        "--seed".into(),
        "14".into(),
        // One worker: schemathesis's threads tripped over CPython 3.11's parser at times (a
        // runtime error of its own, "AST constructor recursion depth mismatch").
        "--workers".into(),
        "1".into(),
        "--request-timeout".into(),
        "40".into(),
        "--generation-database".into(),
        "none".into(),
        "--no-color".into(),
        "--report".into(),
        "json".into(),
        "--report-json-path".into(),
        path(&report),
    ];
    args.extend(filter);
    // Off the runtime's thread: the hub under test serves on it meanwhile.
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        python("schemathesis", "schemathesis>=4.3,<5", RUN, &args)
    })
    .await
    .unwrap();
    serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap()
}
