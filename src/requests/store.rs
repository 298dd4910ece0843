//! Every statement on the `requests` table: the `accepted` row (written by the API just before
//! it produces the record, and by the projector from the topic: the same statement), the
//! projector's status upserts, and the reads of the status queries.
//!
//! Every write is idempotent: a request row is inserted once, and a result only moves a
//! request's status forward (by rank), so redeliveries and rebuilds change nothing. A request
//! replayed from the dead-letter topic comes back with a higher `replay` generation: it resets
//! the row to `accepted`, and results of older generations no longer count.

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::listing::ListFilters;
use super::view::RequestView;
use crate::domain::{CompanyCode, Function, RequestId, RequestStatus};
use crate::messages::{RequestRecord, ResultRecord};

/// The `accepted` rows of requests, given column by column. A row a result created first (its
/// `user_id` still empty) is completed; any other existing row is left as it is.
macro_rules! insert_requests {
    () => {
        "INSERT INTO requests (request_id, company_code, user_id, function, service_id, area,
                               point_id, update_flag, original_request_id, status, status_rank,
                               accepted_at, replay)
         SELECT id, company, usr, function, service, area, point, flag, original, 'accepted', 0,
                accepted, replay
           FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $8::text[], $9::uuid[], $10::timestamptz[], $11::int[])
                AS r(id, company, usr, function, service, area, point, flag, original, accepted,
                     replay)
         ON CONFLICT (request_id) DO UPDATE
           SET user_id = EXCLUDED.user_id, accepted_at = EXCLUDED.accepted_at,
               update_flag = EXCLUDED.update_flag, original_request_id = EXCLUDED.original_request_id
           WHERE requests.user_id = ''"
    };
}
const INSERT_REQUESTS: &str = insert_requests!();

/// [`INSERT_REQUESTS`], and of each id given whether this statement wrote its row, and the
/// status of a row already there (read from the statement's snapshot, before the insert).
const INSERT_NEW_REQUESTS: &str = concat!(
    "WITH written AS (",
    insert_requests!(),
    " RETURNING request_id)
     SELECT written.request_id IS NOT NULL, r.status
       FROM unnest($1::uuid[]) WITH ORDINALITY AS given(id, n)
       LEFT JOIN written ON written.request_id = given.id
       LEFT JOIN requests r ON r.request_id = given.id
      ORDER BY given.n"
);

const RESET_FOR_REPLAY: &str = "
    UPDATE requests
       SET replay = $2, status = 'accepted', status_rank = 0, code = NULL, message = NULL,
           result = NULL, attempts = 0, sent_at = NULL, finished_at = NULL, updated_at = now()
     WHERE request_id = $1 AND replay < $2";

/// The status upsert of many results, given column by column (at most one per request: see
/// [`upsert_results`]). A result moves its row forward only: to a newer replay generation, to a
/// higher rank, or — a `sent` event with a code (held by the operator, and at which stage) says
/// more than the plain `sent` before it — to a held `sent`. It creates the row should the
/// result come before its request record.
const UPSERT_RESULTS: &str = "
    INSERT INTO requests AS r (request_id, company_code, user_id, function, service_id, area,
                               point_id, update_flag, status, status_rank, code, message, attempts,
                               result, accepted_at, sent_at, finished_at, replay)
    SELECT id, company, '', function, service, area, point, 'register', status, rank, code,
           message, attempts, result, sent, sent, CASE WHEN rank = 2::smallint THEN occurred END,
           replay
      FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                  $7::text[], $8::smallint[], $9::text[], $10::text[], $11::int[], $12::jsonb[],
                  $13::timestamptz[], $14::timestamptz[], $15::int[])
           AS x(id, company, function, service, area, point, status, rank, code, message,
                attempts, result, occurred, sent, replay)
    ON CONFLICT (request_id) DO UPDATE
      SET status = EXCLUDED.status, status_rank = EXCLUDED.status_rank, code = EXCLUDED.code,
          message = EXCLUDED.message, attempts = EXCLUDED.attempts, result = EXCLUDED.result,
          sent_at = CASE WHEN r.replay < EXCLUDED.replay THEN EXCLUDED.sent_at
                         ELSE COALESCE(r.sent_at, EXCLUDED.sent_at) END,
          finished_at = EXCLUDED.finished_at, replay = EXCLUDED.replay, updated_at = now()
      WHERE r.replay < EXCLUDED.replay
         OR (r.replay = EXCLUDED.replay AND r.status_rank < EXCLUDED.status_rank)
         OR (r.replay = EXCLUDED.replay AND r.status_rank = EXCLUDED.status_rank
             AND EXCLUDED.status = 'sent' AND EXCLUDED.code IS NOT NULL)";

