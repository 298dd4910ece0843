//! インフォメーション: notices the hub operator publishes and every registration's users list
//! and read. A change of the terms of use is a notice that is also mailed to every
//! registration's contact within `terms_mail_days` (terms 1.3.3). Those mails are rows of
//! `notice_mails`, written in the notice's own transaction and sent by [`run_mailer`] until the
//! SMTP server accepts each one, so a mail server that is down delays them but loses none.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use tokio_util::sync::CancellationToken;

use crate::audit;
use crate::config::Settings;
use crate::mail::Mailer;
use crate::metrics;

#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    #[error("a notice needs a title of 1 to 200 characters and a body")]
    Empty,
    #[error(transparent)]
    Refused(#[from] crate::domain::Refusal),
    #[error(transparent)]
    Db(#[from] tokio_postgres::Error),
    #[error(transparent)]
    Pool(#[from] deadpool_postgres::PoolError),
}

/// What the operator publishes.
#[derive(Debug, Clone)]
pub struct NewNotice<'a> {
    pub title: &'a str,
    pub body: &'a str,
    /// A change of the terms of use: mailed to every registration's contact as well.
    pub terms_change: bool,
}

/// What publishing did.
#[derive(Debug, Clone)]
pub struct Published {
    pub id: i64,
    pub published_at: DateTime<Utc>,
    /// Registrations a terms change will be mailed to.
    pub mails: u64,
    /// Registrations without a contact address: the terms change cannot be mailed to them
    /// (register one with `kirikae company --contact-email`, then publish again).
    pub without_contact: Vec<String>,
}

/// One notice as a user sees it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Notice {
    pub id: i64,
    pub published_at: DateTime<Utc>,
    pub title: String,
    /// Absent in the list; the detail has it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// 利用規約の変更: also mailed to every registration's contact.
    pub terms_change: bool,
    /// Whether this user has opened it.
    pub read: bool,
}

/// Publishes a notice (and, for a terms change, queues its mail to every registration that is
/// still a user of the hub: active or suspended, not ended). `by` names the operator.
pub async fn publish(
    pool: &Pool,
    settings: &Settings,
    notice: &NewNotice<'_>,
    by: &str,
) -> Result<Published, NoticeError> {
    if notice.title.trim().is_empty()
        || notice.title.chars().count() > 200
        || notice.body.trim().is_empty()
    {
        return Err(NoticeError::Empty);
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let row = tx
        .query_one(
            "INSERT INTO notices (title, body, terms_change, published_by)
             VALUES ($1, $2, $3, $4) RETURNING id, published_at",
            &[&notice.title, &notice.body, &notice.terms_change, &by],
        )
        .await?;
    let (id, published_at): (i64, DateTime<Utc>) = (row.get(0), row.get(1));
    let (mut mails, mut without_contact) = (0, Vec::new());
    if notice.terms_change {
        let (contacts, missing) = crate::accounts::registrations::contacts(&tx).await?;
        let due_at = published_at + chrono::Duration::days(i64::from(settings.terms_mail_days));
        for (code, address) in &contacts {
            tx.execute(
                "INSERT INTO notice_mails (notice_id, company_code, address, due_at)
                 VALUES ($1, $2, $3, $4)",
                &[&id, code, address, &due_at],
            )
            .await?;
        }
        mails = contacts.len() as u64;
        without_contact = missing;
    }
    audit::record_as(
        &tx,
        "-",
        by,
        "notice.publish",
        &id.to_string(),
        serde_json::json!({
            "title": notice.title,
            "terms_change": notice.terms_change,
            "mails": mails,
            "without_contact": without_contact,
        }),
    )
    .await?;
    tx.commit().await?;
    Ok(Published {
        id,
        published_at,
        mails,
        without_contact,
    })
}

/// インフォメーション一覧: every notice, newest first, with whether `user` has read it.
pub async fn list(pool: &Pool, user: &str) -> Result<Vec<Notice>, NoticeError> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT n.id, n.published_at, n.title, n.terms_change, r.user_id IS NOT NULL
             FROM notices n
             LEFT JOIN notice_reads r ON r.notice_id = n.id AND r.user_id = $1
             ORDER BY n.published_at DESC, n.id DESC",
            &[&user],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Notice {
            id: r.get(0),
            published_at: r.get(1),
            title: r.get(2),
            body: None,
            terms_change: r.get(3),
            read: r.get(4),
        })
        .collect())
}

/// One notice as the operator's `kirikae notice list` shows it.
#[derive(Debug, Clone)]
pub struct NoticeSummary {
    pub id: i64,
    pub published_at: DateTime<Utc>,
    pub terms_change: bool,
    pub title: String,
    /// Terms-change mails not yet accepted by the mail server.
    pub unsent_mails: i64,
}

/// Every notice, oldest first, with how many of its mails are still unsent.
pub async fn overview(pool: &Pool) -> Result<Vec<NoticeSummary>, NoticeError> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT n.id, n.published_at, n.terms_change, n.title,
                    count(m.*) FILTER (WHERE m.sent_at IS NULL)
             FROM notices n LEFT JOIN notice_mails m ON m.notice_id = n.id
             GROUP BY n.id ORDER BY n.id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| NoticeSummary {
            id: r.get(0),
            published_at: r.get(1),
            terms_change: r.get(2),
            title: r.get(3),
            unsent_mails: r.get(4),
        })
        .collect())
}

