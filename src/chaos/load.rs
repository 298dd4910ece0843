//! The run's load: an open loop of mixed submissions over HTTPS (mTLS + bearer token) spread
//! over both APIs, plus ordered chains of submissions to single points. Every submission carries
//! its own Idempotency-Key, so the check can tell afterwards which request id a refused one
//! had been given; a submission cut off by a dying API is sent once more to the other API with
//! the same key, as a client would.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::cluster::{PASSWORD, RETAILER, user_of};
use crate::config::Settings;
use crate::domain::{Area, Function};
use crate::tso_sim::register::{self, PointKind, Register};

/// How one submission was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 202 with this request id.
    Accepted(String),
    /// Another HTTP status, with the refusal's code.
    Refused(u16, String),
    /// No answer from either API.
    Transport,
}

impl Answer {
    /// 503 `outcome_unknown`: the hub could not tell whether the broker holds the request.
    pub fn outcome_unknown(&self) -> bool {
        matches!(self, Answer::Refused(503, code) if code == "outcome_unknown")
    }
}

/// One submission and its answer.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub function: Function,
    pub area: Area,
    pub company: String,
    pub key: String,
    /// The ordered chain (number, place in it) this submission belongs to.
    pub chain: Option<(usize, usize)>,
    /// The API (0 or 1) that gave the answer.
    pub api: usize,
    pub sent_at: DateTime<Utc>,
    pub answered_at: DateTime<Utc>,
    pub answer: Answer,
}

/// What the load did besides its outcomes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Figures {
    /// Open-loop submissions not started because too many were in flight.
    pub dropped: usize,
}

/// One logged-in HTTPS client per company, good on either API.
pub struct Clients {
    apis: Vec<String>,
    by_company: HashMap<String, (reqwest::Client, String)>,
}

impl Clients {
    pub async fn login(tls_dir: &Path, apis: &[SocketAddr]) -> anyhow::Result<Clients> {
        let apis: Vec<String> = apis
            .iter()
            .map(|a| format!("https://localhost:{}", a.port()))
            .collect();
        let mut companies = vec![RETAILER.to_string()];
        companies.extend(Area::ALL.iter().map(|&a| register::incumbent_code(a)));
        let mut by_company = HashMap::new();
        for company in companies {
            let client = crate::bench::https_client(tls_dir, &company)?;
            let token = login(&client, &apis[0], &company).await?;
            by_company.insert(company, (client, token));
        }
        Ok(Clients { apis, by_company })
    }

    /// The companies the load files as.
    pub fn companies(&self) -> impl Iterator<Item = &str> {
        self.by_company.keys().map(String::as_str)
    }