const COLUMNS: &str = "request_id, function, service_id, area, point_id, update_flag, status, code,
    message, attempts, result, user_id, accepted_at, sent_at, finished_at, replay";

/// Prepares the projector's statements on `tx`'s connection (once per connection; after that
/// nothing is sent), so that [`insert_requests`] and [`upsert_results`] each send their one
/// statement the first time they are polled: the projector pipelines them in order.
pub async fn prepare<C: GenericClient>(tx: &C) -> Result<(), tokio_postgres::Error> {
    tx.prepare_cached(INSERT_REQUESTS).await?;
    tx.prepare_cached(UPSERT_RESULTS).await?;
    Ok(())
}

/// Inserts a request's row as `accepted` (or completes one a result created first).
pub async fn insert_request<C: GenericClient>(
    tx: &C,
    r: &RequestRecord,
) -> Result<(), tokio_postgres::Error> {
    insert_requests(tx, &[r]).await?;
    if r.replay > 0 {
        let stmt = tx.prepare_cached(RESET_FOR_REPLAY).await?;
        tx.execute(&stmt, &[&r.request_id.as_uuid(), &r.replay])
            .await?;
    }
    Ok(())
}

/// Inserts the `accepted` rows of `records` with one statement, as the accept path's group
/// commit and the projector's runs write them (a replay also needs [`insert_request`]'s reset).
pub async fn insert_requests<C: GenericClient>(
    tx: &C,
    records: &[&RequestRecord],
) -> Result<(), tokio_postgres::Error> {
    let records = distinct(records);
    let stmt = tx.prepare_cached(INSERT_REQUESTS).await?;
    tx.execute(&stmt, &columns(&records).params()).await?;
    Ok(())
}

/// What [`insert_new_requests`] found of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prior {
    /// Its row is written now.
    None,
    /// Its row was there already, with this status.
    Recorded(RequestStatus),
}

/// Inserts the `accepted` rows of `records` (whose ids must be distinct) as
/// [`insert_requests`] does, and says for each, in order, whether its row was already there
/// and at what status: for a caller that files under ids it chose, and may file one again.
pub async fn insert_new_requests<C: GenericClient>(
    tx: &C,
    records: &[&RequestRecord],
) -> Result<Vec<Prior>, tokio_postgres::Error> {
    let stmt = tx.prepare_cached(INSERT_NEW_REQUESTS).await?;
    let rows = tx.query(&stmt, &columns(records).params()).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let status: Option<String> = row.get(1);
            match (row.get::<_, bool>(0), status.and_then(|s| s.parse().ok())) {
                (false, Some(status)) => Prior::Recorded(status),
                _ => Prior::None,
            }
        })
        .collect())
}

/// One row per request id: a statement may not touch a row twice.
fn distinct<'a>(records: &[&'a RequestRecord]) -> Vec<&'a RequestRecord> {
    let mut seen = std::collections::HashSet::new();
    records
        .iter()
        .copied()
        .filter(|r| seen.insert(r.request_id))
        .collect()
}

/// The parameters of [`INSERT_REQUESTS`], column by column.
struct Columns<'a> {
    ids: Vec<Uuid>,
    companies: Vec<&'a str>,
    users: Vec<&'a str>,
    functions: Vec<&'a str>,
    services: Vec<&'a str>,
    areas: Vec<&'a str>,
    points: Vec<&'a str>,
    flags: Vec<&'a str>,
    originals: Vec<Option<Uuid>>,
    accepted: Vec<DateTime<Utc>>,
    replays: Vec<i32>,
}

fn columns<'a>(records: &[&'a RequestRecord]) -> Columns<'a> {
    let text = |f: fn(&'a RequestRecord) -> &'a str| records.iter().map(|r| f(r)).collect();
    Columns {
        ids: records.iter().map(|r| r.request_id.as_uuid()).collect(),
        companies: text(|r| r.company_code.as_str()),
        users: text(|r| &r.user_id),
        functions: text(|r| r.function.slug()),
        services: text(|r| r.function.service_id()),
        areas: text(|r| r.area().code()),
        points: text(|r| r.point_id.as_str()),
        flags: text(|r| r.update_flag.as_str()),
        originals: records
            .iter()
            .map(|r| r.original_request_id.map(|i| i.as_uuid()))
            .collect(),
        accepted: records.iter().map(|r| r.accepted_at).collect(),
        replays: records.iter().map(|r| r.replay).collect(),
    }
}

