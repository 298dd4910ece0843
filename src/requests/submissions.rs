//! Submitting an application: who may, what passes, what it amends, and the one way it
//! reaches the broker — its audit row and `accepted` row committed first (one group commit,
//! [`super::accept_log`]), then produced with `acks=all`.
//! The API, a web form and a CSV row all call [`Submissions::submit`].

use std::sync::Arc;

use chrono::{SubsecRound, Utc};
use deadpool_postgres::Pool;
use futures::StreamExt;
use serde_json::Value;

use super::accept_log::{self, AcceptLog};
use super::idempotency::{self, IdempotencyKey};
use super::store;
use super::validate::{self, Submission};
use crate::accounts::Principal;
use crate::audit;
use crate::config::Settings;
use crate::domain::today_jst;
use crate::domain::{Function, Refusal, RequestId, RequestStatus};
use crate::intermediation::{QuotedBy, check_quoted};
use crate::kafka::Publisher;
use crate::messages::{Codec, Payload, RequestRecord};
use crate::metrics;
use crate::vault::{self, Vault};

/// How many times a record the broker may hold unacknowledged is sent again, each send waiting
/// up to the producer's delivery timeout, before the submission is answered `outcome_unknown`.
const RESENDS: usize = 2;
/// The pause before each of those sends.
const RESEND_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