    /// `method` on `path` of API `api` as `company`'s administrator: the status and the JSON
    /// answer (`null` when there is none).
    pub async fn call(
        &self,
        api: usize,
        company: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let (client, token) = self
            .by_company
            .get(company)
            .with_context(|| format!("no client for {company}"))?;
        let mut req = client
            .request(
                method,
                format!("{}{path}", self.apis[api % self.apis.len()]),
            )
            .bearer_auth(token)
            .timeout(Duration::from_secs(30));
        if let Some(body) = body {
            req = req.json(body);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        Ok((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    }

    async fn submit(
        &self,
        api: usize,
        company: &str,
        function: Function,
        body: &Value,
        key: &str,
    ) -> Answer {
        let (client, token) = &self.by_company[company];
        let sent = client
            .post(format!("{}/api/v1/{}", self.apis[api], function.slug()))
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            // Longer than an Idempotency-Key's lease (30 s), which a retry waits out when
            // the API that claimed the key died.
            .timeout(Duration::from_secs(45))
            .json(body)
            .send()
            .await;
        let Ok(resp) = sent else {
            return Answer::Transport;
        };
        let status = resp.status().as_u16();
        let Ok(body) = resp.json::<Value>().await else {
            return Answer::Transport;
        };
        match (status, body["request_id"].as_str()) {
            (202, Some(id)) => Answer::Accepted(id.to_string()),
            _ => Answer::Refused(status, body["code"].as_str().unwrap_or("").to_string()),
        }
    }
}

async fn login(client: &reqwest::Client, api: &str, company: &str) -> anyhow::Result<String> {
    #[derive(Deserialize)]
    struct Token {
        token: String,
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sent = client
            .post(format!("{api}/api/v1/session"))
            .json(&json!({"user_id": user_of(company), "password": PASSWORD}))
            .send()
            .await;
        match sent.map(|r| r.error_for_status()) {
            Ok(Ok(resp)) => return Ok(resp.json::<Token>().await?.token),
            Ok(Err(e)) => return Err(e).context("login"),
            Err(e) if Instant::now() > deadline => return Err(e).context("login"),
            Err(_) => tokio::time::sleep(Duration::from_millis(500)).await,
        }
    }
}

/// What to submit: the registers (for customer names and the incumbents' points).
pub struct Mix {
    registers: Vec<Register>,
    /// Per area, low-voltage points its incumbent supplies (the switches' points).
    incumbent_points: Vec<Vec<String>>,
    seed: u64,
}

/// One submission to make: who files what.
struct Filing {
    function: Function,
    area: Area,
    company: String,
    body: Value,
    key: String,
}

impl Mix {
    pub fn new(settings: &Settings, seed: u64) -> Mix {
        let registers: Vec<Register> = Area::ALL
            .iter()
            .map(|&a| Register::generate(a, settings.sim_seed, settings.sim_points_per_area))
            .collect();
        let incumbent_points = Area::ALL
            .iter()
            .zip(&registers)
            .map(|(&area, reg)| {
                let incumbent = register::incumbent_code(area);
                (0..settings.sim_points_per_area)
                    .map(|n| register::point_of(area, PointKind::LowVoltage, n))
                    .filter(|p| {
                        reg.get(p)
                            .is_some_and(|sp| sp.current_retailer_code == incumbent)
                    })
                    // Kept apart from the points the other functions use (indexes < 200).
                    .skip(200)
                    .map(|p| p.as_str().to_string())
                    .collect()
            })
            .collect();
        Mix {
            registers,
            incumbent_points,
            seed,
        }
    }

    /// The `i`-th open-loop submission: one filing, or both halves of a switch.
    fn filings(&self, i: usize) -> Vec<Filing> {
        let area = Area::ALL[i % 10];
        let slot = (i / 10) % 8;
        let n = (i / 80) as u32;
        let key = format!("chaos-{}-{i}", self.seed);
        let one = |function: Function, body: Value| {
            vec![Filing {
                function,
                area,
                company: RETAILER.into(),
                body,
                key: key.clone(),
            }]
        };
        let point = |kind| register::point_of(area, kind, n).as_str().to_string();
        let in_days = |d: i64| (Utc::now().date_naive() + chrono::Duration::days(d)).to_string();
        match slot {
            0 | 5 => one(
                Function::FacilityInquiry,
                json!({"supply_point_id": point(PointKind::LowVoltage)}),
            ),
            1 => {
                let p = register::point_of(area, PointKind::LowVoltage, n + 100);
                let name = self.registers[area.number() as usize - 1]
                    .get(&p)
                    .map(|sp| sp.customer_name.clone())
                    .unwrap_or_default();
                one(
                    Function::UsagePassword,
                    json!({"supply_point_id": p.as_str(), "customer_name": name}),
                )
            }
            2 => one(
                Function::HvUsageRequest,
                json!({"supply_point_id": point(PointKind::HighVoltage),
                       "voltage_class": "HV_BELOW_500KW", "customer_name": "カオス工業株式会社",
                       "consent_reference": format!("CHAOS-{i}")}),
            ),
            3 => one(
                Function::GenFacilityInquiry,
                json!({"supply_point_id": point(PointKind::Fit)}),
            ),
            4 => one(
                Function::Reconnection,
                reconnection(&point(PointKind::Vacant), &in_days(3)),
            ),
            // 再点 of a supplied point: the operator refuses it (a business rejection).
            7 => one(
                Function::Reconnection,
                reconnection(&point(PointKind::LowVoltage), &in_days(3)),
            ),
            _ => {
                let points = &self.incumbent_points[area.number() as usize - 1];
                let p = points[(n as usize) % points.len().max(1)].clone();
                let incumbent = register::incumbent_code(area);
                let planned = in_days(14);
                vec![
                    Filing {
                        function: Function::SwitchStart,
                        area,
                        company: RETAILER.into(),
                        body: json!({"supply_point_id": p, "planned_date": planned,
                            "previous_retailer_code": incumbent,
                            "previous_customer_number": "0012-3456-78",
                            "customer_name": "山田 太郎", "customer_phone": "03-1234-5678",
                            "agreed_to_grid_terms": true}),
                        key: format!("{key}-start"),
                    },
                    Filing {
                        function: Function::SwitchEnd,
                        area,
                        company: incumbent,
                        body: json!({"supply_point_id": p, "planned_date": planned,
                            "new_retailer_code": RETAILER, "customer_number": "0012-3456-78"}),
                        key: format!("{key}-end"),
                    },
                ]
            }
        }
    }
}

fn reconnection(point: &str, date: &str) -> Value {
    json!({"supply_point_id": point, "planned_date": date, "customer_name": "佐藤 花子",
           "contract_method": "MEASURED", "agreed_to_grid_terms": true})
}

type Log = Arc<Mutex<Vec<Outcome>>>;

/// Submits `filing` on API `api`; once more on the other API with the same key when no
/// answer came.
async fn file(
    clients: &Clients,
    api: usize,
    filing: &Filing,
    chain: Option<(usize, usize)>,
) -> Outcome {
    let sent_at = Utc::now();
    let mut api = api;
    let mut answer = clients
        .submit(
            api,
            &filing.company,
            filing.function,
            &filing.body,
            &filing.key,
        )
        .await;
    // No answer, or "outcome unknown" (the broker may hold it): the same key once more, at the
    // other API, as a client would.
    if answer == Answer::Transport || answer.outcome_unknown() {
        api = 1 - api;
        tokio::time::sleep(Duration::from_millis(200)).await;
        answer = clients
            .submit(
                api,
                &filing.company,
                filing.function,
                &filing.body,
                &filing.key,
            )
            .await;
    }
    Outcome {
        function: filing.function,
        area: filing.area,
        company: filing.company.clone(),
        key: filing.key.clone(),
        chain,
        api,
        sent_at,
        answered_at: Utc::now(),
        answer,
    }
}

/// Runs the load for `duration` at `rate` submissions a second (at most `in_flight` at once),
/// with `chains` ordered chains beside it; returns every outcome.
pub async fn run(
    clients: Arc<Clients>,
    mix: Arc<Mix>,
    rate: f64,
    duration: Duration,
    in_flight: usize,
    chains: usize,
) -> (Vec<Outcome>, Figures) {
    let log: Log = Arc::default();
    let stop = CancellationToken::new();
    let mut chain_tasks = Vec::new();
    for c in 0..chains {
        let (clients, log, stop) = (clients.clone(), log.clone(), stop.clone());
        chain_tasks.push(tokio::spawn(chain(clients, log, stop, c)));
    }
    let permits = Arc::new(tokio::sync::Semaphore::new(in_flight));
    let start = tokio::time::Instant::now();
    let total = (rate * duration.as_secs_f64()) as usize;
    let mut tasks = Vec::with_capacity(total);
    let mut figures = Figures::default();
    for i in 0..total {
        tokio::time::sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            figures.dropped += 1;
            continue;
        };
        let (clients, mix, log) = (clients.clone(), mix.clone(), log.clone());
        tasks.push(tokio::spawn(async move {
            // Both halves of a switch go out together, each on its own API.
            let filings = mix.filings(i);
            let outcomes = futures::future::join_all(
                filings
                    .iter()
                    .enumerate()
                    .map(|(h, f)| file(&clients, (i + h) % 2, f, None)),
            )
            .await;
            drop(permit);
            log.lock().expect("log").extend(outcomes);
        }));
    }
    stop.cancel();
    for t in tasks.into_iter().chain(chain_tasks) {
        let _ = t.await;
    }
    let outcomes = std::mem::take(&mut *log.lock().expect("log"));
    (outcomes, figures)
}

/// Chain `c`: facility inquiries of one point, each sent once the one before was answered,
/// alternating APIs, every 500 ms until `stop`.
async fn chain(clients: Arc<Clients>, log: Log, stop: CancellationToken, c: usize) {
    let area = Area::ALL[c % 10];
    let point = register::point_of(area, PointKind::LowVoltage, 3000 + c as u32);
    let body = json!({"supply_point_id": point.as_str()});
    let mut place = 0;
    while !stop.is_cancelled() {
        let filing = Filing {
            function: Function::FacilityInquiry,
            area,
            company: RETAILER.into(),
            body: body.clone(),
            key: format!("chain-{c}-{place}"),
        };
        let outcome = file(&clients, place % 2, &filing, Some((c, place))).await;
        log.lock().expect("log").push(outcome);
        place += 1;
        tokio::select! {
            () = stop.cancelled() => {}
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
        }
    }
}
