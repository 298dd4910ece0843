//! スイッチング廃止取次 (switching intermediation between retailers, IS_20110 … IS_20410).
//!
//! The new retailer registers an intermediation for a point; the hub addresses it to the
//! current retailer, who approves or declines it with reasons; an undecided one expires after a
//! number of business days; the new retailer may withdraw a pending one. Every state change is
//! one [`IntermediationEvent`] on `<prefix>.intermediations`, keyed by the point id, and the
//! projector folds the events into the current state with [`transition`]: a pure function, so
//! replaying the topic gives the same state.
//!
//! This module is the domain: states, reasons, the transitions and who may make them, and the
//! validation of what a retailer sends. `store` holds the PostgreSQL side.

pub mod expiry;
pub mod store;

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, SubsecRound, TimeZone, Utc};
use serde::Deserialize;
use uuid::Uuid;

use crate::domain::{BusinessCalendar, CompanyCode, Refusal, SupplyPointId};
pub use crate::messages::intermediation_event::{
    DeclineReason, EventKind, IntermediationEvent, IntermediationPointClass, REASONS, ReasonSpec,
};

/// The actor of a change the hub makes itself (expiry).
pub const SYSTEM_ACTOR: &str = "SYSTEM";

/// Where an intermediation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    AwaitingDecision,
    Approved,
    Declined,
    Expired,
    Withdrawn,
}

impl State {
    pub const ALL: [State; 5] = [
        State::AwaitingDecision,
        State::Approved,
        State::Declined,
        State::Expired,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::AwaitingDecision => "awaiting_decision",
            State::Approved => "approved",
            State::Declined => "declined",
            State::Expired => "expired",
            State::Withdrawn => "withdrawn",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            State::AwaitingDecision => "判断待ち",
            State::Approved => "承諾",
            State::Declined => "否認",
            State::Expired => "期限切れ",
            State::Withdrawn => "取下げ",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        self != State::AwaitingDecision
    }
}

/// A transition the state machine does not allow; the projector logs and ignores it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionRefused {
    #[error("intermediation already registered")]
    AlreadyRegistered,
    #[error("no such intermediation (not registered)")]
    NotRegistered,
    #[error("intermediation is already {0}")]
    AlreadyFinal(&'static str),
}

/// The state after `kind` happens to an intermediation in state `from` (`None`: not registered).
/// A registration starts it awaiting a decision; approval, decline, expiry and withdrawal each
/// end a pending one; nothing leaves a final state.
pub fn transition(from: Option<State>, kind: EventKind) -> Result<State, TransitionRefused> {
    match (from, kind) {
        (None, EventKind::Registered) => Ok(State::AwaitingDecision),
        (Some(_), EventKind::Registered) => Err(TransitionRefused::AlreadyRegistered),
        (None, _) => Err(TransitionRefused::NotRegistered),
        (Some(State::AwaitingDecision), k) => Ok(match k {
            EventKind::Approved => State::Approved,
            EventKind::Declined => State::Declined,
            EventKind::Expired => State::Expired,
            EventKind::Withdrawn => State::Withdrawn,
            EventKind::Registered => unreachable!("matched above"),
        }),
        (Some(s), _) => Err(TransitionRefused::AlreadyFinal(s.as_str())),
    }
}

/// Who may cause `kind`: the new retailer registers and withdraws, the addressed current
/// retailer decides, the hub alone expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    NewRetailer,
    CurrentRetailer,
    Hub,
}

pub fn party_of(kind: EventKind) -> Party {
    match kind {
        EventKind::Registered | EventKind::Withdrawn => Party::NewRetailer,
        EventKind::Approved | EventKind::Declined => Party::CurrentRetailer,
        EventKind::Expired => Party::Hub,
    }
}

fn refuse(
    field: &'static str,
    code: &'static str,
    ja: impl Into<String>,
    en: impl Into<String>,
) -> Refusal {
    Refusal::invalid(field, code, ja, en)
}

