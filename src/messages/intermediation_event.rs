//! The record of one state change of a スイッチング廃止取次 (`schemas/intermediation_event.avsc`)
//! and the enums it carries: what the topic `<prefix>.intermediations` holds. The rules about
//! them (transitions, who may make them) live in `crate::intermediation`, which re-exports
//! these types.

use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happened to an intermediation; one Avro event each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EventKind {
    Registered,
    Approved,
    Declined,
    Expired,
    Withdrawn,
}

impl EventKind {
    pub const ALL: [EventKind; 5] = [
        EventKind::Registered,
        EventKind::Approved,
        EventKind::Declined,
        EventKind::Expired,
        EventKind::Withdrawn,
    ];

    /// The kind named by [`EventKind::as_str`].
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Registered => "registered",
            EventKind::Approved => "approved",
            EventKind::Declined => "declined",
            EventKind::Expired => "expired",
            EventKind::Withdrawn => "withdrawn",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            EventKind::Registered => "登録",
            EventKind::Approved => "承諾",
            EventKind::Declined => "否認",
            EventKind::Expired => "期限切れ",
            EventKind::Withdrawn => "取下げ",
        }
    }
}

/// The point classes an intermediation may be for. Generation points must be post-FIT, which
/// the hub cannot tell from FIT ones, so `gen` is accepted as such.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum IntermediationPointClass {
    Lv,
    Hv,
    Gen,
}

impl IntermediationPointClass {
    pub fn slug(self) -> &'static str {
        match self {
            IntermediationPointClass::Lv => "lv",
            IntermediationPointClass::Hv => "hv",
            IntermediationPointClass::Gen => "gen",
        }
    }

    pub fn by_slug(s: &str) -> Option<Self> {
        [Self::Lv, Self::Hv, Self::Gen]
            .into_iter()
            .find(|c| c.slug() == s)
    }
}

/// 否認理由: why a current retailer declines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DeclineReason {
    CustomerNumberMismatch,
    NameMismatch,
    AddressMismatch,
    NoSuchContract,
    ContractEnding,
    CoolingOff,
    Other,
}

/// One reason of the table: the API's code, and its wording in Japanese and English.
pub struct ReasonSpec {
    pub reason: DeclineReason,
    pub code: &'static str,
    pub label_ja: &'static str,
    pub label_en: &'static str,
}

/// Every decline reason, as data.
pub const REASONS: &[ReasonSpec] = &[
    ReasonSpec {
        reason: DeclineReason::CustomerNumberMismatch,
        code: "customer_number_mismatch",
        label_ja: "お客さま番号不一致",
        label_en: "the customer (contract) number does not match",
    },
    ReasonSpec {
        reason: DeclineReason::NameMismatch,
        code: "name_mismatch",
        label_ja: "契約名義不一致",
        label_en: "the contract name does not match",
    },
    ReasonSpec {
        reason: DeclineReason::AddressMismatch,
        code: "address_mismatch",
        label_ja: "需要場所不一致",
        label_en: "the supply address does not match",
    },
    ReasonSpec {
        reason: DeclineReason::NoSuchContract,
        code: "no_such_contract",
        label_ja: "該当契約なし",
        label_en: "there is no such contract",
    },
    ReasonSpec {
        reason: DeclineReason::ContractEnding,
        code: "contract_ending",
        label_ja: "解約手続き中",
        label_en: "the contract is already being ended",
    },
    ReasonSpec {
        reason: DeclineReason::CoolingOff,
        code: "cooling_off",
        label_ja: "クーリングオフ期間中",
        label_en: "the contract is within its cooling-off period",
    },
    ReasonSpec {
        reason: DeclineReason::Other,
        code: "other",
        label_ja: "その他",
        label_en: "other (see the note)",
    },
];

impl DeclineReason {
    pub fn spec(self) -> &'static ReasonSpec {
        REASONS
            .iter()
            .find(|r| r.reason == self)
            .expect("every reason is in REASONS")
    }

    pub fn code(self) -> &'static str {
        self.spec().code
    }

    pub fn by_code(code: &str) -> Option<Self> {
        REASONS.iter().find(|r| r.code == code).map(|r| r.reason)
    }
}

/// One state change, as it travels on Kafka (`schemas/intermediation_event.avsc`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IntermediationEvent {
    pub event_id: Uuid,
    pub intermediation_id: Uuid,
    pub kind: EventKind,
    pub supply_point_id: String,
    pub occurred_at: DateTime<Utc>,
    pub actor_company_code: String,
    pub actor_user_id: String,
    pub intermediation_number: Option<String>,
    pub new_retailer_code: Option<String>,
    pub current_retailer_code: Option<String>,
    pub customer_number: Option<String>,
    pub contract_name: Option<String>,
    pub supply_address: Option<String>,
    pub desired_switch_date: Option<NaiveDate>,
    pub point_class: Option<IntermediationPointClass>,
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub decline_reasons: Vec<DeclineReason>,
    pub note: Option<String>,
}

impl IntermediationEvent {
    /// An event of `kind` now (to the millisecond, as Avro carries it), with a fresh id.
    pub fn new(
        intermediation_id: Uuid,
        kind: EventKind,
        supply_point_id: String,
        actor_company_code: String,
        actor_user_id: String,
    ) -> Self {
        IntermediationEvent {
            event_id: Uuid::now_v7(),
            intermediation_id,
            kind,
            supply_point_id,
            occurred_at: Utc::now().trunc_subsecs(3),
            actor_company_code,
            actor_user_id,
            intermediation_number: None,
            new_retailer_code: None,
            current_retailer_code: None,
            customer_number: None,
            contract_name: None,
            supply_address: None,
            desired_switch_date: None,
            point_class: None,
            expires_at: None,
            decline_reasons: vec![],
            note: None,
        }
    }
}
