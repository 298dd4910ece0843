//! The parties' reads: the list of those a retailer registered (IS_20210 結果照会, role new),
//! the inbox of those addressed to it (IS_20310 照会, role current), and one with its history.
//!
//! Who sees what is decided in SQL: every query names the caller's company as the new or the
//! addressed current retailer, so a third company finds nothing. Reads of the personal data
//! (contract number, name, address) are written to `audit_log` before they are answered.

use chrono::{DateTime, NaiveDate, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde_json::json;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::commands::{function, parse_id};
use super::{DeclineReason, EventKind, IntermediationPointClass, State};
use crate::accounts::{Principal, access};
use crate::audit;
use crate::domain::{HubFunction, IntermediationStep as Step, Refusal};

/// The caller's part in an intermediation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// 新小売: registered it.
    New,
    /// 現小売: it is addressed to the caller.
    Current,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::New => "new",
            Role::Current => "current",
        }
    }
}

/// Which intermediations a list shows, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct ListFilter {
    /// `None`: both the caller's registrations and its inbox.
    pub role: Option<Role>,
    pub state: Option<State>,
    pub point_class: Option<IntermediationPointClass>,
    /// 1 to 1000.
    pub limit: i64,
    /// Continue after the item registered at this time with this id.
    pub after: Option<(DateTime<Utc>, Uuid)>,
}

impl ListFilter {
    /// The filter of the given query values, checked in this order (the first fault answers).
    pub fn parse(
        role: Option<&str>,
        state: Option<&str>,
        point_class: Option<&str>,
        limit: Option<i64>,
    ) -> Result<ListFilter, Refusal> {
        let role = match role {
            None => None,
            Some("new") => Some(Role::New),
            Some("current") => Some(Role::Current),
            Some(other) => {
                return Err(Refusal::invalid(
                    "role",
                    "invalid_role",
                    format!("role {other} は指定できません(new, current)"),
                    "role is new or current",
                ));
            }
        };
        let state = state.map(parse_state).transpose()?;
        let point_class = point_class.map(parse_class).transpose()?;
        let limit = crate::db::cursor::page_limit(limit)?;
        Ok(ListFilter {
            role,
            state,
            point_class,
            limit,
            after: None,
        })
    }
}

fn parse_state(s: &str) -> Result<State, Refusal> {
    State::parse(s).ok_or_else(|| {
        Refusal::invalid(
            "state",
            "invalid_state",
            format!("状態 {s} は存在しません"),
            "state is one of awaiting_decision, approved, declined, expired, withdrawn",
        )
    })
}

fn parse_class(s: &str) -> Result<IntermediationPointClass, Refusal> {
    IntermediationPointClass::by_slug(s).ok_or_else(|| {
        Refusal::invalid(
            "point_class",
            "invalid_point_class",
            format!("区分 {s} は存在しません(lv: 低圧, hv: 高圧, gen: 発電)"),
            "point_class is one of lv, hv, gen",
        )
    })
}

/// One intermediation as one of its parties sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct Intermediation {
    pub id: Uuid,
    /// 廃止取次番号.
    pub number: String,
    pub point_id: String,
    pub area: String,
    pub point_class: String,
    pub new_retailer_code: String,
    pub current_retailer_code: String,
    pub role: Role,
    pub customer_number: String,
    pub contract_name: String,
    pub supply_address: String,
    pub desired_switch_date: NaiveDate,
    pub state: State,
    pub decline_reasons: Vec<DeclineReason>,
    pub note: Option<String>,
    pub registered_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub decided_at: Option<DateTime<Utc>>,
    /// Every applied event, oldest first: only for [`one`].
    pub history: Option<Vec<HistoryEvent>>,
}

/// One event of an intermediation's history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEvent {
    pub event_id: Uuid,
    pub kind: EventKind,
    pub actor_company_code: String,
    pub actor_user_id: String,
    pub occurred_at: DateTime<Utc>,
    pub decline_reasons: Vec<DeclineReason>,
    pub note: Option<String>,
}

/// A page of a list; `next` continues after its last item, absent on the last page.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub items: Vec<Intermediation>,
    pub next: Option<(DateTime<Utc>, Uuid)>,
}

const COLUMNS: &str = "intermediation_id, intermediation_number, point_id, area, point_class,
    new_retailer_code, current_retailer_code, customer_number, contract_name, supply_address,
    desired_switch_date, state, decline_reasons, note, registered_at, expires_at, decided_at";

fn reasons(codes: Vec<String>) -> Vec<DeclineReason> {
    codes
        .iter()
        .filter_map(|c| DeclineReason::by_code(c))
        .collect()
}

fn of_row(r: &Row, company: &str) -> Intermediation {
    let new: String = r.get(5);
    Intermediation {
        id: r.get(0),
        number: r.get(1),
        point_id: r.get(2),
        area: r.get(3),
        point_class: r.get(4),
        role: if new == company {
            Role::New
        } else {
            Role::Current
        },
        new_retailer_code: new,
        current_retailer_code: r.get(6),
        customer_number: r.get(7),
        contract_name: r.get(8),
        supply_address: r.get(9),
        desired_switch_date: r.get(10),
        // The table's CHECK admits only the states there are.
        state: State::parse(r.get(11)).unwrap_or(State::AwaitingDecision),
        decline_reasons: reasons(r.get(12)),
        note: r.get(13),
        registered_at: r.get(14),
        expires_at: r.get(15),
        decided_at: r.get(16),
        history: None,
    }
}

