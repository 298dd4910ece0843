//! The grid-operator simulator (`kirikae tso-sim --area <area>`): one area's operator, with a
//! seeded register of supply points and its business rules, reachable on one port over both
//! protocol families — the SOAP dialect of the real interface at `/soap`, the JSON one at
//! `/json` — and switchable into failing, slow, hung or garbled answers. Which family an
//! area's connector uses is up to its definition.
//!
//! The operator's behaviour follows its business rules (see [`rules::REFUSALS`] for every
//! refusal): look-ups answer at once; applications change the point (its retailer, name or
//! contract); a switch's two halves wait for each other ([`switching`]); a usage password is
//! mailed to the customer ([`mailbox`], `GET /sim/mail`); corrections and withdrawals act on
//! applications still held.

pub mod batch_desk;
pub mod control;
pub mod json_server;
pub mod mailbox;
mod places;
pub mod register;
pub mod rules;
pub mod soap_server;
pub mod switching;
#[cfg(test)]
mod tests;
pub mod usage;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use chrono::{NaiveDate, TimeDelta, Utc};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::domain::{Area, CompanyCode, Function, RequestId, SupplyPointId, UpdateFlag};
use crate::messages::{
    ApplicationResult, Payload, PointMatch, PointSearch, PointSearchResult, RequestRecord,
    ResultPayload, UsagePasswordResult,
};
use crate::recent::Recent;
use crate::wire::ProtocolFamily;
use crate::wire::TsoAnswer;
pub use batch_desk::serve_batch;
pub use control::{Mode, Stats};
pub use mailbox::Mail;
pub use register::{PointKind, Register, SupplyPoint, point_id, point_of};
use rules::{Case, RECEPTION_STAGE_ACCEPTED, RECEPTION_STAGE_MATCHING, Rule};
use switching::Filed;
use usage::{Books, IssuedPassword};

/// Which operator to play, how big its register is, and how long a switch waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimConfig {
    pub area: Area,
    pub seed: u64,
    pub points: u32,
    /// A switch application still unmatched this long after filing (wall-clock time) is
    /// refused with E2201, as if its matching deadline had passed; `None` waits for the
    /// deadline on the operator's calendar only.
    pub match_window: Option<Duration>,
}

impl SimConfig {
    /// `points` points of `area` from `seed`, waiting for the calendar's matching deadlines.
    pub fn new(area: Area, seed: u64, points: u32) -> Self {
        SimConfig {
            area,
            seed,
            points,
            match_window: None,
        }
    }
}

/// One simulated operator, shared by its HTTP handlers and by tests that inspect it.
pub struct Simulator {
    area: Area,
    register: Register,
    match_window: Option<Duration>,
    /// Set by tests that need fixed dates; otherwise today in Japan.
    fixed_today: Mutex<Option<NaiveDate>>,
    mode: watch::Sender<Mode>,
    calls: AtomicU64,
    ledger: Mutex<Ledger>,
    /// The W3C `traceparent` of the last [`LETTERS_KEPT`] calls that carried one, in arrival
    /// order.
    traceparents: Mutex<VecDeque<String>>,
}

/// How many final answers a simulator keeps to give again to a repeated request: a repeat is a
/// redelivery, seconds after the first (an application held for its counterpart is kept apart,
/// in `pending`, until it is answered). Keeping every answer grew the simulator by most of a
/// kilobyte a request (a peak day of 1,000,000 held 600 MB).
const ANSWERS_KEPT: usize = 10_000;

/// How many password letters the simulator's mailbox (`GET /sim/mail`) keeps, and how many
/// calls' `traceparent`s, for the same reason.
const LETTERS_KEPT: usize = 10_000;

