//! Tests of the SOAP dialect: the envelope the connector writes, the answers it reads, and how
//! every kind of bad answer is classified.

use chrono::NaiveDate;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::*;
use crate::domain::{RequestId, UpdateFlag};
use crate::messages::{
    FacilityInquiryResult, Payload, RequestRecord, ResultPayload, SwitchStart, SwitchStartResult,
};
use crate::wire::samples;

mod generic;
use crate::messages::fixtures::{self, REQUEST_ID};

const FACILITY: [(&str, &str); 8] = [
    ("SupplyAddress", "東京都新宿区西新宿2-8-1"),
    ("ContractKind", "従量電灯B"),
    ("ContractAmpere", "40"),
    ("ContractKva", "6"),
    ("SmartMeter", "true"),
    ("MeterNumber", "0312345678"),
    ("NextMeterReadingDate", "2026-12-05"),
    ("CurrentRetailerCode", "Z0300"),
];
const FACILITY_OPTIONAL: [&str; 3] = ["ContractAmpere", "ContractKva", "CurrentRetailerCode"];
const SWITCH: [(&str, &str); 3] = [
    ("ApplicationNumber", "03-2026112500001"),
    ("SwitchDate", "2026-12-05"),
    ("ReceptionStage", "09"),
];
pub(crate) const REFUSED: [(&str, &str); 2] = [
    ("ErrorCode", "E1001"),
    ("ErrorMessage", "該当する供給地点特定番号が存在しません"),
];

fn record(function: Function, payload: Payload) -> RequestRecord {
    let mut request = fixtures::request_at("0300123456789012340001", payload);
    request.function = function;
    request
}

pub(crate) fn switch_request() -> RequestRecord {
    let payload = Payload::SwitchStart(SwitchStart {
        planned_date: NaiveDate::from_ymd_opt(2026, 12, 1).expect("test date"),
        previous_retailer_code: "Z0300".into(),
        previous_customer_number: "C-001".into(),
        customer_name: "山田 <太郎> & 'Co'".into(),
        customer_phone: Some("03-1234-5678".into()),
        contract_ampere: Some(40),
        intermediation_number: None,
        agreed_to_grid_terms: true,
        contract_method: None,
        contract_kw: None,
    });
    record(Function::SwitchStart, payload)
}

/// An answer document of the dialect, from its parts.
pub(crate) fn answer(service_id: &str, element: &str, fields: &[(&str, &str)]) -> String {
    let mut head = String::new();
    leaf(&mut head, "ServiceId", service_id);
    leaf(&mut head, "RequestId", REQUEST_ID);
    let mut body = String::new();
    for (name, value) in fields {
        leaf(&mut body, name, value);
    }
    xml::envelope(Some(&wrap(RESPONSE_HEADER, &head)), &wrap(element, &body))
}

fn facility_answer(fields: &[(&str, &str)]) -> String {
    answer("IF_10110", "FacilityInquiryResult", fields)
}

fn with_field(
    fields: &[(&'static str, &'static str)],
    name: &str,
    value: &'static str,
) -> Vec<(&'static str, &'static str)> {
    fields
        .iter()
        .map(|&(n, v)| if n == name { (n, value) } else { (n, v) })
        .collect()
}

fn assert_malformed(function: Function, body: &[u8], what: &str) {
    match parse_answer(function, body) {
        Err(CallError::Malformed(_)) => {}
        other => panic!("{what}: expected Malformed, got {other:?}"),
    }
}

#[test]
fn the_envelope_carries_the_routing_header_and_escaped_fields() {
    let mut request = switch_request();
    request.update_flag = UpdateFlag::Correct;
    request.original_request_id = Some(RequestId::new());
    let envelope = build_envelope(&request);
    for expected in [
        "<sw:ServiceId>IF_10610</sw:ServiceId>",
        &format!("<sw:RequestId>{REQUEST_ID}</sw:RequestId>"),
        "<sw:CompanyCode>A0001</sw:CompanyCode>",
        "<sw:UserId>taro.yamada</sw:UserId>",
        "<sw:UpdateFlag>2</sw:UpdateFlag>",
        "<sw:SupplyPointId>0300123456789012340001</sw:SupplyPointId>",
        "<sw:ApplicationKind>05</sw:ApplicationKind>",
        "<sw:PlannedDate>2026-12-01</sw:PlannedDate>",
        "<sw:AgreedToGridTerms>true</sw:AgreedToGridTerms>",
        "山田 &lt;太郎&gt; &amp; &apos;Co&apos;",
    ] {
        assert!(
            envelope.contains(expected),
            "{expected} missing from {envelope}"
        );
    }
    assert!(!envelope.contains("<太郎>"));
    let root = xml::parse(envelope.as_bytes()).expect("well-formed");
    let (header, body) = xml::open_envelope(&root).expect("an envelope");
    assert!(header.is_some_and(|h| h.is(SW_NS, REQUEST_HEADER)));
    assert!(body.is(SW_NS, "SwitchStartRequest"));
}