/// A registration (IS_20110) as sent: every field a string, checked by [`Registration::validate`].
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    /// 供給地点特定番号 (受電地点特定番号 for `gen`): 22 digits.
    #[schema(example = "0300000000000000000001")]
    pub supply_point_id: Option<String>,
    /// 現小売の事業者コード: the retailer now supplying the point.
    #[schema(example = "Z0300")]
    pub current_retailer_code: Option<String>,
    /// お客さま番号: the customer's contract number with the current retailer.
    pub customer_number: Option<String>,
    /// 契約名義 at the current retailer.
    pub contract_name: Option<String>,
    /// 需要場所: the supply address.
    pub supply_address: Option<String>,
    /// スイッチング希望日, YYYY-MM-DD, not in the past.
    #[schema(example = "2026-12-01")]
    pub desired_switch_date: Option<String>,
    /// lv (低圧), hv (高圧) or gen (FIT卒業電源).
    #[schema(example = "lv")]
    pub point_class: Option<String>,
}

/// A registration that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Registration {
    pub point: SupplyPointId,
    pub current_retailer: CompanyCode,
    pub customer_number: String,
    pub contract_name: String,
    pub supply_address: String,
    pub desired_switch_date: NaiveDate,
    pub point_class: IntermediationPointClass,
}

fn required(field: &'static str, v: Option<String>) -> Result<String, Refusal> {
    v.ok_or_else(|| {
        refuse(
            field,
            "missing_field",
            format!("項目 {field} は必須です"),
            format!("{field} is required"),
        )
    })
}

fn text(field: &'static str, v: String, max: usize) -> Result<String, Refusal> {
    let len = v.trim().chars().count();
    if len == 0 || len > max {
        return Err(refuse(
            field,
            "invalid_field",
            format!("項目 {field} は1〜{max}文字で指定してください"),
            format!("{field} must be 1 to {max} characters"),
        ));
    }
    Ok(v.trim().to_string())
}

impl Registration {
    /// The rules of IS_20110: every field present and well formed, the current retailer
    /// another company than the applicant, the desired date not in the past.
    pub fn validate(
        body: RegistrationBody,
        applicant: &CompanyCode,
        today: NaiveDate,
    ) -> Result<Registration, Refusal> {
        let raw_point = required("supply_point_id", body.supply_point_id)?;
        let point = SupplyPointId::parse(&raw_point).map_err(|e| {
            refuse(
                "supply_point_id",
                "invalid_supply_point_id",
                "供給地点特定番号の形式が正しくありません(22桁の数字)",
                e.to_string(),
            )
        })?;
        let raw_current = required("current_retailer_code", body.current_retailer_code)?;
        let current_retailer = CompanyCode::parse(&raw_current).map_err(|e| {
            refuse(
                "current_retailer_code",
                "invalid_company_code",
                "事業者コードの形式が正しくありません(英大文字・数字4〜5桁)",
                e.to_string(),
            )
        })?;
        if &current_retailer == applicant {
            return Err(refuse(
                "current_retailer_code",
                "switch_to_self",
                "現小売電気事業者が申込事業者と同じです",
                "the current retailer is the applicant itself",
            ));
        }
        let customer_number = text(
            "customer_number",
            required("customer_number", body.customer_number)?,
            64,
        )?;
        let contract_name = text(
            "contract_name",
            required("contract_name", body.contract_name)?,
            80,
        )?;
        let supply_address = text(
            "supply_address",
            required("supply_address", body.supply_address)?,
            200,
        )?;
        let raw_date = required("desired_switch_date", body.desired_switch_date)?;
        let desired_switch_date = crate::messages::strict_day(&raw_date).ok_or_else(|| {
            refuse(
                "desired_switch_date",
                "invalid_field",
                "スイッチング希望日は YYYY-MM-DD で指定してください",
                "desired_switch_date must be a date YYYY-MM-DD",
            )
        })?;
        if desired_switch_date < today {
            return Err(refuse(
                "desired_switch_date",
                "planned_date_in_past",
                format!("スイッチング希望日 {desired_switch_date} は過去日です"),
                format!(
                    "desired_switch_date {desired_switch_date} is in the past (today in Japan is {today})"
                ),
            ));
        }
        let raw_class = required("point_class", body.point_class)?;
        let point_class = IntermediationPointClass::by_slug(&raw_class).ok_or_else(|| {
            refuse(
                "point_class",
                "unknown_class",
                format!("区分 {raw_class} は存在しません(lv, hv, gen)"),
                format!("there is no class {raw_class}: lv, hv or gen"),
            )
        })?;
        Ok(Registration {
            point,
            current_retailer,
            customer_number,
            contract_name,
            supply_address,
            desired_switch_date,
            point_class,
        })
    }
}

