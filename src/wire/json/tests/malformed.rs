//! Answers the client must refuse as malformed, and must never panic on: truncated, random,
//! mutated, with one field missing, unknown or ill-typed, or wrong as a whole.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;

/// A body that must be malformed: (what it breaks, function asked, HTTP status, body).
type Case = (String, Function, u16, Vec<u8>);

fn case(what: impl Into<String>, function: Function, status: u16, document: &Value) -> Case {
    (
        what.into(),
        function,
        status,
        document.to_string().into_bytes(),
    )
}

fn assert_malformed(function: Function, status: u16, body: &[u8], what: &str) {
    match parse_answer(function, status, body) {
        Err(CallError::Malformed(_)) => {}
        other => panic!("{what}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn a_malformed_answer_is_classified_never_a_panic() {
    let valid = completed(facility_result()).to_string();
    for end in 0..valid.len() {
        let what = format!("truncated at {end}");
        assert_malformed(FI, 200, &valid.as_bytes()[..end], &what);
    }
    let cases = [missing_fields(), ill_typed_fields(), unknown_fields()];
    let shapes = [wrong_shapes(&valid), wrong_syntax(&valid)];
    for (what, function, status, body) in cases.into_iter().chain(shapes).flatten() {
        assert_malformed(function, status, &body, &what);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..500 {
        let noise: Vec<u8> = (0..rng.gen_range(0..300)).map(|_| rng.r#gen()).collect();
        assert_malformed(FI, 200, &noise, &format!("random bytes #{i}"));
        assert_malformed(FI, 422, &noise, &format!("random bytes #{i} as a refusal"));
    }
    for _ in 0..3000 {
        let mut mutated = valid.clone().into_bytes();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..mutated.len());
            mutated[at] = rng.r#gen();
        }
        let _ = parse_answer(FI, 200, &mutated);
    }
}

/// Each required field left out or null, in results, refusals and around them.
fn missing_fields() -> Vec<Case> {
    let mut out = Vec::new();
    let facility = completed(facility_result());
    let required = facility_result().as_object().expect("an object").clone();
    for name in required
        .keys()
        .filter(|n| !FACILITY_OPTIONAL.contains(&n.as_str()))
    {
        let gone = edited(&facility, "/result", name, None);
        out.push(case(format!("without {name}"), FI, 200, &gone));
        let nulled = edited(&facility, "/result", name, Some(Value::Null));
        out.push(case(format!("{name} null"), FI, 200, &nulled));
    }
    let switch = completed(switch_result());
    for name in switch_result().as_object().expect("an object").keys() {
        let gone = edited(&switch, "/result", name, None);
        out.push(case(format!("without {name}"), SS, 200, &gone));
    }
    let refusal = refused(refusal_error());
    for name in ["code", "message"] {
        let gone = edited(&refusal, "/error", name, None);
        out.push(case(format!("error without {name}"), FI, 422, &gone));
    }
    for (document, status, body) in [(&facility, 200, "result"), (&refusal, 422, "error")] {
        for name in ["request_id", body] {
            let gone = edited(document, "", name, None);
            out.push(case(format!("{status} without {name}"), FI, status, &gone));
        }
    }
    out
}

/// Wrong values for fields of each type: (field, values).
fn ill_typed() -> Vec<(&'static str, Vec<Value>)> {
    let texts = || vec![json!(1), json!(true), json!({}), json!(""), json!("  ")];
    let dates = [
        "2026/12/05",
        "2026-13-01",
        "2026-12-5",
        " 2026-12-05",
        "2026-12-05T00:00",
    ];
    let mut dates: Vec<Value> = dates.iter().map(|d| json!(d)).collect();
    dates.push(json!(20261205));
    vec![
        ("supply_address", texts()),
        ("meter_number", texts()),
        ("current_retailer_code", texts()),
        (
            "contract_ampere",
            vec![json!("40"), json!(40.5), json!(1e10), json!(true)],
        ),
        ("contract_kva", vec![json!("6"), json!(true), json!({})]),
        ("smart_meter", vec![json!("true"), json!(1), Value::Null]),
        ("next_meter_reading_date", dates),
    ]
}

fn ill_typed_fields() -> Vec<Case> {
    let facility = completed(facility_result());
    let mut out = Vec::new();
    for (name, values) in ill_typed() {
        for value in values {
            let what = format!("{name} = {value}");
            out.push(case(
                what,
                FI,
                200,
                &edited(&facility, "/result", name, Some(value)),
            ));
        }
    }
    let refusal = refused(refusal_error());
    let empty_code = edited(&refusal, "/error", "code", Some(json!("")));
    out.push(case("an empty refusal code", FI, 422, &empty_code));
    for (document, status) in [(&facility, 200), (&refusal, 422)] {
        let empty_id = edited(document, "", "request_id", Some(json!("")));
        out.push(case(
            format!("{status} with an empty request id"),
            FI,
            status,
            &empty_id,
        ));
    }
    out
}

fn unknown_fields() -> Vec<Case> {
    let facility = completed(facility_result());
    let refusal = refused(refusal_error());
    let surprise = || Some(json!(1));
    vec![
        case(
            "unknown top field",
            FI,
            200,
            &edited(&facility, "", "x", surprise()),
        ),
        case(
            "unknown result field",
            FI,
            200,
            &edited(&facility, "/result", "x", surprise()),
        ),
        case(
            "unknown refusal field",
            FI,
            422,
            &edited(&refusal, "", "x", surprise()),
        ),
        case(
            "unknown error field",
            FI,
            422,
            &edited(&refusal, "/error", "x", surprise()),
        ),
    ]
}

/// Well-formed JSON of the wrong shape for the status and function.
fn wrong_shapes(valid: &str) -> Vec<Case> {
    let fields = facility_result();
    let declared = [
        "supply_address",
        "contract_kind",
        "contract_ampere",
        "contract_kva",
        "smart_meter",
        "meter_number",
        "next_meter_reading_date",
        "current_retailer_code",
    ]
    .map(|name| fields[name].clone());
    let repeated = valid.replacen('{', &format!("{{\"request_id\":\"{REQUEST_ID}\","), 1);
    let valid: Value = serde_json::from_str(valid).expect("JSON");
    vec![
        case("a refusal with 200", FI, 200, &refused(refusal_error())),
        case("a result with 422", FI, 422, &valid),
        case("another function's result", SS, 200, &valid),
        case("an array", FI, 200, &json!([valid])),
        case("positional fields", FI, 200, &json!([REQUEST_ID, fields])),
        case("a positional result", FI, 200, &completed(json!(declared))),
        case("a string", FI, 200, &json!("ok")),
        case("null", FI, 200, &Value::Null),
        ("a repeated field".into(), FI, 200, repeated.into_bytes()),
    ]
}

/// Bodies that are not one JSON document.
fn wrong_syntax(valid: &str) -> Vec<Case> {
    let mut not_utf8 = valid.as_bytes().to_vec();
    not_utf8.splice(40..40, [0xff, 0xfe]);
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    [
        ("empty", String::new()),
        ("blank", "  \n ".into()),
        ("XML", "<?xml version=\"1.0\"?><a/>".into()),
        ("two documents", format!("{valid}{valid}")),
        ("trailing text", format!("{valid}garbage")),
        ("a byte order mark", format!("\u{feff}{valid}")),
        ("deeply nested", "[".repeat(100_000)),
        ("nested and closed", nested),
    ]
    .into_iter()
    .map(|(what, body)| (what.to_string(), FI, 200, body.into_bytes()))
    .chain([("not UTF-8".to_string(), FI, 200, not_utf8)])
    .collect()
}
