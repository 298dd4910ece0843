//! The hub's own records besides requests and results: intermediation events
//! (`<prefix>.intermediations`) and the audit trail's topic copy (`<prefix>.audit`). Their
//! personal parts are sealed as the request fields are (`kkenc1:` values, the data key of the
//! actor's registration and the event's month, the `kirikae-key` header), each bound to the
//! record's own id and field name.

use super::envelope::RecordKey;
use super::fields::{FieldError, SHREDDED};
use super::seal::is_sealed;
use crate::messages::{AuditRecord, IntermediationEvent};

/// The fields of an intermediation event that identify a customer, or are free text a retailer
/// writes (a note may quote anything): お客さま番号, 契約名義, 需要場所, the note.
pub const INTERMEDIATION_PERSONAL: &[&str] =
    &["customer_number", "contract_name", "supply_address", "note"];

fn aad(record: &str, id: &str, field: &str) -> Vec<u8> {
    format!("{record}:{id}\0{field}").into_bytes()
}

fn personal_of(e: &mut IntermediationEvent) -> [(&'static str, &mut Option<String>); 4] {
    [
        ("customer_number", &mut e.customer_number),
        ("contract_name", &mut e.contract_name),
        ("supply_address", &mut e.supply_address),
        ("note", &mut e.note),
    ]
}

/// Whether `e` carries anything personal (a REGISTERED event, or a note): only then is it
/// sealed and does it carry a key.
pub fn intermediation_has_personal(e: &IntermediationEvent) -> bool {
    let mut copy = e.clone();
    personal_of(&mut copy).iter().any(|(_, v)| v.is_some())
}

fn each(
    e: &IntermediationEvent,
    f: &mut dyn FnMut(&str, &str) -> Result<String, FieldError>,
) -> Result<IntermediationEvent, FieldError> {
    let mut out = e.clone();
    for (field, value) in personal_of(&mut out) {
        if let Some(v) = value {
            *v = f(field, v)?;
        }
    }
    Ok(out)
}

fn sealing_error(field: &str) -> impl Fn(super::seal::SealError) -> FieldError + '_ {
    move |source| FieldError::Seal {
        field: field.to_string(),
        source,
    }
}

/// `e` with its personal fields sealed with `key`, bound to its event id.
pub fn seal_intermediation(
    e: &IntermediationEvent,
    key: &RecordKey,
) -> Result<IntermediationEvent, FieldError> {
    let id = e.event_id.to_string();
    each(e, &mut |field, value| {
        if is_sealed(value) {
            return Ok(value.to_string());
        }
        key.dek
            .seal_text(&aad("intermediation", &id, field), value)
            .map_err(sealing_error(field))
    })
}

/// `e` in clear; `key` is `None` for an event without a key header (from before sealing, or
/// with nothing personal), whose fields are plain.
pub fn open_intermediation(
    e: &IntermediationEvent,
    key: Option<&RecordKey>,
) -> Result<IntermediationEvent, FieldError> {
    let id = e.event_id.to_string();
    each(e, &mut |field, value| match (is_sealed(value), key) {
        (false, _) => Ok(value.to_string()),
        (true, None) => Err(FieldError::NoKey(field.to_string())),
        (true, Some(k)) => k
            .dek
            .open_text(&aad("intermediation", &id, field), value)
            .map_err(sealing_error(field)),
    })
}

/// `e` with every sealed personal field replaced by [`SHREDDED`].
pub fn shred_intermediation(e: &IntermediationEvent) -> IntermediationEvent {
    each(e, &mut |_, value| {
        Ok(if is_sealed(value) {
            SHREDDED.to_string()
        } else {
            value.to_string()
        })
    })
    .unwrap_or_else(|_| e.clone())
}

/// The topic copy of an audit row with its `detail` sealed whole: the particulars are free
/// JSON (point ids, search text, a person's name or mail address), while who, what, when and
/// on which id stay in clear for the operator's tools.
pub fn seal_audit(r: &AuditRecord, key: &RecordKey) -> Result<AuditRecord, FieldError> {
    if is_sealed(&r.detail) {
        return Ok(r.clone());
    }
    let detail = key
        .dek
        .seal_text(&aad("audit", &r.id.to_string(), "detail"), &r.detail)
        .map_err(sealing_error("detail"))?;
    Ok(AuditRecord {
        detail,
        ..r.clone()
    })
}

