//! The `kirikae` command: every process of the hub, its set-up, and its tools.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use kirikae::accounts::{self, CompanyKind};
use kirikae::config::Settings;
use kirikae::domain::{Area, CompanyCode, UserId};
use kirikae::{bench, certs, hub, ops, up};

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
    /// Writes a development CA, a server certificate and client certificates.
    Certs {
        /// Default: tls_dir from the settings.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// A company code to issue a client certificate for (repeatable).
        #[arg(long = "company")]
        companies: Vec<String>,
    },
    /// Registers a company (the hub operator's task).
    Company {
        #[arg(long)]
        code: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["retailer", "dr_contractor"], default_value = "retailer")]
        kind: String,
    },
    /// Issues a user id to a person of a company; the password is read from KIRIKAE_NEW_PASSWORD.
    User {
        #[arg(long)]
        company: String,
        #[arg(long)]
        user_id: String,
        #[arg(long, env = "KIRIKAE_NEW_PASSWORD", hide_env_values = true)]
        password: String,
    },
    /// Puts an area's failed requests (its dead-letter topic) back to be delivered again.
    Replay {
        #[arg(long, value_parser = parse_area)]
        area: Area,
        /// Replay only this request (repeatable); default: every failed one.
        #[arg(long = "request-id")]
        request_ids: Vec<String>,
    },
    /// Prints the API's OpenAPI 3.1 document (also served at /openapi.json).
    Openapi,
    /// Prints docs/functions.md: every function's fields and answer, from the schemas.
    Docs,
    /// Lists supply points of an area's simulated register, with their current retailer.
    SimPoints {
        #[arg(long, value_parser = parse_area)]
        area: Area,
        #[arg(long, default_value_t = 10)]
        count: u32,
    },
    /// Measures the hub: submissions over HTTPS with mTLS, and the same records straight to Kafka.
    Bench(bench::BenchArgs),
}

fn parse_area(s: &str) -> Result<Area, String> {
    s.parse::<Area>().map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,rdkafka=warn,librdkafka=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let settings = Settings::load(cli.config.as_deref())?;
    let shutdown = CancellationToken::new();
    tokio::spawn(cancel_on_signal(shutdown.clone()));
    run(cli.command, settings, shutdown).await
}

async fn run(command: Command, mut s: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    match command {
        Command::Up => up::run(s, shutdown).await,
        Command::Api { listen, ops_listen } => {
            let pool = hub::pool(&s)?;
            let addr = hub::start_api(
                &s,
                pool.clone(),
                listen.unwrap_or(s.api_listen),
                shutdown.clone(),
            )
            .await?;
            serve_ops(&s, ops_listen, Some(pool), &shutdown).await?;
            tracing::info!(%addr, "API listening (TLS)");
            shutdown.cancelled().await;
            Ok(())
        }
        Command::Connector {
            area,
            endpoint,
            ops_listen,
        } => {
            serve_ops(&s, ops_listen, None, &shutdown).await?;
            kirikae::connector::run(s, area, endpoint, shutdown).await
        }
        Command::Projector { ops_listen } => {
            let pool = hub::pool(&s)?;
            serve_ops(&s, ops_listen, Some(pool.clone()), &shutdown).await?;
            hub::start_intermediation_expiry(&s, pool.clone(), shutdown.clone());
            kirikae::projector::run(s, pool, shutdown).await
        }
        Command::TsoSim { area, listen } => {
            let listen = listen.unwrap_or(SocketAddr::from((
                [127, 0, 0, 1],
                s.sim_base_port + area.number(),
            )));
            let (addr, sim) = hub::start_sim(&s, area, listen, shutdown.clone()).await?;
            hub::start_batch_desk_of(&s, area, sim, shutdown.clone())?;
            tracing::info!(%addr, area = area.code(), operator = area.operator_ja(), "simulator listening");
            shutdown.cancelled().await;
            Ok(())
        }
        Command::Migrate => {
            hub::prepare(&s).await?;
            println!("database and topics ready");
            Ok(())
        }
        Command::Certs { dir, companies } => {
            let codes = companies
                .iter()
                .map(|c| CompanyCode::parse(c))
                .collect::<Result<Vec<_>, _>>()?;
            s.tls_dir = dir.unwrap_or(s.tls_dir);
            certs::generate(&s.tls_dir, "kirikae development CA", &codes)?;
            println!("certificates in {}", s.tls_dir.display());
            Ok(())
        }
        Command::Company { code, name, kind } => {
            let kind = if kind == "retailer" {
                CompanyKind::Retailer
            } else {
                CompanyKind::DrContractor
            };
            accounts::upsert_company(&hub::pool(&s)?, &CompanyCode::parse(&code)?, &name, kind)
                .await?;
            println!("company {code} registered");
            Ok(())
        }
        Command::User {
            company,
            user_id,
            password,
        } => {
            let pool = hub::pool(&s)?;
            accounts::create_user(
                &pool,
                &CompanyCode::parse(&company)?,
                &UserId::parse(&user_id)?,
                &password,
            )
            .await?;
            println!("user {user_id} issued for {company}");
            Ok(())
        }
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
        Command::Docs => {
            print!("{}", kirikae::docs::functions_markdown());
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
    }
}

/// Every process serves its own `/metrics`, `/healthz` and `/readyz`.
async fn serve_ops(
    s: &Settings,
    listen: Option<SocketAddr>,
    pool: Option<deadpool_postgres::Pool>,
    shutdown: &CancellationToken,
) -> anyhow::Result<()> {
    let addr = ops::serve(
        listen.unwrap_or(s.ops_listen),
        hub::ready_check(s, pool)?,
        shutdown.clone(),
    )
    .await?;
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
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    token.cancel();
}
