//! The hub of a fault run as separate OS processes, each of which can be killed with SIGKILL
//! and started again: two APIs, the projector, ten connectors and ten simulators (this very
//! executable), a tansu broker and a PostgreSQL cluster of the run's own, on ports and in a
//! folder nobody else uses, so the run hurts no other hub on the machine.

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::accounts::registrations::{self, NewRegistration};
use crate::accounts::{Accounts, CompanyKind, certificates};
use crate::config::Settings;
use crate::connector::definition::ConnectorDefinition;
use crate::domain::{Area, CompanyCode, UserId};
use crate::tso_sim::register;
use crate::{certs, hub, tso_sim};

/// The retailer that files most of the load; the areas' incumbents file the other half of
/// each switch.
pub const RETAILER: &str = "A0001";
/// The password of every user of the run.
pub const PASSWORD: &str = "Chaos-run-password-1";

/// The user id of `company`'s administrator in the run.
pub fn user_of(company: &str) -> String {
    format!("chaos-{}", company.to_lowercase())
}

/// A part of the hub the run can kill and start again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Part {
    Api(usize),
    Projector,
    Connector(Area),
    Sim(Area),
}

impl std::fmt::Display for Part {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Part::Api(i) => write!(f, "api {}", i + 1),
            Part::Projector => f.write_str("projector"),
            Part::Connector(a) => write!(f, "connector {}", a.code()),
            Part::Sim(a) => write!(f, "tso-sim {}", a.code()),
        }
    }
}

/// One `kirikae` child: how to start it again, and the running process.
struct Proc {
    args: Vec<String>,
    child: Option<Child>,
}

/// The run's broker: tansu on its own port and data folder.
struct Broker {
    binary: PathBuf,
    dir: PathBuf,
    port: u16,
    child: Option<Child>,
}

/// The run's PostgreSQL cluster (initdb into the run folder), driven with `pg_ctl`.
struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    /// Run as this user (PostgreSQL refuses to run as root).
    as_user: Option<String>,
}

pub struct Cluster {
    pub dir: PathBuf,
    pub settings: Settings,
    pub apis: Vec<SocketAddr>,
    pub sims: BTreeMap<Area, SocketAddr>,
    exe: PathBuf,
    config: PathBuf,
    procs: BTreeMap<Part, Proc>,
    broker: Broker,
    postgres: Postgres,
    keep: bool,
    stopped: bool,
}

/// A port free now, for a process the run starts.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_port(port: u16, within: Duration, what: &str) -> anyhow::Result<()> {
    let deadline = Instant::now() + within;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("{what} did not listen on {port} within {within:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Ok(())
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<Stdio> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(name))?;
    Ok(Stdio::from(file))
}

