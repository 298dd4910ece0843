//! スイッチング廃止取次 on screens: the new retailer's registration form and its list of what
//! it sent (with each one's state and a withdraw button), the current retailer's inbox with
//! approve / decline for one or many selected at once, and one intermediation's page with its
//! history and, once approved, the form of the party's half of the switch. Every command and
//! read is `crate::intermediation`'s (the API's own service), so a screen meets the same
//! rules, the same refusals and the same audit.

mod decide;
mod register;

pub use decide::{decide, withdraw};
pub use register::{form, submit};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::WebState;
use super::list::Choice;
use super::page::{Chrome, html, refused};
use super::session::Visitor;
use super::signin::Shown;
use crate::intermediation::queries::{self, Intermediation, Role};
use crate::intermediation::{Intermediations, ListFilter, REASONS, State as IState};

fn service(state: &WebState) -> Intermediations<'_> {
    Intermediations::new(
        &state.pool,
        &state.publisher,
        &state.codec,
        &state.settings,
        state.submissions.vault(),
    )
}

/// One intermediation as a row of a list or the head of its page.
pub struct Row {
    pub id: String,
    pub number: String,
    pub point_id: String,
    pub point_class: String,
    /// The other party's company code.
    pub counterpart: String,
    pub customer_number: String,
    pub contract_name: String,
    pub supply_address: String,
    pub desired_switch_date: String,
    pub state: &'static str,
    pub state_ja: &'static str,
    pub awaiting: bool,
    pub reasons_ja: String,
    pub note: String,
    pub registered_at: String,
    pub expires_at: String,
}

impl From<&Intermediation> for Row {
    fn from(i: &Intermediation) -> Self {
        Row {
            id: i.id.to_string(),
            number: i.number.clone(),
            point_id: i.point_id.clone(),
            point_class: i.point_class.clone(),
            counterpart: match i.role {
                Role::New => i.current_retailer_code.clone(),
                Role::Current => i.new_retailer_code.clone(),
            },
            customer_number: i.customer_number.clone(),
            contract_name: i.contract_name.clone(),
            supply_address: i.supply_address.clone(),
            desired_switch_date: i.desired_switch_date.to_string(),
            state: i.state.as_str(),
            state_ja: i.state.label_ja(),
            awaiting: i.state == IState::AwaitingDecision,
            reasons_ja: i
                .decline_reasons
                .iter()
                .map(|r| r.spec().label_ja)
                .collect::<Vec<_>>()
                .join("、"),
            note: i.note.clone().unwrap_or_default(),
            registered_at: i.registered_at.to_rfc3339(),
            expires_at: i.expires_at.to_rfc3339(),
        }
    }
}

/// The decline reasons of the table, for the decision form.
fn reasons() -> Vec<Choice> {
    REASONS
        .iter()
        .map(|r| Choice {
            value: r.code.into(),
            label: r.label_ja.into(),
        })
        .collect()
}

fn states() -> Vec<Choice> {
    IState::ALL
        .iter()
        .map(|s| Choice {
            value: s.as_str().into(),
            label: s.label_ja().into(),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "web/intermediations.html")]
struct ListPage {
    chrome: Option<Chrome>,
    inbox: bool,
    title: &'static str,
    state: String,
    states: Vec<Choice>,
    rows: Vec<Row>,
    reasons: Vec<Choice>,
    next: Option<String>,
    error: Option<Shown>,
}

#[derive(Deserialize, Default)]
pub struct ListForm {
    state: Option<String>,
    cursor: Option<String>,
}

/// The page of one role's list, `error` a refused decision shown above its form.
async fn list_page(
    state: &WebState,
    visitor: &Visitor,
    role: Role,
    form: &ListForm,
    error: Option<Shown>,
) -> Result<ListPage, crate::domain::Refusal> {
    let chosen = form.state.clone().filter(|s| !s.is_empty());
    let mut filter = ListFilter::parse(Some(role.as_str()), chosen.as_deref(), None, Some(100))?;
    if let Some(c) = form.cursor.as_deref().filter(|c| !c.is_empty()) {
        filter.after = Some(crate::db::cursor::after(c)?);
    }
    let page = queries::list(&state.pool, &visitor.principal, &filter).await?;
    let next = page.next.map(|(at, id)| {
        let cursor = crate::db::cursor::encode(at, id);
        let query = [
            ("state", chosen.clone().unwrap_or_default()),
            ("cursor", cursor),
        ];
        serde_urlencoded::to_string(query).unwrap_or_default()
    });
    let inbox = role == Role::Current;
    Ok(ListPage {
        chrome: Some(Chrome::of(visitor)),
        inbox,
        title: if inbox {
            "スイッチング廃止取次照会"
        } else {
            "スイッチング廃止取次結果照会"
        },
        state: chosen.unwrap_or_default(),
        states: states(),
        rows: page.items.iter().map(Row::from).collect(),
        reasons: reasons(),
        next,
        error,
    })
}

async fn list_of(state: WebState, visitor: Visitor, role: Role, form: ListForm) -> Response {
    match list_page(&state, &visitor, role, &form, None).await {
        Ok(p) => html(StatusCode::OK, &p),
        Err(r) => refused(&r),
    }
}

/// 結果照会 (IS_20210): what this retailer sent, with each one's state.
pub async fn sent(
    State(state): State<WebState>,
    visitor: Visitor,
    Query(form): Query<ListForm>,
) -> Response {
    list_of(state, visitor, Role::New, form).await
}

/// 照会 (IS_20310): those addressed to this retailer, to approve or decline.
pub async fn inbox(
    State(state): State<WebState>,
    visitor: Visitor,
    Query(form): Query<ListForm>,
) -> Response {
    list_of(state, visitor, Role::Current, form).await
}

/// One line of an intermediation's history.
pub struct HistoryRow {
    pub kind_ja: &'static str,
    pub actor: String,
    pub at: String,
    pub reasons_ja: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "web/intermediation.html")]