impl Columns<'_> {
    fn params(&self) -> [&(dyn ToSql + Sync); 11] {
        [
            &self.ids,
            &self.companies,
            &self.users,
            &self.functions,
            &self.services,
            &self.areas,
            &self.points,
            &self.flags,
            &self.originals,
            &self.accepted,
            &self.replays,
        ]
    }
}

/// Removes the `accepted` row the API wrote before producing a record the broker then did not
/// acknowledge (the submission is answered 503 and nothing of it is on the broker). A row a
/// result has since moved on (the record did arrive after all) stays.
pub async fn forget_unsent<C: GenericClient>(
    client: &C,
    id: RequestId,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "DELETE FROM requests WHERE request_id = $1 AND status = 'accepted' AND replay = 0",
            &[&id.as_uuid()],
        )
        .await
        .map(|_| ())
}

/// Whether result `b` moves a row past what result `a` (of the same request) left it at: the
/// rule of [`UPSERT_RESULTS`], so that applying only the later of the two gives the same row.
fn supersedes(b: &ResultRecord, a: &ResultRecord) -> bool {
    let (rank_a, rank_b) = (
        a.status.request_status().rank(),
        b.status.request_status().rank(),
    );
    b.replay > a.replay
        || (b.replay == a.replay && rank_b > rank_a)
        || (b.replay == a.replay
            && rank_b == rank_a
            && b.status == crate::messages::ResultStatus::Sent
            && b.code.is_some())
}

/// Of `results`, in the order given, what each request comes to: the result that leaves its row
/// where applying them all one after the other would, and the earliest time among that
/// generation's results (its `sent_at`). In first-seen order of the requests.
fn last_word<'a>(results: &[&'a ResultRecord]) -> Vec<(&'a ResultRecord, DateTime<Utc>)> {
    let mut at: std::collections::HashMap<RequestId, usize> = Default::default();
    let mut words: Vec<(&ResultRecord, DateTime<Utc>)> = Vec::new();
    for &r in results {
        match at.get(&r.request_id) {
            None => {
                at.insert(r.request_id, words.len());
                words.push((r, r.occurred_at));
            }
            Some(&i) => {
                let (word, first) = &mut words[i];
                if r.replay > word.replay {
                    *first = r.occurred_at;
                } else if r.replay == word.replay {
                    *first = (*first).min(r.occurred_at);
                }
                if supersedes(r, word) {
                    *word = r;
                }
            }
        }
    }
    words
}

/// Moves each request's status forward to what `results` (in the order read) report, creating
/// a row should a result come before its request record: one statement for them all.
pub async fn upsert_results<C: GenericClient>(
    tx: &C,
    results: &[&ResultRecord],
) -> Result<(), tokio_postgres::Error> {
    let words = last_word(results);
    let text = |f: fn(&ResultRecord) -> &str| words.iter().map(|(r, _)| f(r)).collect::<Vec<_>>();
    let ids: Vec<Uuid> = words.iter().map(|(r, _)| r.request_id.as_uuid()).collect();
    let statuses: Vec<RequestStatus> = words
        .iter()
        .map(|(r, _)| r.status.request_status())
        .collect();
    let status_names: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
    let ranks: Vec<i16> = statuses.iter().map(|s| s.rank()).collect();
    let codes: Vec<Option<&str>> = words.iter().map(|(r, _)| r.code.as_deref()).collect();
    let messages: Vec<Option<&str>> = words.iter().map(|(r, _)| r.message.as_deref()).collect();
    let attempts: Vec<i32> = words.iter().map(|(r, _)| r.attempts).collect();
    let payloads: Vec<Option<serde_json::Value>> = words
        .iter()
        .map(|(r, _)| r.payload.as_ref().map(|p| p.to_json()))
        .collect();
    let occurred: Vec<DateTime<Utc>> = words.iter().map(|(r, _)| r.occurred_at).collect();
    let sent: Vec<DateTime<Utc>> = words.iter().map(|(_, first)| *first).collect();
    let replays: Vec<i32> = words.iter().map(|(r, _)| r.replay).collect();
    let stmt = tx.prepare_cached(UPSERT_RESULTS).await?;
    tx.execute(
        &stmt,
        &[
            &ids,
            &text(|r| r.company_code.as_str()),
            &text(|r| r.function.slug()),
            &text(|r| r.function.service_id()),
            &text(|r| r.point_id.area().code()),
            &text(|r| r.point_id.as_str()),
            &status_names,
            &ranks,
            &codes,
            &messages,
            &attempts,
            &payloads,
            &occurred,
            &sent,
            &replays,
        ],
    )
    .await?;
    Ok(())
}

