//! What a retailer sends, checked: a registration (IS_20110), a decision (IS_20410) and a
//! withdrawal's note. Pure rules, so a web form or a CSV row refuses exactly as the API does.

use chrono::NaiveDate;
use serde::Deserialize;

use super::{DeclineReason, EventKind, IntermediationPointClass};
use crate::domain::{CompanyCode, Refusal, SupplyPointId};

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

/// A withdrawal's optional body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalBody {
    /// Free text for the current retailer.
    pub note: Option<String>,
}

/// A withdrawal's note, when given, is 1 to [`NOTE_MAX`] characters (trimmed).
pub fn withdrawal_note(body: WithdrawalBody) -> Result<Option<String>, Refusal> {
    let Some(n) = body.note else {
        return Ok(None);
    };
    let len = n.trim().chars().count();
    if len == 0 || len > NOTE_MAX {
        return Err(refuse(
            "note",
            "invalid_field",
            "note は1〜200文字で指定してください",
            "note must be 1 to 200 characters",
        ));
    }
    Ok(Some(n.trim().to_string()))
}
