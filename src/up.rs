//! `kirikae up`: the whole hub on this machine in one process — ten grid-operator simulators,
//! ten connectors, the projector and the API — against the configured broker and database,
//! with a development PKI and two demonstration retailers so that it can be tried at once.

use std::net::SocketAddr;

use tokio_util::sync::CancellationToken;

use crate::accounts::{Accounts, CompanyKind, certificates, registrations};
use crate::config::Settings;
use crate::domain::{Area, CompanyCode, CorporateNumber, UserId};
use crate::{certs, hub};

/// The demonstration registrations `up` creates: (company code, name, user id, kind). Z0300
/// is the Tokyo simulator's incumbent, current retailer of most of its points, so that both
/// halves of a switch can be tried; D0003 the demand-response registration of A0001's company.
pub const DEMO_COMPANIES: [(&str, &str, &str, CompanyKind); 4] = [
    (
        "A0001",
        "あおば電力株式会社",
        "demo-a0001",
        CompanyKind::Retailer,
    ),
    (
        "B0002",
        "みなみ新電力株式会社",
        "demo-b0002",
        CompanyKind::Retailer,
    ),
    (
        "Z0300",
        "東京エリア既存小売(模擬)",
        "demo-z0300",
        CompanyKind::Retailer,
    ),
    (
        "D0003",
        "あおば電力株式会社(DR)",
        "demo-d0003",
        CompanyKind::DrContractor,
    ),
];

/// The last twelve digits of あおば電力's (made-up) 法人番号.
const DEMO_AOBA_NUMBER: &str = "010401000001";

/// The demonstration hub operator (`/web/ops/`), with [`DEMO_PASSWORD`].
pub const DEMO_OPERATOR: &str = "demo-operator";

/// The demonstration users' password: for local trials only.
pub const DEMO_PASSWORD: &str = "kirikae-demo-2026";

pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let pool = hub::prepare(&settings).await?;
    let codes: Vec<CompanyCode> = DEMO_COMPANIES
        .iter()
        .map(|(c, _, _, _)| CompanyCode::parse(c))
        .collect::<Result<_, _>>()?;
    certs::generate(&settings.tls_dir, "kirikae development CA", &codes)?;
    // あおば電力 also runs demand response: its second registration, D0003, is under the same
    // 法人番号 (terms 2.1.1), with its own code, administrator, certificate and users.
    let aoba = CorporateNumber::with_check_digit(DEMO_AOBA_NUMBER)?;
    let accounts = Accounts::new(&settings, pool.clone());
    for ((_, name, user, kind), code) in DEMO_COMPANIES.iter().zip(&codes) {
        let contact = format!("{user}@example.jp");
        let number = matches!(code.as_str(), "A0001" | "D0003").then_some(&aoba);
        registrations::register_company(
            &pool,
            &registrations::NewRegistration {
                code,
                name,
                kind: *kind,
                contact_email: Some(&contact),
                corporate_number: number,
            },
        )
        .await?;
        certificates::register_dev_certificates(
            &pool,
            &settings.tls_dir,
            std::slice::from_ref(code),
        )
        .await?;
        // The registration's one administrator ID (its mail the contact's), its password
        // already chosen (no forced change); issued once, so a second `up` keeps it.
        let user = UserId::parse(user)?;
        let admin_name = format!("{name} 管理者");
        match accounts
            .issue_admin_with_chosen_password(code, &user, &admin_name, DEMO_PASSWORD)
            .await
        {
            Ok(()) | Err(registrations::RegistrationError::AdminAlreadyIssued(..)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // The demo hub operator (the screens under /web/ops/, with client-operator.pem); made
    // once, so a second `up` keeps it.
    let operator = UserId::parse(DEMO_OPERATOR)?;
    match crate::accounts::operators::add_operator(
        &accounts,
        &operator,
        "デモ 運用者",
        DEMO_PASSWORD,
        "kirikae",
    )
    .await
    {
        Ok(()) | Err(crate::domain::Refusal::UserExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    // Mail to users goes to a local sink writing each message to `mail_dir`, unless the
    // settings name another SMTP server.
    let local_mail = settings
        .smtp_host
        .parse::<std::net::IpAddr>()
        .is_ok_and(|ip| ip.is_loopback());
    if local_mail {
        hub::start_mail_sink(&settings, shutdown.clone()).await?;
    }
    let placement = hub::Placement::Configured;
    // Dropped after `run_until`, once the connectors have finished their work in hand.
    let operators = hub::OperatorsRuntime::new()?;
    let started = hub::start(
        &settings,
        &pool,
        &Area::ALL,
        &placement,
        true,
        &shutdown,
        operators.handle(),
    )
    .await?;
    let ops_addr = hub::serve_ops(&settings, settings.ops_listen, Some(pool), &shutdown).await?;
    print_summary(&settings, started.api, ops_addr);
    // A part that fails stops the whole hub, which exits with its reason: on a cluster that
    // part's pod would be restarted; here nothing would, and its area would go unserved.
    started.run_until(&shutdown).await
}

fn print_summary(settings: &Settings, api: SocketAddr, ops: SocketAddr) {
    let dir = settings.tls_dir.display();
    println!("kirikae is up.");
    println!(
        "  API (TLS, client certificate required): https://localhost:{}",
        api.port()
    );
    println!("  metrics and health:                     http://{ops}/metrics  /healthz  /readyz");
    println!(
        "  grid-operator simulators:               http://127.0.0.1:{}..{} /soap and /json (areas 01..10)",
        settings.sim_base_port + 1,
        settings.sim_base_port + 10
    );
    println!("  batch-file areas 05 and 10 exchange files in the folders their definitions name");
    println!(
        "  broker {}  database {}",
        settings.kafka_brokers, settings.database_url
    );
    println!("  development certificates in {dir}: ca.pem, client-<code>.pem/.key");
    for (code, name, user, kind) in DEMO_COMPANIES {
        println!(
            "  demo {} {code} {name}: user {user}, password {DEMO_PASSWORD}",
            kind.name_ja()
        );
    }
    println!(
        "  hub operator screens: https://localhost:{}/web/ops/ with client-operator.pem, \
         operator {DEMO_OPERATOR}, password {DEMO_PASSWORD}",
        api.port()
    );
    println!(
        "  mail to users (SMTP {}:{}): {}",
        settings.smtp_host,
        settings.smtp_port,
        settings.mail_dir.display()
    );
    println!("Stop with Ctrl-C.");
}
