//! スイッチング廃止取次判断 (IS_20410) and 取下げ: the current retailer approves or declines one
//! or many selected intermediations with one decision (reasons from the table, the note that
//! "other" needs), and the new retailer withdraws a pending one. The decision is checked by
//! the rule the service applies (`Decision::validate`) before anything is filed, so a wrong
//! decision comes back next to its field; each selected one is then decided on its own by
//! `Intermediations::decide_many` and answered on its own.

use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::{ListForm, list_page, service};
use crate::domain::Refusal;
use crate::intermediation::queries::Role;
use crate::intermediation::{Decision, DecisionBody, WithdrawalBody};
use crate::web::WebState;
use crate::web::page::{Chrome, html, refused};
use crate::web::session::Visitor;
use crate::web::signin::Shown;

fn all<'a>(values: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    values
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn one<'a>(values: &'a [(String, String)], name: &str) -> Option<&'a str> {
    all(values, name).into_iter().next()
}

/// The decision the form gives, as the API's body.
fn body_of(values: &[(String, String)]) -> DecisionBody {
    DecisionBody {
        decision: one(values, "decision")
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        reasons: all(values, "reasons")
            .into_iter()
            .map(str::to_string)
            .collect(),
        note: one(values, "note")
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string),
    }
}

/// One selected intermediation's outcome.
pub struct OutcomeRow {
    pub id: String,
    pub ok: bool,
    pub text: String,
}

#[derive(Template)]
#[template(path = "web/intermediation_outcomes.html")]
struct OutcomesPage {
    chrome: Option<Chrome>,
    rows: Vec<OutcomeRow>,
}

/// Decides every selected intermediation (`id`, repeated) with the one decision of the form.
pub async fn decide(
    State(state): State<WebState>,
    visitor: Visitor,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    if !visitor.csrf_ok(one(&values, "csrf").unwrap_or_default()) {
        return crate::web::page::csrf_refused();
    }
    let ids: Vec<String> = all(&values, "id").into_iter().map(str::to_string).collect();
    let body = body_of(&values);
    let checked = if ids.is_empty() {
        Err(Refusal::invalid(
            "id",
            "nothing_selected",
            "判断する廃止取次を1件以上選択してください",
            "select at least one intermediation to decide",
        ))
    } else {
        Decision::validate(body.clone()).map(|_| ())
    };
    if let Err(r) = checked {
        let shown = Some(Shown::from(&r));
        let form = ListForm::default();
        return match list_page(&state, &visitor, Role::Current, &form, shown).await {
            Ok(p) => html(StatusCode::UNPROCESSABLE_ENTITY, &p),
            Err(r) => refused(&r),
        };
    }
    let items = ids.iter().map(|id| (id.clone(), body.clone())).collect();
    let outcomes = match service(&state).decide_many(&visitor.principal, items).await {
        Ok(o) => o,
        Err(r) => return refused(&r),
    };
    let rows = ids
        .into_iter()
        .zip(outcomes)
        .map(|(id, o)| match o {
            Ok(t) => OutcomeRow {
                id,
                ok: true,
                text: t.state.label_ja().to_string(),
            },
            Err(r) => OutcomeRow {
                id,
                ok: false,
                text: format!("{} {}", r.code(), r.messages().0),
            },
        })
        .collect();
    html(
        StatusCode::OK,
        &OutcomesPage {
            chrome: Some(Chrome::of(&visitor)),
            rows,
        },
    )
}

/// 取下げ of a pending intermediation by the retailer that registered it.
pub async fn withdraw(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
    Form(values): Form<Vec<(String, String)>>,
) -> Response {
    if !visitor.csrf_ok(one(&values, "csrf").unwrap_or_default()) {
        return crate::web::page::csrf_refused();
    }
    let body = WithdrawalBody {
        note: one(&values, "note")
            .filter(|n| !n.trim().is_empty())
            .map(str::to_string),
    };
    match service(&state)
        .withdraw(&visitor.principal, &id, body)
        .await
    {
        Ok(done) => Redirect::to(&format!("/web/intermediations/{}", done.id)).into_response(),
        Err(r) => refused(&r),
    }
}