/// What an amendment is checked against: the original's function, point and status.
pub struct Original {
    pub function: String,
    pub point_id: String,
    pub status: Option<RequestStatus>,
}

/// The application `id` of `company`, if it filed one.
pub async fn original<C: GenericClient>(
    client: &C,
    company: &CompanyCode,
    id: RequestId,
) -> Result<Option<Original>, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT function, point_id, status FROM requests
             WHERE request_id = $1 AND company_code = $2",
            &[&id.as_uuid(), &company.as_str()],
        )
        .await?;
    Ok(row.map(|r| Original {
        function: r.get(0),
        point_id: r.get(1),
        status: r.get::<_, String>(2).parse().ok(),
    }))
}

/// Whether request `id` is still `failed` in generation `replay`: only such a request is
/// replayed from the dead-letter topic.
pub async fn failed_in<C: GenericClient>(
    client: &C,
    id: RequestId,
    replay: i32,
) -> Result<bool, tokio_postgres::Error> {
    let row = client
        .query_opt(
            "SELECT 1 FROM requests WHERE request_id = $1 AND status = 'failed' AND replay = $2",
            &[&id.as_uuid(), &replay],
        )
        .await?;
    Ok(row.is_some())
}

/// How many requests of each area are `failed` in their newest generation: what the area's
/// dead-letter topic holds that `kirikae replay` would put back. Areas with none are absent.
pub async fn failed_by_area<C: GenericClient>(
    client: &C,
) -> Result<Vec<(String, i64)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT area, count(*) FROM requests WHERE status = 'failed' GROUP BY area",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The newest `limit` requests of `area` still `failed`, as rows of (request id, company,
/// function, point, replay, code, message, accepted at).
pub async fn failed_of_area<C: GenericClient>(
    client: &C,
    area: &str,
    limit: i64,
) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
    client
        .query(
            "SELECT request_id, company_code, function, point_id, replay, code, message,
                    accepted_at
             FROM requests WHERE area = $1 AND status = 'failed'
             ORDER BY accepted_at DESC LIMIT $2",
            &[&area, &limit],
        )
        .await
}

/// One request of `company`; another company's is not found.
pub async fn one<C: GenericClient>(
    client: &C,
    company: &CompanyCode,
    id: Uuid,
) -> Result<Option<RequestView>, tokio_postgres::Error> {
    let sql = format!("SELECT {COLUMNS} FROM requests WHERE request_id = $1 AND company_code = $2");
    let row = client.query_opt(&sql, &[&id, &company.as_str()]).await?;
    Ok(row.map(view))
}

/// The requests of `company` among `ids` (a bulk batch's filed rows), in any order.
pub async fn many<C: GenericClient>(
    client: &C,
    company: &CompanyCode,
    ids: &[Uuid],
) -> Result<Vec<RequestView>, tokio_postgres::Error> {
    let sql =
        format!("SELECT {COLUMNS} FROM requests WHERE request_id = ANY($1) AND company_code = $2");
    let rows = client.query(&sql, &[&ids, &company.as_str()]).await?;
    Ok(rows.into_iter().map(view).collect())
}

/// How many of `company`'s requests among `ids` (a bulk batch's filed rows) are in each
/// status: one aggregate, so a batch's progress polled every second costs a count, not a read
/// of every request. A status PostgreSQL holds that this build does not know counts as failed.
pub async fn count_by_status<C: GenericClient>(
    client: &C,
    company: &CompanyCode,
    ids: &[Uuid],
) -> Result<Vec<(RequestStatus, i64)>, tokio_postgres::Error> {
    let rows = client
        .query(
            "SELECT status, count(*) FROM requests
             WHERE request_id = ANY($1) AND company_code = $2 GROUP BY status",
            &[&ids, &company.as_str()],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let status: &str = r.get(0);
            let status = status.parse().unwrap_or(RequestStatus::Failed);
            (status, r.get(1))
        })
        .collect())
}

