//! The `kirikae` command: every process of the hub, its set-up, and its tools.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use kirikae::accounts::registrations::{self, RegistrationStatus};
use kirikae::accounts::{self, Accounts, CompanyKind, certificates, maintenance};
use kirikae::config::Settings;
use kirikae::domain::{Area, CompanyCode, CorporateNumber, UserId};
use kirikae::{bench, certs, chaos, hub, up};

/// mimalloc rather than glibc's malloc: under load about a seventh of the hub's CPU samples
/// were in glibc's `malloc` and `free` (and their chunk consolidation); with mimalloc the same
/// load took a fifth less CPU (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kirikae",
    version,
    about = "切替 — an open integration hub for electricity switching support"
)]
struct Cli {
    /// A TOML file of settings (default: ./kirikae.toml when it exists). KIRIKAE_* variables win.
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole hub on this machine: API, projector, ten connectors and ten simulators.
    Up,
    /// The retailer-facing API (TLS, client certificates).
    Api {
        #[arg(long)]
        listen: Option<SocketAddr>,
        #[arg(long)]
        ops_listen: Option<SocketAddr>,
    },
    /// The connector of one area.
    Connector {
        #[arg(long, value_parser = parse_area)]
        area: Area,
        /// Overrides the endpoint of the area's definition.
        #[arg(long)]
        endpoint: Option<String>,
        #[arg(long)]
        ops_listen: Option<SocketAddr>,
    },
    /// The projector: request and result topics into PostgreSQL.
    Projector {
        #[arg(long)]
        ops_listen: Option<SocketAddr>,
    },
    /// A simulated grid operator for one area.
    TsoSim {
        #[arg(long, value_parser = parse_area)]
        area: Area,
        /// Default: 127.0.0.1 on sim_base_port + the area number.
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Creates the database and topics when missing and runs the migrations.
    Migrate,
    /// Writes a development CA, a server certificate and client certificates, and registers
    /// each client certificate to its (already registered) company; `certs register` registers
    /// a production one.
    #[command(args_conflicts_with_subcommands = true)]
    Certs {
        #[command(subcommand)]
        action: Option<CertsAction>,
        /// Default: tls_dir from the settings.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A company code to issue a client certificate for (repeatable).
        #[arg(long = "company")]
        companies: Vec<String>,
    },
    /// Registers a company (the hub operator's task): `company --code X --name N`; its
    /// administrator, suspension and end are subcommands.
    #[command(args_conflicts_with_subcommands = true)]
    Company {
        #[command(subcommand)]
        action: Option<CompanyAction>,
        #[arg(long)]
        code: Option<String>,
        #[arg(long)]
        name: Option<String>,
        #[arg(long, value_parser = ["retailer", "dr_contractor"], default_value = "retailer")]
        kind: String,
        /// The registration's contact mail address.
        #[arg(long)]
        contact_email: Option<String>,
        /// The company's 法人番号 (13 digits). A company that is both a retailer and a DR
        /// contractor registers twice under it, once of each kind, each with its own code.
        #[arg(long)]
        corporate_number: Option<String>,
    },
    /// Closes the API for maintenance (every call answers 503 with the planned end), or opens it.
    Maintenance {
        #[command(subcommand)]
        action: MaintenanceAction,
    },
    /// インフォメーション: publishes a notice to every registration's users (a terms change is
    /// also mailed to every registration's contact), or lists what was published.
    Notice {
        #[command(subcommand)]
        action: NoticeAction,
    },
    /// Prints the audit trail (read-only): administrative actions and reads of personal data.
    Audit {
        /// Only this registration's entries (`-` for hub-wide ones such as maintenance).
        #[arg(long)]
        company: Option<String>,
        /// RFC 3339, YYYY-MM-DD, or a duration back from now (`7d`, `12h`); default: 7 days.
        #[arg(long, default_value = "7d")]
        since: String,
    },
    /// Issues a user id to a person of a company; the password is read from KIRIKAE_NEW_PASSWORD.
    /// With --admin, the registration's one administrator (who issues the other users over the
    /// API), as `company issue-admin`: once per registration, its mail the registration's
    /// contact address. The password is an initial one, to be changed at first login.
    User {
        #[arg(long)]
        company: String,
        #[arg(long)]
        user_id: String,
        /// The person the id is issued to.
        #[arg(long, default_value = "")]
        name: String,
        /// The person's mail address.
        #[arg(long, default_value = "")]
        mail: String,
        /// The registration's administrator.
        #[arg(long)]
        admin: bool,
        #[arg(long, env = "KIRIKAE_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// The hub operator's accounts for the operator screens (/web/ops/): `operator add`
    /// (the password from KIRIKAE_NEW_PASSWORD), `operator disable` (ends its sessions at
    /// once), `operator enable` (also lifts a lock).
    Operator {
        #[command(subcommand)]
        action: OperatorAction,
    },
    /// Puts an area's failed requests (its dead-letter topic) back to be delivered again.
    Replay {
        #[arg(long, value_parser = parse_area)]
        area: Area,
        /// Replay only this request (repeatable); default: every failed one.
        #[arg(long = "request-id")]
        request_ids: Vec<String>,
    },
    /// The master keys of the records' personal fields (docs/security.md): rotation and
    /// crypto-shredding.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Prints the API's OpenAPI 3.1 document (also served at /openapi.json).
    Openapi,
    /// Prints docs/functions.md (every function's fields and answer, from the schemas), or with
    /// `configuration` docs/configuration.md (every setting, its default and who reads it).
    Docs {
        #[arg(default_value = "functions", value_parser = ["functions", "configuration", "schemas"])]
        document: String,
    },
    /// Prints the composed (self-contained) schema of a top-level record as messages carry its
    /// fingerprint: Request, Result or IntermediationEvent. Before a schema change, its output
    /// is kept in schemas/previous/.
    Schema {
        #[arg(value_parser = ["Request", "Result", "IntermediationEvent", "AuditRecord"])]
        record: String,
        /// Print its Parsing Canonical Form instead (what the fingerprint is computed over).
        #[arg(long)]
        canonical: bool,
        /// Print its fingerprints instead: the specification's, which messages carry, and the
        /// legacy one older messages carry; docs/schemas.md explains the difference.
        #[arg(long)]
        fingerprint: bool,
    },
    /// Lists supply points of an area's simulated register, with their current retailer.
    SimPoints {
        #[arg(long, value_parser = parse_area)]
        area: Area,
        #[arg(long, default_value_t = 10)]
        count: u32,
    },
    /// Measures the hub: submissions over HTTPS with mTLS, and the same records straight to Kafka.
    Bench(bench::BenchArgs),
    /// The fault suite: the hub as separate processes on its own broker and PostgreSQL, a
    /// mixed load, processes killed and operators failing; exits 1 if a request was lost,
    /// doubled or not pushed, 3 (no verdict) if a source could not be read (docs/reliability.md).
    Chaos(chaos::ChaosArgs),
}

#[derive(Subcommand)]
enum OperatorAction {
    Add {
        #[arg(long)]
        id: String,
        /// The person the account is for.
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, env = "KIRIKAE_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    Disable {
        #[arg(long)]
        id: String,
    },
    Enable {
        #[arg(long)]
        id: String,
    },
}

#[derive(Subcommand)]
enum KeysAction {
    /// Adds a fresh master key to field_keys_file for the periods from `--from` on (rotation;
    /// the older keys stay, to read what they wrapped).
    Add {
        #[arg(long)]
        id: String,
        /// The first period (YYYY-MM, JST) whose new data keys it wraps.
        #[arg(long)]
        from: String,
    },
    /// Crypto-shredding: destroys a past period's data keys and retires every master key that
    /// then wraps nothing live, so that period's records on the log become unreadable.
    Destroy {
        /// YYYY-MM (JST), a month already over.
        #[arg(long)]
        period: String,
    },
}

#[derive(Subcommand)]
enum CompanyAction {
    /// Issues the registration's one administrator ID (once; a second issue is refused). The
    /// initial password is read from KIRIKAE_NEW_PASSWORD.
    IssueAdmin {
        #[arg(long)]
        code: String,
        #[arg(long)]
        user_id: String,
        /// The person the ID is issued to.
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, env = "KIRIKAE_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// 利用の中断: every call of the registration is refused (403); its data is kept.
    Suspend {
        #[arg(long)]
        code: String,
    },
    /// Lifts a suspension.
    Resume {
        #[arg(long)]
        code: String,
    },
    /// 利用契約の終了: every call refused for good; the data is kept for the retention period.
    End {
        #[arg(long)]
        code: String,
    },
}

#[derive(Subcommand)]
enum CertsAction {
    /// Registers a client certificate (one per client machine) to a registration.
    Register {
        #[arg(long)]
        company: String,
        /// The certificate, PEM.
        #[arg(long)]
        pem: PathBuf,
        /// Valid from (default: the certificate's own notBefore).
        #[arg(long)]
        not_before: Option<String>,
        /// Valid until (default: the certificate's own notAfter); a past time withdraws it.
        #[arg(long)]
        not_after: Option<String>,
    },
}

#[derive(Subcommand)]
enum NoticeAction {
    /// Publishes a notice now.
    Publish {
        #[arg(long)]
        title: String,
        /// The text (or `--body-file`).
        #[arg(
            long,
            conflicts_with = "body_file",
            required_unless_present = "body_file"
        )]
        body: Option<String>,
        #[arg(long)]
        body_file: Option<PathBuf>,
        /// A change of the terms of use: also mailed to every registration's contact within
        /// `terms_mail_days` (by the projector process's notice mailer).
        #[arg(long)]
        terms_change: bool,
    },
    /// Lists the notices and, for terms changes, how many mails are still unsent.
    List,
}

#[derive(Subcommand)]
enum MaintenanceAction {
    /// Closes the API from `--from` (default now) until `--until`.
    Start {
        /// RFC 3339, YYYY-MM-DD, or a duration from now (`30m`, `2h`).
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        until: String,
        #[arg(long, default_value = "")]
        message: String,
    },
    /// Ends every current or planned maintenance window now.
    Stop,
}

fn parse_area(s: &str) -> Result<Area, String> {
    s.parse::<Area>().map_err(|e| e.to_string())
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    runtime.enable_all();
    if matches!(cli.command, Command::Up) {
        // The other half runs the simulators and connectors (`hub::OperatorsRuntime`).
        runtime.worker_threads(hub::half_the_cores());
    }
    runtime.build()?.block_on(start(cli))
}

async fn start(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    kirikae::telemetry::init_logging(settings.log_format);
    kirikae::telemetry::export::install(settings.otlp_endpoint.as_deref());
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    run(cli.command, settings, shutdown).await
}

async fn run(command: Command, mut s: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    match command {
        Command::Up => up::run(s, shutdown).await,
        Command::Api { listen, ops_listen } => {
            let pool = hub::pool(&s)?;
            let (addr, serving) = hub::spawn_api(
                &s,
                pool.clone(),
                listen.unwrap_or(s.api_listen),
                shutdown.clone(),
            )
            .await?;
            serve_ops(&s, ops_listen, Some(pool), &shutdown).await?;
            tracing::info!(%addr, "API listening (TLS)");
            // Returns once shutdown came and the requests in flight are answered.
            serving.await?;
            Ok(())
        }
        Command::Connector {
            area,
            endpoint,
            ops_listen,
        } => {
            let listen = ops_listen.unwrap_or(s.connector_ops_listen(area));
            hub::run_connector(s, area, endpoint, listen, shutdown).await
        }
        Command::Projector { ops_listen } => {
            let pool = hub::pool(&s)?;
            let ops_listen = Some(ops_listen.unwrap_or(s.projector_ops_listen()));
            serve_ops(&s, ops_listen, Some(pool.clone()), &shutdown).await?;
            hub::run_projector(s, pool, shutdown).await
        }
        Command::TsoSim { area, listen } => {
            let placement = hub::Placement::Configured;
            let listen = listen.unwrap_or_else(|| placement.sim_listen(&s, area));
            let batch = placement.batch_folder(&s, area)?;
            let (addr, _) = hub::start_sim(&s, area, listen, batch, shutdown.clone()).await?;
            tracing::info!(%addr, area = area.code(), operator = area.operator_ja(), "simulator listening");
            shutdown.cancelled().await;
            Ok(())
        }
        Command::Migrate => {
            hub::prepare(&s).await?;
            println!("database and topics ready");
            Ok(())
        }
        Command::Certs {
            action:
                Some(CertsAction::Register {
                    company,
                    pem,
                    not_before,
                    not_after,
                }),
            ..
        } => {
            let code = CompanyCode::parse(&company)?;
            let text = std::fs::read(&pem)
                .map_err(|e| anyhow::anyhow!("reading {}: {e}", pem.display()))?;
            let now = chrono::Utc::now();
            let validity = match (not_before, not_after) {
                (None, None) => None,
                (from, until) => {
                    let cert = certificates::read_certificate(&text)?;
                    let parse = |t: Option<String>, default| match t {
                        Some(t) => maintenance::parse_time(&t, now).map_err(anyhow::Error::msg),
                        None => Ok(default),
                    };
                    Some((parse(from, cert.not_before)?, parse(until, cert.not_after)?))
                }
            };
            let cert =
                certificates::register_certificate(&hub::pool(&s)?, &code, &text, validity).await?;
            println!(
                "certificate {} registered to {code}, valid {} to {}",
                cert.fingerprint, cert.not_before, cert.not_after
            );
            Ok(())
        }
        Command::Certs {
            action: None,
            dir,
            companies,
        } => {
            let codes = companies
                .iter()
                .map(|c| CompanyCode::parse(c))
                .collect::<Result<Vec<_>, _>>()?;
            s.tls_dir = dir.unwrap_or(s.tls_dir);
            certs::generate(&s.tls_dir, "kirikae development CA", &codes)?;
            println!("certificates in {}", s.tls_dir.display());
            if !codes.is_empty() {
                let pool = hub::pool(&s)?;
                for code in &codes {
                    match certificates::register_dev_certificates(
                        &pool,
                        &s.tls_dir,
                        std::slice::from_ref(code),
                    )
                    .await
                    {
                        Ok(()) => println!("client certificate of {code} registered"),
                        Err(e) => eprintln!("client certificate of {code} not registered: {e}"),
                    }
                }
            }
            Ok(())
        }
        Command::Company {
            action: None,
            code,
            name,
            kind,
            contact_email,
            corporate_number,
        } => {
            let (Some(code), Some(name)) = (code, name) else {
                anyhow::bail!("company: --code and --name are required to register a company");
            };
            let kind = if kind == "retailer" {
                CompanyKind::Retailer
            } else {
                CompanyKind::DrContractor
            };
            let number = corporate_number
                .as_deref()
                .map(CorporateNumber::parse)
                .transpose()?;
            let code = CompanyCode::parse(&code)?;
            let pool = hub::pool(&s)?;
            registrations::register_company(
                &pool,
                &registrations::NewRegistration {
                    code: &code,
                    name: &name,
                    kind,
                    contact_email: contact_email.as_deref(),
                    corporate_number: number.as_ref(),
                },
            )
            .await?;
            println!("company {code} registered ({})", kind.name_ja());
            if let Some(n) = &number {
                for (other, kind) in registrations::registrations_of(&pool, n).await? {
                    println!("  法人番号 {n}: {other} ({})", kind.name_ja());
                }
            }
            Ok(())
        }
        Command::Company {
            action: Some(action),
            ..
        } => company_action(&s, action).await,
        Command::Maintenance { action } => {
            let pool = hub::pool(&s)?;
            match action {
                MaintenanceAction::Start {
                    from,
                    until,
                    message,
                } => {
                    let now = chrono::Utc::now();
                    let from = from
                        .map(|f| maintenance::parse_time(&f, now))
                        .transpose()
                        .map_err(anyhow::Error::msg)?;
                    let until = maintenance::parse_time(&until, now).map_err(anyhow::Error::msg)?;
                    maintenance::start_maintenance(&pool, from, until, &message).await?;
                    println!("maintenance until {until}");
                }
                MaintenanceAction::Stop => {
                    let n = maintenance::stop_maintenance(&pool).await?;
                    println!("{n} maintenance window(s) stopped");
                }
            }
            Ok(())
        }
        Command::Notice { action } => notice_action(&s, action).await,
        Command::Schema {
            record,
            canonical,
            fingerprint,
        } => {
            let json = kirikae::messages::composed_schema_json(&format!("jp.kirikae.{record}"));
            if canonical || fingerprint {
                let f = kirikae::docs::fingerprints(&json);
                if canonical {
                    println!("{}", f.canonical);
                }
                if fingerprint {
                    let hex = |b: &[u8]| b.iter().map(|b| format!("{b:02x}")).collect::<String>();
                    println!("fingerprint {}", hex(&f.carried));
                    println!("legacy {}", hex(&f.legacy));
                }
                return Ok(());
            }
            let value: serde_json::Value = serde_json::from_str(&json)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            Ok(())
        }
        Command::Audit { company, since } => {
            // A bare duration (`7d`) means that long back from now.
            let is_duration = !since.contains('-') && !since.contains(':');
            let since = if is_duration {
                format!("-{since}")
            } else {
                since
            };
            let since =
                maintenance::parse_time(&since, chrono::Utc::now()).map_err(anyhow::Error::msg)?;
            println!("at\tregistration\tuser\tcontractor\taction\tsubject\tcertificate\tdetail");
            for e in kirikae::audit::audit_log(&hub::pool(&s)?, company.as_deref(), since).await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                    e.at.to_rfc3339(),
                    e.company_code,
                    e.user_id,
                    e.contractor.as_deref().unwrap_or("-"),
                    e.action,
                    e.subject_id,
                    e.certificate.as_deref().unwrap_or("-"),
                    e.detail
                );
            }
            Ok(())
        }
        Command::User {
            company,
            user_id,
            name,
            mail,
            admin,
            password,
        } => {
            let (code, user) = (CompanyCode::parse(&company)?, UserId::parse(&user_id)?);
            if admin {
                // The one administrator ID (terms 3.2): the same once-only issue as
                // `company issue-admin`, never a second administrator by another door.
                if !mail.is_empty() {
                    anyhow::bail!(
                        "user --admin: the administrator's mail is the registration's contact \
                         address (company --contact-email); leave --mail out"
                    );
                }
                Accounts::new(&s, hub::pool(&s)?)
                    .issue_admin(&code, &user, &name, &password)
                    .await?;
                println!(
                    "administrator {user_id} issued for {company}; the password must be changed at first login"
                );
                return Ok(());
            }
            let new = accounts::NewUser {
                name,
                mail,
                must_change_password: true,
            };
            let accounts = Accounts::new(&s, hub::pool(&s)?);
            let operator = registrations::operator();
            accounts
                .issue_user(&operator, &code, &user, &password, &new)
                .await?;
            println!(
                "user {user_id} issued for {company}; the password must be changed at first login"
            );
            Ok(())
        }
        Command::Keys { action } => keys_action(&s, action).await,
        Command::Operator { action } => operator_action(&s, action).await,
        Command::Replay { area, request_ids } => {
            let only = request_ids
                .iter()
                .map(|r| r.parse())
                .collect::<Result<Vec<_>, _>>()?;
            let replayed = kirikae::replay::run(&s, &hub::pool(&s)?, area, &only).await?;
            println!(
                "replayed {} request(s) of area {}",
                replayed.len(),
                area.code()
            );
            for id in replayed {
                println!("  {id}");
            }
            Ok(())
        }
        Command::Openapi => {
            println!(
                "{}",
                serde_json::to_string_pretty(&kirikae::api::openapi::document())?
            );
            Ok(())
        }
        Command::Docs { document } => {
            match document.as_str() {
                "configuration" => print!("{}", kirikae::docs::configuration_markdown()),
                "schemas" => print!("{}", kirikae::docs::schemas_markdown()),
                _ => print!("{}", kirikae::docs::functions_markdown()),
            }
            Ok(())
        }
        Command::SimPoints { area, count } => {
            let register = kirikae::tso_sim::register::Register::generate(
                area,
                s.sim_seed,
                s.sim_points_per_area,
            );
            for i in 0..count.min(s.sim_points_per_area) {
                let id = kirikae::tso_sim::register::point_id(area, i);
                if let Some(p) = register.get(&id) {
                    println!("{id}\t{}\t{}", p.current_retailer_code, p.supply_address);
                }
            }
            Ok(())
        }
        Command::Bench(args) => bench::run(s, args).await,
        // 1: a promise broken; 3: no verdict (a source could not be read).
        Command::Chaos(args) => match chaos::run(s, args).await?.verdict() {
            chaos::Verdict::Held => Ok(()),
            chaos::Verdict::Broken => std::process::exit(1),
            chaos::Verdict::NoVerdict => std::process::exit(3),
        },
    }
}

