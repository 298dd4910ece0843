//! Maintenance windows: the hub operator closes the whole API for a while, and the API asks
//! which window is in force.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::registrations::{RegistrationError, operator};
use crate::audit;
use crate::domain::Refusal;

/// A planned closure of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaintenanceWindow {
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub message: String,
}

/// Closes the API from `from` (now when not given) until `until`.
pub async fn start_maintenance(
    pool: &Pool,
    from: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    message: &str,
) -> Result<(), RegistrationError> {
    start_maintenance_by(pool, from, until, message, &operator()).await
}

/// [`start_maintenance`] by the operator `by` (a signed-in operator on its screens). A window
/// that ends before it starts is refused.
pub async fn start_maintenance_by(
    pool: &Pool,
    from: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    message: &str,
    by: &str,
) -> Result<(), RegistrationError> {
    let from = from.unwrap_or_else(Utc::now);
    if until <= from {
        return Err(RegistrationError::Refused(Refusal::invalid(
            "until",
            "maintenance_window_empty",
            "終了日時は開始日時より後にしてください",
            "the window must end after it starts",
        )));
    }
    let mut client = pool.get().await?;
    let client = client.transaction().await?;
    let id: i64 = client
        .query_one(
            "INSERT INTO maintenance (starts_at, ends_at, message) VALUES ($1, $2, $3) RETURNING id",
            &[&from, &until, &message],
        )
        .await?
        .get(0);
    audit::record_as(
        &client,
        "-",
        by,
        "maintenance.start",
        &id.to_string(),
        serde_json::json!({"from": from, "until": until, "message": message}),
    )
    .await?;
    client.commit().await?;
    Ok(())
}

/// Ends every current or planned maintenance window now; returns how many.
pub async fn stop_maintenance(pool: &Pool) -> Result<u64, RegistrationError> {
    stop_maintenance_by(pool, &operator()).await
}

/// [`stop_maintenance`] by the operator `by`.
pub async fn stop_maintenance_by(pool: &Pool, by: &str) -> Result<u64, RegistrationError> {
    let mut client = pool.get().await?;
    let client = client.transaction().await?;
    let n = client
        .execute(
            "UPDATE maintenance SET stopped_at = now()
             WHERE stopped_at IS NULL AND ends_at > now()",
            &[],
        )
        .await?;
    audit::record_as(
        &client,
        "-",
        by,
        "maintenance.stop",
        "*",
        serde_json::json!({"windows": n}),
    )
    .await?;
    client.commit().await?;
    Ok(n)
}

/// The maintenance window in force now, if any (the latest-ending one).
pub async fn active_maintenance(pool: &Pool) -> Result<Option<MaintenanceWindow>, Refusal> {
    let row = pool
        .get()
        .await?
        .query_opt(
            "SELECT starts_at, ends_at, message FROM maintenance
             WHERE stopped_at IS NULL AND starts_at <= now() AND ends_at > now()
             ORDER BY ends_at DESC LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map(|r| MaintenanceWindow {
        starts_at: r.get(0),
        ends_at: r.get(1),
        message: r.get(2),
    }))
}

/// The maintenance windows not yet over (in force or planned), soonest first: what the
/// operator's screen lists.
pub async fn upcoming_maintenance(pool: &Pool) -> Result<Vec<MaintenanceWindow>, Refusal> {
    let rows = pool
        .get()
        .await?
        .query(
            "SELECT starts_at, ends_at, message FROM maintenance
             WHERE stopped_at IS NULL AND ends_at > now()
             ORDER BY starts_at, ends_at",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| MaintenanceWindow {
            starts_at: r.get(0),
            ends_at: r.get(1),
            message: r.get(2),
        })
        .collect())
}

/// Parses a CLI time: RFC 3339 (`2026-05-01T06:00:00+09:00`), a date (midnight UTC), or a
/// duration from now (`30m`, `2h`, `1d`).
pub fn parse_time(s: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(d.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
    }
    let (n, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = n
        .parse()
        .map_err(|_| format!("not a time: {s:?} (RFC 3339, YYYY-MM-DD, or 30m/2h/1d)"))?;
    let d = match unit {
        "s" => chrono::Duration::seconds(n),
        "m" => chrono::Duration::minutes(n),
        "h" => chrono::Duration::hours(n),
        "d" => chrono::Duration::days(n),
        _ => {
            return Err(format!(
                "not a time: {s:?} (RFC 3339, YYYY-MM-DD, or 30m/2h/1d)"
            ));
        }
    };
    Ok(now + d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_times_are_rfc3339_dates_or_durations_from_now() {
        let now = DateTime::parse_from_rfc3339("2026-05-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_time("2026-05-01T09:00:00+09:00", now).unwrap(), now);
        assert_eq!(parse_time("2026-05-01", now).unwrap(), now);
        assert_eq!(
            parse_time("2h", now).unwrap(),
            now + chrono::Duration::hours(2)
        );
        assert!(parse_time("soon", now).is_err());
    }
}
