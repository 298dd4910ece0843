//! The operator's letters to customers: a usage password goes to the customer, never to the
//! retailer, so tests read it here (`GET /sim/mail`) as the customer would read their post.

use axum::Json;
use axum::extract::{Query, State};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize, Serializer};

use super::App;
use crate::domain::SupplyPointId;

/// One password letter the operator sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mail {
    #[serde(serialize_with = "as_text")]
    pub point_id: SupplyPointId,
    pub customer_name: String,
    pub password: String,
    pub valid_until: NaiveDate,
    /// 申込番号 of the password application.
    pub application_number: String,
    pub sent_on: NaiveDate,
}

fn as_text<S: Serializer>(id: &SupplyPointId, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(id.as_str())
}

/// `GET /sim/mail`'s query: `?point_id=` keeps that point's letters only.
#[derive(Debug, Deserialize)]
pub(super) struct MailQuery {
    #[serde(default)]
    point_id: Option<String>,
}

/// `GET /sim/mail`: the letters sent, oldest first, as a JSON list.
pub(super) async fn mail(
    State(app): State<App>,
    Query(query): Query<MailQuery>,
) -> Json<Vec<Mail>> {
    let mails = app.sim.mails();
    Json(match query.point_id {
        Some(point) => mails
            .into_iter()
            .filter(|m| m.point_id.as_str() == point)
            .collect(),
        None => mails,
    })
}