impl Broker {
    fn start(&mut self) -> anyhow::Result<()> {
        let listen = format!("tcp://127.0.0.1:{}", self.port);
        let child = Command::new(&self.binary)
            .args(["broker", "--listener-url", &listen])
            .args(["--advertised-listener-url", &listen])
            .args(["--storage-engine", "sqlite://tansu.db"])
            .current_dir(&self.dir)
            .stdout(Stdio::null())
            .stderr(log_file(&self.dir, "tansu.log")?)
            .spawn()
            .with_context(|| format!("starting tansu {}", self.binary.display()))?;
        self.child = Some(child);
        wait_port(self.port, Duration::from_secs(30), "tansu")
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Postgres {
    /// `/usr/lib/postgresql/<newest>/bin`.
    fn find_bin() -> anyhow::Result<PathBuf> {
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
            .context("no /usr/lib/postgresql: install PostgreSQL (Debian's postgresql)")?
            .filter_map(|e| {
                let e = e.ok()?;
                let v = e.file_name().to_str()?.parse::<u32>().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").exists().then_some((v, bin))
            })
            .collect();
        versions.sort();
        versions
            .pop()
            .map(|(_, b)| b)
            .context("no initdb under /usr/lib/postgresql/*/bin")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.as_user {
            Some(user) => {
                // By its path: a root shell's PATH may lack /usr/sbin (CI's does).
                let runuser = ["/usr/sbin/runuser", "/sbin/runuser"]
                    .into_iter()
                    .find(|p| std::path::Path::new(p).exists())
                    .unwrap_or("runuser");
                let mut c = Command::new(runuser);
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let out = self
            .command(program)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .with_context(|| format!("running {program}"))?;
        if !out.status.success() {
            bail!(
                "{program} {args:?} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    fn init(&self) -> anyhow::Result<()> {
        let data = self.data.to_string_lossy().to_string();
        self.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
            ],
        )
    }

    fn start(&self) -> anyhow::Result<()> {
        let data = self.data.to_string_lossy().to_string();
        let log = self.data.join("postgres.log").to_string_lossy().to_string();
        // fsync off: a killed server's writes are still in the kernel's cache (only a machine
        // crash would lose them), and the run's PostgreSQL shares two cores with everything.
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {data} -c fsync=off -c max_connections=300",
            self.port
        );
        self.run(
            "pg_ctl",
            &[
                "-D", &data, "-l", &log, "-o", &options, "-w", "-t", "60", "start",
            ],
        )
    }

    /// Stops it at once, as a crash would (`-m immediate`: no checkpoint, recovery at start).
    fn crash(&self) -> anyhow::Result<()> {
        let data = self.data.to_string_lossy().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"])
    }

    fn stop(&self) {
        let data = self.data.to_string_lossy().to_string();
        let _ = self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "stop"]);
    }
}

impl Cluster {
    /// Makes the run's folder, PostgreSQL cluster and broker, prepares the database, topics,
    /// key ring, certificates and registrations, and starts every `kirikae` process.
    pub async fn start(
        base: &Settings,
        exe: PathBuf,
        tansu: PathBuf,
        keep: bool,
    ) -> anyhow::Result<Cluster> {
        let dir = std::env::temp_dir().join(format!(
            "kirikae-chaos-{}-{}",
            std::process::id(),
            chrono::Utc::now().format("%H%M%S")
        ));
        std::fs::create_dir_all(&dir)?;
        let dir = dir.canonicalize()?;
        let as_user = running_as_root().then(|| "postgres".to_string());
        let pg_data = dir.join("pg");
        std::fs::create_dir_all(&pg_data)?;
        if as_user.is_some() {
            chown_to_postgres(&dir, &pg_data)?;
        }
        let postgres = Postgres {
            bin: Postgres::find_bin()?,
            data: pg_data,
            port: free_port()?,
            as_user,
        };
        postgres.init()?;
        postgres.start()?;
        // From here on, a failure stops the cluster before it returns.
        let stop_postgres = |e: anyhow::Error| {
            postgres.stop();
            e
        };
        let broker_dir = dir.join("broker");
        std::fs::create_dir_all(&broker_dir).map_err(|e| stop_postgres(e.into()))?;
        let mut broker = Broker {
            binary: tansu,
            dir: broker_dir,
            port: free_port().map_err(stop_postgres)?,
            child: None,
        };
        if let Err(e) = broker.start() {
            broker.kill();
            return Err(stop_postgres(e));
        }
        let settings = match run_settings(base, &dir, postgres.port, broker.port) {
            Ok(s) => s,
            Err(e) => {
                broker.kill();
                return Err(stop_postgres(e));
            }
        };
        let mut cluster = Cluster {
            dir: dir.clone(),
            settings,
            apis: Vec::new(),
            sims: BTreeMap::new(),
            exe,
            config: dir.join("kirikae.toml"),
            procs: BTreeMap::new(),
            broker,
            postgres,
            keep,
            stopped: false,
        };
        let ready = match cluster.prepare().await {
            Ok(()) => cluster.spawn_all(),
            Err(e) => Err(e),
        };
        if let Err(e) = ready {
            cluster.stop();
            return Err(e);
        }
        Ok(cluster)
    }

