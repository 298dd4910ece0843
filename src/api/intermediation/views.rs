//! The JSON answers of the intermediation endpoints, made from what
//! `crate::intermediation` returns.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::Refusal;
use crate::intermediation::queries::{HistoryEvent, Intermediation};
use crate::intermediation::{DeclineReason, State, Transitioned};

/// The answer to a registration.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Registered {
    intermediation_id: Uuid,
    /// 廃止取次番号: quote it as `intermediation_number` in the switch-start.
    intermediation_number: String,
    state: &'static str,
    state_ja: &'static str,
    expires_at: DateTime<Utc>,
    status_url: String,
}

impl From<crate::intermediation::Registered> for Registered {
    fn from(r: crate::intermediation::Registered) -> Self {
        let awaiting = State::AwaitingDecision;
        Registered {
            status_url: format!("/api/v1/intermediations/{}", r.id),
            intermediation_id: r.id,
            intermediation_number: r.number,
            state: awaiting.as_str(),
            state_ja: awaiting.label_ja(),
            expires_at: r.expires_at,
        }
    }
}

/// A decline reason with its wording.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReasonView {
    #[schema(example = "name_mismatch")]
    code: &'static str,
    #[schema(example = "契約名義不一致")]
    label_ja: &'static str,
    label_en: &'static str,
}

fn reason_views(reasons: &[DeclineReason]) -> Vec<ReasonView> {
    reasons
        .iter()
        .map(|r| {
            let s = r.spec();
            ReasonView {
                code: s.code,
                label_ja: s.label_ja,
                label_en: s.label_en,
            }
        })
        .collect()
}

/// One event of an intermediation's history.
#[derive(Serialize, utoipa::ToSchema)]
pub struct EventView {
    event_id: Uuid,
    /// registered, approved, declined, expired or withdrawn.
    kind: &'static str,
    kind_ja: &'static str,
    actor_company_code: String,
    actor_user_id: String,
    occurred_at: DateTime<Utc>,
    decline_reasons: Vec<ReasonView>,
    note: Option<String>,
}

impl From<HistoryEvent> for EventView {
    fn from(e: HistoryEvent) -> Self {
        EventView {
            event_id: e.event_id,
            kind: e.kind.as_str(),
            kind_ja: e.kind.label_ja(),
            actor_company_code: e.actor_company_code,
            actor_user_id: e.actor_user_id,
            occurred_at: e.occurred_at,
            decline_reasons: reason_views(&e.decline_reasons),
            note: e.note,
        }
    }
}

/// One intermediation as either party sees it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IntermediationView {
    intermediation_id: Uuid,
    /// 廃止取次番号.
    intermediation_number: String,
    supply_point_id: String,
    area: String,
    /// lv, hv or gen.
    point_class: String,
    new_retailer_code: String,
    current_retailer_code: String,
    /// The caller's part: new (新小売) or current (現小売).
    role: &'static str,
    /// お客さま番号 at the current retailer.
    customer_number: String,
    contract_name: String,
    supply_address: String,
    desired_switch_date: NaiveDate,
    /// awaiting_decision, approved, declined, expired or withdrawn.
    state: &'static str,
    state_ja: &'static str,
    decline_reasons: Vec<ReasonView>,
    note: Option<String>,
    registered_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    decided_at: Option<DateTime<Utc>>,
    /// Every event, oldest first (only in the answer for one intermediation).
    #[serde(skip_serializing_if = "Option::is_none")]
    history: Option<Vec<EventView>>,
}

impl From<Intermediation> for IntermediationView {
    fn from(i: Intermediation) -> Self {
        IntermediationView {
            intermediation_id: i.id,
            intermediation_number: i.number,
            supply_point_id: i.point_id,
            area: i.area,
            point_class: i.point_class,
            new_retailer_code: i.new_retailer_code,
            current_retailer_code: i.current_retailer_code,
            role: i.role.as_str(),
            customer_number: i.customer_number,
            contract_name: i.contract_name,
            supply_address: i.supply_address,
            desired_switch_date: i.desired_switch_date,
            state: i.state.as_str(),
            state_ja: i.state.label_ja(),
            decline_reasons: reason_views(&i.decline_reasons),
            note: i.note,
            registered_at: i.registered_at,
            expires_at: i.expires_at,
            decided_at: i.decided_at,
            history: i
                .history
                .map(|h| h.into_iter().map(EventView::from).collect()),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = IntermediationList)]
pub struct ListAnswer {
    pub(super) items: Vec<IntermediationView>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub(super) next_cursor: Option<String>,
}

/// The answer to a decision or withdrawal: the event is on the broker; the state shown by GET
/// follows once the projector has applied it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct TransitionAccepted {
    intermediation_id: Uuid,
    event_id: Uuid,
    /// The state the event moves the intermediation to.
    state: &'static str,
    state_ja: &'static str,
}

impl From<Transitioned> for TransitionAccepted {
    fn from(t: Transitioned) -> Self {
        TransitionAccepted {
            intermediation_id: t.id,
            event_id: t.event_id,
            state: t.state.as_str(),
            state_ja: t.state.label_ja(),
        }
    }
}

/// The outcome of one item of a bulk decision.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkResult {
    id: String,
    /// The HTTP status the single decision would have had: 202, 404, 409, 422, 503.
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_ja: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_en: Option<String>,
}

impl BulkResult {
    pub(super) fn of(id: String, outcome: Result<Transitioned, Refusal>) -> Self {
        let mut r = BulkResult {
            id,
            status: 202,
            state: None,
            event_id: None,
            code: None,
            message_ja: None,
            message_en: None,
        };
        match outcome {
            Ok(t) => (r.state, r.event_id) = (Some(t.state.as_str()), Some(t.event_id)),
            Err(e) => {
                let (ja, en) = e.messages();
                r.status = crate::api::error::status(&e).as_u16();
                (r.code, r.message_ja, r.message_en) = (Some(e.code()), Some(ja), Some(en));
            }
        }
        r
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = IntermediationBulkAnswer)]
pub struct BulkAnswer {
    pub(super) items: Vec<BulkResult>,
}