async fn company_action(s: &Settings, action: CompanyAction) -> anyhow::Result<()> {
    let pool = hub::pool(s)?;
    let (code, status) = match action {
        CompanyAction::IssueAdmin {
            code,
            user_id,
            name,
            password,
        } => {
            Accounts::new(s, pool.clone())
                .issue_admin(
                    &CompanyCode::parse(&code)?,
                    &UserId::parse(&user_id)?,
                    &name,
                    &password,
                )
                .await?;
            println!("administrator {user_id} issued for {code}");
            return Ok(());
        }
        CompanyAction::Suspend { code } => (code, RegistrationStatus::Suspended),
        CompanyAction::Resume { code } => (code, RegistrationStatus::Active),
        CompanyAction::End { code } => (code, RegistrationStatus::Ended),
    };
    registrations::set_status(&pool, &CompanyCode::parse(&code)?, status).await?;
    println!("registration {code} is {}", status.as_str());
    Ok(())
}

/// Every process serves its own `/metrics`, `/healthz` and `/readyz`.
async fn serve_ops(
    s: &Settings,
    listen: Option<SocketAddr>,
    pool: Option<deadpool_postgres::Pool>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let addr = hub::serve_ops(s, listen.unwrap_or(s.ops_listen), pool, shutdown).await?;
    tracing::info!(%addr, "ops endpoints listening");
    Ok(())
}