/// The applied events of `id`, oldest first, if the caller is one of its parties.
async fn history<C: GenericClient>(
    client: &C,
    id: Uuid,
    company: &str,
) -> Result<Vec<HistoryEvent>, Refusal> {
    let rows = client
        .query(
            "SELECT e.event_id, e.kind, e.actor_company_code, e.actor_user_id, e.occurred_at,
                    e.decline_reasons, e.note
               FROM intermediation_events e JOIN intermediations i USING (intermediation_id)
              WHERE e.intermediation_id = $1 AND e.applied
                AND (i.new_retailer_code = $2 OR i.current_retailer_code = $2)
              ORDER BY e.occurred_at, e.event_id",
            &[&id, &company],
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| {
            Some(HistoryEvent {
                event_id: r.get(0),
                kind: EventKind::parse(r.get(1))?,
                actor_company_code: r.get(2),
                actor_user_id: r.get(3),
                occurred_at: r.get(4),
                decline_reasons: reasons(r.get(5)),
                note: r.get(6),
            })
        })
        .collect())
}

/// One intermediation with its history, for its new retailer or its addressed current retailer
/// (anyone else: `intermediation_not_found`).
pub async fn one(pool: &Pool, by: &Principal, id: &str) -> Result<Intermediation, Refusal> {
    let id = parse_id(id)?;
    access::open(by, function(Step::Result, IntermediationPointClass::Lv))?;
    let company = by.company.as_str();
    let client = pool.get().await?;
    let sql = format!(
        "SELECT {COLUMNS} FROM intermediations
          WHERE intermediation_id = $1 AND (new_retailer_code = $2 OR current_retailer_code = $2)"
    );
    let row = client
        .query_opt(&sql, &[&id, &company])
        .await?
        .ok_or(Refusal::IntermediationNotFound)?;
    let mut found = of_row(&row, company);
    let step = match found.role {
        Role::New => Step::Result,
        Role::Current => Step::Inbox,
    };
    let class = IntermediationPointClass::by_slug(&found.point_class)
        .ok_or_else(|| Refusal::Internal(anyhow::anyhow!("stored point class unknown")))?;
    access::may(pool, by, function(step, class)).await?;
    found.history = Some(history(&client, id, company).await?);
    let detail = json!({"role": found.role.as_str()});
    audit::record(&client, by, "intermediation.read", &id.to_string(), detail).await?;
    Ok(found)
}

/// The functions a list covers: 結果照会 (role new) and 照会 (role current), of the classes it
/// shows; a user must be permitted every one (a narrower filter asks for fewer).
fn listed_functions(filter: &ListFilter) -> Vec<HubFunction> {
    let steps: &[Step] = match filter.role {
        Some(Role::New) => &[Step::Result],
        Some(Role::Current) => &[Step::Inbox],
        None => &[Step::Result, Step::Inbox],
    };
    let all = [
        IntermediationPointClass::Lv,
        IntermediationPointClass::Hv,
        IntermediationPointClass::Gen,
    ];
    let classes = filter
        .point_class
        .as_ref()
        .map_or(&all[..], std::slice::from_ref);
    steps
        .iter()
        .flat_map(|&s| classes.iter().map(move |&c| function(s, c)))
        .collect()
}

type Params = Vec<Box<dyn ToSql + Sync + Send>>;

/// The statement of a list and its parameters: the caller's part, then each filter given.
fn select(filter: &ListFilter, company: &str) -> (String, Params) {
    let mut params: Params = vec![Box::new(company.to_string())];
    let mut clauses = vec![match filter.role {
        None => "(new_retailer_code = $1 OR current_retailer_code = $1)".to_string(),
        Some(Role::New) => "new_retailer_code = $1".to_string(),
        Some(Role::Current) => "current_retailer_code = $1".to_string(),
    }];
    if let Some(s) = filter.state {
        params.push(Box::new(s.as_str()));
        clauses.push(format!("state = ${}", params.len()));
    }
    if let Some(c) = filter.point_class {
        params.push(Box::new(c.slug()));
        clauses.push(format!("point_class = ${}", params.len()));
    }
    if let Some((at, id)) = filter.after {
        params.push(Box::new(at));
        params.push(Box::new(id));
        let n = params.len();
        clauses.push(format!(
            "(registered_at, intermediation_id) < (${}, ${n})",
            n - 1
        ));
    }
    params.push(Box::new(filter.limit + 1));
    let sql = format!(
        "SELECT {COLUMNS} FROM intermediations WHERE {}
          ORDER BY registered_at DESC, intermediation_id DESC LIMIT ${}",
        clauses.join(" AND "),
        params.len()
    );
    (sql, params)
}

/// The caller's intermediations that `filter` selects, newest first.
pub async fn list(pool: &Pool, by: &Principal, filter: &ListFilter) -> Result<Page, Refusal> {
    access::may_all(pool, by, &listed_functions(filter)).await?;
    let company = by.company.as_str();
    let (sql, params) = select(filter, company);
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let client = pool.get().await?;
    let rows = client.query(&sql, &refs).await?;
    let mut items: Vec<Intermediation> = rows.iter().map(|r| of_row(r, company)).collect();
    let next = (items.len() as i64 > filter.limit).then(|| {
        items.truncate(filter.limit as usize);
        let last = items.last().expect("limit >= 1");
        (last.registered_at, last.id)
    });
    if !items.is_empty() {
        let ids: Vec<String> = items.iter().map(|i| i.id.to_string()).collect();
        let detail = json!({
            "role": filter.role.map(Role::as_str),
            "state": filter.state.map(State::as_str),
            "point_class": filter.point_class.map(IntermediationPointClass::slug),
            "ids": ids,
        });
        audit::record(&client, by, "intermediation.list", "*", detail).await?;
    }
    Ok(Page { items, next })
}
