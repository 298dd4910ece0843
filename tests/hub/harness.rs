//! `spawn_app()`: a fresh database and fresh topic names per test, the simulators, connectors,
//! projector and API it needs, all in this process, plus HTTPS clients holding each demo
//! company's client certificate.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use kirikae::accounts::registrations::{self, NewRegistration};
use kirikae::accounts::{self, Accounts, CompanyKind, certificates};
use kirikae::config::Settings;
use kirikae::domain::{Area, CompanyCode, SupplyPointId, UserId};
use kirikae::tso_sim::Simulator;
use kirikae::tso_sim::register::{self, PointKind};
use kirikae::{certs, hub};
use rand::Rng;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// Meets the password policy (12+ characters, three of the four classes).
pub const PASSWORD: &str = "Integration-test-password-1";
/// Two retailers; neither is the current retailer of any simulated point (those start with Z).
pub const RETAILER_A: &str = "A0001";
pub const RETAILER_B: &str = "B0002";
/// A demand-response contractor (需要抑制契約者) registration.
pub const DR_CONTRACTOR: &str = "D0003";

pub struct TestApp {
    pub settings: Settings,
    pub api: String,
    pub sims: HashMap<Area, (SocketAddr, Arc<Simulator>)>,
    pub shutdown: CancellationToken,
    pub certs: tempfile::TempDir,
}