/// The submission and status service of one hub.
#[derive(Clone)]
pub struct Submissions {
    pub(super) pool: Pool,
    publisher: Publisher,
    codec: Arc<Codec>,
    settings: Arc<Settings>,
    /// Seals the personal fields of every record before it reaches the broker.
    vault: Vault,
    /// The audit and `accepted` rows of concurrent submissions, committed together; started
    /// on first use (on the runtime that submits).
    accept_log: Arc<std::sync::OnceLock<AcceptLog>>,
    /// The audit rows of concurrent reads of personal data, committed together; started on
    /// first use.
    pub(super) read_log: Arc<std::sync::OnceLock<audit::GroupLog>>,
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
            accept_log: Default::default(),
            read_log: Default::default(),
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
        let submission = self.check(principal, function, body).await?;
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
        let record = record_of(principal, function, submission, request_id);
        let sent = self.send(principal, &record).await;
        let sent_ok = sent.is_ok();
        if let Some(key) = key {
            let (pool, company) = (self.pool.clone(), principal.company.clone());
            let settled = async move { idempotency::settle(&pool, &company, &key, sent_ok).await };
            if sent_ok {
                // Off the answer's path: a retry meanwhile waits for the lease, which this
                // ends within a round trip (or, should it fail, by running out).
                tokio::spawn(settled);
            } else {
                settled.await;
            }
        }
        sent.map(|()| request_id)
    }

    /// Files many applications of one `function` for `principal` together, each under the
    /// request id the caller gives it (a bulk row's, derived from its batch and line): the same
    /// rules as [`Self::submit`], row by row, with the audit and `accepted` rows of the whole
    /// group in one commit, before any is produced. Each row's outcome in the order given;
    /// `Err` when the group could not be recorded at all (nothing of it was produced) or the
    /// principal may not call `function`.
    ///
    /// Filing an id again is safe, so the caller needs no idempotency key; it must only file a
    /// given id from one place at a time (a batch is filed under its lock). An id recorded
    /// before keeps its row and its audit entry; its record is produced again while its row
    /// is still `accepted` (the earlier attempt may have stopped before the broker had it;
    /// a copy that did arrive is there twice, which the connector deduplicates), and not at
    /// all once the operator's side has moved it on. The ids must be distinct.
    pub async fn submit_under(
        &self,
        principal: &Principal,
        function: Function,
        rows: Vec<(RequestId, Value)>,
    ) -> Result<Vec<Result<RequestId, Refusal>>, Refusal> {
        may_submit(principal, function)?;
        let checked = futures::stream::iter(rows)
            .map(|(id, body)| async move {
                let submission = self.check(principal, function, body).await?;
                let record = record_of(principal, function, submission, id);
                let (bytes, header) = self.seal(&record).await?;
                Ok::<_, Refusal>((record, bytes, header))
            })
            .buffered(16)
            .collect::<Vec<_>>()
            .await;
        let mut outcomes: Vec<Option<Result<RequestId, Refusal>>> = Vec::new();
        let mut passed = Vec::new();
        for (i, row) in checked.into_iter().enumerate() {
            match row {
                Ok((record, bytes, header)) => {
                    passed.push(Sealed {
                        index: i,
                        record,
                        bytes,
                        header,
                    });
                    outcomes.push(None);
                }
                Err(e) => outcomes.push(Some(Err(e))),
            }
        }
        let this = self.clone();
        let acting = principal.clone();
        // From the first write to the last acknowledgement in a task of its own, as in `send`:
        // a group dropped half-way (at shutdown) cannot leave rows recorded with no record
        // behind them.
        let produced = tokio::spawn(crate::telemetry::carried(async move {
            this.record_and_produce_all(&acting, passed).await
        }))
        .await
        .map_err(|e| Refusal::Internal(e.into()))??;
        for (i, outcome) in produced {
            outcomes[i] = Some(outcome);
        }
        let outcomes: Vec<_> = outcomes
            .into_iter()
            .map(|o| o.expect("every row has an outcome"))
            .collect();
        for e in outcomes.iter().filter_map(|o| o.as_ref().err()) {
            metrics::RequestRefused {
                function: function.slug(),
                reason: e.code(),
            }
            .emit();
        }
        Ok(outcomes)
    }

    /// The group's new `accepted` rows and their audit rows in one commit, then the records
    /// of the rows still `accepted` produced: each row's outcome by its index.
    async fn record_and_produce_all(
        &self,
        principal: &Principal,
        rows: Vec<Sealed>,
    ) -> Result<Vec<(usize, Result<RequestId, Refusal>)>, Refusal> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let group: Vec<_> = rows
            .iter()
            .map(|row| (audit_entry(principal, &row.record), &row.record))
            .collect();
        let priors = accept_log::commit_new(&self.pool, &group).await?;
        Ok(
            futures::future::join_all(rows.iter().zip(priors).map(|(row, prior)| async move {
                let id = row.record.request_id;
                let sent = match prior {
                    store::Prior::None | store::Prior::Recorded(RequestStatus::Accepted) => {
                        self.produce(&row.record, &row.bytes, row.header.clone())
                            .await
                    }
                    store::Prior::Recorded(_) => Ok(()),
                };
                (row.index, sent.map(|()| id))
            }))
            .await,
        )
    }

    /// What every submission passes before anything is claimed or written: the body parsed and
    /// validated, the application it amends and the intermediation it quotes checked.
    async fn check(
        &self,
        principal: &Principal,
        function: Function,
        body: Value,
    ) -> Result<Submission, Refusal> {
        let submission = validate::submission(function, &principal.company, body, today_jst())?;
        if let Some(original) = submission.original_request_id {
            self.check_original(principal, function, &submission, original)
                .await?;
        }
        self.check_quoted_intermediation(principal, &submission)
            .await?;
        Ok(submission)
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

    /// Records, produces, and on a failed produce removes the row again.
    async fn send(&self, principal: &Principal, record: &RequestRecord) -> Result<(), Refusal> {
        let audit = audit_entry(principal, record);
        // Sealed and encoded first: what can fail here fails before anything is written.
        let (bytes, key_header) = self.seal(record).await?;
        // From the first write to the broker's answer in a task of its own, which a caller
        // that goes away (a closed connection drops its handler) cannot stop half-way,
        // leaving an `accepted` row with no record behind it.
        let this = self.clone();
        let record = record.clone();
        tokio::spawn(crate::telemetry::carried(async move {
            let pool = &this.pool;
            this.accept_log
                .get_or_init(|| accept_log::start(pool.clone()))
                .write((audit, record.clone()))
                .await?;
            this.produce(&record, &bytes, key_header).await
        }))
        .await
        .map_err(|e| Refusal::Internal(e.into()))?
    }

    /// Produces a recorded request's record; on a failed produce removes its row again.
    async fn produce(
        &self,
        record: &RequestRecord,
        bytes: &[u8],
        key_header: String,
    ) -> Result<(), Refusal> {
        let topic = self.settings.requests_topic(record.area());
        let headers = [(vault::KEY_HEADER, key_header)];
        let mut produced = self
            .publisher
            .publish_with_headers(&topic, record.point_id.as_str(), bytes, &headers)
            .await;
        // The broker may have written a record it did not acknowledge (a timeout in flight):
        // then "not accepted" cannot be said. The same record, its request id unchanged, is
        // sent again until one copy is acknowledged (the connector and the projector keep one
        // per request id), for a bounded time.
        let (mut maybe_on_broker, mut resends) = (false, 0);
        while let Err(e) = &produced {
            maybe_on_broker |= e.possibly_persisted();
            if !maybe_on_broker || resends == RESENDS {
                break;
            }
            resends += 1;
            tracing::warn!(request_id = %record.request_id, "the broker may hold an unacknowledged request: sending it again");
            metrics::RequestResent {
                area: record.area().code(),
            }
            .emit();
            tokio::time::sleep(RESEND_PAUSE).await;
            produced = self
                .publisher
                .publish_with_headers(&topic, record.point_id.as_str(), bytes, &headers)
                .await;
        }
        match produced {
            Ok(_) => {}
            Err(e) if maybe_on_broker => {
                // Its row stays: the record may arrive, and its status with it.
                tracing::error!(error = %e, request_id = %record.request_id, "request neither acknowledged nor surely unsent");
                return Err(Refusal::OutcomeUnknown(record.request_id));
            }
            Err(e) => {
                // The broker surely does not have it. The row must not stand for a request
                // that is nowhere on the broker; should this fail too, it stays `accepted`
                // (logged).
                let forgotten = async {
                    store::forget_unsent(&self.pool.get().await?, record.request_id).await?;
                    Ok::<_, Refusal>(())
                };
                if let Err(e) = forgotten.await {
                    tracing::error!(error = %e, request_id = %record.request_id, "row of an unsent request not removed");
                }
                return Err(Refusal::BrokerUnavailable(e.to_string()));
            }
        }
        metrics::RequestAccepted {
            function: record.function.slug(),
            area: record.area().code(),
        }
        .emit();
        Ok(())
    }

    /// `record` sealed and encoded for the broker, and its key header.
    async fn seal(&self, record: &RequestRecord) -> Result<(Vec<u8>, String), Refusal> {
        // Sealed here, the one way to the broker; the row keeps the record as given.
        let (sealed, key_header) = self
            .vault
            .seal_request(record)
            .await
            .map_err(|e| Refusal::Internal(e.into()))?;
        let bytes = self
            .codec
            .encode_request(&sealed)
            .map_err(|e| Refusal::Internal(e.into()))?;
        Ok((bytes, key_header))
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

/// A row of [`Submissions::submit_under`] to record and produce: its place, its record, the
/// record sealed and encoded, and its key header.
struct Sealed {
    index: usize,
    record: RequestRecord,
    bytes: Vec<u8>,
    header: String,
}

/// The record of an application that passed, under `request_id`.
fn record_of(
    principal: &Principal,
    function: Function,
    submission: Submission,
    request_id: RequestId,
) -> RequestRecord {
    RequestRecord {
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
    }
}

/// Who submitted `record` (a contractor's user included) and from which certificate, committed
/// before it can be sent: a submission the trail cannot record is refused, not sent unrecorded.
/// Its `accepted` row goes in the same commit, so a GET right after the 202 finds it.
fn audit_entry(principal: &Principal, record: &RequestRecord) -> audit::Entry {
    audit::Entry::new(
        principal,
        "request.submitted",
        record.request_id.to_string(),
        serde_json::json!({
            "function": record.function.slug(),
            "point_id": record.point_id.as_str(),
            "update_flag": record.update_flag.code(),
        }),
    )
}
