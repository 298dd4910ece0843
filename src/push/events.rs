//! The events log (`events`): every status change of a registration's requests and
//! intermediations, appended in the transaction that stored the change, and read back in order
//! after a cursor.
//!
//! The appends read the row the status owner has just written (`requests`, `intermediations`)
//! by its id in SQL rather than calling its owner's code: the intermediation store calls in
//! here, so a call back into it would make a cycle of modules.

use deadpool_postgres::{GenericClient, Pool};
use serde::Serialize;
use uuid::Uuid;

use crate::domain::{CompanyCode, Refusal};

/// Taken by every append until its transaction commits, so that event ids become visible in
/// the order they were given: a reader that saw id n never meets a smaller id later.
const APPEND_LOCK: i64 = 0x6b69_7269_6576_6e74; // "kirievnt"

/// The lock is taken in the statement itself (`held`, joined before any row is inserted, so
/// before the rows' ids are drawn): one round trip per append rather than two.
///
/// A row already past `accepted` also gets its `accepted` event first (`s.first`), when that
/// generation has none yet: the projector reads the request and result topics apart, so a
/// result can be projected before its request record, and the feed must still show the request
/// accepted, before the rest.
const APPEND_REQUESTS: &str = "
    WITH held AS (SELECT pg_advisory_xact_lock($2))
    INSERT INTO events (company_code, kind, subject_id, generation, status, body)
    SELECT r.company_code, 'request', r.request_id, r.replay, s.status,
           jsonb_build_object('request_id', r.request_id, 'function', r.function,
               'service_id', r.service_id, 'area', r.area, 'supply_point_id', r.point_id,
               'status', s.status,
               'code', CASE WHEN s.first THEN NULL ELSE r.code END,
               'message', CASE WHEN s.first THEN NULL ELSE r.message END,
               'replay', r.replay)
      FROM held
           CROSS JOIN unnest($1::uuid[]) WITH ORDINALITY AS t(id, n)
           JOIN requests r ON r.request_id = t.id
           CROSS JOIN LATERAL (VALUES (0, 'accepted', true), (1, r.status, false))
                AS s(ord, status, first)
     WHERE NOT s.first OR r.status <> 'accepted'
     ORDER BY t.n, s.ord
    ON CONFLICT (company_code, subject_id, generation, status) DO NOTHING";

const APPEND_INTERMEDIATION: &str = "
    INSERT INTO events (company_code, kind, subject_id, generation, status, body)
    SELECT DISTINCT party, 'intermediation', i.intermediation_id, 0, i.state,
           jsonb_build_object('intermediation_id', i.intermediation_id,
               'intermediation_number', i.intermediation_number,
               'supply_point_id', i.point_id, 'area', i.area, 'state', i.state,
               'new_retailer_code', i.new_retailer_code,
               'current_retailer_code', i.current_retailer_code,
               'decline_reasons', i.decline_reasons)
      FROM intermediations i,
           unnest(ARRAY[i.new_retailer_code, i.current_retailer_code]) AS party
     WHERE i.intermediation_id = $1
    ON CONFLICT (company_code, subject_id, generation, status) DO NOTHING";

async fn lock_appends<C: GenericClient>(tx: &C) -> Result<(), tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await?;
    tx.execute(&stmt, &[&APPEND_LOCK]).await.map(|_| ())
}

/// Prepares [`append_requests`]'s statement on `tx`'s connection, so that it sends its one
/// statement the first time it is polled (the projector pipelines it with the rows' writes).
pub async fn prepare<C: GenericClient>(tx: &C) -> Result<(), tokio_postgres::Error> {
    tx.prepare_cached(APPEND_REQUESTS).await.map(|_| ())
}

/// Appends each request's current status as an event of its registration, unless that status
/// (in this replay generation) is already recorded: called by the projector right after it
/// wrote the rows, inside their transaction, so a redelivered record appends nothing. A row
/// past `accepted` whose generation has no `accepted` event yet (its result came first) gets
/// that one first, so the feed is complete and in order. One statement for all of `ids`, their
/// events in the order of `ids` (each id once).
pub async fn append_requests<C: GenericClient>(
    tx: &C,
    ids: &[Uuid],
) -> Result<(), tokio_postgres::Error> {
    let stmt = tx.prepare_cached(APPEND_REQUESTS).await?;
    tx.execute(&stmt, &[&ids, &APPEND_LOCK]).await.map(|_| ())
}