/// An audit record from the topic with its `detail` in clear.
pub fn open_audit(r: &AuditRecord, key: Option<&RecordKey>) -> Result<AuditRecord, FieldError> {
    if !is_sealed(&r.detail) {
        return Ok(r.clone());
    }
    let key = key.ok_or_else(|| FieldError::NoKey("detail".into()))?;
    let detail = key
        .dek
        .open_text(&aad("audit", &r.id.to_string(), "detail"), &r.detail)
        .map_err(sealing_error("detail"))?;
    Ok(AuditRecord {
        detail,
        ..r.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::intermediation_event::EventKind;
    use crate::vault::Period;
    use crate::vault::seal::Key;

    fn key(company: &str) -> RecordKey {
        let period = Period::parse("2026-11").unwrap();
        RecordKey::wrap(
            "k1",
            &Key::generate().unwrap(),
            Key::generate().unwrap(),
            company,
            &period,
        )
        .unwrap()
    }

    fn registered() -> IntermediationEvent {
        let mut e = IntermediationEvent::new(
            uuid::Uuid::now_v7(),
            EventKind::Registered,
            "0300000000000000000001".into(),
            "A0001".into(),
            "user-a0001".into(),
        );
        e.customer_number = Some("CN-0001".into());
        e.contract_name = Some("取次 花子".into());
        e.supply_address = Some("東京都千代田区1-1".into());
        e
    }

    #[test]
    fn an_intermediation_events_personal_fields_are_sealed_and_open_again() {
        let k = key("A0001");
        let e = registered();
        assert!(intermediation_has_personal(&e));
        let sealed = seal_intermediation(&e, &k).unwrap();
        for v in [
            &sealed.customer_number,
            &sealed.contract_name,
            &sealed.supply_address,
        ] {
            assert!(is_sealed(v.as_deref().unwrap()), "{v:?}");
        }
        assert_eq!(sealed.note, None);
        assert_eq!(sealed.supply_point_id, e.supply_point_id);
        assert_eq!(open_intermediation(&sealed, Some(&k)).unwrap(), e);
        // Bound to the event: moved onto another event it does not open.
        let mut moved = sealed.clone();
        moved.event_id = uuid::Uuid::now_v7();
        assert!(open_intermediation(&moved, Some(&k)).is_err());
        assert!(open_intermediation(&sealed, None).is_err());
        let shredded = shred_intermediation(&sealed);
        assert_eq!(shredded.customer_number.as_deref(), Some(SHREDDED));
        assert_eq!(shredded.intermediation_id, e.intermediation_id);
    }

    #[test]
    fn an_event_without_personal_fields_needs_no_key() {
        let e = IntermediationEvent::new(
            uuid::Uuid::now_v7(),
            EventKind::Approved,
            "0300000000000000000001".into(),
            "Z0300".into(),
            "user-z0300".into(),
        );
        assert!(!intermediation_has_personal(&e));
        assert_eq!(open_intermediation(&e, None).unwrap(), e);
    }

    #[test]
    fn an_audit_copys_detail_is_sealed_and_opens_again() {
        let k = key("A0001");
        let r = AuditRecord {
            id: 42,
            at: chrono::Utc::now(),
            company_code: "A0001".into(),
            user_id: "user-a0001".into(),
            contractor: None,
            certificate: None,
            action: "request.submitted".into(),
            subject_id: "x".into(),
            detail: r#"{"point_id":"0300000000000000000001"}"#.into(),
        };
        let sealed = seal_audit(&r, &k).unwrap();
        assert!(!sealed.detail.contains("0300000000000000000001"));
        assert_eq!(sealed.action, r.action);
        assert_eq!(open_audit(&sealed, Some(&k)).unwrap(), r);
        let mut moved = sealed.clone();
        moved.id = 43;
        assert!(open_audit(&moved, Some(&k)).is_err());
    }
}