/// Up to `limit` requests matching `f`, newest first, after `f`'s cursor.
pub async fn list<C: GenericClient>(
    client: &C,
    f: &ListFilters,
    limit: i64,
) -> Result<Vec<RequestView>, tokio_postgres::Error> {
    let mut w = Where::default();
    w.eq("company_code", f.company.to_string());
    if let Some(s) = f.status {
        w.eq("status", s.as_str());
    }
    if let Some(class) = f.class {
        let slugs: Vec<&str> = Function::ALL
            .iter()
            .filter(|f| f.class() == class)
            .map(|f| f.slug())
            .collect();
        let p = w.bind(slugs);
        w.clauses.push(format!("function = ANY({p})"));
    }
    if let Some(func) = f.function {
        w.eq("function", func.slug());
    }
    if let Some(a) = f.area {
        w.eq("area", a.code());
    }
    if let Some(p) = &f.point {
        w.eq("point_id", p.to_string());
    }
    if let Some(since) = f.accepted_since {
        let p = w.bind(since);
        w.clauses.push(format!("accepted_at >= {p}"));
    }
    if let Some(before) = f.accepted_before {
        let p = w.bind(before);
        w.clauses.push(format!("accepted_at < {p}"));
    }
    if let Some((at, id)) = f.after {
        let (at, id) = (w.bind(at), w.bind(id));
        w.clauses
            .push(format!("(accepted_at, request_id) < ({at}, {id})"));
    }
    let limit = w.bind(limit);
    let sql = format!(
        "SELECT {COLUMNS} FROM requests WHERE {} ORDER BY accepted_at DESC, request_id DESC LIMIT {limit}",
        w.clauses.join(" AND "),
    );
    let params: Vec<&(dyn ToSql + Sync)> = w
        .params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = client.query(&sql, &params).await?;
    Ok(rows.into_iter().map(view).collect())
}

/// A WHERE clause built from typed filters only: every value is a bound parameter.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Where {
    /// Binds `value`; returns its placeholder.
    fn bind(&mut self, value: impl ToSql + Sync + Send + 'static) -> String {
        self.params.push(Box::new(value));
        format!("${}", self.params.len())
    }

    fn eq(&mut self, column: &str, value: impl ToSql + Sync + Send + 'static) {
        let p = self.bind(value);
        self.clauses.push(format!("{column} = {p}"));
    }
}

fn view(r: Row) -> RequestView {
    let function: String = r.get(1);
    let status: String = r.get(6);
    RequestView {
        request_id: r.get(0),
        function_name_ja: function.parse::<Function>().map_or("", |f| f.name_ja()),
        function,
        service_id: r.get(2),
        area: r.get(3),
        supply_point_id: r.get(4),
        update_flag: r.get(5),
        status_ja: status.parse::<RequestStatus>().map_or("", |s| s.label_ja()),
        status,
        code: r.get(7),
        message: r.get(8),
        attempts: r.get(9),
        result: r.get(10),
        user_id: r.get(11),
        accepted_at: r.get(12),
        sent_at: r.get(13),
        finished_at: r.get(14),
        replay: r.get(15),
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::messages::{FacilityInquiry, Payload, ResultStatus, fixtures};

    fn result_of(request: &RequestRecord, status: ResultStatus, secs: i64) -> ResultRecord {
        let mut r = ResultRecord::for_request(request, status, 1);
        r.occurred_at = request.accepted_at + Duration::seconds(secs);
        r
    }

    fn request() -> RequestRecord {
        let mut r = fixtures::request_at(
            "0600123456789012340001",
            Payload::FacilityInquiry(FacilityInquiry {}),
        );
        r.request_id = RequestId::new();
        r
    }

    #[test]
    fn a_run_of_results_comes_to_what_applying_them_one_by_one_would() {
        let (a, b) = (request(), request());
        let sent = result_of(&a, ResultStatus::Sent, 1);
        let done = result_of(&a, ResultStatus::Completed, 2);
        let mut held = result_of(&b, ResultStatus::Sent, 3);
        held.code = Some("held".into());
        let plain = result_of(&b, ResultStatus::Sent, 1);
        // A late plain `sent` neither undoes an answer nor a held `sent`.
        let late = result_of(&a, ResultStatus::Sent, 4);
        let words = last_word(&[&sent, &plain, &done, &held, &late]);
        let got: Vec<_> = words
            .iter()
            .map(|(r, first)| (r.request_id, r.status, r.code.clone(), *first))
            .collect();
        assert_eq!(
            got,
            [
                (
                    a.request_id,
                    ResultStatus::Completed,
                    None,
                    sent.occurred_at
                ),
                (
                    b.request_id,
                    ResultStatus::Sent,
                    Some("held".into()),
                    plain.occurred_at
                ),
            ]
        );
    }

    #[test]
    fn a_result_of_a_newer_replay_generation_wins_and_its_own_times_count() {
        let a = request();
        let done = result_of(&a, ResultStatus::Failed, 1);
        let mut again = a.clone();
        again.replay = 1;
        let retried = result_of(&again, ResultStatus::Completed, 9);
        let words = last_word(&[&done, &retried]);
        assert_eq!(words.len(), 1);
        assert_eq!(
            (words[0].0.replay, words[0].0.status),
            (1, ResultStatus::Completed)
        );
        assert_eq!(words[0].1, retried.occurred_at);
    }
}