/// What the operator has been told and has done.
struct Ledger {
    /// The recent final answers, by request id, so a repeated request gets the same one.
    answers: Recent<RequestId, TsoAnswer>,
    /// Who filed each application (registrations only), for corrections and withdrawals.
    applicants: HashMap<RequestId, (CompanyCode, Function)>,
    /// Switch applications waiting for their counterpart.
    pending: HashMap<RequestId, Filed>,
    /// Points changed by applications since the register was generated.
    changed: HashMap<SupplyPointId, SupplyPoint>,
    books: Books,
    /// The last [`LETTERS_KEPT`] password letters, oldest first.
    mails: VecDeque<Mail>,
    /// Applications completed.
    applications: usize,
    /// How many times each request id was carried out as an application (a fault suite
    /// checks every one is 1: a redelivered request must never be applied again).
    applied: HashMap<RequestId, u32>,
    /// 申込番号 given so far.
    numbers: u64,
}

impl Default for Ledger {
    fn default() -> Self {
        Ledger {
            answers: Recent::new(ANSWERS_KEPT),
            applicants: HashMap::new(),
            pending: HashMap::new(),
            changed: HashMap::new(),
            books: Books::default(),
            mails: VecDeque::new(),
            applications: 0,
            applied: HashMap::new(),
            numbers: 0,
        }
    }
}

impl Ledger {
    /// Records that `id` was carried out as an application.
    fn apply(&mut self, id: RequestId) {
        self.applications += 1;
        *self.applied.entry(id).or_default() += 1;
    }