    /// The database, topics, key ring, development PKI and the run's registrations.
    async fn prepare(&mut self) -> anyhow::Result<()> {
        let s = &self.settings;
        let pool = hub::prepare(s).await?;
        crate::vault::keys(s)?;
        let mut companies = vec![(RETAILER.to_string(), "カオス電力株式会社".to_string())];
        for area in Area::ALL {
            companies.push((
                register::incumbent_code(area),
                format!("{} 既存小売", area.code()),
            ));
        }
        let codes: Vec<CompanyCode> = companies
            .iter()
            .map(|(c, _)| CompanyCode::parse(c))
            .collect::<Result<_, _>>()?;
        certs::generate(&s.tls_dir, "kirikae chaos CA", &codes)?;
        let accounts = Accounts::new(s, pool.clone());
        for ((_, name), code) in companies.iter().zip(&codes) {
            let user = UserId::parse(&user_of(code.as_str()))?;
            let mail = format!("{}@example.jp", user.as_str());
            registrations::register_company(
                &pool,
                &NewRegistration {
                    code,
                    name,
                    kind: CompanyKind::Retailer,
                    contact_email: Some(&mail),
                    corporate_number: None,
                },
            )
            .await?;
            certificates::register_dev_certificates(&pool, &s.tls_dir, std::slice::from_ref(code))
                .await?;
            accounts
                .issue_admin_with_chosen_password(code, &user, "カオス 管理者", PASSWORD)
                .await?;
        }
        // Every child reads the same settings from this file (and no KIRIKAE_* variable).
        let mut child = s.clone();
        child.field_keys_create = false;
        std::fs::write(&self.config, toml::to_string(&child)?)?;
        Ok(())
    }