#[test]
fn a_facility_result_is_read_into_its_payload() {
    let answer = parse_answer(
        Function::FacilityInquiry,
        facility_answer(&FACILITY).as_bytes(),
    );
    let expected = FacilityInquiryResult {
        supply_address: "東京都新宿区西新宿2-8-1".into(),
        contract_kind: "従量電灯B".into(),
        contract_ampere: Some(40),
        contract_kva: Some(6.0),
        smart_meter: true,
        meter_number: "0312345678".into(),
        next_meter_reading_date: NaiveDate::from_ymd_opt(2026, 12, 5).expect("date"),
        current_retailer_code: Some("Z0300".into()),
        generation_kw: None,
        fit_scheme: None,
    };
    assert_eq!(
        answer,
        Ok(TsoAnswer::Completed(ResultPayload::FacilityInquiry(
            expected
        )))
    );
}

#[test]
fn escaped_text_and_character_references_are_read_back() {
    let body = facility_answer(&with_field(&FACILITY, "SupplyAddress", "ADDRESS"))
        .replace("ADDRESS", "A&amp;B &#x6771;&#20140; &lt;1&gt;");
    let Ok(TsoAnswer::Completed(ResultPayload::FacilityInquiry(r))) =
        parse_answer(Function::FacilityInquiry, body.as_bytes())
    else {
        panic!("not a facility result");
    };
    assert_eq!(r.supply_address, "A&B 東京 <1>");
}

#[test]
fn a_switch_result_is_read_into_its_payload() {
    let body = answer("IF_10610", "SwitchStartResult", &SWITCH);
    let expected = SwitchStartResult {
        application_number: "03-2026112500001".into(),
        switch_date: NaiveDate::from_ymd_opt(2026, 12, 5).expect("date"),
        reception_stage: "09".into(),
    };
    let got = parse_answer(Function::SwitchStart, body.as_bytes());
    assert_eq!(
        got,
        Ok(TsoAnswer::Completed(ResultPayload::SwitchStart(expected)))
    );
}

#[test]
fn a_refusal_is_an_answer_with_its_code_and_message() {
    let body = answer("IF_10610", REFUSAL, &REFUSED);
    let got = parse_answer(Function::SwitchStart, body.as_bytes());
    let message = "該当する供給地点特定番号が存在しません".to_string();
    assert_eq!(
        got,
        Ok(TsoAnswer::Refused {
            code: "E1001".into(),
            message
        })
    );
}

#[test]
fn a_soap_fault_maps_to_a_status_transient_only_for_server_faults() {
    let server = parse_answer(
        Function::FacilityInquiry,
        xml::fault("Server", "停止中").as_bytes(),
    );
    assert_eq!(server, Err(CallError::Status(500)));
    assert!(server.err().is_some_and(|e| e.is_transient()));
    let client = parse_answer(
        Function::FacilityInquiry,
        xml::fault("Client", "bad").as_bytes(),
    );
    assert_eq!(client, Err(CallError::Status(400)));
    assert!(client.err().is_some_and(|e| !e.is_transient()));
}