async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
        tracing::info!("stopping: finishing the work in hand (a second signal stops at once)");
        token.cancel();
        tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
        token.cancel();
        let _ = tokio::signal::ctrl_c().await;
    }
    tracing::warn!("second signal: stopping without finishing the work in hand");
    std::process::exit(130);
}

async fn notice_action(s: &Settings, action: NoticeAction) -> anyhow::Result<()> {
    let pool = hub::pool(s)?;
    match action {
        NoticeAction::Publish {
            title,
            body,
            body_file,
            terms_change,
        } => {
            let body = match (body, body_file) {
                (Some(b), _) => b,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .map_err(|e| anyhow::anyhow!("reading {}: {e}", f.display()))?,
                (None, None) => anyhow::bail!("notice publish: --body or --body-file"),
            };
            let notice = kirikae::notices::NewNotice {
                title: &title,
                body: &body,
                terms_change,
            };
            let p =
                kirikae::notices::publish(&pool, s, &notice, &registrations::operator()).await?;
            println!("notice {} published at {}", p.id, p.published_at);
            if terms_change {
                println!(
                    "{} mail(s) to registration contacts queued, due within {} days",
                    p.mails, s.terms_mail_days
                );
                for code in &p.without_contact {
                    eprintln!("warning: {code} has no contact address; it will not be mailed");
                }
            }
        }
        NoticeAction::List => {
            for n in kirikae::notices::overview(&pool).await? {
                let kind = if n.terms_change { "terms" } else { "notice" };
                println!(
                    "{}\t{}\t{kind}\t{}\tunsent mails: {}",
                    n.id,
                    n.published_at.to_rfc3339(),
                    n.title,
                    n.unsent_mails
                );
            }
        }
    }
    Ok(())
}

