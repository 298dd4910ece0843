//! The dialect for every function alike: each function's sample request and every kind of
//! answer round-trip between the two ends, and the new answers (pending, acknowledged, lists)
//! are read strictly.

use super::*;

/// A sample request of every function, full and sparse, and as a withdrawal.
fn every_request() -> Vec<RequestRecord> {
    let mut out = Vec::new();
    for &function in Function::ALL {
        for full in [true, false] {
            out.push(samples::request(function, full));
        }
        let mut withdrawal = samples::request(function, true);
        withdrawal.update_flag = UpdateFlag::Withdraw;
        withdrawal.original_request_id = Some(RequestId::new());
        out.push(withdrawal);
    }
    out
}

#[test]
fn every_functions_request_round_trips_through_the_simulators_reader() {
    for request in every_request() {
        let envelope = build_envelope(&request);
        assert_eq!(
            parse_envelope(envelope.as_bytes()),
            Ok(request.clone()),
            "{envelope}"
        );
    }
}

#[test]
fn every_kind_of_answer_to_every_function_round_trips_through_the_clients_reader() {
    let id: RequestId = REQUEST_ID.parse().expect("id");
    for &function in Function::ALL {
        for answer in samples::answers(function) {
            let body = build_answer(function, &id, &answer);
            assert_eq!(
                parse_answer(function, body.as_bytes()),
                Ok(answer),
                "{function}: {body}"
            );
        }
    }
}

#[test]
fn the_body_element_and_fields_are_named_by_the_slug_and_the_schema() {
    let request = samples::request(Function::HvSwitchStart, false);
    let envelope = build_envelope(&request);
    for expected in [
        "<sw:ServiceId>KF_10610</sw:ServiceId>",
        "<sw:HvSwitchStartRequest><sw:SupplyPointId>",
        "<sw:ApplicationKind>05</sw:ApplicationKind><sw:PlannedDate>2026-12-01</sw:PlannedDate>",
        "<sw:PreviousRetailerCode>山田 &lt;&quot;太郎&quot;&gt; &amp; &apos;Co&apos;, 髙橋</sw:PreviousRetailerCode>",
    ] {
        assert!(
            envelope.contains(expected),
            "{expected} missing from {envelope}"
        );
    }
    assert!(
        !envelope.contains("CustomerPhone"),
        "null fields are left out"
    );
    assert_eq!(
        request_element(Function::GenProducerChange),
        "GenProducerChangeRequest"
    );
    assert_eq!(result_element(Function::UsageInquiry), "UsageInquiryResult");
}

#[test]
fn an_abolition_with_removal_carries_application_kind_02() {
    let with_removal = |removal: bool| {
        let mut request = samples::request(Function::Abolition, true);
        if let Payload::Abolition(a) = &mut request.payload {
            a.with_removal = removal;
        }
        build_envelope(&request)
    };
    assert!(with_removal(true).contains("<sw:ApplicationKind>02</sw:ApplicationKind>"));
    let envelope = with_removal(false);
    assert!(envelope.contains("<sw:ApplicationKind>01</sw:ApplicationKind>"));
    let claimed = envelope.replace(">01</sw:ApplicationKind>", ">02</sw:ApplicationKind>");
    assert!(
        parse_envelope(claimed.as_bytes()).is_err(),
        "a kind the payload does not fit"
    );
    let without = envelope.replace("<sw:ApplicationKind>01</sw:ApplicationKind>", "");
    assert!(
        parse_envelope(without.as_bytes()).is_err(),
        "an application without its kind"
    );
}

