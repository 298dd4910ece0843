//! How tests steer the simulator: its failure modes, the control and stats endpoints, and the
//! wait that holds calls while the operator "hangs".

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use super::{App, Simulator};

/// How the simulated operator answers calls, in either protocol family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Mode {
    /// By the register and the rules.
    #[default]
    Normal,
    /// HTTP 503 (a SOAP Fault, or a JSON error): the operator is down.
    Fail,
    /// Normally, after a delay.
    Slow { delay_ms: u64 },
    /// Not at all until the mode changes; held calls then go on in the new mode.
    Hang,
    /// HTTP 200 with a body cut off mid-document, in the family's own syntax.
    Malformed,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Normal => "normal",
            Mode::Fail => "fail",
            Mode::Slow { .. } => "slow",
            Mode::Hang => "hang",
            Mode::Malformed => "malformed",
        }
    }

    /// Reads a control request: `{"mode": name}`, plus `delay_ms` for `slow` and only there.
    pub fn from_control(json: &[u8]) -> Result<Mode, String> {
        let request: ControlRequest = serde_json::from_slice(json).map_err(|e| e.to_string())?;
        match (request.mode.as_str(), request.delay_ms) {
            ("normal", None) => Ok(Mode::Normal),
            ("fail", None) => Ok(Mode::Fail),
            ("slow", Some(delay_ms)) => Ok(Mode::Slow { delay_ms }),
            ("hang", None) => Ok(Mode::Hang),
            ("malformed", None) => Ok(Mode::Malformed),
            ("slow", None) => Err("mode slow needs delay_ms".into()),
            ("normal" | "fail" | "hang" | "malformed", Some(_)) => {
                Err(format!("delay_ms is for mode slow, not {}", request.mode))
            }
            (other, _) => Err(format!(
                "unknown mode {other:?}: normal, fail, slow, hang or malformed"
            )),
        }
    }
}

/// The control endpoint's JSON, checked field by field before it becomes a [`Mode`].
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ControlRequest {
    mode: String,
    #[serde(default)]
    delay_ms: Option<u64>,
}

/// What `GET /sim/stats` shows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    pub area: &'static str,
    pub calls: u64,
    pub applications: usize,
    #[serde(flatten)]
    pub mode: Mode,
}

impl Simulator {
    /// Switches the mode; calls held by `hang` resume in the new one.
    pub fn set_mode(&self, mode: Mode) {
        tracing::info!(area = %self.area, mode = mode.name(), "simulator mode");
        self.mode.send_replace(mode);
    }

    pub fn mode(&self) -> Mode {
        *self.mode.borrow()
    }

    pub fn stats(&self) -> Stats {
        Stats {
            area: self.area.code(),
            calls: self.calls(),
            applications: self.applications(),
            mode: self.mode(),
        }
    }

    /// The mode to answer in, once it is not `hang`; `None` if the server closes meanwhile.
    async fn released_mode(&self, closing: &CancellationToken) -> Option<Mode> {
        let mut watch = self.mode.subscribe();
        loop {
            let mode = *watch.borrow_and_update();
            if mode != Mode::Hang {
                return Some(mode);
            }
            tokio::select! {
                changed = watch.changed() => if changed.is_err() { return None },
                () = closing.cancelled() => return None,
            }
        }
    }
}

/// What the operator says while it is down (`fail` mode) or shutting down, in every family.
pub(super) const UNAVAILABLE: &str = "システムメンテナンス中のため処理できません";

/// What the mode lets one call come to; each family's handler only words it in its dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Answer by the register and the rules.
    Answer,
    /// Answer HTTP 503: the operator is down, or the server is closing under a held call.
    Unavailable,
    /// Answer HTTP 200 with a broken document.
    Garbled,
}

impl Simulator {
    /// Counts the call on arrival (a hung call counts), then waits out `hang` and `slow` and
    /// says how the call is to be answered. Every family's handler starts here, so the modes
    /// mean the same whatever the protocol.
    pub(super) async fn admit(&self, closing: &CancellationToken) -> Admission {
        self.count_call();
        let Some(mode) = self.released_mode(closing).await else {
            return Admission::Unavailable;
        };
        match mode {
            Mode::Fail => Admission::Unavailable,
            Mode::Malformed => Admission::Garbled,
            Mode::Slow { delay_ms } => {
                if slow_down(delay_ms, closing).await {
                    Admission::Answer
                } else {
                    Admission::Unavailable
                }
            }
            Mode::Normal | Mode::Hang => Admission::Answer,
        }
    }
}

/// Sleeps `delay_ms`, or less if the server closes; `false` if it closed.
async fn slow_down(delay_ms: u64, closing: &CancellationToken) -> bool {
    tokio::select! {
        () = tokio::time::sleep(Duration::from_millis(delay_ms)) => true,
        () = closing.cancelled() => false,
    }
}

/// `POST /sim/control`: sets the mode from `{"mode": ...}`; anything else is a 400.
pub(super) async fn set_mode(State(app): State<App>, body: Bytes) -> Response {
    match Mode::from_control(&body) {
        Ok(mode) => {
            app.sim.set_mode(mode);
            Json(mode).into_response()
        }
        Err(e) => {
            let error = serde_json::json!({ "error": format!("bad control request: {e}") });
            (StatusCode::BAD_REQUEST, Json(error)).into_response()
        }
    }
}

/// `GET /sim/stats`.
pub(super) async fn stats(State(app): State<App>) -> Json<Stats> {
    Json(app.sim.stats())
}

/// `GET /sim/applied`: each request id carried out as an application, with how many times
/// (the fault suite's independent check that nothing was applied twice).
pub(super) async fn applied(
    State(app): State<App>,
) -> Json<std::collections::HashMap<String, u32>> {
    let applied = app.sim.applied();
    Json(
        applied
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect(),
    )
}
