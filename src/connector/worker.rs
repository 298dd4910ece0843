//! One request's trip: skip it if it already has a result, call the grid operator with retries
//! past its area's circuit breaker (reporting `sent` if the answer is not there at once), and
//! produce exactly one final result (and the dead-letter record, with the error and attempt
//! history in its headers, on failure).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::{ExponentialBuilder, Retryable};
use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::circuit::Circuit;
use super::dead_letter::{self, Failure, History, Source};
use super::definition::RetryBudget;
use super::ledger::Ledger;
use super::protocol::{CallError, Protocol, TsoAnswer};
use super::sealing;
use crate::domain::Area;
use crate::kafka::Publisher;
use crate::messages::{Codec, RequestRecord, ResultRecord, ResultStatus};
use crate::metrics;
use crate::vault::{self, Keys};

#[derive(Clone)]
pub struct Job {
    pub partition: i32,
    pub offset: i64,
    pub key: Vec<u8>,
    pub payload: Vec<u8>,
    /// The trace the request record carried (`traceparent` header), continued by the call
    /// and the result.
    pub trace: Option<crate::telemetry::TraceContext>,
    /// Its `kirikae-key` header: the wrapped data key of its personal fields.
    pub field_key: Option<Vec<u8>>,
}

/// What became of one record.
pub enum Handled {
    /// Finished: its offset may be stored.
    Done,
    /// Not finished (shutting down, or the broker refused the result): a restart redoes it.
    NotDone,
    /// The operator holds it; [`Worker::hold`] finishes it.
    Held(Box<Held>),
}

impl Handled {
    fn done(done: bool) -> Self {
        if done {
            Handled::Done
        } else {
            Handled::NotDone
        }
    }
}

/// The code of a `sent` status whose application the operator holds.
pub const HELD: &str = "held";

/// What a held application waits for, by the operator's 受付工程 (reception stage).
pub fn held_message(stage: &str) -> String {
    match stage {
        "05" => "照合待ち (受付工程 05): the operator holds it until the counterpart application \
                 (the switch-end of the current retailer, or the switch-start of the new one) \
                 arrives"
            .to_string(),
        other => format!("保留中 (受付工程 {other}): the operator holds it at this stage"),
    }
}

/// An application the operator holds, with what finishing it needs.
pub struct Held {
    request: RequestRecord,
    job: Job,
    history: History,
}

pub struct Worker {
    pub area: Area,
    pub protocol: Protocol,
    pub retry: RetryBudget,
    /// How often an application the operator holds is asked about again.
    pub poll_interval: Duration,
    /// How long a call may take before its request is reported `sent` (`connector_sent_after_ms`):
    /// an answer within it makes `sent` a status no one could have seen for long — the final
    /// result follows at once — and leaving it out spares a third of the records a request puts
    /// on the broker and the projector's writes for it. A request still with the operator after
    /// it (a slow or retried call, a batch file, a held application) reports it.
    pub sent_after: Duration,
    pub codec: Arc<Codec>,
    pub publisher: Publisher,
    pub ledger: Arc<Ledger>,
    pub results_topic: String,
    pub dlq_topic: String,
    /// Where the jobs are consumed, named in dead letters' headers.
    pub requests_topic: String,
    pub circuit: Circuit,
    pub shutdown: CancellationToken,
    /// The master keys that unwrap each record's data key.
    pub field_keys: Arc<Keys>,
}

/// Why the calls stopped before a final answer.
enum Stop {
    Call(CallError),
    /// Shutting down while waiting at the open circuit: no call was made.
    Shutdown,
}