struct OnePage {
    chrome: Option<Chrome>,
    row: Row,
    new_retailer: bool,
    history: Vec<HistoryRow>,
    reasons: Vec<Choice>,
    /// The form of this party's half of the switch, once approved.
    switch_href: Option<String>,
    switch_label: &'static str,
    /// The decision form's error slot (its refusals are shown on the inbox).
    error: Option<Shown>,
}

/// The form of `i`'s party's half of the switch (開始 for the new retailer, 廃止 for the
/// current one), the intermediation's data filled in.
fn switch_href(i: &Intermediation) -> Option<String> {
    if i.state != IState::Approved {
        return None;
    }
    let prefix = match i.point_class.as_str() {
        "hv" => "hv-",
        "gen" => "gen-",
        _ => "",
    };
    let (task, query) = match i.role {
        Role::New => (
            "switch-start",
            vec![
                ("function", format!("{prefix}switch-start")),
                ("supply_point_id", i.point_id.clone()),
                ("previous_retailer_code", i.current_retailer_code.clone()),
                ("previous_customer_number", i.customer_number.clone()),
                ("planned_date", i.desired_switch_date.to_string()),
                ("intermediation_number", i.number.clone()),
            ],
        ),
        Role::Current => (
            "switch-end",
            vec![
                ("function", format!("{prefix}switch-end")),
                ("supply_point_id", i.point_id.clone()),
                ("new_retailer_code", i.new_retailer_code.clone()),
                ("customer_number", i.customer_number.clone()),
                ("planned_date", i.desired_switch_date.to_string()),
                ("intermediation_number", i.number.clone()),
            ],
        ),
    };
    let query = serde_urlencoded::to_string(query).ok()?;
    Some(format!("/web/apply/{task}?{query}"))
}

/// One intermediation with its history and what this party may do with it now.
pub async fn one(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let found = match queries::one(&state.pool, &visitor.principal, &id).await {
        Ok(i) => i,
        Err(r) => return refused(&r),
    };
    let history = found
        .history
        .iter()
        .flatten()
        .map(|h| HistoryRow {
            kind_ja: h.kind.label_ja(),
            actor: format!("{} / {}", h.actor_company_code, h.actor_user_id),
            at: h.occurred_at.to_rfc3339(),
            reasons_ja: h
                .decline_reasons
                .iter()
                .map(|r| r.spec().label_ja)
                .collect::<Vec<_>>()
                .join("、"),
            note: h.note.clone().unwrap_or_default(),
        })
        .collect();
    let new_retailer = found.role == Role::New;
    html(
        StatusCode::OK,
        &OnePage {
            chrome: Some(Chrome::of(&visitor)),
            row: Row::from(&found),
            new_retailer,
            history,
            reasons: reasons(),
            switch_href: switch_href(&found),
            switch_label: if new_retailer {
                "スイッチング開始申請へ"
            } else {
                "スイッチング廃止申請へ"
            },
            error: None,
        },
    )
}
