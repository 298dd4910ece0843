//! The webhook delivery job (next to the projector, in `hub::jobs`): POSTs each registration's
//! events to its endpoint, signed, one at a time in cursor order.
//!
//! A registration's next event is delivered only once the previous one is done (delivered, or
//! given up after `webhook_retry_for_secs` and recorded `failed`), so a receiver sees them in
//! order. A worker claims a registration's webhook row with `FOR UPDATE SKIP LOCKED` for the
//! whole attempt, so two projector processes (or two workers of one) never deliver the same
//! registration's events at once. The position moves in the transaction that records the
//! attempt; a crash between the POST and the commit delivers that event again: at least once,
//! with `Kirikae-Event-Id` for the receiver to drop the repeat.

use std::time::Duration;

use backon::BackoffBuilder;
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use super::events::{self, Event};
use super::signature;
use crate::config::Settings;
use crate::metrics;

/// Registrations delivered to at the same time (each its own claimed row).
const WORKERS: usize = 4;
/// How long an endpoint has to answer one delivery.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How often the backlog gauge is counted: an alert looks at minutes, and the count reads
/// every registration's undelivered events, so not at each idle round.
const BACKLOG_EVERY: Duration = Duration::from_secs(10);

const CLAIM: &str = "
    SELECT w.company_code, w.url, w.secret, w.delivered_through, w.attempts, w.failing_since
      FROM webhooks w
     WHERE w.next_attempt_at <= now()
       AND EXISTS (SELECT 1 FROM events e
                    WHERE e.company_code = w.company_code AND e.id > w.delivered_through)
     ORDER BY w.next_attempt_at
     LIMIT 1
       FOR UPDATE OF w SKIP LOCKED";

/// Runs the delivery workers until `shutdown`.
pub async fn run(
    settings: Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let deliverer = Deliverer::build(&settings)?;
    let idle = Duration::from_millis(settings.webhook_poll_ms.max(10));
    let workers = (0..WORKERS).map(|n| worker(n, &deliverer, &pool, idle, &shutdown));
    futures::future::join_all(workers).await;
    Ok(())
}

