//! Submitting an application: who may, what passes, what it amends, and the one way it
//! reaches the broker — audited first, produced with `acks=all`, then its `accepted` row.
//! The API, a web form and a CSV row all call [`Submissions::submit`].

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use deadpool_postgres::Pool;
use serde_json::Value;

use super::idempotency::{self, IdempotencyKey};
use super::store;
use super::validate::{self, Submission};
use crate::accounts::Principal;
use crate::config::Settings;
use crate::domain::today_jst;
use crate::domain::{Function, Refusal, RequestId};
use crate::intermediation::{QuotedBy, check_quoted};
use crate::kafka::Publisher;
use crate::messages::{Codec, Payload, RequestRecord};
use crate::metrics;
use crate::vault::{self, Vault};

/// The submission and status service of one hub.
#[derive(Clone)]
pub struct Submissions {
    pub(super) pool: Pool,
    publisher: Publisher,
    codec: Arc<Codec>,
    settings: Arc<Settings>,
    /// Seals the personal fields of every record before it reaches the broker.
    vault: Vault,
}

impl Submissions {
    /// Fails without a key ring (`field_keys_file`): no record is ever produced in clear.
    pub fn new(
        pool: Pool,
        publisher: Publisher,
        codec: Arc<Codec>,
        settings: Arc<Settings>,
    ) -> anyhow::Result<Self> {
        let vault = Vault::new(vault::keys(&settings)?, pool.clone());
        Ok(Submissions {
            pool,
            publisher,
            codec,
            settings,
            vault,
        })
    }

    /// The sealer of this hub's records, for the other services that produce personal data
    /// (intermediation events).
    pub fn vault(&self) -> &Vault {
        &self.vault
    }

    /// Submits `body` as `function` for `principal`; the id once the broker has the record.
    /// `body` may be a body that did not parse: it is refused after the permission checks, so
    /// a caller not allowed the function learns nothing more. `key` is the raw
    /// `Idempotency-Key`, checked after the body.
    pub async fn submit(
        &self,
        principal: &Principal,
        function: Function,
        body: Result<Value, Refusal>,
        key: Option<&[u8]>,
    ) -> Result<RequestId, Refusal> {
        let outcome = self.accept(principal, function, body, key).await;
        match &outcome {
            Ok(_) => {}
            Err(e) => metrics::RequestRefused {
                function: function.slug(),
                reason: e.code(),
            }
            .emit(),
        }
        outcome
    }

    async fn accept(
        &self,
        principal: &Principal,
        function: Function,
        body: Result<Value, Refusal>,
        key: Option<&[u8]>,
    ) -> Result<RequestId, Refusal> {
        may_submit(principal, function)?;
        let body = body?;
        let body_hash = idempotency::body_hash(function, &body);
        let submission = validate::submission(function, &principal.company, body, today_jst())?;
        if let Some(original) = submission.original_request_id {
            self.check_original(principal, function, &submission, original)
                .await?;
        }
        self.check_quoted_intermediation(principal, &submission)
            .await?;
        let key = key.map(IdempotencyKey::parse).transpose()?;
        let request_id = match &key {
            None => RequestId::new(),
            Some(key) => {
                let claim =
                    idempotency::claim(&self.pool, &principal.company, key, &body_hash).await?;
                if !claim.produce {
                    return Ok(claim.request_id);
                }
                claim.request_id
            }
        };
        let record = RequestRecord {
            request_id,
            function,
            company_code: principal.company.clone(),
            user_id: principal.user_id.clone(),
            point_id: submission.point,
            update_flag: submission.update_flag,
            original_request_id: submission.original_request_id,
            // Milliseconds, as the Avro record carries it: the row and its replay must agree.
            accepted_at: Utc::now().trunc_subsecs(3),
            payload: submission.payload,
            replay: 0,
        };
        let sent = self.send(principal, &record).await;
        if let Some(key) = &key {
            idempotency::settle(&self.pool, &principal.company, key, sent.is_ok()).await;
        }
        sent.map(|()| request_id)
    }

