//! A registration's webhook (`webhooks`) and the record of its deliveries
//! (`webhook_deliveries`): registering the one HTTPS endpoint, showing it without its secret,
//! removing it, and listing what was delivered and what failed.

use deadpool_postgres::Pool;
use rand::RngCore;
use serde::Serialize;

use crate::domain::{CompanyCode, Refusal};

/// An endpoint the hub may POST events to: an absolute `https://` URL with a host, without
/// credentials or a fragment. Checked once, here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(s: &str) -> Result<WebhookUrl, Refusal> {
        let refuse = |en: &str| {
            Refusal::invalid(
                "url",
                "invalid_webhook_url",
                "通知先URLは https:// で始まる絶対URL(ユーザ情報・フラグメントなし、2000文字以内)で指定してください",
                format!(
                    "the webhook url must be an absolute https:// URL without user info or fragment, at most 2000 characters: {en}"
                ),
            )
        };
        if s.len() > 2000 {
            return Err(refuse("too long"));
        }
        let url = reqwest::Url::parse(s).map_err(|e| refuse(&e.to_string()))?;
        if url.scheme() != "https" {
            return Err(refuse("not https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(refuse("no host"));
        }
        if !url.username().is_empty() || url.password().is_some() || url.fragment().is_some() {
            return Err(refuse("user info or fragment"));
        }
        Ok(WebhookUrl(url.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A registration's webhook as its administrator sees it: never the secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Webhook {
    pub url: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Every event up to this cursor is delivered (or given up and listed as failed).
    #[schema(example = "1042")]
    pub delivered_through: String,
    /// Failed attempts at the next event so far (0 when delivery is healthy).
    pub attempts: i32,
    /// Since when the next event has been failing, if it is.
    pub failing_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// The answer to registering: the only time the secret is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Registered {
    pub url: String,
    /// The HMAC key of `Kirikae-Signature` (docs/push.md). Shown once; registering again
    /// issues a new one.
    #[schema(example = "whsec_4f1c…")]
    pub secret: String,
}

/// One delivery attempt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Delivery {
    /// The event's id (cursor).
    pub event_id: String,
    /// 1 for the first attempt at this event.
    pub attempt: i32,
    /// `delivered`, `retrying` (it failed and will be tried again) or `failed` (given up).
    #[schema(example = "delivered")]
    pub outcome: String,
    /// The endpoint's HTTP status, when it answered.
    pub http_status: Option<i32>,
    /// Why it failed.
    pub error: Option<String>,
    pub at: chrono::DateTime<chrono::Utc>,
}

fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("whsec_{}", hex::encode(bytes))
}

/// Registers (or replaces) `company`'s endpoint with a fresh secret. A new webhook starts after
/// the registration's latest event; a replaced one keeps its position, so nothing is skipped.
/// An endpoint on an internal address is refused unless `allow_private` ([`super::targets`]).
pub async fn register(
    pool: &Pool,
    company: &CompanyCode,
    url: &WebhookUrl,
    allow_private: bool,
) -> Result<Registered, Refusal> {
    super::targets::check_registration(url, allow_private).await?;
    let client = pool.get().await?;
    let secret = new_secret();
    let start = super::events::latest(&client, company.as_str()).await?;
    client
        .execute(
            "INSERT INTO webhooks (company_code, url, secret, delivered_through)
             VALUES ($1, $2, $3, $4)
             ON CONFLICT (company_code) DO UPDATE
               SET url = EXCLUDED.url, secret = EXCLUDED.secret, created_at = now(),
                   attempts = 0, failing_since = NULL, next_attempt_at = now()",
            &[&company.as_str(), &url.as_str(), &secret, &start],
        )
        .await?;
    Ok(Registered {
        url: url.as_str().into(),
        secret,
    })
}

pub async fn show(pool: &Pool, company: &CompanyCode) -> Result<Webhook, Refusal> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT url, created_at, delivered_through, attempts, failing_since
               FROM webhooks WHERE company_code = $1",
            &[&company.as_str()],
        )
        .await?
        .ok_or(Refusal::WebhookNotFound)?;
    Ok(Webhook {
        url: row.get(0),
        created_at: row.get(1),
        delivered_through: row.get::<_, i64>(2).to_string(),
        attempts: row.get(3),
        failing_since: row.get(4),
    })
}

/// Removes `company`'s endpoint: nothing more is delivered. Its delivery record stays.
pub async fn remove(pool: &Pool, company: &CompanyCode) -> Result<(), Refusal> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "DELETE FROM webhooks WHERE company_code = $1",
            &[&company.as_str()],
        )
        .await?;
    if n == 0 {
        return Err(Refusal::WebhookNotFound);
    }
    Ok(())
}

/// `company`'s latest `limit` delivery attempts, newest first.
pub async fn deliveries(
    pool: &Pool,
    company: &CompanyCode,
    limit: i64,
) -> Result<Vec<Delivery>, Refusal> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT event_id, attempt, outcome, http_status, error, at FROM webhook_deliveries
              WHERE company_code = $1 ORDER BY id DESC LIMIT $2",
            &[&company.as_str(), &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Delivery {
            event_id: r.get::<_, i64>(0).to_string(),
            attempt: r.get(1),
            outcome: r.get(2),
            http_status: r.get(3),
            error: r.get(4),
            at: r.get(5),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_url_is_https_with_a_host_and_no_credentials() {
        assert!(WebhookUrl::parse("https://hooks.example.jp/kirikae?x=1").is_ok());
        assert!(WebhookUrl::parse("https://127.0.0.1:8443/hook").is_ok());
        for bad in [
            "http://hooks.example.jp/",
            "ftp://hooks.example.jp/",
            "hooks.example.jp/path",
            "https://user:pw@hooks.example.jp/",
            "https://hooks.example.jp/#frag",
            "",
        ] {
            let e = WebhookUrl::parse(bad).unwrap_err();
            assert_eq!(e.code(), "invalid_webhook_url", "{bad}");
        }
    }
}