    fn number(&mut self, area: Area, today: NaiveDate) -> String {
        self.numbers += 1;
        rules::application_number(area, today, self.numbers)
    }
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
            match_window: cfg.match_window,
            fixed_today: Mutex::new(fixed_today),
            mode: watch::Sender::new(Mode::Normal),
            calls: AtomicU64::new(0),
            ledger: Mutex::new(Ledger::default()),
            traceparents: Mutex::new(VecDeque::new()),
        })
    }

    pub fn area(&self) -> Area {
        self.area
    }

    /// The register as generated at start-up, so callers can pick real points and their
    /// original retailers; [`Simulator::point`] has a point as it is now.
    pub fn register(&self) -> &Register {
        &self.register
    }

    /// The point as the operator holds it now, after the applications it has carried out.
    pub fn point(&self, id: &SupplyPointId) -> Option<SupplyPoint> {
        self.lock().current(&self.register, id)
    }

    /// The password letters sent to customers, oldest first.
    pub fn mails(&self) -> Vec<Mail> {
        self.lock().mails.iter().cloned().collect()
    }

    /// Operator calls received in either family, counted on arrival (a hung call counts).
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }

    /// The `traceparent` headers the operator's endpoints were called with, oldest first.
    pub fn traceparents(&self) -> Vec<String> {
        let seen = self.traceparents.lock().expect("traceparents lock");
        seen.iter().cloned().collect()
    }

    /// Distinct applications completed (look-ups are not applications).
    pub fn applications(&self) -> usize {
        self.lock().applications
    }

    /// How many times each request id was carried out as an application.
    pub fn applied(&self) -> HashMap<RequestId, u32> {
        self.lock().applied.clone()
    }

    /// The operator's business day: Japan's date unless fixed.
    pub fn today(&self) -> NaiveDate {
        let fixed = *self
            .fixed_today
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        fixed.unwrap_or_else(|| (Utc::now() + TimeDelta::hours(9)).date_naive())
    }

    /// Moves the operator's calendar to `today` (and keeps it there), for tests of deadlines
    /// and validity that need days to pass.
    pub fn set_today(&self, today: NaiveDate) {
        *self
            .fixed_today
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(today);
    }

    /// The operator's answer to `request`. Idempotent by request id: a repeated id gets the
    /// first final answer again and never files a second application. A switch held for its
    /// counterpart answers `Pending`, and every repeat of its request is a status check that
    /// looks again (matched, expired or withdrawn since?).
    pub fn answer(&self, request: &RequestRecord) -> TsoAnswer {
        let mut ledger = self.lock();
        if let Some(earlier) = ledger.answers.get(&request.request_id) {
            return earlier.clone();
        }
        if let Payload::PointSearch(criteria) = &request.payload {
            let answer = self.search(&ledger, request, criteria);
            ledger.answers.insert(request.request_id, answer.clone());
            return answer;
        }
        let today = self.today();
        if ledger.pending.contains_key(&request.request_id) {
            return self.check(&mut ledger, request.request_id, today);
        }
        let answer = match request.update_flag {
            UpdateFlag::Register => self.file(&mut ledger, request, today),
            UpdateFlag::Correct | UpdateFlag::Withdraw => self.amend(&mut ledger, request, today),
        };
        if !matches!(answer, TsoAnswer::Pending { .. }) {
            ledger.answers.insert(request.request_id, answer.clone());
        }
        answer
    }

    /// 特定地点検索 over the register as it is now: every criterion given must match; an address
    /// matches by part, spaces ignored. Keyed by the area's root id, which must be this area's.
    fn search(
        &self,
        ledger: &Ledger,
        request: &RequestRecord,
        criteria: &PointSearch,
    ) -> TsoAnswer {
        if request.point_id.area() != self.area {
            return Rule::OtherArea.answer();
        }
        const MAX: usize = 50;
        let squeeze = |s: &str| s.chars().filter(|c| !c.is_whitespace()).collect::<String>();
        let address = criteria.address.as_deref().map(squeeze);
        let mut matches = Vec::new();
        let mut truncated = false;
        for original in self.register.iter() {
            let Some(point) = ledger.current(&self.register, &original.id) else {
                continue;
            };
            let pole = register::service_pole_number(&point.id);
            let hit = address
                .as_ref()
                .is_none_or(|a| squeeze(&point.supply_address).contains(a.as_str()))
                && criteria
                    .service_pole_number
                    .as_ref()
                    .is_none_or(|p| *p == pole)
                && criteria
                    .meter_number
                    .as_ref()
                    .is_none_or(|m| *m == point.meter_number);
            if !hit {
                continue;
            }
            if matches.len() == MAX {
                truncated = true;
                break;
            }
            matches.push(PointMatch {
                point_id: point.id.to_string(),
                supply_address: point.supply_address.clone(),
                service_pole_number: pole,
                meter_number: point.meter_number.clone(),
            });
        }
        TsoAnswer::Completed(ResultPayload::PointSearch(PointSearchResult {
            matches,
            truncated,
        }))
    }

    /// A new application or look-up: the rules, then what the function does.
    fn file(&self, ledger: &mut Ledger, request: &RequestRecord, today: NaiveDate) -> TsoAnswer {
        if request.function.is_application() {
            let applicant = (request.company_code.clone(), request.function);
            ledger.applicants.insert(request.request_id, applicant);
        }
        let point = ledger.current(&self.register, &request.point_id);
        let case = Case {
            area: self.area,
            today,
            request,
            point: point.as_ref(),
            books: &ledger.books,
        };
        if let Some(rule) = case.broken_rule() {
            return rule.answer();
        }
        let Some(mut point) = point else {
            return Rule::UnknownPoint.answer();
        };
        let company = request.company_code.as_str();
        let effective_date = match &request.payload {
            // Answered by `search` before the point rules.
            Payload::PointSearch(_) => return Rule::UnknownPoint.answer(),
            Payload::FacilityInquiry(_) => {
                let result = rules::facility_result(&point, today);
                return TsoAnswer::Completed(ResultPayload::FacilityInquiry(result));
            }
            Payload::UsageInquiry(u) => {
                let result = usage::usage_result(&point, today, u.months);
                return TsoAnswer::Completed(ResultPayload::Usage(result));
            }
            Payload::HvUsageInquiry(u) => {
                let result = usage::usage_result(&point, today, u.months);
                return TsoAnswer::Completed(ResultPayload::Usage(result));
            }
            Payload::UsagePassword(_) => {
                let application_number = ledger.number(self.area, today);
                let password = usage::password_for(&request.request_id);
                let valid_until = usage::valid_until(today);
                ledger.books.issue(IssuedPassword {
                    point_id: point.id.clone(),
                    password: password.clone(),
                    valid_until,
                });
                if ledger.mails.len() == LETTERS_KEPT {
                    ledger.mails.pop_front();
                }
                ledger.mails.push_back(Mail {
                    point_id: point.id.clone(),
                    customer_name: point.customer_name.clone(),
                    password,
                    valid_until,
                    application_number: application_number.clone(),
                    sent_on: today,
                });
                ledger.apply(request.request_id);
                let result = UsagePasswordResult {
                    application_number,
                    sent_on: today,
                    valid_until,
                };
                return TsoAnswer::Completed(ResultPayload::UsagePassword(result));
            }
            Payload::SwitchStart(_) | Payload::SwitchEnd(_) => {
                let filed = Filed::new(self.area, &point, request.clone(), today);
                ledger.pending.insert(request.request_id, filed);
                return self.check(ledger, request.request_id, today);
            }
            Payload::HvUsageRequest(_) => {
                let number = ledger.number(self.area, today);
                ledger
                    .books
                    .record_hv_request(number.clone(), point.id.clone());
                ledger.apply(request.request_id);
                return application(number, None);
            }
            Payload::Reconnection(r) => {
                point.current_retailer_code = company.to_string();
                point.customer_name = r.customer_name.clone();
                if r.contract_ampere.is_some() && point.contract_ampere.is_some() {
                    point.contract_ampere = r.contract_ampere;
                }
                r.planned_date
            }
            Payload::Abolition(a) => {
                point.current_retailer_code.clear();
                a.planned_date
            }
            Payload::CustomerChange(c) => {
                if let Some(name) = &c.customer_name {
                    point.customer_name = name.clone();
                }
                c.effective_date
            }
            Payload::AmpereChange(a) => {
                point.contract_ampere = Some(a.contract_ampere);
                a.planned_date
            }
        };
        ledger.changed.insert(point.id.clone(), point);
        ledger.apply(request.request_id);
        let number = ledger.number(self.area, today);
        application(number, Some(effective_date))
    }

    /// A held switch, looked at again: matched with its counterpart, expired, or still waiting.
    fn check(&self, ledger: &mut Ledger, id: RequestId, today: NaiveDate) -> TsoAnswer {
        let Some(filed) = ledger.pending.get(&id) else {
            return ledger
                .answers
                .get(&id)
                .cloned()
                .unwrap_or_else(|| Rule::NoOriginal.answer());
        };
        if filed.expired(today, self.match_window) {
            ledger.pending.remove(&id);
            let answer = Rule::Unmatched.answer();
            ledger.answers.insert(id, answer.clone());
            return answer;
        }
        let holder = filed.record.point_id.clone();
        let partner = ledger
            .pending
            .iter()
            .filter(|(other, _)| **other != id)
            .filter(|(_, other)| !other.expired(today, self.match_window))
            .find(|(_, other)| filed.pairs_with(other))
            .map(|(other, _)| *other);
        let point = ledger.current(&self.register, &holder);
        let (Some(partner), Some(mut point)) = (partner, point) else {
            return TsoAnswer::Pending {
                stage: RECEPTION_STAGE_MATCHING.into(),
            };
        };
        let (Some(this), Some(that)) =
            (ledger.pending.remove(&id), ledger.pending.remove(&partner))
        else {
            return Rule::NoOriginal.answer();
        };
        let (start, end) = if this.is_start() {
            (&this, &that)
        } else {
            (&that, &this)
        };
        if point.current_retailer_code != end.record.company_code.as_str() {
            // The point changed hands since the end was filed: it no longer ends anything.
            let answer = Rule::NotCurrentRetailer.answer();
            ledger.answers.insert(end.record.request_id, answer);
            let start_id = start.record.request_id;
            ledger.pending.insert(start_id, start.clone());
            return self.check(ledger, id, today);
        }
        let later = start.filed_on.max(end.filed_on);
        let switch_date = switching::switch_date(self.area, &point, later, start.planned_date);
        for half in [start, end] {
            let number = ledger.number(self.area, today);
            let result = rules::switch_result(number, switch_date);
            let answer = TsoAnswer::Completed(ResultPayload::SwitchStart(result));
            ledger.answers.insert(half.record.request_id, answer);
            ledger.apply(half.record.request_id);
        }
        point.current_retailer_code = start.record.company_code.as_str().to_string();
        ledger.changed.insert(point.id.clone(), point);
        ledger
            .answers
            .get(&id)
            .cloned()
            .unwrap_or_else(|| Rule::NoOriginal.answer())
    }

    /// A correction or withdrawal of an application still held.
    fn amend(&self, ledger: &mut Ledger, request: &RequestRecord, today: NaiveDate) -> TsoAnswer {
        let Some(original) = request.original_request_id else {
            return Rule::NoOriginal.answer();
        };
        match ledger.applicants.get(&original) {
            Some((company, function))
                if *company == request.company_code && *function == request.function => {}
            _ => return Rule::NoOriginal.answer(),
        }
        if ledger.pending.contains_key(&original) {
            // Matched or expired since its last status check?
            self.check(ledger, original, today);
        }
        let Some(held) = ledger.pending.get(&original) else {
            return Rule::OriginalFinished.answer();
        };
        if request.update_flag == UpdateFlag::Withdraw {
            ledger.pending.remove(&original);
            ledger.answers.insert(original, Rule::Withdrawn.answer());
            return TsoAnswer::Acknowledged;
        }
        if held.record.payload.record_name() != request.payload.record_name() {
            return Rule::NoOriginal.answer();
        }
        let mut corrected = held.record.clone();
        corrected.payload = request.payload.clone();
        let point = ledger.current(&self.register, &corrected.point_id);
        let case = Case {
            area: self.area,
            today,
            request: &corrected,
            point: point.as_ref(),
            books: &ledger.books,
        };
        if let Some(rule) = case.broken_rule() {
            return rule.answer();
        }
        let Some(point) = point else {
            return Rule::UnknownPoint.answer();
        };
        let refiled = Filed::new(self.area, &point, corrected, today);
        ledger.pending.insert(original, refiled);
        self.check(ledger, original, today);
        TsoAnswer::Acknowledged
    }

    fn count_call(&self) {
        self.calls.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Ledger {
    /// The point as it is now: changed by an application, or as generated.
    fn current(&self, register: &Register, id: &SupplyPointId) -> Option<SupplyPoint> {
        self.changed.get(id).or_else(|| register.get(id)).cloned()
    }
}

/// An accepted application's answer.
fn application(application_number: String, effective_date: Option<NaiveDate>) -> TsoAnswer {
    TsoAnswer::Completed(ResultPayload::Application(ApplicationResult {
        application_number,
        effective_date,
        reception_stage: RECEPTION_STAGE_ACCEPTED.into(),
    }))
}

/// What every handler shares: the simulator, and the token that releases held calls at shutdown.
#[derive(Clone)]
struct App {
    sim: Arc<Simulator>,
    closing: CancellationToken,
}

/// `POST /soap`, `POST /json/{service_id}`, `POST /sim/control`, `GET /sim/stats`,
/// `GET /sim/applied`, `GET /sim/mail`.
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
        .route("/sim/applied", get(control::applied))
        .route("/sim/mail", get(mailbox::mail))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            record_traceparent,
        ))
        .with_state(app)
}

/// Keeps the `traceparent` a call came with, as a real operator's tracing would see it.
async fn record_traceparent(
    State(app): State<App>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let Some(value) = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
    {
        let mut seen = app.sim.traceparents.lock().expect("traceparents lock");
        if seen.len() == LETTERS_KEPT {
            seen.pop_front();
        }
        seen.push_back(value.to_string());
    }
    next.run(request).await
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