    /// A switch-start or switch-end that quotes a 廃止取次番号 must quote an approved
    /// intermediation of its point in which the caller is the new retailer (start) or the
    /// addressed current retailer (end).
    async fn check_quoted_intermediation(
        &self,
        principal: &Principal,
        submission: &Submission,
    ) -> Result<(), Refusal> {
        let (number, role) = match &submission.payload {
            Payload::SwitchStart(s) => (&s.intermediation_number, QuotedBy::NewRetailer),
            Payload::SwitchEnd(e) => (&e.intermediation_number, QuotedBy::CurrentRetailer),
            _ => return Ok(()),
        };
        match number {
            Some(n) => {
                check_quoted(&self.pool, n, &submission.point, &principal.company, role).await
            }
            None => Ok(()),
        }
    }

    /// Audits, produces and records `record`.
    async fn send(&self, principal: &Principal, record: &RequestRecord) -> Result<(), Refusal> {
        // Who submitted it (a contractor's user included) and from which certificate, before it
        // can be sent: a submission the trail cannot record is refused, not sent unrecorded.
        crate::audit::record(
            &self.pool.get().await?,
            principal,
            "request.submitted",
            &record.request_id.to_string(),
            serde_json::json!({
                "function": record.function.slug(),
                "point_id": record.point_id.as_str(),
                "update_flag": record.update_flag.code(),
            }),
        )
        .await?;
        // Sealed here, the one way to the broker; the row below keeps the record as given.
        let (sealed, key_header) = self
            .vault
            .seal_request(record)
            .await
            .map_err(|e| Refusal::Internal(e.into()))?;
        let bytes = self
            .codec
            .encode_request(&sealed)
            .map_err(|e| Refusal::Internal(e.into()))?;
        let topic = self.settings.requests_topic(record.area());
        let headers = [(vault::KEY_HEADER, key_header)];
        self.publisher
            .publish_with_headers(&topic, record.point_id.as_str(), &bytes, &headers)
            .await
            .map_err(|e| Refusal::BrokerUnavailable(e.to_string()))?;
        // The record is durable now. The row makes a GET right after the 202 find it; should
        // the database fail here, the projector writes the same row from the topic.
        if let Err(e) = self.insert_accepted_row(record).await {
            tracing::error!(error = %e, request_id = %record.request_id, "accepted row not written; the projector will");
        }
        metrics::RequestAccepted {
            function: record.function.slug(),
            area: record.area().code(),
        }
        .emit();
        Ok(())
    }

    async fn insert_accepted_row(&self, record: &RequestRecord) -> Result<(), Refusal> {
        store::insert_request(&self.pool.get().await?, record).await?;
        Ok(())
    }

    /// A correction or withdrawal amends an application of the same company, function and
    /// point that the grid operator has not finished: the hub refuses what it already knows is
    /// finished, and the operator refuses the rest (a completion the hub has not heard of yet).
    async fn check_original(
        &self,
        principal: &Principal,
        function: Function,
        submission: &Submission,
        original: RequestId,
    ) -> Result<(), Refusal> {
        let client = self.pool.get().await?;
        let row = store::original(&client, &principal.company, original)
            .await?
            .ok_or(Refusal::OriginalNotFound)?;
        if row.function != function.slug() || row.point_id != submission.point.as_str() {
            return Err(Refusal::OriginalMismatch);
        }
        match row.status {
            Some(s) if s.is_final() => Err(Refusal::OriginalFinished(s.as_str())),
            _ => Ok(()),
        }
    }
}

/// Whether `principal` may call `function`: the registration's kind caps it (catalogue "who"
/// column), then the user's own permissions.
pub fn may_submit(principal: &Principal, function: Function) -> Result<(), Refusal> {
    if !principal.kind.may_call(function) {
        return Err(Refusal::FunctionNotAllowed(function.into()));
    }
    if !principal.permitted(function) {
        return Err(Refusal::FunctionNotPermitted(function.into()));
    }
    Ok(())
}