/// インフォメーション詳細: one notice, which counts as read by `user` from now on.
pub async fn read(pool: &Pool, user: &str, id: i64) -> Result<Option<Notice>, NoticeError> {
    let client = pool.get().await?;
    let Some(row) = client
        .query_opt(
            "SELECT id, published_at, title, body, terms_change FROM notices WHERE id = $1",
            &[&id],
        )
        .await?
    else {
        return Ok(None);
    };
    client
        .execute(
            "INSERT INTO notice_reads (notice_id, user_id) VALUES ($1, $2)
             ON CONFLICT DO NOTHING",
            &[&id, &user],
        )
        .await?;
    Ok(Some(Notice {
        id: row.get(0),
        published_at: row.get(1),
        title: row.get(2),
        body: Some(row.get(3)),
        terms_change: row.get(4),
        read: true,
    }))
}

/// What one round of the mailer did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MailRound {
    pub sent: u32,
    pub failed: u32,
    /// Still unsent after the round, and of those, past their due time.
    pub unsent: i64,
    pub overdue: i64,
}

/// Sends every unsent terms-change mail once (oldest due first), one row at a time under
/// `FOR UPDATE SKIP LOCKED` so that two mailers never send the same mail twice at once. A
/// failure is counted on the row and retried next round.
pub async fn send_due(pool: &Pool, mailer: &Mailer) -> Result<MailRound, NoticeError> {
    let mut round = MailRound::default();
    let mut client = pool.get().await?;
    // Rows that failed this round are not tried again until the next one.
    let mut failed: Vec<(i64, String)> = Vec::new();
    loop {
        let tx = client.transaction().await?;
        let skip_ids: Vec<i64> = failed.iter().map(|f| f.0).collect();
        let skip_codes: Vec<&str> = failed.iter().map(|f| f.1.as_str()).collect();
        let Some(row) = tx
            .query_opt(
                "SELECT m.notice_id, m.company_code, m.address, n.title, n.body,
                        n.published_at, c.name
                 FROM notice_mails m
                 JOIN notices n ON n.id = m.notice_id
                 JOIN companies c ON c.company_code = m.company_code
                 WHERE m.sent_at IS NULL
                   AND (m.notice_id, m.company_code) NOT IN
                       (SELECT * FROM unnest($1::bigint[], $2::text[]))
                 ORDER BY m.due_at, m.notice_id, m.company_code
                 LIMIT 1
                 FOR UPDATE OF m SKIP LOCKED",
                &[&skip_ids, &skip_codes],
            )
            .await?
        else {
            break;
        };
        let (id, code, address): (i64, String, String) = (row.get(0), row.get(1), row.get(2));
        let published: DateTime<Utc> = row.get(5);
        let published = published
            .with_timezone(&chrono::FixedOffset::east_opt(9 * 3600).expect("JST"))
            .format("%Y年%m月%d日")
            .to_string();
        let (subject, text) = crate::mail::terms_changed(
            &code,
            row.get::<_, &str>(6),
            row.get::<_, &str>(3),
            &published,
            row.get::<_, &str>(4),
        );
        match mailer.send(&address, &subject, text).await {
            Ok(()) => {
                tx.execute(
                    "UPDATE notice_mails SET sent_at = now(), attempts = attempts + 1,
                                             last_error = NULL
                     WHERE notice_id = $1 AND company_code = $2",
                    &[&id, &code],
                )
                .await?;
                audit::record_as(
                    &tx,
                    &code,
                    "kirikae",
                    "notice.mailed",
                    &id.to_string(),
                    serde_json::json!({ "address": address }),
                )
                .await?;
                round.sent += 1;
            }
            Err(e) => {
                tracing::warn!(error = %e, notice = id, company = %code, "terms notice not mailed; retried next round");
                tx.execute(
                    "UPDATE notice_mails SET attempts = attempts + 1, last_error = $3
                     WHERE notice_id = $1 AND company_code = $2",
                    &[&id, &code, &e.to_string()],
                )
                .await?;
                round.failed += 1;
                failed.push((id, code));
            }
        }
        tx.commit().await?;
    }
    let row = client
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE due_at < now())
             FROM notice_mails WHERE sent_at IS NULL",
            &[],
        )
        .await?;
    round.unsent = row.get(0);
    round.overdue = row.get(1);
    metrics::NoticeMailBacklog {
        unsent: round.unsent,
        overdue: round.overdue,
    }
    .emit();
    if round.overdue > 0 {
        tracing::error!(
            overdue = round.overdue,
            "terms-change mails are past the period the terms give"
        );
    }
    Ok(round)
}

/// The notice mailer: a round every `notice_mail_interval_ms`, until `shutdown`.
pub async fn run_mailer(
    settings: Settings,
    pool: Pool,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mailer = Mailer::new(&settings);
    // The first round one interval after the start, not at once: a process (or a test) that
    // starts the mailer knows no round runs before then.
    let every = std::time::Duration::from_millis(settings.notice_mail_interval_ms.max(10));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {}
        }
        if let Err(e) = send_due(&pool, &mailer).await {
            tracing::warn!(error = %e, "notice mailer round failed; next round again");
        }
    }
}
