//! The grid-operator simulator (`kirikae tso-sim --area <area>`): one area's operator, with a
//! seeded register of supply points and its business rules, reachable on one port over both
//! protocol families — the SOAP dialect of the real interface at `/soap`, the JSON one at
//! `/json` — and switchable into failing, slow, hung or garbled answers. Which family an
//! area's connector uses is up to its definition.

pub mod batch_desk;
pub mod control;
pub mod json_server;
mod places;
pub mod register;
pub mod rules;
pub mod soap_server;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::routing::{get, post};
use chrono::{NaiveDate, TimeDelta, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::connector::definition::ProtocolFamily;
use crate::connector::protocol::TsoAnswer;
use crate::domain::{Area, RequestId};
use crate::messages::{Payload, RequestRecord, ResultPayload};
pub use batch_desk::serve_batch;
pub use control::{Mode, Stats};
pub use register::{Register, SupplyPoint, point_id};
use rules::{Case, Rule};
pub use soap_server::{build_answer, parse_envelope};

/// Which operator to play and how big its register is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    pub area: Area,
    pub seed: u64,
    pub points: u32,
}

/// One simulated operator, shared by its HTTP handlers and by tests that inspect it.
pub struct Simulator {
    area: Area,
    register: Register,
    /// Set by tests that need fixed dates; otherwise today in Japan.
    fixed_today: Option<NaiveDate>,
    mode: watch::Sender<Mode>,
    calls: AtomicU64,
    ledger: Mutex<Ledger>,
}

/// Every answer given, by request id, so a repeated request gets the same one.
#[derive(Default)]
struct Ledger {
    answers: HashMap<RequestId, TsoAnswer>,
    applications: usize,
}

impl Simulator {
    pub fn new(cfg: SimConfig) -> Arc<Self> {
        Self::build(cfg, None)
    }

    /// A simulator whose calendar stands still at `today`, for tests of dates and numbers.
    pub fn with_today(cfg: SimConfig, today: NaiveDate) -> Arc<Self> {
        Self::build(cfg, Some(today))
    }

    fn build(cfg: SimConfig, fixed_today: Option<NaiveDate>) -> Arc<Self> {
        Arc::new(Simulator {
            area: cfg.area,
            register: Register::generate(cfg.area, cfg.seed, cfg.points),
            fixed_today,
            mode: watch::Sender::new(Mode::Normal),
            calls: AtomicU64::new(0),
            ledger: Mutex::new(Ledger::default()),
        })
    }

    pub fn area(&self) -> Area {
        self.area
    }

    /// The register, so callers can pick real points and their current retailers.
    pub fn register(&self) -> &Register {
        &self.register
    }

    /// Operator calls received in either family, counted on arrival (a hung call counts).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// Distinct applications completed (look-ups are not applications).
    pub fn applications(&self) -> usize {
        self.lock().applications
    }

    /// The operator's business day: Japan's date unless fixed.
    pub fn today(&self) -> NaiveDate {
        self.fixed_today
            .unwrap_or_else(|| (Utc::now() + TimeDelta::hours(9)).date_naive())
    }

    /// The operator's answer to `request`. Idempotent by request id: a repeated id gets the
    /// first answer again and never files a second application.
    pub fn answer(&self, request: &RequestRecord) -> TsoAnswer {
        let mut ledger = self.lock();
        if let Some(earlier) = ledger.answers.get(&request.request_id) {
            return earlier.clone();
        }
        let today = self.today();
        let point = self.register.get(&request.point_id);
        let case = Case {
            area: self.area,
            today,
            request,
            point,
        };
        let answer = match (case.broken_rule(), point) {
            (Some(rule), _) => rule.answer(),
            (None, None) => Rule::UnknownPoint.answer(),
            (None, Some(point)) => {
                let result = match &request.payload {
                    Payload::FacilityInquiry(_) => {
                        ResultPayload::FacilityInquiry(rules::facility_result(point, today))
                    }
                    Payload::SwitchStart(switch) => {
                        ledger.applications += 1;
                        let sequence = ledger.applications as u64;
                        let result =
                            rules::switch_result(self.area, today, sequence, point, switch);
                        ResultPayload::SwitchStart(result)
                    }
                };
                TsoAnswer::Completed(result)
            }
        };
        ledger.answers.insert(request.request_id, answer.clone());
        answer
    }

    fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What every handler shares: the simulator, and the token that releases held calls at shutdown.
#[derive(Clone)]
struct App {
    sim: Arc<Simulator>,
    closing: CancellationToken,
}

/// `POST /soap`, `POST /json/{service_id}`, `POST /sim/control`, `GET /sim/stats`.
pub fn router(sim: Arc<Simulator>) -> Router {
    routes(App {
        sim,
        closing: CancellationToken::new(),
    })
}

fn routes(app: App) -> Router {
    Router::new()
        .route(path_of(ProtocolFamily::Soap), post(soap_server::handle))
        .route(
            &format!("{}/{{service_id}}", path_of(ProtocolFamily::Json)),
            post(json_server::handle),
        )
        .route("/sim/control", post(control::set_mode))
        .route("/sim/stats", get(control::stats))
        .with_state(app)
}

/// Where the simulator serves `family`: the endpoint of a definition of that family is
/// `http://<host:port>` and this path. The batch family is not served over HTTP but by
/// [`serve_batch`] on a folder; its path is `/batch`, which no route answers.
pub fn path_of(family: ProtocolFamily) -> &'static str {
    match family {
        ProtocolFamily::Soap => "/soap",
        ProtocolFamily::Json => "/json",
        ProtocolFamily::Batch => "/batch",
    }
}

/// The endpoint a connector of `family` uses for the simulator listening on `addr`.
pub fn endpoint(addr: std::net::SocketAddr, family: ProtocolFamily) -> String {
    format!("http://{addr}{}", path_of(family))
}

/// Serves until `shutdown` is cancelled; calls held by `hang` or `slow` are then answered 503
/// so the graceful shutdown never waits on them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sim: Arc<Simulator>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let addr = listener.local_addr().ok();
    tracing::info!(area = %sim.area, ?addr, "grid-operator simulator up");
    let app = App {
        sim,
        closing: shutdown.clone(),
    };
    axum::serve(listener, routes(app))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}