/// Appends the intermediation's current state as an event of each of its two parties (the new
/// and the current retailer), once per state.
pub async fn append_intermediation<C: GenericClient>(
    tx: &C,
    intermediation_id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    lock_appends(tx).await?;
    let stmt = tx.prepare_cached(APPEND_INTERMEDIATION).await?;
    tx.execute(&stmt, &[&intermediation_id]).await.map(|_| ())
}

/// A position in a registration's feed: the id of the last event seen (0 before the first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Cursor(i64);

impl Cursor {
    pub const START: Cursor = Cursor(0);

    /// A cursor as the feed gave it (`next`, an event's `id`): decimal digits, nothing else.
    pub fn parse(s: &str) -> Result<Cursor, Refusal> {
        let s = s.trim();
        if s.is_empty() || s.len() > 18 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Refusal::InvalidEventCursor(s.chars().take(40).collect()));
        }
        s.parse()
            .map(Cursor)
            .map_err(|_| Refusal::InvalidEventCursor(s.into()))
    }

    pub fn value(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One status change as the feed, the stream and a webhook show it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// The event's cursor: pass it as `after` (or `Last-Event-ID`) to resume after it. Also the
    /// webhook's `Kirikae-Event-Id`, for deduplication.
    #[schema(example = "1042")]
    pub id: String,
    /// `request` or `intermediation`.
    #[schema(example = "request")]
    pub kind: String,
    /// The request id or intermediation id.
    pub subject_id: Uuid,
    /// The new status (a request's: accepted, sent, completed, rejected, failed; an
    /// intermediation's: awaiting_decision, approved, declined, expired, withdrawn).
    #[schema(example = "completed")]
    pub status: String,
    /// When the hub stored the change.
    pub at: chrono::DateTime<chrono::Utc>,
    /// What the status API shows of the subject at this change (its `result` aside: read it
    /// with `GET /api/v1/requests/{request_id}`).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

impl Event {
    pub fn cursor(&self) -> Cursor {
        Cursor(self.id.parse().unwrap_or_default())
    }
}

const COLUMNS: &str = "id, kind, subject_id, status, at, body";

fn event(r: &tokio_postgres::Row) -> Event {
    Event {
        id: r.get::<_, i64>(0).to_string(),
        kind: r.get(1),
        subject_id: r.get(2),
        status: r.get(3),
        at: r.get(4),
        data: r.get(5),
    }
}

/// Up to `limit` events of `company` after `after`, oldest first.
pub async fn after(
    pool: &Pool,
    company: &CompanyCode,
    after: Cursor,
    limit: i64,
) -> Result<Vec<Event>, Refusal> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE company_code = $1 AND id > $2 ORDER BY id LIMIT $3"
        ))
        .await?;
    let rows = client
        .query(&stmt, &[&company.as_str(), &after.0, &limit])
        .await?;
    Ok(rows.iter().map(event).collect())
}

/// The next event of `company` after `after`, if any (what a webhook delivers next).
pub async fn next_of<C: GenericClient>(
    client: &C,
    company: &str,
    after: i64,
) -> Result<Option<Event>, tokio_postgres::Error> {
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE company_code = $1 AND id > $2 ORDER BY id LIMIT 1"
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&company, &after])
        .await?
        .as_ref()
        .map(event))
}

/// The id of `company`'s latest event (0 when none): where a new webhook starts.
pub async fn latest<C: GenericClient>(
    client: &C,
    company: &str,
) -> Result<i64, tokio_postgres::Error> {
    let row = client
        .query_one(
            "SELECT COALESCE(max(id), 0) FROM events WHERE company_code = $1",
            &[&company],
        )
        .await?;
    Ok(row.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_is_decimal_digits_only() {
        assert_eq!(Cursor::parse("0").unwrap(), Cursor::START);
        assert_eq!(Cursor::parse("1042").unwrap().value(), 1042);
        for bad in [
            "",
            "-1",
            "1e3",
            "abc",
            "12 3",
            "0x10",
            "9999999999999999999",
        ] {
            match Cursor::parse(bad) {
                Err(Refusal::InvalidEventCursor(_)) => {}
                other => panic!("{bad:?} gave {other:?}"),
            }
        }
    }
}
