//! The API's own description, served over the same TLS listener.

use kirikae::domain::Function;
use serde_json::Value;

use crate::harness::*;

#[tokio::test]
async fn the_openapi_document_is_served_and_names_every_function() {
    let app = spawn_app(&[]).await;
    let resp = app
        .client_for(RETAILER_A)
        .get(format!("{}/openapi.json", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for f in Function::ALL {
        let path = format!("/api/v1/{}", f.slug());
        assert!(doc["paths"][&path]["post"].is_object(), "{path} missing");
    }
    let schemas = &doc["components"]["schemas"];
    for name in [
        "SubmissionEnvelope",
        "SwitchStart",
        "UsageResult",
        "RequestView",
        "ErrorBody",
        "FacilityInquiryResult",
    ] {
        assert!(schemas[name].is_object(), "schema {name} missing");
    }
}

/// Runs `python3 -c script args…`, installing `package` from PyPI first when `module` is
/// missing; its stdout, or a panic with its stderr.
pub fn python(module: &str, package: &str, script: &str, args: &[&str]) -> String {
    let present = std::process::Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .status()
        .is_ok_and(|s| s.success());
    if !present {
        let installed = std::process::Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", package])
            .status()
            .expect("pip");
        assert!(installed.success(), "pip install {package} failed");
    }
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn the_served_document_passes_an_independent_openapi_validator() {
    let app = spawn_app(&[]).await;
    let doc = app.openapi_document().await;
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &doc).unwrap();
    let script = "import json, sys\n\
        from openapi_spec_validator import OpenAPIV31SpecValidator\n\
        spec = json.load(open(sys.argv[1]))\n\
        errors = list(OpenAPIV31SpecValidator(spec).iter_errors())\n\
        for e in errors: print(e.message[:300], list(e.absolute_path))\n\
        sys.exit(1 if errors else 0)\n";
    python(
        "openapi_spec_validator",
        "openapi-spec-validator",
        script,
        &[file.path().to_str().unwrap()],
    );
}

/// Every code the API can answer with: each fixed refusal's (`Refusal::code`) and each code
/// given to a field's refusal (`Refusal::invalid(field, "code", …)` and its wrappers), read
/// from the source so a new one cannot be missed.
fn every_refusal_code() -> Vec<String> {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut codes = Vec::new();
    let refusal = std::fs::read_to_string(src.join("domain/refusal.rs")).unwrap();
    let code_fn = &refusal[refusal.find("pub fn code(").unwrap()..];
    let code_fn = &code_fn[..code_fn.find("\n    }\n").unwrap()];
    for arm in code_fn.split("=> \"").skip(1) {
        codes.push(arm[..arm.find('"').unwrap()].to_string());
    }
    let mut files = vec![src.clone()];
    while let Some(f) = files.pop() {
        if f.is_dir() {
            files.extend(std::fs::read_dir(&f).unwrap().map(|e| e.unwrap().path()));
            continue;
        }
        // The simulator is not the API, and the screens' own form checks (a class not chosen,
        // a confirmation that differs) are shown on the page, not sent by the API.
        if f.extension().is_none_or(|e| e != "rs")
            || f.starts_with(src.join("tso_sim"))
            || f.starts_with(src.join("web"))
        {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        for call in ["Refusal::invalid(", " refuse("] {
            for after in text.split(call).skip(1) {
                if let Some(code) = second_literal(after) {
                    codes.push(code);
                }
            }
        }
    }
    codes.sort();
    codes.dedup();
    codes
}

/// The second argument of a call (the text after its opening parenthesis) when it is a string
/// literal of a code's shape.
fn second_literal(args: &str) -> Option<String> {
    let mut depth = 0;
    for (i, c) in args.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' if depth == 0 => return None,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                let rest = args[i + 1..].trim_start().strip_prefix('"')?;
                let code = &rest[..rest.find('"')?];
                let shaped =
                    !code.is_empty() && code.chars().all(|c| c.is_ascii_lowercase() || c == '_');
                return shaped.then(|| code.to_string());
            }
            _ => {}
        }
    }
    None
}

#[test]
fn every_code_the_api_can_send_is_in_docs_api_md() {
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/api.md"),
    )
    .unwrap();
    let codes = every_refusal_code();
    for known in [
        "malformed_json",
        "invalid_query",
        "invalid_role",
        "body_too_large",
    ] {
        assert!(
            codes.iter().any(|c| c == known),
            "{known} not found: {codes:?}"
        );
    }
    let missing: Vec<&String> = codes
        .iter()
        .filter(|c| !doc.contains(&format!("`{c}`")))
        .collect();
    assert!(missing.is_empty(), "docs/api.md lacks {missing:?}");
}