async fn keys_action(s: &Settings, action: KeysAction) -> anyhow::Result<()> {
    use kirikae::vault::{Period, ring::Source, shred};
    let period =
        |p: &str| Period::parse(p).ok_or_else(|| anyhow::anyhow!("{p}: a period is YYYY-MM"));
    match action {
        KeysAction::Add { id, from } => {
            shred::add_master_key(&Source::of(s), &id, &period(&from)?)?;
            println!(
                "master key {id} added to {} for the periods from {from}; give the same file \
                 to every process (the API, the projector, the connectors)",
                s.field_keys_file.display()
            );
        }
        KeysAction::Destroy { period: p } => {
            let p = period(&p)?;
            let pool = hub::pool(s)?;
            let source = Source::of(s);
            let done = shred::destroy_period(
                &pool,
                &source,
                &p,
                chrono::Utc::now(),
                &registrations::operator(),
            )
            .await?;
            println!("the data keys of {p} are destroyed");
            for id in &done.retired {
                match &source {
                    Source::File(path) => println!(
                        "master key {id} retired in {}: copy this file to every process and \
                         remove the key from its backups",
                        path.display()
                    ),
                    Source::Command(_) => println!(
                        "master key {id} wraps nothing live any more: destroy it in the key \
                         store {source} reads (its entry kept with destroyed_at, without the \
                         key), or the records of {p} stay readable"
                    ),
                }
            }
            for (id, why) in &done.kept {
                println!("master key {id} kept: {why}; the records of {p} stay readable with it");
            }
        }
    }
    Ok(())
}

async fn operator_action(s: &Settings, action: OperatorAction) -> anyhow::Result<()> {
    use kirikae::accounts::operators;
    let pool = hub::pool(s)?;
    let by = registrations::operator();
    match action {
        OperatorAction::Add { id, name, password } => {
            let accounts = Accounts::new(s, pool);
            operators::add_operator(&accounts, &UserId::parse(&id)?, &name, &password, &by).await?;
            println!(
                "operator {id} added; it signs in at /web/ops/signin from a machine holding an \
                 operator certificate (common name {})",
                operators::OPERATOR_CN
            );
        }
        OperatorAction::Disable { id } => {
            operators::set_operator_enabled(&pool, &id, false, &by).await?;
            println!("operator {id} disabled; its sessions are ended");
        }
        OperatorAction::Enable { id } => {
            operators::set_operator_enabled(&pool, &id, true, &by).await?;
            println!("operator {id} enabled");
        }
    }
    Ok(())
}