#[test]
fn a_list_is_one_item_element_per_entry() {
    let function = Function::UsageInquiry;
    let id: RequestId = REQUEST_ID.parse().expect("id");
    let ResultPayload::Usage(mut usage) = samples::result(function, true) else {
        panic!("not a usage result");
    };
    usage.half_hourly.clear();
    let answer = TsoAnswer::Completed(ResultPayload::Usage(usage));
    let empty = build_answer(function, &id, &answer);
    assert!(
        empty.contains("<sw:UsageInquiryResult><sw:SmartMeter>"),
        "{empty}"
    );
    assert!(empty.contains("<sw:Monthly><sw:Item><sw:Month>"), "{empty}");
    assert!(empty.contains("</sw:Item><sw:Item>"), "{empty}");
    assert!(empty.contains("<sw:HalfHourly></sw:HalfHourly>"), "{empty}");
    assert_eq!(parse_answer(function, empty.as_bytes()), Ok(answer));
    for (what, from, to) in [
        (
            "an entry not named Item",
            "<sw:Item><sw:Month>",
            "<sw:Entry><sw:Month>",
        ),
        (
            "text in a list",
            "<sw:Monthly><sw:Item>",
            "<sw:Monthly>x<sw:Item>",
        ),
        (
            "a list as text",
            "<sw:HalfHourly></sw:HalfHourly>",
            "<sw:HalfHourly>[]</sw:HalfHourly>",
        ),
        ("a list left out", "<sw:HalfHourly></sw:HalfHourly>", ""),
        ("an entry's field left out", "<sw:Kwh>6.25</sw:Kwh>", ""),
        (
            "an entry's unknown field",
            "<sw:Kwh>6.25</sw:Kwh>",
            "<sw:Kwh>6.25</sw:Kwh><sw:X>1</sw:X>",
        ),
        (
            "an ill-typed entry",
            "<sw:Kwh>6.25</sw:Kwh>",
            "<sw:Kwh>many</sw:Kwh>",
        ),
    ] {
        assert!(empty.contains(from), "{what}: nothing to edit");
        assert_malformed(function, empty.replacen(from, to, 1).as_bytes(), what);
    }
}

#[test]
fn pending_and_acknowledged_answers_are_read() {
    let pending = answer("IF_10610", PENDING, &[("Stage", "05")]);
    assert_eq!(
        parse_answer(Function::SwitchStart, pending.as_bytes()),
        Ok(TsoAnswer::Pending { stage: "05".into() })
    );
    let done = answer("IF_10610", ACKNOWLEDGED, &[]);
    assert_eq!(
        parse_answer(Function::SwitchStart, done.as_bytes()),
        Ok(TsoAnswer::Acknowledged)
    );
    let f = Function::SwitchStart;
    assert_malformed(f, answer("IF_10610", PENDING, &[]).as_bytes(), "no stage");
    let empty = answer("IF_10610", PENDING, &[("Stage", " ")]);
    assert_malformed(f, empty.as_bytes(), "an empty stage");
    let extra = answer("IF_10610", PENDING, &[("Stage", "05"), ("Note", "x")]);
    assert_malformed(f, extra.as_bytes(), "an unknown element in Pending");
    let holding = answer("IF_10610", ACKNOWLEDGED, &[("Stage", "05")]);
    assert_malformed(f, holding.as_bytes(), "an acknowledgement with fields");
    let text = done.replace(
        "<sw:Acknowledged></sw:Acknowledged>",
        "<sw:Acknowledged>ok</sw:Acknowledged>",
    );
    assert_ne!(text, done);
    assert_malformed(f, text.as_bytes(), "an acknowledgement with text");
    let other = answer("IF_10110", ACKNOWLEDGED, &[]);
    assert_malformed(
        f,
        other.as_bytes(),
        "an acknowledgement of another service id",
    );
}

#[test]
fn the_simulators_reader_refuses_what_does_not_fit_the_payload_record() {
    let request = samples::request(Function::SwitchEnd, true);
    let valid = build_envelope(&request);
    assert!(parse_envelope(valid.as_bytes()).is_ok());
    for (what, from, to) in [
        (
            "an unknown field",
            "<sw:CustomerNumber>",
            "<sw:Surprise>1</sw:Surprise><sw:CustomerNumber>",
        ),
        (
            "a repeated field",
            "<sw:CustomerNumber>",
            "<sw:PlannedDate>2026-12-01</sw:PlannedDate><sw:CustomerNumber>",
        ),
        (
            "a required field left out",
            "<sw:PlannedDate>2026-12-01</sw:PlannedDate>",
            "",
        ),
        ("an ill-typed date", "2026-12-01", "2026-12-1"),
        (
            "a repeated point",
            "<sw:ApplicationKind>",
            "<sw:SupplyPointId>0300123456789012340001</sw:SupplyPointId><sw:ApplicationKind>",
        ),
        (
            "another function's element",
            "SwitchEndRequest>",
            "SwitchStartRequest>",
        ),
        (
            "a nested scalar",
            "<sw:PlannedDate>2026-12-01</sw:PlannedDate>",
            "<sw:PlannedDate><sw:X>2026-12-01</sw:X></sw:PlannedDate>",
        ),
    ] {
        assert!(valid.contains(from), "{what}: nothing to edit");
        let edited = valid.replace(from, to);
        assert!(
            parse_envelope(edited.as_bytes()).is_err(),
            "{what}: {edited}"
        );
    }
}