impl Drop for TestApp {
    /// Stops the hub. Its topics stay: `scripts/test` runs the suite on a broker of its own and
    /// removes it afterwards, because deleting a finished test's topics while other tests'
    /// clients run crashed librdkafka (a metadata update with a vanished topic) and tansu.
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

pub fn user_of(company: &str) -> String {
    format!("user-{}", company.to_lowercase())
}

/// The ordinary (non-administrator) user of `company` that [`TestApp::login_ordinary`] issues.
pub fn ordinary_of(company: &str) -> String {
    format!("staff-{}", company.to_lowercase())
}

/// Settings of a fresh, isolated hub: its own database and topic names.
pub fn fresh_settings(tls_dir: &Path) -> Settings {
    let suffix: String = format!("{:08x}", rand::thread_rng().r#gen::<u32>());
    let defaults = Settings::default();
    Settings {
        kafka_brokers: std::env::var("KIRIKAE_KAFKA_BROKERS").unwrap_or(defaults.kafka_brokers),
        topic_prefix: format!("t{suffix}"),
        topic_partitions: 2,
        // Owned and migrated by `postgres` (the default owner), used by the hub's own role.
        database_url: format!("postgres://kirikae@127.0.0.1:5432/kirikae_t{suffix}"),
        database_pool_size: 8,
        api_listen: "127.0.0.1:0".parse().unwrap(),
        ops_listen: "127.0.0.1:0".parse().unwrap(),
        tls_dir: tls_dir.to_path_buf(),
        connectors_dir: PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("connectors"),
        connector_lanes: 8,
        field_keys_file: field_keys(tls_dir),
        // The harness supplies the key ring: a test hub never makes its own.
        field_keys_create: false,
        // The tests' webhook receivers listen on 127.0.0.1 (docs/security.md, SSRF).
        webhook_allow_private: true,
        ..defaults
    }
}

/// A key ring in `dir`: master key `past` for every period before this month (JST), `now`
/// from this month on, so that a test can shred a past period alone.
fn field_keys(dir: &Path) -> PathBuf {
    use kirikae::vault::ring::{self, Entry, RingFile};
    use kirikae::vault::{Period, seal::Key};
    let entry = |id: &str, from: String| Entry {
        id: id.into(),
        not_before_period: Some(from),
        key: Some(Key::generate().unwrap().to_base64()),
        destroyed_at: None,
    };
    let file = RingFile {
        keys: vec![
            entry("past", "2000-01".into()),
            entry("now", Period::of(chrono::Utc::now()).to_string()),
        ],
    };
    let path = dir.join("field-keys.json");
    if !path.exists() {
        ring::write(&path, &file, true).unwrap();
    }
    path
}

/// Starts a hub with simulators and connectors for `areas` (none for the others).
pub async fn spawn_app(areas: &[Area]) -> TestApp {
    start(areas, true).await
}

/// Starts a hub with simulators for `areas` but no connector: the test runs its own.
pub async fn spawn_app_without_connectors(areas: &[Area]) -> TestApp {
    start(areas, false).await
}

/// Starts a hub with simulators and connectors for `areas` against the broker at `brokers`,
/// with non-idempotent producers.
pub async fn spawn_app_on_broker(areas: &[Area], brokers: &str) -> TestApp {
    start_with(areas, true, Some(brokers)).await
}

async fn start(areas: &[Area], connectors: bool) -> TestApp {
    start_with(areas, connectors, None).await
}

/// A hub like [`spawn_app`] whose settings `tweak` adjusts first.
pub async fn spawn_app_tweaked(areas: &[Area], tweak: impl FnOnce(&mut Settings)) -> TestApp {
    start_tweaked(areas, true, None, tweak, None).await
}

/// A hub like [`spawn_app`] whose simulators and connectors run on `operators`, as
/// `kirikae up` runs them.
pub async fn spawn_app_with_operators(
    areas: &[Area],
    operators: &tokio::runtime::Handle,
) -> TestApp {
    start_tweaked(areas, true, None, |_| {}, Some(operators)).await
}

async fn start_with(areas: &[Area], connectors: bool, brokers: Option<&str>) -> TestApp {
    start_tweaked(areas, connectors, brokers, |_| {}, None).await
}

async fn start_tweaked(
    areas: &[Area],
    connectors: bool,
    brokers: Option<&str>,
    tweak: impl FnOnce(&mut Settings),
    operators: Option<&tokio::runtime::Handle>,
) -> TestApp {
    let _ = tracing_subscriber::fmt()
        .with_env_filter("warn,kirikae=info")
        .with_test_writer()
        .try_init();
    let certs = tempfile::tempdir().unwrap();
    let mut settings = fresh_settings(certs.path());
    if let Some(b) = brokers {
        settings.kafka_brokers = b.to_string();
        settings.kafka_idempotence = false;
    }
    tweak(&mut settings);
    let pool = hub::prepare(&settings).await.expect("database and topics");
    // Two retailers, a DR contractor, and each area's incumbent (the simulated registers'
    // current retailer of most points), so tests can play both sides of a switch.
    let mut registrations = vec![
        (RETAILER_A.to_string(), CompanyKind::Retailer),
        (RETAILER_B.to_string(), CompanyKind::Retailer),
        (DR_CONTRACTOR.to_string(), CompanyKind::DrContractor),
    ];
    registrations.extend(
        areas
            .iter()
            .map(|&a| (register::incumbent_code(a), CompanyKind::Retailer)),
    );
    let codes: Vec<CompanyCode> = registrations
        .iter()
        .map(|(c, _)| CompanyCode::parse(c).unwrap())
        .collect();
    certs::generate(certs.path(), "kirikae test CA", &codes).unwrap();
    // The same functions the operator's CLI uses, so tests meet the production rules.
    let accounts = Accounts::new(&settings, pool.clone());
    for (code, (_, kind)) in codes.iter().zip(&registrations) {
        let user = UserId::parse(&user_of(code.as_str())).unwrap();
        let admin_mail = format!("{}@example.jp", user.as_str());
        let registration = NewRegistration {
            code,
            name: "テスト電力",
            kind: *kind,
            // The administrator's mail (the one administrator ID's mail is the contact's).
            contact_email: Some(&admin_mail),
            corporate_number: None,
        };
        registrations::register_company(&pool, &registration)
            .await
            .unwrap();
        // A request is accepted only with a client certificate registered to the registration.
        certificates::register_dev_certificates(&pool, certs.path(), std::slice::from_ref(code))
            .await
            .unwrap();
        // The registration's one administrator ID, as the operator issues it, its password
        // already chosen (no forced change).
        accounts
            .issue_admin_with_chosen_password(code, &user, "テスト 管理者", PASSWORD)
            .await
            .unwrap();
    }
    let shutdown = CancellationToken::new();
    // Mail to users goes to this hub's own SMTP sink, writing into its temporary folder.
    settings.mail_dir = certs.path().join("mail");
    settings.smtp_host = "127.0.0.1".into();
    settings.smtp_port = 0;
    let sink = hub::start_mail_sink(&settings, shutdown.clone())
        .await
        .unwrap();
    settings.smtp_port = sink.port();
    let placement = isolated(&settings);
    let here = tokio::runtime::Handle::current();
    let operators = operators.unwrap_or(&here);
    let started = hub::start(
        &settings, &pool, areas, &placement, connectors, &shutdown, operators,
    )
    .await
    .unwrap();
    TestApp {
        api: format!("https://localhost:{}", started.api.port()),
        settings,
        sims: started.sims,
        shutdown,
        certs,
    }
}

/// Where this test's hub puts its simulators: on free ports, with the batch folders inside
/// its temporary directory instead of the definitions'.
fn isolated(settings: &Settings) -> hub::Placement {
    hub::Placement::Isolated {
        batch_root: settings.tls_dir.join("batch"),
    }
}

/// The endpoint of `area`'s simulator at `addr` in the protocol family the area's connector
/// definition names: the simulator serves every family, the definition picks one.
pub fn sim_endpoint(settings: &Settings, area: Area, addr: SocketAddr) -> String {
    isolated(settings)
        .endpoint(settings, area, addr)
        .expect("the area's connector definition")
        .expect("an isolated simulator's endpoint")
}

/// For an area of the batch family, this test's own exchange folder (inside its temporary
/// directory) instead of the definition's.
pub fn batch_dir(settings: &Settings, area: Area) -> Option<PathBuf> {
    isolated(settings)
        .batch_folder(settings, area)
        .expect("the area's connector definition")
}

/// An HTTPS client trusting `ca_dir`'s CA and presenting `cert` (a `client-XXXX` file stem).
pub fn https_client(ca_dir: &Path, cert_dir: &Path, cert: Option<&str>) -> reqwest::Client {
    let ca = std::fs::read(ca_dir.join("ca.pem")).unwrap();
    let mut b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .timeout(Duration::from_secs(30))
        // As before reqwest could speak HTTP/2; `http_client` picks the protocol.
        .http1_only();
    if let Some(stem) = cert {
        let mut pem = std::fs::read(cert_dir.join(format!("{stem}.pem"))).unwrap();
        pem.extend(std::fs::read(cert_dir.join(format!("{stem}.key"))).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

/// Like [`https_client`] for `company`, speaking HTTP/2 (negotiated by ALPN) or HTTP/1.1 only.
pub fn http_client(app: &TestApp, company: &str, http2: bool) -> reqwest::Client {
    let ca = std::fs::read(app.certs.path().join("ca.pem")).unwrap();
    let stem = format!("client-{company}");
    let mut pem = std::fs::read(app.certs.path().join(format!("{stem}.pem"))).unwrap();
    pem.extend(std::fs::read(app.certs.path().join(format!("{stem}.key"))).unwrap());
    let b = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(30));
    let b = if http2 { b } else { b.http1_only() };
    b.build().unwrap()
}

/// A logged-in retailer: its HTTPS client (with its own certificate) and bearer token.
pub struct Retailer {
    pub http: reqwest::Client,
    pub token: String,
    pub api: String,
}

impl TestApp {
    /// The API's description as it serves it (`/openapi.json`), as text.
    pub async fn openapi_document(&self) -> String {
        self.client_for(RETAILER_A)
            .get(format!("{}/openapi.json", self.api))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    pub fn client_for(&self, company: &str) -> reqwest::Client {
        https_client(
            self.certs.path(),
            self.certs.path(),
            Some(&format!("client-{company}")),
        )
    }

    /// Starts another API process on this hub's database (its own `AppState`, so its own
    /// session and gate caches), as a second replica behind the load balancer would be; its
    /// base URL. It stops with the hub.
    pub async fn second_api(&self) -> String {
        let pool = hub::pool(&self.settings).unwrap();
        let listen = "127.0.0.1:0".parse().unwrap();
        let addr = hub::start_api(&self.settings, pool, listen, self.shutdown.clone())
            .await
            .unwrap();
        format!("https://localhost:{}", addr.port())
    }

    /// Registers `company` as a retailer with no administrator ID issued yet (every registration
    /// the harness makes has its one administrator already), for tests of that issue.
    pub async fn register_without_administrator(&self, company: &str) -> CompanyCode {
        let code = CompanyCode::parse(company).unwrap();
        let pool = hub::pool(&self.settings).unwrap();
        let registration = NewRegistration {
            code: &code,
            name: "テスト新電力",
            kind: CompanyKind::Retailer,
            contact_email: None,
            corporate_number: None,
        };
        registrations::register_company(&pool, &registration)
            .await
            .unwrap();
        code
    }

    /// Logs in the ordinary (non-administrator) user of `company` ([`ordinary_of`]), issuing it
    /// first if need be (by the operator's function, its password already chosen), so the
    /// paths refused to non-administrators are exercised with a real session.
    pub async fn login_ordinary(&self, company: &str) -> Retailer {
        let pool = hub::pool(&self.settings).unwrap();
        let code = CompanyCode::parse(company).unwrap();
        let user = UserId::parse(&ordinary_of(company)).unwrap();
        let exists = pool
            .get()
            .await
            .unwrap()
            .query_opt("SELECT 1 FROM users WHERE user_id = $1", &[&user.as_str()])
            .await
            .unwrap()
            .is_some();
        if !exists {
            let staff = accounts::NewUser {
                name: "テスト 担当者".into(),
                mail: format!("{}@example.jp", user.as_str()),
                must_change_password: false,
            };
            Accounts::new(&self.settings, pool)
                .issue_user(&registrations::operator(), &code, &user, PASSWORD, &staff)
                .await
                .unwrap();
        }
        let http = self.client_for(company);
        let resp = http
            .post(format!("{}/api/v1/session", self.api))
            .json(&serde_json::json!({"user_id": user.as_str(), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "login of {}", user.as_str());
        let body: Value = resp.json().await.unwrap();
        Retailer {
            http,
            token: body["token"].as_str().unwrap().into(),
            api: self.api.clone(),
        }
    }

    pub async fn login(&self, company: &str) -> Retailer {
        let http = self.client_for(company);
        let resp = http
            .post(format!("{}/api/v1/session", self.api))
            .json(&serde_json::json!({"user_id": user_of(company), "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "login of {company}");
        let body: Value = resp.json().await.unwrap();
        Retailer {
            http,
            token: body["token"].as_str().unwrap().into(),
            api: self.api.clone(),
        }
    }

    /// The register's point `index` of `area` and its current retailer.
    pub fn point(&self, area: Area, index: u32) -> (SupplyPointId, String) {
        let reg = register::Register::generate(
            area,
            self.settings.sim_seed,
            self.settings.sim_points_per_area,
        );
        let id = register::point_id(area, index);
        let current = reg
            .get(&id)
            .expect("a registered point")
            .current_retailer_code
            .clone();
        (id, current)
    }

    /// The `n`-th point of `kind` in `area` that the area's incumbent supplies (the harness
    /// registers each incumbent, so tests can file its half of a switch).
    pub fn incumbent_point(&self, area: Area, kind: PointKind, n: usize) -> SupplyPointId {
        let reg = register::Register::generate(
            area,
            self.settings.sim_seed,
            self.settings.sim_points_per_area,
        );
        let incumbent = register::incumbent_code(area);
        (0..self.settings.sim_points_per_area)
            .map(|i| register::point_of(area, kind, i))
            .filter(|p| {
                reg.get(p)
                    .is_some_and(|sp| sp.current_retailer_code == incumbent)
            })
            .nth(n)
            .expect("enough incumbent points")
    }

    /// The customer's name the operator holds for `point` (usage-password checks it).
    pub fn customer_name(&self, area: Area, point: &SupplyPointId) -> String {
        let reg = register::Register::generate(
            area,
            self.settings.sim_seed,
            self.settings.sim_points_per_area,
        );
        reg.get(point)
            .expect("a registered point")
            .customer_name
            .clone()
    }

    pub fn sim(&self, area: Area) -> &(SocketAddr, Arc<Simulator>) {
        &self.sims[&area]
    }

    /// Where a connector of `area` reaches its simulator, in the definition's family.
    pub fn sim_endpoint(&self, area: Area) -> String {
        sim_endpoint(&self.settings, area, self.sim(area).0)
    }

    pub async fn set_sim_mode(&self, area: Area, mode: Value) {
        let (addr, _) = self.sim(area);
        let resp = reqwest::Client::new()
            .post(format!("http://{addr}/sim/control"))
            .json(&mode)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "sim control {mode}");
    }
}

impl Retailer {
    /// The same session, calling the API at `api` (another API process).
    pub fn on(&self, api: &str) -> Retailer {
        Retailer {
            http: self.http.clone(),
            token: self.token.clone(),
            api: api.to_string(),
        }
    }

    pub async fn submit(&self, function: &str, body: Value) -> reqwest::Response {
        self.submit_with_key(function, body, None).await
    }

    pub async fn submit_with_key(
        &self,
        function: &str,
        body: Value,
        key: Option<&str>,
    ) -> reqwest::Response {
        let mut req = self
            .http
            .post(format!("{}/api/v1/{function}", self.api))
            .bearer_auth(&self.token)
            .json(&body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        req.send().await.unwrap()
    }

    /// Submits and expects 202; returns the request id.
    pub async fn accepted(&self, function: &str, body: Value) -> String {
        let resp = self.submit(function, body).await;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap();
        assert_eq!(status, 202, "{body}");
        body["request_id"].as_str().unwrap().to_string()
    }

    /// Submits 設備情報照会 for `point` and expects 202; returns the request id.
    pub async fn facility_inquiry(&self, point: &SupplyPointId) -> String {
        let body = serde_json::json!({"supply_point_id": point.as_str()});
        self.accepted("facility-inquiry", body).await
    }

    pub async fn status(&self, request_id: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}/api/v1/requests/{request_id}", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    /// `GET path` (from `/api/…`) with the token: status and JSON body.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.api))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        (
            resp.status().as_u16(),
            resp.json().await.unwrap_or(Value::Null),
        )
    }

    /// The status list with `query` (`status=sent&…`, or empty).
    pub async fn list(&self, query: &str) -> (u16, Value) {
        self.get(&format!("/api/v1/requests?{query}")).await
    }

    /// Polls until the request shows `status` (or a later one); returns its view.
    pub async fn wait_for_status(&self, request_id: &str, status: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let (_, body) = self.status(request_id).await;
            if body["status"] == status {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "request {request_id} never showed {status}: {body}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Polls the status until it is final (completed, rejected, failed).
    pub async fn final_status(&self, request_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let (code, body) = self.status(request_id).await;
            assert_eq!(code, 200, "{body}");
            if matches!(
                body["status"].as_str(),
                Some("completed" | "rejected" | "failed")
            ) {
                return body;
            }
            assert!(
                Instant::now() < deadline,
                "request {request_id} stuck at {body}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

pub fn switch_start_body(point: &SupplyPointId, previous: &str) -> Value {
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(14);
    serde_json::json!({
        "supply_point_id": point.as_str(),
        "planned_date": date.to_string(),
        "previous_retailer_code": previous,
        "previous_customer_number": "0012-3456-78",
        "customer_name": "山田 太郎",
        "customer_phone": "03-1234-5678",
        "agreed_to_grid_terms": true
    })
}

/// 再点 at `point` (a vacant one), with everything every area asks for (九州 needs the
/// contract method): an application that completes without a second party.
pub fn reconnection_body(point: &SupplyPointId) -> Value {
    let date = chrono::Utc::now().date_naive() + chrono::Duration::days(3);
    serde_json::json!({
        "supply_point_id": point.as_str(),
        "planned_date": date.to_string(),
        "customer_name": "佐藤 花子",
        "contract_method": "MEASURED",
        "agreed_to_grid_terms": true
    })
}

/// The `n`-th vacant point of `area` (no retailer: open to 再点).
pub fn vacant_point(area: Area, n: u32) -> SupplyPointId {
    kirikae::tso_sim::register::point_of(area, kirikae::tso_sim::register::PointKind::Vacant, n)
}

/// Every record now on `topic` of the local (plain) broker at `brokers` (all partitions, from
/// the beginning to the high watermark).
pub fn read_topic(brokers: &str, topic: &str) -> Vec<Vec<u8>> {
    use rdkafka::Message;
    let link = kirikae::kafka::Link::plaintext(brokers);
    let records = kirikae::kafka::read_to_end(&link, topic, |low, _| low).expect("read the topic");
    records
        .iter()
        .map(|m| m.payload().unwrap_or_default().to_vec())
        .collect()
}

/// The final results on `area`'s result topic for `request_id`.
pub fn final_results_for(app: &TestApp, area: Area, request_id: &str) -> usize {
    let codec = kirikae::messages::Codec::new();
    read_topic(
        &app.settings.kafka_brokers,
        &app.settings.results_topic(area),
    )
    .iter()
    .filter_map(|b| codec.decode_result(b).ok())
    .filter(|r| r.request_id.to_string() == request_id && r.status.is_final())
    .count()
}

/// Waits until `cond` holds, polling; panics with `what` after `secs`.
pub async fn eventually(secs: u64, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A TLS acceptor with the test PKI's server certificate (`server.pem`, `server.key` in `dir`),
/// for a server the hub is the client of (a webhook receiver, a proxy in front of the broker).
pub fn tls_acceptor(dir: &Path) -> tokio_rustls::TlsAcceptor {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(dir.join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// A port nobody listens on now, for a process the test starts (a broker, a WebDriver).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The real `kirikae` binary with `args`, configured like `app`'s in-process hub (its
/// database, topics, certificates, key ring and connector definitions). A process of its own
/// has a metrics registry of its own, which no concurrent test moves.
pub fn kirikae_process(app: &TestApp, args: &[&str]) -> std::process::Command {
    let s = &app.settings;
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_kirikae"));
    command
        .args(args)
        .env("KIRIKAE_KAFKA_BROKERS", &s.kafka_brokers)
        .env("KIRIKAE_KAFKA_IDEMPOTENCE", s.kafka_idempotence.to_string())
        .env("KIRIKAE_TOPIC_PREFIX", &s.topic_prefix)
        .env("KIRIKAE_TOPIC_PARTITIONS", s.topic_partitions.to_string())
        .env("KIRIKAE_DATABASE_URL", &s.database_url)
        .env("KIRIKAE_TLS_DIR", &s.tls_dir)
        .env("KIRIKAE_CONNECTORS_DIR", &s.connectors_dir)
        .env("KIRIKAE_FIELD_KEYS_FILE", &s.field_keys_file)
        .env("KIRIKAE_FIELD_KEYS_CREATE", "false")
        .env(
            "KIRIKAE_WEBHOOK_ALLOW_PRIVATE",
            s.webhook_allow_private.to_string(),
        )
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null());
    command
}

/// A child process, killed (SIGKILL) when the test lets go of it, pass or fail.
pub struct ChildProcess(pub std::process::Child);

impl Drop for ChildProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What the process whose ops endpoints listen on `ops` serves at `/metrics`, once it
/// answers (it may still be starting).
pub async fn metrics_of(ops: u16) -> String {
    let url = format!("http://127.0.0.1:{ops}/metrics");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = reqwest::get(&url).await
            && r.status() == 200
        {
            return r.text().await.unwrap();
        }
        assert!(Instant::now() < deadline, "{url} never answered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The value of `series` (name and labels, e.g. `x_total{a="1"}`) in a `/metrics` text; 0
/// when the series is absent.
pub fn sample(metrics: &str, series: &str) -> f64 {
    let prefix = format!("{series} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A real `kirikae api` like `app`'s, its API on 127.0.0.1:`listen` and its ops endpoints on
/// 127.0.0.1:`ops`.
pub fn api_process(app: &TestApp, listen: u16, ops: u16) -> ChildProcess {
    let (listen, ops) = (format!("127.0.0.1:{listen}"), format!("127.0.0.1:{ops}"));
    let args = ["api", "--listen", &listen, "--ops-listen", &ops];
    ChildProcess(
        kirikae_process(app, &args)
            .spawn()
            .expect("the kirikae binary"),
    )
}

/// A real `kirikae connector` of `area`, pointed at `app`'s simulator, its ops endpoints on
/// `ops` (`127.0.0.1:0` when the test does not read them).
pub fn connector_command(app: &TestApp, area: Area, ops: &str) -> std::process::Command {
    let endpoint = app.sim_endpoint(area);
    let args = [
        "connector",
        "--area",
        area.code(),
        "--endpoint",
        &endpoint,
        "--ops-listen",
        ops,
    ];
    kirikae_process(app, &args)
}
