//! スイッチング廃止取次 (switching intermediation between retailers, IS_20110 … IS_20410).
//!
//! The new retailer registers an intermediation for a point; the hub addresses it to the
//! current retailer, who approves or declines it with reasons; an undecided one expires after a
//! number of business days; the new retailer may withdraw a pending one. Every state change is
//! one [`IntermediationEvent`] on `<prefix>.intermediations`, keyed by the point id, and the
//! projector folds the events into the current state with [`transition`]: a pure function, so
//! replaying the topic gives the same state.
//!
//! This file holds the state machine; `rules` checks what a retailer sends, `commands` turns a
//! party's command into its event (claim, audit, produce), `queries` answers each party's
//! reads, `register` is the registration's part of
//! them, `quoted` checks a 廃止取次番号 quoted on a switch, `store` is the PostgreSQL side of
//! the state and `expiry` the job that ends undecided ones.

pub mod commands;
pub mod expiry;
mod keys;
pub mod queries;
pub mod quoted;
mod register;
pub mod rules;
pub mod store;

use chrono::{DateTime, Duration, FixedOffset, SubsecRound, TimeZone, Utc};
use uuid::Uuid;

use crate::domain::{BusinessCalendar, SupplyPointId};
pub use crate::messages::intermediation_event::{
    DeclineReason, EventKind, IntermediationEvent, IntermediationPointClass, REASONS, ReasonSpec,
};
pub use commands::{Intermediations, Registered, Transitioned};
pub use queries::{ListFilter, Role};
pub use quoted::{QuotedBy, check_quoted};
pub use rules::{Decision, DecisionBody, NOTE_MAX, Registration, RegistrationBody, WithdrawalBody};

/// The actor of a change the hub makes itself (expiry).
pub const SYSTEM_ACTOR: &str = "SYSTEM";

/// Where an intermediation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    AwaitingDecision,
    Approved,
    Declined,
    Expired,
    Withdrawn,
}

impl State {
    pub const ALL: [State; 5] = [
        State::AwaitingDecision,
        State::Approved,
        State::Declined,
        State::Expired,
        State::Withdrawn,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            State::AwaitingDecision => "awaiting_decision",
            State::Approved => "approved",
            State::Declined => "declined",
            State::Expired => "expired",
            State::Withdrawn => "withdrawn",
        }
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            State::AwaitingDecision => "判断待ち",
            State::Approved => "承諾",
            State::Declined => "否認",
            State::Expired => "期限切れ",
            State::Withdrawn => "取下げ",
        }
    }

    pub fn parse(s: &str) -> Option<State> {
        State::ALL.into_iter().find(|x| x.as_str() == s)
    }

    pub fn is_final(self) -> bool {
        self != State::AwaitingDecision
    }
}

/// A transition the state machine does not allow; the projector logs and ignores it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionRefused {
    #[error("intermediation already registered")]
    AlreadyRegistered,
    #[error("no such intermediation (not registered)")]
    NotRegistered,
    #[error("intermediation is already {0}")]
    AlreadyFinal(&'static str),
}

/// The state after `kind` happens to an intermediation in state `from` (`None`: not registered).
/// A registration starts it awaiting a decision; approval, decline, expiry and withdrawal each
/// end a pending one; nothing leaves a final state.
pub fn transition(from: Option<State>, kind: EventKind) -> Result<State, TransitionRefused> {
    match (from, kind) {
        (None, EventKind::Registered) => Ok(State::AwaitingDecision),
        (Some(_), EventKind::Registered) => Err(TransitionRefused::AlreadyRegistered),
        (None, _) => Err(TransitionRefused::NotRegistered),
        (Some(State::AwaitingDecision), k) => Ok(match k {
            EventKind::Approved => State::Approved,
            EventKind::Declined => State::Declined,
            EventKind::Expired => State::Expired,
            EventKind::Withdrawn => State::Withdrawn,
            EventKind::Registered => unreachable!("matched above"),
        }),
        (Some(s), _) => Err(TransitionRefused::AlreadyFinal(s.as_str())),
    }
}

/// Who may cause `kind`: the new retailer registers and withdraws, the addressed current
/// retailer decides, the hub alone expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    NewRetailer,
    CurrentRetailer,
    Hub,
}

pub fn party_of(kind: EventKind) -> Party {
    match kind {
        EventKind::Registered | EventKind::Withdrawn => Party::NewRetailer,
        EventKind::Approved | EventKind::Declined => Party::CurrentRetailer,
        EventKind::Expired => Party::Hub,
    }
}

/// When an intermediation registered at `registered_at` expires without a decision: after
/// `override_ms` when set (tests, demos), else at the end (24:00 JST) of the `business_days`-th
/// business day after the day of registration.
pub fn expires_at(
    registered_at: DateTime<Utc>,
    business_days: u32,
    override_ms: Option<u64>,
) -> DateTime<Utc> {
    if let Some(ms) = override_ms {
        return (registered_at + Duration::milliseconds(ms as i64)).trunc_subsecs(3);
    }
    let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
    let day = registered_at.with_timezone(&jst).date_naive();
    let last = BusinessCalendar.add_business_days(day, business_days);
    let midnight = (last + Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists");
    jst.from_local_datetime(&midnight)
        .single()
        .expect("JST has no gaps")
        .with_timezone(&Utc)
}

/// A 廃止取次番号: `IS<area>-<YYYYMMDD>-<12 hex digits>`, from the intermediation's UUIDv7
/// (its random bits), so it is unique without a counter and the same on replay.
pub fn intermediation_number(id: Uuid, point: &SupplyPointId, at: DateTime<Utc>) -> String {
    let jst = FixedOffset::east_opt(9 * 3600).expect("valid offset");
    let hex = id.simple().to_string();
    format!(
        "IS{}-{}-{}",
        point.area().code(),
        at.with_timezone(&jst).format("%Y%m%d"),
        hex[20..].to_uppercase()
    )
}

pub use crate::domain::today_jst;

#[cfg(test)]
mod tests;
