//! 業務処理状況確認: the application's own page, kept current without a reload by server-sent
//! events (the server asks the status service every half second and pushes a change), with the
//! operator's answer (a usage answer as a table and a 13-month chart, a point search's matches
//! as points to apply for) and the buttons that correct (訂正) or withdraw (取消) it. Every read
//! goes through `Submissions::status`, so the same company scoping and the same audit of
//! personal data hold as at the API.

use std::convert::Infallible;
use std::time::Duration;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::WebState;
use super::page::{Chrome, html, refused};
use super::search::{self, PointChoice};
use super::session::{Visitor, presented};
use super::usage::{self, UsageChart};
use crate::accounts::Principal;
use crate::domain::{Refusal, RequestStatus, UpdateFlag};
use crate::requests::RequestView;

/// One line of an answer's table.
pub struct AnswerRow {
    pub name: String,
    pub value: String,
}

/// The status part of an application's page: what the events replace.
#[derive(Template)]
#[template(path = "web/status_section.html")]
struct StatusSection<'a> {
    view: &'a RequestView,
    answer: Vec<AnswerRow>,
    usage: Option<UsageChart>,
    points: Option<Vec<PointChoice>>,
}

#[derive(Template)]
#[template(path = "web/request.html")]
struct RequestPage<'a> {
    chrome: Option<Chrome>,
    view: &'a RequestView,
    section: String,
    amend: Option<Amend>,
}

/// The links that open the form of a correction (訂正) or a withdrawal (取消) of this
/// application, quoting it.
pub struct Amend {
    pub correct: String,
    pub withdraw: String,
}

/// The amendments an application offers: only an application (not a look-up) of the hub's
/// own, registered (not itself an amendment), that the operator has not finished. The rules
/// stay the service's: a stale button is refused with the service's own refusal.
fn amend_of(view: &RequestView) -> Option<Amend> {
    let function = view.function()?;
    let open = function.is_application()
        && view.update_flag == UpdateFlag::Register.as_str()
        && !is_final(view);
    let task = super::apply::task_of_function(function)?;
    let original = view.request_id.to_string();
    let href = |flag: UpdateFlag| {
        let query = [
            ("function", function.slug()),
            ("supply_point_id", view.supply_point_id.as_str()),
            ("update_flag", flag.as_str()),
            ("original_request_id", original.as_str()),
        ];
        format!(
            "/web/apply/{}?{}",
            task.slug,
            serde_urlencoded::to_string(query).unwrap_or_default()
        )
    };
    open.then(|| Amend {
        correct: href(UpdateFlag::Correct),
        withdraw: href(UpdateFlag::Withdraw),
    })
}

fn is_final(view: &RequestView) -> bool {
    view.status
        .parse::<RequestStatus>()
        .is_ok_and(|s| s.is_final())
}

/// The operator's answer as rows: each field of the result, a list as its JSON text, but those
/// `shown` otherwise (the usage chart, the matches of a point search).
fn answer_rows(view: &RequestView, shown: &[&str]) -> Vec<AnswerRow> {
    let Some(Value::Object(fields)) = &view.result else {
        return vec![];
    };
    fields
        .iter()
        .filter(|(k, v)| !v.is_null() && !shown.contains(&k.as_str()))
        .map(|(k, v)| AnswerRow {
            name: k.clone(),
            value: match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            },
        })
        .collect()
}

fn section(view: &RequestView, principal: &Principal) -> Result<String, Refusal> {
    let usage = view.result.as_ref().and_then(usage::chart_of);
    let points = view
        .result
        .as_ref()
        .and_then(|r| search::choices_of(r, principal));
    let mut shown = vec![];
    if usage.is_some() {
        shown.extend(["monthly", "half_hourly"]);
    }
    if points.is_some() {
        shown.push("matches");
    }
    StatusSection {
        view,
        answer: answer_rows(view, &shown),
        usage,
        points,
    }
    .render()
    .map_err(|e| Refusal::Internal(e.into()))
}

/// The application's page: its status and the operator's answer.
pub async fn one(
    State(state): State<WebState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Response {
    let shown = async {
        let view = state
            .submissions
            .status(&visitor.principal, &id, None)
            .await?;
        let section = section(&view, &visitor.principal)?;
        Ok::<_, Refusal>(html(
            StatusCode::OK,
            &RequestPage {
                chrome: Some(Chrome::of(&visitor)),
                view: &view,
                section,
                amend: amend_of(&view),
            },
        ))
    }
    .await;
    shown.unwrap_or_else(|r| refused(&r))
}

#[derive(Serialize)]
struct Update {
    status: String,
    html: String,
    #[serde(rename = "final")]
    finished: bool,
}

/// How often the events ask the status service.
const POLL: Duration = Duration::from_millis(500);
/// How long one events answer lasts at most (the browser reconnects after).
const EVENTS_FOR: Duration = Duration::from_secs(600);

/// The status of one application as server-sent events: a `status` event (its JSON: status,
/// the section's HTML, whether final) at once and on every change, until final; an `ended`
/// event when the session ends meanwhile. The session is checked again on every poll, so a
/// sign-out or a suspension stops the events too.
pub async fn events(
    State(state): State<WebState>,
    visitor: Visitor,
    parts: Parts,
    Path(id): Path<String>,
) -> Response {
    let fingerprint = presented(&parts).map(|p| (p.company.cloned(), p.fingerprint.to_string()));
    let started = tokio::time::Instant::now();
    let seed = (visitor, None::<String>, false);
    let stream = futures::stream::unfold(seed, move |(visitor, last, done)| {
        let state = state.clone();
        let id = id.clone();
        let fingerprint = fingerprint.clone();
        async move {
            if done || started.elapsed() > EVENTS_FOR {
                return None;
            }
            loop {
                if last.is_some() {
                    tokio::time::sleep(POLL).await;
                }
                let cert = fingerprint
                    .as_ref()
                    .map(|(c, f)| crate::accounts::Presented {
                        company: c.as_ref(),
                        fingerprint: f,
                    });
                if state
                    .accounts
                    .authenticate(&visitor.token, cert, false)
                    .await
                    .is_err()
                {
                    let ended = Event::default().event("ended").data("session");
                    return Some((Ok::<_, Infallible>(ended), (visitor, last, true)));
                }
                let update = state
                    .submissions
                    .status(&visitor.principal, &id, None)
                    .await
                    .and_then(|v| {
                        let html = section(&v, &visitor.principal)?;
                        Ok((v.status.clone(), html, is_final(&v)))
                    });
                let (status, html, finished) = match update {
                    Ok(u) => u,
                    Err(r) => {
                        let ended = Event::default().event("refused").data(r.code());
                        return Some((Ok(ended), (visitor, last, true)));
                    }
                };
                if last.as_deref() != Some(status.as_str()) {
                    let event = Event::default()
                        .event("status")
                        .json_data(Update {
                            status: status.clone(),
                            html,
                            finished,
                        })
                        .unwrap_or_default();
                    return Some((Ok(event), (visitor, Some(status), finished)));
                }
                if started.elapsed() > EVENTS_FOR {
                    return None;
                }
            }
        }
    });
    Sse::new(stream)
        .keep_alive(KeepAlive::default())
        .into_response()
}