async fn worker(
    n: usize,
    deliverer: &Deliverer,
    pool: &Pool,
    idle: Duration,
    shutdown: &CancellationToken,
) {
    let mut counted: Option<std::time::Instant> = None;
    while !shutdown.is_cancelled() {
        let worked = match deliverer.deliver_next(pool).await {
            Ok(worked) => worked,
            Err(e) => {
                tracing::warn!(error = format!("{e:#}"), "webhook delivery round failed");
                false
            }
        };
        if worked {
            continue;
        }
        if n == 0 && counted.is_none_or(|at| at.elapsed() >= BACKLOG_EVERY) {
            counted = Some(std::time::Instant::now());
            match backlog(pool).await {
                Ok(events) => metrics::WebhookBacklog { events }.emit(),
                Err(e) => tracing::warn!(error = %e, "webhook backlog not measured"),
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(idle) => {}
        }
    }
}

/// Events not yet done for any registration's webhook.
async fn backlog(pool: &Pool) -> anyhow::Result<i64> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT COALESCE(sum((SELECT count(*) FROM events e
                                   WHERE e.company_code = w.company_code
                                     AND e.id > w.delivered_through)), 0)::bigint
               FROM webhooks w",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// What one attempt came to.
struct Attempted {
    http_status: Option<i32>,
    error: Option<String>,
}

struct Deliverer {
    http: reqwest::Client,
    /// Internal addresses may be delivered to (`webhook_allow_private`).
    allow_private: bool,
    retry: backon::ExponentialBuilder,
    retry_for: chrono::Duration,
}

impl Deliverer {
    fn build(settings: &Settings) -> anyhow::Result<Deliverer> {
        let mut http = reqwest::Client::builder()
            .use_rustls_tls()
            .https_only(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .user_agent("kirikae-webhook/1");
        if !settings.webhook_allow_private {
            // Every name is resolved to public addresses only, at each connection (SSRF).
            http = http.dns_resolver(std::sync::Arc::new(super::targets::PublicOnly));
        }
        if let Some(ca) = &settings.webhook_ca_file {
            let pem = std::fs::read(ca)
                .map_err(|e| anyhow::anyhow!("webhook_ca_file {}: {e}", ca.display()))?;
            http = http.add_root_certificate(reqwest::Certificate::from_pem(&pem)?);
        }
        let retry = backon::ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(settings.webhook_retry_min_ms))
            .with_max_delay(Duration::from_millis(settings.webhook_retry_max_ms))
            .with_jitter()
            .without_max_times();
        Ok(Deliverer {
            http: http.build()?,
            allow_private: settings.webhook_allow_private,
            retry,
            retry_for: chrono::Duration::seconds(settings.webhook_retry_for_secs as i64),
        })
    }

    /// The delay before attempt `failures + 1`: exponential with jitter, capped.
    fn delay_after(&self, failures: i32) -> Duration {
        self.retry
            .build()
            .nth(failures.saturating_sub(1).max(0) as usize)
            .unwrap_or(Duration::from_secs(60))
    }

    /// Delivers (or tries) the next event of one registration that has one due; `false` when
    /// none has.
    async fn deliver_next(&self, pool: &Pool) -> anyhow::Result<bool> {
        let mut client = pool.get().await?;
        let tx = client.transaction().await?;
        let Some(w) = tx.query_opt(CLAIM, &[]).await? else {
            return Ok(false);
        };
        let (company, url, secret): (String, String, String) = (w.get(0), w.get(1), w.get(2));
        let (through, failures): (i64, i32) = (w.get(3), w.get(4));
        let failing_since: Option<chrono::DateTime<chrono::Utc>> = w.get(5);
        let Some(event) = events::next_of(&tx, &company, through).await? else {
            return Ok(false);
        };
        let attempt = failures + 1;
        let tried = self.post(&url, &secret, &event).await;
        let now = chrono::Utc::now();
        let since = failing_since.unwrap_or(now);
        let outcome = match tried.error {
            None => "delivered",
            Some(_) if now - since >= self.retry_for => "failed",
            Some(_) => "retrying",
        };
        if outcome == "retrying" {
            let next = now + chrono::Duration::from_std(self.delay_after(attempt))?;
            tx.execute(
                "UPDATE webhooks SET attempts = $2, failing_since = $3, next_attempt_at = $4
                  WHERE company_code = $1",
                &[&company, &attempt, &since, &next],
            )
            .await?;
        } else {
            tx.execute(
                "UPDATE webhooks SET delivered_through = $2, attempts = 0, failing_since = NULL,
                        next_attempt_at = now()
                  WHERE company_code = $1",
                &[&company, &event.cursor().value()],
            )
            .await?;
        }
        tx.execute(
            "INSERT INTO webhook_deliveries
                 (company_code, event_id, attempt, outcome, http_status, error)
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &company,
                &event.cursor().value(),
                &attempt,
                &outcome,
                &tried.http_status,
                &tried.error,
            ],
        )
        .await?;
        tx.commit().await?;
        metrics::WebhookDelivered { outcome }.emit();
        if outcome == "failed" {
            tracing::warn!(company, event = %event.id, "webhook delivery given up");
        }
        Ok(true)
    }

    /// POSTs `event`, signed; a 2xx answer is a delivery, anything else an error.
    async fn post(&self, url: &str, secret: &str, event: &Event) -> Attempted {
        if let Some(why) = (!self.allow_private)
            .then(|| super::targets::delivery_refused(url))
            .flatten()
        {
            return Attempted {
                http_status: None,
                error: Some(why),
            };
        }
        let body = match serde_json::to_vec(event) {
            Ok(b) => b,
            Err(e) => {
                return Attempted {
                    http_status: None,
                    error: Some(e.to_string()),
                };
            }
        };
        let signed = signature::header(secret, chrono::Utc::now().timestamp(), &body);
        let sent = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("kirikae-event-id", &event.id)
            .header("kirikae-signature", signed)
            .body(body)
            .send()
            .await;
        match sent {
            Ok(resp) if resp.status().is_success() => Attempted {
                http_status: Some(resp.status().as_u16().into()),
                error: None,
            },
            Ok(resp) => Attempted {
                http_status: Some(resp.status().as_u16().into()),
                error: Some(format!("answered {}", resp.status())),
            },
            Err(e) => Attempted {
                http_status: None,
                error: Some(chain(&e).chars().take(500).collect()),
            },
        }
    }
}

/// An error with its causes, as the delivery record shows it.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}
