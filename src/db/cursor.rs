//! The keyset cursor of the list queries (requests, intermediations): the last item's time and
//! id, opaque to callers, which continue after it with `(time, id) < (…)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::Refusal;

/// The cursor that continues after the item at (`at`, `id`).
pub fn encode(at: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{id}", at.timestamp_micros()))
}

/// The (time, id) a cursor from [`encode`] names; `None` for anything else.
pub fn decode(c: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    let (micros, id) = raw.split_once('|')?;
    Some((
        DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id.parse().ok()?,
    ))
}

/// A caller's `cursor`, or 422 `invalid_cursor`.
pub fn after(c: &str) -> Result<(DateTime<Utc>, Uuid), Refusal> {
    decode(c).ok_or_else(|| {
        Refusal::invalid(
            "cursor",
            "invalid_cursor",
            "cursor が正しくありません",
            "cursor is not one this API returned",
        )
    })
}

/// A page's size: `limit` from 1 to 1000 (100 when not given), or 422 `invalid_limit`.
pub fn page_limit(limit: Option<i64>) -> Result<i64, Refusal> {
    let limit = limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(Refusal::invalid(
            "limit",
            "invalid_limit",
            "limit は1〜1000で指定してください",
            "limit must be 1 to 1000",
        ));
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_cursor_round_trips_and_garbage_is_refused() {
        let at = chrono::DateTime::from_timestamp_micros(1_764_000_000_123_456).unwrap();
        let id = uuid::Uuid::now_v7();
        assert_eq!(super::decode(&super::encode(at, id)), Some((at, id)));
        assert_eq!(super::decode("not-a-cursor"), None);
    }
}