/// A decision (IS_20410) as sent.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// approve (承諾) or decline (否認).
    #[schema(example = "decline")]
    pub decision: Option<String>,
    /// For a decline, one or more of: customer_number_mismatch, name_mismatch,
    /// address_mismatch, no_such_contract, contract_ending, cooling_off, other.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Free text; required with `other`.
    pub note: Option<String>,
}

/// A decision that passed every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub kind: EventKind,
    pub reasons: Vec<DeclineReason>,
    pub note: Option<String>,
}

pub const NOTE_MAX: usize = 200;

impl Decision {
    /// An approval carries no reasons; a decline one or more, each once, from the table, and
    /// `other` needs its wording in `note`.
    pub fn validate(body: DecisionBody) -> Result<Decision, Refusal> {
        let kind = match required("decision", body.decision)?.as_str() {
            "approve" => EventKind::Approved,
            "decline" => EventKind::Declined,
            other => {
                return Err(refuse(
                    "decision",
                    "invalid_decision",
                    format!("判断 {other} は指定できません(approve, decline)"),
                    "decision is approve or decline",
                ));
            }
        };
        let note = body.note.map(|n| text("note", n, NOTE_MAX)).transpose()?;
        let mut reasons = Vec::new();
        for code in &body.reasons {
            let r = DeclineReason::by_code(code).ok_or_else(|| {
                refuse(
                    "reasons",
                    "unknown_decline_reason",
                    format!("否認理由 {code} は存在しません"),
                    format!("there is no decline reason {code}"),
                )
            })?;
            if reasons.contains(&r) {
                return Err(refuse(
                    "reasons",
                    "duplicate_decline_reason",
                    format!("否認理由 {code} が重複しています"),
                    format!("decline reason {code} is given twice"),
                ));
            }
            reasons.push(r);
        }
        match kind {
            EventKind::Approved if !reasons.is_empty() => Err(refuse(
                "reasons",
                "reasons_with_approval",
                "承諾には否認理由を指定できません",
                "an approval carries no decline reasons",
            )),
            EventKind::Declined if reasons.is_empty() => Err(refuse(
                "reasons",
                "decline_reason_required",
                "否認には否認理由を1つ以上指定してください",
                "a decline needs at least one reason",
            )),
            EventKind::Declined if reasons.contains(&DeclineReason::Other) && note.is_none() => {
                Err(refuse(
                    "note",
                    "note_required",
                    "否認理由「その他」には内容(note)を記入してください",
                    "the reason other needs its wording in note",
                ))
            }
            _ => Ok(Decision {
                kind,
                reasons,
                note,
            }),
        }
    }
}

/// When an intermediation registered at `registered_at` expires without a decision: after
/// `override_ms` when set (tests, demos), else at the end (24:00 JST) of the `business_days`-th
/// business day after the day of registration.
pub fn expires_at(
    registered_at: DateTime<Utc>,
    business_days: u32,
    override_ms: Option<u64>,
) -> DateTime<Utc> {
    if let Some(ms) = override_ms {
        return (registered_at + Duration::milliseconds(ms as i64)).trunc_subsecs(3);
    }
    let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
    let day = registered_at.with_timezone(&jst).date_naive();
    let last = BusinessCalendar.add_business_days(day, business_days);
    let midnight = (last + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists");
    jst.from_local_datetime(&midnight)
        .single()
        .expect("JST has no gaps")
        .with_timezone(&Utc)
}

/// A 廃止取次番号: `IS<area>-<YYYYMMDD>-<12 hex digits>`, from the intermediation's UUIDv7
/// (its random bits), so it is unique without a counter and the same on replay.
pub fn intermediation_number(id: Uuid, point: &SupplyPointId, at: DateTime<Utc>) -> String {
    let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
    let hex = id.simple().to_string();
    format!(
        "IS{}-{}-{}",
        point.area().code(),
        at.with_timezone(&jst).format("%Y%m%d"),
        hex[20..].to_uppercase()
    )
}

#[cfg(test)]
mod tests;