impl Worker {
    /// Handles one consumed record: done (its offset may be stored), not done (a restart redoes
    /// it), or held by the operator, to be finished by [`Worker::hold`] off the lane.
    pub async fn handle(&self, job: &Job) -> Handled {
        let request = match self.codec.decode_request(&job.payload) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!(error = %e, offset = job.offset, "undecodable request: dead-lettered");
                let failure = Failure {
                    kind: "undecodable",
                    message: e.to_string(),
                };
                return Handled::done(self.dead_letter(job, &failure, &History::default()).await);
            }
        };
        if self.ledger.contains(request.request_id, request.replay) {
            metrics::RedeliverySkipped {
                area: self.area.code(),
            }
            .emit();
            return Handled::Done;
        }
        // In clear only here, to call the operator; the result is sealed again on the way out.
        let request =
            match vault::open_request(&self.field_keys, job.field_key.as_deref(), &request) {
                Ok((open, _)) => open,
                Err(e) => return self.unreadable(job, &request, e).await,
            };
        let call = self.call_with_retries(&request, History::default());
        let Some((outcome, history)) = self.reporting_sent_if_slow(&request, call).await else {
            return Handled::NotDone;
        };
        if let Ok(TsoAnswer::Pending { stage }) = &outcome {
            self.report_held(&request, stage).await;
            return Handled::Held(Box::new(Held {
                request,
                job: job.clone(),
                history,
            }));
        }
        Handled::done(self.finish(&request, job, outcome, &history).await)
    }

    /// Asks the operator again about an application it holds (a switch awaiting its
    /// counterpart) until the answer is final, then finishes it; `true` when its offset may be
    /// stored. Runs off the lane, so that the counterpart — same point, same lane — can pass;
    /// the offset stays unstored meanwhile, so a restart asks again rather than forgetting it.
    pub async fn hold(&self, held: Box<Held>) -> bool {
        let Held {
            request,
            job,
            mut history,
        } = *held;
        loop {
            tokio::select! {
                _ = self.shutdown.cancelled() => return false,
                _ = tokio::time::sleep(self.poll_interval) => {}
            }
            let Some((outcome, after)) = self.call_with_retries(&request, history).await else {
                return false;
            };
            history = after;
            if !matches!(outcome, Ok(TsoAnswer::Pending { .. })) {
                return self.finish(&request, &job, outcome, &history).await;
            }
        }
    }

    /// Produces the final result (and the dead-letter record on failure) and remembers it.
    async fn finish(
        &self,
        request: &RequestRecord,
        job: &Job,
        outcome: Result<TsoAnswer, CallError>,
        history: &History,
    ) -> bool {
        let failure = match &outcome {
            Err(e) => Some(Failure {
                kind: e.kind(),
                message: e.to_string(),
            }),
            Ok(TsoAnswer::Pending { stage }) => Some(Failure {
                kind: "malformed",
                message: format!("still pending at stage {stage}"),
            }),
            Ok(_) => None,
        };
        let result = self.result_of(request, outcome, history.attempts);
        if let Some(failure) = failure
            && !self.dead_letter(job, &failure, history).await
        {
            return false;
        }
        if !self.publish_result(&result, job).await {
            return false;
        }
        self.ledger.insert(request.request_id, request.replay);
        let seconds = (Utc::now() - request.accepted_at).num_milliseconds().max(0) as f64 / 1000.0;
        metrics::RequestFinished {
            area: self.area.code(),
            function: request.function.slug(),
            status: result.status.request_status().as_str(),
            seconds,
        }
        .emit();
        true
    }

    /// Calls the operator until its answer is final or the retry budget is spent, each call
    /// waiting at the circuit first: time at an open circuit spends no attempt. `None` when
    /// shutdown came while waiting there.
    async fn call_with_retries(
        &self,
        request: &RequestRecord,
        before: History,
    ) -> Option<(Result<TsoAnswer, CallError>, History)> {
        let history = Mutex::new(before);
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(self.retry.initial_delay_ms))
            .with_max_delay(Duration::from_millis(self.retry.max_delay_ms))
            .with_max_times(self.retry.max_attempts.saturating_sub(1))
            .with_jitter();
        let call = || async {
            let pass = self
                .circuit
                .pass(&self.shutdown)
                .await
                .ok_or(Stop::Shutdown)?;
            history.lock().expect("history lock").called(Utc::now());
            let started = Instant::now();
            let answer = self.protocol.call(request).await;
            self.circuit
                .report(pass, answer.as_ref().is_err_and(CallError::is_transient));
            let outcome = match &answer {
                Ok(TsoAnswer::Completed(_)) => "completed",
                Ok(TsoAnswer::Refused { .. }) => "refused",
                Ok(TsoAnswer::Pending { .. }) => "pending",
                Ok(TsoAnswer::Acknowledged) => "acknowledged",
                Err(e) => e.kind(),
            };
            metrics::TsoCalled {
                area: self.area.code(),
                family: self.protocol.family(),
                outcome,
                seconds: started.elapsed().as_secs_f64(),
            }
            .emit();
            answer.map_err(Stop::Call)
        };
        let answer = call
            .retry(policy)
            .when(|e| matches!(e, Stop::Call(c) if c.is_transient()))
            .notify(|e, delay| {
                if let Stop::Call(e) = e {
                    tracing::warn!(error = %e, ?delay, request_id = %request.request_id, "retrying grid operator call");
                }
            })
            .await;
        let history = *history.lock().expect("history lock");
        match answer {
            Ok(a) => Some((Ok(a), history)),
            Err(Stop::Call(e)) => Some((Err(e), history)),
            Err(Stop::Shutdown) => None,
        }
    }

    fn result_of(
        &self,
        request: &RequestRecord,
        outcome: Result<TsoAnswer, CallError>,
        attempts: i32,
    ) -> ResultRecord {
        let mut r = ResultRecord::for_request(request, ResultStatus::Completed, attempts);
        match outcome {
            Ok(TsoAnswer::Completed(payload)) => r.payload = Some(payload),
            Ok(TsoAnswer::Acknowledged) => {}
            Ok(TsoAnswer::Pending { stage }) => {
                // Unreachable: `handle` asks again until the answer is final.
                r.status = ResultStatus::Failed;
                r.code = Some("tso_bad_answer".into());
                r.message = Some(format!("still pending at stage {stage}"));
            }
            Ok(TsoAnswer::Refused { code, message }) => {
                r.status = ResultStatus::Rejected;
                r.code = Some(code);
                r.message = Some(message);
            }
            Err(e) => {
                let code = if e.is_transient() {
                    "tso_unavailable"
                } else {
                    "tso_bad_answer"
                };
                r.status = ResultStatus::Failed;
                r.code = Some(code.into());
                r.message = Some(format!("{e} (after {attempts} attempts)"));
            }
        }
        r
    }

    /// Awaits `call`, reporting the request `sent` once it has taken `sent_after`.
    async fn reporting_sent_if_slow<T>(
        &self,
        request: &RequestRecord,
        call: impl std::future::Future<Output = T>,
    ) -> T {
        tokio::pin!(call);
        tokio::select! {
            biased;
            answered = &mut call => return answered,
            _ = tokio::time::sleep(self.sent_after) => {}
        }
        self.report_sent(request).await;
        call.await
    }

    /// Enqueues the `sent` event without waiting for it: it only informs, and the final result,
    /// enqueued later on the same partition, cannot overtake it.
    async fn report_sent(&self, request: &RequestRecord) {
        let sent = ResultRecord::for_request(request, ResultStatus::Sent, 0);
        let queued = match self.codec.encode_result(&sent) {
            Ok(bytes) => {
                let key = sent.point_id.as_str();
                let enqueued = self
                    .publisher
                    .enqueue(&self.results_topic, key, &bytes)
                    .await;
                enqueued.map(drop).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = queued {
            tracing::warn!(error = %e, request_id = %request.request_id, "sent event not reported");
        }
    }

    /// Enqueues a `sent` event saying what the operator holds the application for (code
    /// `held`, the 受付工程 in the message), so its status reads "waiting for …" rather than
    /// "stuck". Informative like `report_sent`: not waited for.
    async fn report_held(&self, request: &RequestRecord, stage: &str) {
        let mut held = ResultRecord::for_request(request, ResultStatus::Sent, 0);
        held.code = Some(HELD.into());
        held.message = Some(held_message(stage));
        let queued = match self.codec.encode_result(&held) {
            Ok(bytes) => self
                .publisher
                .enqueue(&self.results_topic, held.point_id.as_str(), &bytes)
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = queued {
            tracing::warn!(error = %e, request_id = %request.request_id, "held event not reported");
        }
    }

    /// A request whose personal fields cannot be opened. Its master key missing from this
    /// connector's ring is a configuration to mend: not done, so a restart with the key
    /// delivers it. Shredded or altered, it can never be sent: a final `failed` result and a
    /// dead letter, like an undecodable record.
    async fn unreadable(
        &self,
        job: &Job,
        request: &RequestRecord,
        e: vault::Unreadable,
    ) -> Handled {
        if let vault::Unreadable::Missing(_) = e {
            tracing::error!(error = %e, request_id = %request.request_id, "request left undone until its master key is in field_keys_file");
            return Handled::NotDone;
        }
        tracing::error!(error = %e, request_id = %request.request_id, "request's personal fields unreadable: dead-lettered");
        let failure = Failure {
            kind: "unreadable",
            message: e.to_string(),
        };
        let mut result = ResultRecord::for_request(request, ResultStatus::Failed, 0);
        result.code = Some("personal_data_unreadable".into());
        result.message = Some(e.to_string());
        // No key to seal with (it carries nothing personal anyway).
        let keyless = Job {
            field_key: None,
            ..job.clone()
        };
        let done = self.dead_letter(job, &failure, &History::default()).await
            && self.publish_result(&result, &keyless).await;
        if done {
            self.ledger.insert(request.request_id, request.replay);
        }
        Handled::done(done)
    }

    /// Produces a result, retrying until the broker takes it or the connector shuts down.
    async fn publish_result(&self, result: &ResultRecord, job: &Job) -> bool {
        let (result, headers) = match sealing::sealed(&self.field_keys, result, job) {
            Ok(sealed) => sealed,
            Err(e) => {
                tracing::error!(error = %e, "cannot seal a result");
                return false;
            }
        };
        let bytes = match self.codec.encode_result(&result) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(error = %e, "cannot encode a result");
                return false;
            }
        };
        self.publish_until_done(
            &self.results_topic,
            result.point_id.as_str().as_bytes(),
            &bytes,
            &headers,
        )
        .await
    }

    /// Writes the consumed record unchanged to the dead-letter topic, with why and how in its
    /// headers.
    async fn dead_letter(&self, job: &Job, failure: &Failure, history: &History) -> bool {
        metrics::DeadLettered {
            area: self.area.code(),
        }
        .emit();
        let source = Source {
            topic: &self.requests_topic,
            partition: job.partition,
            offset: job.offset,
        };
        let mut headers = dead_letter::headers(failure, history, &source);
        // The payload stays sealed; its key goes with it, for `kirikae replay`.
        if let Some(key) = &job.field_key {
            headers.push((vault::KEY_HEADER, String::from_utf8_lossy(key).into_owned()));
        }
        self.publish_until_done(&self.dlq_topic, &job.key, &job.payload, &headers)
            .await
    }

    async fn publish_until_done(
        &self,
        topic: &str,
        key: &[u8],
        payload: &[u8],
        headers: &[(&str, String)],
    ) -> bool {
        let key = String::from_utf8_lossy(key);
        let mut delay = Duration::from_millis(100);
        loop {
            let sent = self
                .publisher
                .publish_with_headers(topic, &key, payload, headers)
                .await;
            match sent {
                Ok(_) => return true,
                Err(e) => tracing::warn!(error = %e, topic, "produce failed; retrying"),
            }
            tokio::select! {
                _ = self.shutdown.cancelled() => return false,
                _ = tokio::time::sleep(delay) => delay = (delay * 2).min(Duration::from_secs(5)),
            }
        }
    }
}
