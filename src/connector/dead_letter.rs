//! What a dead-letter record says about itself: its payload is the request exactly as consumed
//! (so `kirikae replay` can put it back), and its headers say why it failed and how it got
//! there — the error, the calls made, and where it was read from — so an operator can judge a
//! dead letter without digging through logs.

use chrono::{DateTime, SecondsFormat, Utc};

/// Header names, stable for tools that read the dead-letter topic.
pub const ERROR_KIND: &str = "kirikae-error-kind";
pub const ERROR_MESSAGE: &str = "kirikae-error-message";
pub const ATTEMPTS: &str = "kirikae-attempts";
pub const FIRST_ATTEMPT_AT: &str = "kirikae-first-attempt-at";
pub const LAST_ATTEMPT_AT: &str = "kirikae-last-attempt-at";
pub const SOURCE_TOPIC: &str = "kirikae-source-topic";
pub const SOURCE_PARTITION: &str = "kirikae-source-partition";
pub const SOURCE_OFFSET: &str = "kirikae-source-offset";

/// The calls made to the grid operator for one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct History {
    pub attempts: i32,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
}

impl History {
    /// One more call, made at `at`.
    pub fn called(&mut self, at: DateTime<Utc>) {
        self.attempts += 1;
        self.first.get_or_insert(at);
        self.last = Some(at);
    }
}

/// Where the failed record was consumed.
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub topic: &'a str,
    pub partition: i32,
    pub offset: i64,
}

/// Why the record is a dead letter: `kind` is a fixed label (`unreachable`, `timeout`,
/// `http_status`, `malformed`, `undecodable`), `message` the error's text.
#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: &'static str,
    pub message: String,
}

/// The headers of one dead letter; times are RFC 3339 UTC, absent when no call was made.
pub fn headers(
    failure: &Failure,
    history: &History,
    source: &Source,
) -> Vec<(&'static str, String)> {
    let time = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    let mut h = vec![
        (ERROR_KIND, failure.kind.to_string()),
        (ERROR_MESSAGE, failure.message.clone()),
        (ATTEMPTS, history.attempts.to_string()),
    ];
    h.extend(history.first.map(|t| (FIRST_ATTEMPT_AT, time(t))));
    h.extend(history.last.map(|t| (LAST_ATTEMPT_AT, time(t))));
    h.extend([
        (SOURCE_TOPIC, source.topic.to_string()),
        (SOURCE_PARTITION, source.partition.to_string()),
        (SOURCE_OFFSET, source.offset.to_string()),
    ]);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> Source<'static> {
        Source {
            topic: "kirikae.requests.08",
            partition: 2,
            offset: 41,
        }
    }

    #[test]
    fn a_dead_letter_carries_the_error_the_attempt_history_and_its_source() {
        let t0 = DateTime::parse_from_rfc3339("2026-04-01T00:00:00.250Z")
            .unwrap()
            .with_timezone(&Utc);
        let mut history = History::default();
        history.called(t0);
        history.called(t0 + chrono::Duration::seconds(3));
        let failure = Failure {
            kind: "timeout",
            message: "grid operator did not answer in time".into(),
        };
        let h = headers(&failure, &history, &source());
        let get = |name: &str| h.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_str());
        assert_eq!(get(ERROR_KIND), Some("timeout"));
        assert_eq!(
            get(ERROR_MESSAGE),
            Some("grid operator did not answer in time")
        );
        assert_eq!(get(ATTEMPTS), Some("2"));
        assert_eq!(get(FIRST_ATTEMPT_AT), Some("2026-04-01T00:00:00.250Z"));
        assert_eq!(get(LAST_ATTEMPT_AT), Some("2026-04-01T00:00:03.250Z"));
        assert_eq!(get(SOURCE_TOPIC), Some("kirikae.requests.08"));
        assert_eq!(get(SOURCE_PARTITION), Some("2"));
        assert_eq!(get(SOURCE_OFFSET), Some("41"));
    }

    #[test]
    fn a_record_never_sent_has_no_attempt_times() {
        let failure = Failure {
            kind: "undecodable",
            message: "not Avro".into(),
        };
        let h = headers(&failure, &History::default(), &source());
        assert!(
            h.iter()
                .all(|(n, _)| *n != FIRST_ATTEMPT_AT && *n != LAST_ATTEMPT_AT)
        );
        assert!(h.contains(&(ATTEMPTS, "0".into())));
    }
}
