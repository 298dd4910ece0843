//! The circuit breaker of one area's grid operator: after a run of transient failures the
//! connector stops calling it, lets one probe through after a pause (half-open), and resumes
//! when a probe gets an answer. A request waiting at an open circuit keeps its place and its
//! retry budget: only calls that reach the operator count as attempts, so an outage delays
//! requests instead of failing them into the dead-letter topic.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::metrics;

/// When the circuit opens and how long it stays open, from the connector definition's
/// `[circuit]` table; every field has a default, so definitions may leave the table out.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CircuitSettings {
    /// Transient failures in a row that open the circuit.
    pub failures_to_open: u32,
    /// The first pause before a probe; doubles after each failed probe.
    pub open_ms: u64,
    /// The longest pause before a probe.
    pub max_open_ms: u64,
}

impl Default for CircuitSettings {
    fn default() -> Self {
        CircuitSettings {
            failures_to_open: 5,
            open_ms: 2_000,
            max_open_ms: 30_000,
        }
    }
}

/// Where the circuit stands; its number is the metric's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
        pause: Duration,
    },
    /// One probe is out; `since` lets another go if that one never reports (its task ended).
    HalfOpen {
        since: Instant,
        pause: Duration,
    },
}

impl State {
    pub fn gauge(&self) -> i64 {
        match self {
            State::Closed { .. } => 0,
            State::Open { .. } => 1,
            State::HalfOpen { .. } => 2,
        }
    }
}

/// What a caller may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Call; the circuit is closed.
    Call,
    /// Call as the one probe of a half-open circuit.
    Probe,
    /// Do not call; ask again at the instant given, or when told (`None`: a probe is out).
    Wait(Option<Instant>),
}

/// The pure state machine: every decision takes the current instant, so tests need no clock.
#[derive(Debug)]
pub struct Breaker {
    settings: CircuitSettings,
    state: State,
}

impl Breaker {
    pub fn new(settings: CircuitSettings) -> Self {
        Breaker {
            settings,
            state: State::Closed { failures: 0 },
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    fn first_pause(&self) -> Duration {
        Duration::from_millis(self.settings.open_ms)
    }

    /// How long a probe may stay out before another is let through.
    fn probe_patience(pause: Duration) -> Duration {
        pause.max(Duration::from_secs(30))
    }

    pub fn admit(&mut self, now: Instant) -> Admission {
        match self.state {
            State::Closed { .. } => Admission::Call,
            State::Open { until, pause } if now >= until => {
                self.state = State::HalfOpen { since: now, pause };
                Admission::Probe
            }
            State::Open { until, .. } => Admission::Wait(Some(until)),
            State::HalfOpen { since, pause } if now >= since + Self::probe_patience(pause) => {
                self.state = State::HalfOpen { since: now, pause };
                Admission::Probe
            }
            State::HalfOpen { since, pause } => {
                Admission::Wait(Some(since + Self::probe_patience(pause)))
            }
        }
    }

    /// The operator answered (whatever it said): it is reachable, so the circuit closes.
    pub fn answered(&mut self) {
        self.state = State::Closed { failures: 0 };
    }

    /// A call failed transiently. A failed probe reopens the circuit for twice as long; in a
    /// closed circuit the failures are counted; a call that was already out when the circuit
    /// opened changes nothing.
    pub fn failed(&mut self, now: Instant, probe: bool) {
        let max = Duration::from_millis(self.settings.max_open_ms);
        self.state = match self.state {
            State::HalfOpen { pause, .. } if probe => {
                let pause = (pause * 2).min(max);
                State::Open {
                    until: now + pause,
                    pause,
                }
            }
            State::Closed { failures } if failures + 1 >= self.settings.failures_to_open => {
                let pause = self.first_pause().min(max);
                State::Open {
                    until: now + pause,
                    pause,
                }
            }
            State::Closed { failures } => State::Closed {
                failures: failures + 1,
            },
            other => other,
        };
    }
}

/// The breaker shared by an area's lanes, waking waiters when it changes and keeping
/// `kirikae_connector_circuit_state` current.
pub struct Circuit {
    area: &'static str,
    breaker: Mutex<Breaker>,
    changed: Notify,
}

/// A caller's leave to call, to be given back with the outcome.
#[derive(Debug, Clone, Copy)]
pub struct Pass {
    probe: bool,
}

impl Circuit {
    pub fn new(area: &'static str, settings: CircuitSettings) -> Self {
        let circuit = Circuit {
            area,
            breaker: Mutex::new(Breaker::new(settings)),
            changed: Notify::new(),
        };
        circuit.emit(State::Closed { failures: 0 });
        circuit
    }

    fn emit(&self, state: State) {
        metrics::ConnectorCircuit {
            area: self.area,
            state: state.gauge(),
        }
        .emit();
    }

    /// Waits until the circuit lets this caller call; `None` when `shutdown` comes first.
    /// No new call starts once `shutdown` has come: a call in flight finishes, a retry does not.
    pub async fn pass(&self, shutdown: &CancellationToken) -> Option<Pass> {
        loop {
            if shutdown.is_cancelled() {
                return None;
            }
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let (admission, before, after) = {
                let mut b = self.breaker.lock().expect("circuit lock");
                let before = b.state();
                (b.admit(Instant::now()), before, b.state())
            };
            if before.gauge() != after.gauge() {
                tracing::info!(area = self.area, "circuit half-open: probing the operator");
                self.emit(after);
            }
            let wake = match admission {
                Admission::Call => return Some(Pass { probe: false }),
                Admission::Probe => return Some(Pass { probe: true }),
                Admission::Wait(at) => at,
            };
            let sleep = async {
                match wake {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = shutdown.cancelled() => return None,
                _ = notified => {}
                _ = sleep => {}
            }
        }
    }

    /// Gives back `pass` with whether the call failed transiently.
    pub fn report(&self, pass: Pass, transient_failure: bool) {
        let (before, after) = {
            let mut b = self.breaker.lock().expect("circuit lock");
            let before = b.state();
            if transient_failure {
                b.failed(Instant::now(), pass.probe);
            } else {
                b.answered();
            }
            (before, b.state())
        };
        if before.gauge() != after.gauge() {
            match after {
                State::Open { pause, .. } => tracing::warn!(
                    area = self.area,
                    pause_ms = pause.as_millis() as u64,
                    "circuit open: the grid operator keeps failing"
                ),
                _ => tracing::info!(
                    area = self.area,
                    "circuit closed: the grid operator answers"
                ),
            }
            self.emit(after);
            self.changed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests;