    fn spawn_all(&mut self) -> anyhow::Result<()> {
        for area in Area::ALL {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
            self.sims.insert(area, addr);
            self.add(
                Part::Sim(area),
                vec![
                    "tso-sim".into(),
                    "--area".into(),
                    area.code().into(),
                    "--listen".into(),
                    addr.to_string(),
                ],
            )?;
        }
        for area in Area::ALL {
            wait_port(
                self.sims[&area].port(),
                Duration::from_secs(60),
                "a simulator",
            )?;
        }
        for i in 0..2 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_port()?));
            self.apis.push(addr);
            self.add(
                Part::Api(i),
                vec![
                    "api".into(),
                    "--listen".into(),
                    addr.to_string(),
                    "--ops-listen".into(),
                    "127.0.0.1:0".into(),
                ],
            )?;
        }
        self.add(
            Part::Projector,
            vec![
                "projector".into(),
                "--ops-listen".into(),
                "127.0.0.1:0".into(),
            ],
        )?;
        for area in Area::ALL {
            let def = ConnectorDefinition::load(&self.settings.connectors_dir, area)?;
            let mut args = vec![
                "connector".to_string(),
                "--area".into(),
                area.code().into(),
                "--ops-listen".into(),
                "127.0.0.1:0".into(),
            ];
            // A batch area keeps its definition's folder, relative to the run folder (the
            // children's working directory), where its simulator's desk is too.
            if def.protocol != crate::wire::ProtocolFamily::Batch {
                args.push("--endpoint".into());
                args.push(tso_sim::endpoint(self.sims[&area], def.protocol));
            }
            self.add(Part::Connector(area), args)?;
        }
        for (i, api) in self.apis.clone().iter().enumerate() {
            wait_port(
                api.port(),
                Duration::from_secs(60),
                &format!("api {}", i + 1),
            )?;
        }
        Ok(())
    }

    fn add(&mut self, part: Part, args: Vec<String>) -> anyhow::Result<()> {
        let mut proc = Proc { args, child: None };
        proc.child = Some(self.spawn(part, &proc.args)?);
        self.procs.insert(part, proc);
        Ok(())
    }

    fn spawn(&self, part: Part, args: &[String]) -> anyhow::Result<Child> {
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--config").arg(&self.config).args(args);
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("KIRIKAE_") {
                cmd.env_remove(k);
            }
        }
        let log = format!("{}.log", part.to_string().replace(' ', "-"));
        cmd.env("RUST_LOG", "warn,kirikae=info")
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(log_file(&self.dir, &log)?)
            .stderr(log_file(&self.dir, &log)?);
        cmd.spawn()
            .with_context(|| format!("starting {part} ({})", self.exe.display()))
    }

    /// `kill -9` of a part.
    pub fn kill(&mut self, part: Part) {
        if let Some(proc) = self.procs.get_mut(&part)
            && let Some(mut child) = proc.child.take()
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts a killed part again with the same arguments.
    pub fn restart(&mut self, part: Part) -> anyhow::Result<()> {
        let args = self.procs.get(&part).context("no such part")?.args.clone();
        let child = self.spawn(part, &args)?;
        if let Some(proc) = self.procs.get_mut(&part) {
            proc.child = Some(child);
        }
        if let Part::Api(i) = part {
            wait_port(self.apis[i].port(), Duration::from_secs(60), "the api")?;
        }
        Ok(())
    }

    pub fn kill_broker(&mut self) {
        self.broker.kill();
    }

    pub fn restart_broker(&mut self) -> anyhow::Result<()> {
        self.broker.start()
    }

    pub fn crash_postgres(&self) -> anyhow::Result<()> {
        self.postgres.crash()
    }

    pub fn start_postgres(&self) -> anyhow::Result<()> {
        self.postgres.start()
    }

    /// Parts that exited on their own (not killed by the run): a crash the run did not cause.
    pub fn exited(&mut self) -> Vec<(Part, String)> {
        let mut out = Vec::new();
        for (part, proc) in &mut self.procs {
            if let Some(child) = &mut proc.child
                && let Ok(Some(status)) = child.try_wait()
            {
                out.push((*part, status.to_string()));
                proc.child = None;
            }
        }
        out
    }

    /// Stops everything: the `kirikae` processes, the broker and PostgreSQL; removes the run
    /// folder unless asked to keep it.
    pub fn stop(&mut self) {
        let parts: Vec<Part> = self.procs.keys().copied().collect();
        for part in parts {
            self.kill(part);
        }
        self.broker.kill();
        self.postgres.stop();
        self.stopped = true;
        if self.keep {
            eprintln!(
                "chaos: the run's folder (logs, data) is kept in {}",
                self.dir.display()
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Idempotent: nothing is left to kill after `stop`.
        let parts: Vec<Part> = self.procs.keys().copied().collect();
        for part in parts {
            self.kill(part);
        }
        self.broker.kill();
        if !self.stopped {
            self.postgres.stop();
        }
    }
}

/// The run's settings: its own database, broker and folders; producers without idempotence
/// (tansu 0.6 fails idempotent produces after its own restart: docs/reliability.md); switch
/// halves left unmatched refused after 20 s so that every request ends within the run; webhooks
/// allowed to the run's receiver on 127.0.0.1 (`webhook_allow_private`, its certificate from
/// the run's CA) and retried within seconds rather than an hour.
fn run_settings(
    base: &Settings,
    dir: &Path,
    pg_port: u16,
    broker_port: u16,
) -> anyhow::Result<Settings> {
    let connectors_dir = if base.connectors_dir.is_absolute() {
        base.connectors_dir.clone()
    } else {
        std::env::current_dir()?.join(&base.connectors_dir)
    };
    Ok(Settings {
        kafka_brokers: format!("127.0.0.1:{broker_port}"),
        kafka_idempotence: false,
        topic_prefix: "chaos".into(),
        topic_partitions: 3,
        database_url: format!("postgres://kirikae@127.0.0.1:{pg_port}/kirikae_chaos"),
        database_owner: "postgres".into(),
        database_owner_password: None,
        database_pool_size: 8,
        api_listen: "127.0.0.1:0".parse()?,
        ops_listen: "127.0.0.1:0".parse()?,
        tls_dir: dir.join("certs"),
        webhook_allow_private: true,
        webhook_ca_file: Some(dir.join("certs").join("ca.pem")),
        webhook_retry_min_ms: 200,
        webhook_retry_max_ms: 2_000,
        webhook_poll_ms: 100,
        connectors_dir,
        connector_lanes: 8,
        sim_data_dir: dir.join("sim"),
        sim_match_window_ms: Some(20_000),
        mail_dir: dir.join("mail"),
        field_keys_file: dir.join("keys").join("field-keys.json"),
        field_keys_create: true,
        // Nobody listens there: the notice mailer has nothing to send in a run anyway.
        smtp_port: free_port()?,
        ..base.clone()
    })
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// PostgreSQL's data folder belongs to the `postgres` user, and the run folder lets it in.
fn chown_to_postgres(run: &Path, data: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let status = Command::new("chown")
        .args(["postgres:postgres"])
        .arg(data)
        .status()?;
    if !status.success() {
        bail!("chown postgres {}", data.display());
    }
    std::fs::set_permissions(run, std::fs::Permissions::from_mode(0o755))?;
    Ok(())
}