#[test]
fn a_malformed_answer_is_classified_never_a_panic() {
    let valid = facility_answer(&FACILITY);
    let f = Function::FacilityInquiry;
    for end in 0..valid.len() {
        assert_malformed(f, &valid.as_bytes()[..end], &format!("truncated at {end}"));
    }
    for (what, function, body) in broken_fields() {
        assert_malformed(function, body.as_bytes(), &what);
    }
    for (what, from, to) in EDITS {
        assert!(valid.contains(from), "{what}: nothing to edit");
        assert_malformed(f, valid.replacen(from, to, 1).as_bytes(), what);
    }
    for (what, body) in wrong_documents(&valid) {
        assert_malformed(f, &body, what);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for i in 0..500 {
        let noise: Vec<u8> = (0..rng.gen_range(0..300)).map(|_| rng.r#gen()).collect();
        assert_malformed(f, &noise, &format!("random bytes #{i}"));
    }
    for _ in 0..3000 {
        let mut mutated = valid.clone().into_bytes();
        for _ in 0..rng.gen_range(1..4) {
            let at = rng.gen_range(0..mutated.len());
            mutated[at] = rng.r#gen();
        }
        let _ = parse_answer(f, &mutated);
    }
}

/// Values of the right element with the wrong type.
const ILL_TYPED: [(&str, &str); 7] = [
    ("ContractAmpere", "forty"),
    ("ContractKva", "NaN"),
    ("ContractKva", "six"),
    ("SmartMeter", "yes"),
    ("NextMeterReadingDate", "2026/12/05"),
    ("NextMeterReadingDate", "2026-13-01"),
    ("NextMeterReadingDate", "2026-12-5"),
];

/// One edit each that breaks a valid facility answer: (what, text, replacement).
const EDITS: [(&str, &str, &str); 10] = [
    ("not SOAP 1.1", xml::SOAP_NS, "urn:other"),
    ("undeclared prefix", " xmlns:sw=", " xmlns:zz="),
    ("unknown entity", "西新宿", "&nbsp;"),
    ("Shift_JIS declared", "UTF-8", "Shift_JIS"),
    ("DOCTYPE", "?>", "?><!DOCTYPE x [<!ENTITY e \"x\">]>"),
    (
        "mixed content",
        "<sw:SupplyAddress>",
        "text<sw:SupplyAddress>",
    ),
    ("nested field", "0312345678", "<sw:X>1</sw:X>"),
    ("other service id", "IF_10110", "IF_10610"),
    ("unclosed field", "</sw:MeterNumber>", ""),
    (
        "mismatched end tag",
        "</sw:MeterNumber>",
        "</sw:MeterNumbr>",
    ),
];

fn without(
    fields: &[(&'static str, &'static str)],
    name: &str,
) -> Vec<(&'static str, &'static str)> {
    fields.iter().copied().filter(|(n, _)| *n != name).collect()
}

/// Answers with one field missing, emptied or ill-typed: (what, function, body).
fn broken_fields() -> Vec<(String, Function, String)> {
    let (fi, ss) = (Function::FacilityInquiry, Function::SwitchStart);
    let mut out = Vec::new();
    for (name, _) in FACILITY
        .iter()
        .filter(|(n, _)| !FACILITY_OPTIONAL.contains(n))
    {
        out.push((
            format!("without {name}"),
            fi,
            facility_answer(&without(&FACILITY, name)),
        ));
        let emptied = facility_answer(&with_field(&FACILITY, name, ""));
        out.push((format!("empty {name}"), fi, emptied));
    }
    for (name, bad) in ILL_TYPED {
        let body = facility_answer(&with_field(&FACILITY, name, bad));
        out.push((format!("{name} = {bad}"), fi, body));
    }
    for (name, _) in SWITCH {
        let body = answer("IF_10610", "SwitchStartResult", &without(&SWITCH, name));
        out.push((format!("without {name}"), ss, body));
    }
    for (name, _) in REFUSED {
        let body = answer("IF_10110", REFUSAL, &without(&REFUSED, name));
        out.push((format!("refusal without {name}"), fi, body));
    }
    out
}

/// Documents that are wrong as a whole rather than in one place.
fn wrong_documents(valid: &str) -> Vec<(&'static str, Vec<u8>)> {
    let mut extra = FACILITY.to_vec();
    extra.push(("Surprise", "1"));
    let mut twice = FACILITY.to_vec();
    twice.push(("MeterNumber", "1"));
    let mut not_utf8 = valid.as_bytes().to_vec();
    not_utf8.splice(300..300, [0xff, 0xfe]);
    vec![
        ("empty", vec![]),
        ("blank", b"  \n ".to_vec()),
        ("JSON", br#"{"ok":true}"#.to_vec()),
        ("HTML", b"<html><body>503</body></html>".to_vec()),
        ("unknown field", facility_answer(&extra).into_bytes()),
        ("repeated field", facility_answer(&twice).into_bytes()),
        (
            "other function's result",
            answer("IF_10110", "SwitchStartResult", &SWITCH).into_bytes(),
        ),
        (
            "no header",
            xml::envelope(None, &wrap("FacilityInquiryResult", "")).into_bytes(),
        ),
        ("two roots", format!("{valid}{valid}").into_bytes()),
        ("trailing text", format!("{valid}garbage").into_bytes()),
        ("leading text", format!("garbage{valid}").into_bytes()),
        ("deeply nested", "<a>".repeat(100_000).into_bytes()),
        (
            "deeply nested and closed",
            format!("{}{}", "<a>".repeat(5000), "</a>".repeat(5000)).into_bytes(),
        ),
        ("not UTF-8", not_utf8),
    ]
}
