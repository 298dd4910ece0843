//! One typed configuration for every process: built-in defaults that run on this machine,
//! then `kirikae.toml` (or the file given with `--config`), then `KIRIKAE_*` environment variables.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::domain::Area;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Kafka bootstrap servers (`KIRIKAE_KAFKA_BROKERS`); any Kafka-protocol cluster.
    pub kafka_brokers: String,
    /// First part of every topic name: `<prefix>.requests.<area>` and so on.
    pub topic_prefix: String,
    /// Partitions of each topic created by `migrate` or at start.
    pub topic_partitions: i32,
    /// Replication factor of each topic created (1 for a single local broker).
    pub topic_replication: i16,
    /// `retention.ms` of the result, intermediation and audit topics created: -1, kept for good
    /// (the log is the record the projector rebuilds from, and the audit topic the trail's
    /// copy). Set a finite value only with a backup of the database and of the audit trail
    /// that covers it.
    pub topic_retention_ms: i64,
    /// `retention.ms` of the request and dead-letter topics created: finite, 30 days by
    /// default, because their records carry what a customer gave (names, addresses, usage
    /// passwords) and are needed only until the request is answered or replayed; the status
    /// rebuilt from the log keeps what the status API shows. -1 keeps them for good.
    pub request_retention_ms: i64,
    /// Idempotent producers (Kafka's exactly-once per partition). Turn off only for a broker
    /// whose idempotence does not survive its own restart (tansu 0.6, see docs/architecture.md):
    /// sends then stay `acks=all`, one in flight per connection to keep order, and every
    /// consumer already deduplicates by request id.
    pub kafka_idempotence: bool,
    /// How long a producer holds a record to send it with others (`linger.ms`): a longer wait
    /// sends fewer, fuller produce requests, for that much more latency before each 202.
    pub kafka_linger_ms: u32,
    /// Kafka `security.protocol`: `plaintext` (local), `ssl`, or `sasl_ssl` (TLS and a SASL
    /// login), passed to every client the hub makes.
    pub kafka_security_protocol: KafkaSecurityProtocol,
    /// The SASL mechanism with `sasl_ssl`: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512`.
    pub kafka_sasl_mechanism: KafkaSaslMechanism,
    /// The SASL login's user name with `sasl_ssl`.
    pub kafka_sasl_username: Option<String>,
    /// The SASL login's password with `sasl_ssl` (from a secret, never in a file in the image).
    pub kafka_sasl_password: Option<String>,
    /// PEM file of the CA(s) the brokers' certificates are checked against (`ssl.ca.location`);
    /// unset: the system's trusted CAs.
    pub kafka_ca_file: Option<PathBuf>,
    /// PostgreSQL URL the services connect with (`KIRIKAE_DATABASE_URL`): the hub's own login
    /// role, which may read and write the tables but owns none, and may only append to the
    /// audit trail. `migrate` creates the role when missing (with the URL's password, if any).
    pub database_url: String,
    /// The role that owns the schema and runs the migrations (`migrate`, `up`): the same
    /// server and database as `database_url`, with this user…
    pub database_owner: String,
    /// …and this password (none with local trust authentication).
    pub database_owner_password: Option<String>,
    /// TLS to PostgreSQL: `disable`, `prefer`, `require` (encrypted, server not checked) or
    /// `verify-full` (encrypted, certificate checked against `database_ca_file` and the host
    /// name). Overrides an `sslmode` in the URL.
    pub database_sslmode: DatabaseSslMode,
    /// PEM file of the CA(s) the database server's certificate is checked against
    /// (`verify-full`).
    pub database_ca_file: Option<PathBuf>,
    /// Connections each process keeps to PostgreSQL at most.
    pub database_pool_size: usize,
    /// Where the API listens (TLS only).
    pub api_listen: SocketAddr,
    /// Where `/metrics`, `/healthz` and `/readyz` listen (plain HTTP, for Prometheus): the API's
    /// (and `up`'s) here, the projector's on the next port, the connector of area N on this
    /// port + 10 + N (9111–9120 by default), so every process can run side by side on one
    /// machine; `--ops-listen` moves one process's.
    pub ops_listen: SocketAddr,
    /// The folder holding `ca.pem`, `server.pem`, `server.key` (written by `kirikae certs`).
    pub tls_dir: PathBuf,
    /// How long a login's bearer token is valid.
    pub session_ttl_secs: u64,
    /// A web (cookie) session unused this long ends; never later than `session_ttl_secs`.
    pub web_idle_secs: u64,
    /// The folder holding one definition per area: `<dir>/<area>/connector.toml`.
    pub connectors_dir: PathBuf,
    /// Requests one connector works on at once (spread by point id, so one point stays ordered);
    /// a definition may set its own `lanes`, and a batch area takes at least `4 × batch_max`.
    pub connector_lanes: usize,
    /// How long the operator may take to answer a call before its request is reported `sent`:
    /// an answer within it goes from `accepted` straight to its final status, sparing the
    /// broker and the projector a record no one could have seen for long (docs/performance.md).
    pub connector_sent_after_ms: u64,
    /// How many recent results per partition a connector reads back at start, and keeps in
    /// memory, to recognise redeliveries.
    pub connector_dedupe_window: i64,
    /// The simulator of area N listens on this port + N unless its definition says otherwise.
    pub sim_base_port: u16,
    /// Supply points in each simulated register.
    pub sim_points_per_area: u32,
    /// Seed of the simulated registers, so every run holds the same points.
    pub sim_seed: u64,
    /// Where simulators write what a grid operator would send by mail or file.
    pub sim_data_dir: PathBuf,
    /// When set, a simulated operator refuses a switch application still unmatched this long
    /// after filing, instead of waiting for its business-day deadline (for demos and tests).
    pub sim_match_window_ms: Option<u64>,
    /// An intermediation (スイッチング廃止取次) without a decision expires at the end of this
    /// many business days after the day it was registered.
    pub intermediation_expiry_business_days: u32,
    /// When set, an intermediation expires this long after registration instead (tests, demos).
    pub intermediation_expiry_ms: Option<u64>,
    /// A claimed intermediation transition whose event was never produced (a crash between
    /// claim and produce) may be claimed again after this long.
    pub intermediation_claim_timeout_secs: u64,
    /// Requests per second one registration may make (its client certificate's company);
    /// beyond it the API answers 429 with Retry-After.
    pub rate_limit_per_sec: u32,
    /// Requests a registration may make at once above the steady rate.
    pub rate_limit_burst: u32,
    /// The SMTP server that mail to users (user ids, initial passwords, notices) goes through.
    pub smtp_host: String,
    /// The SMTP server's port (2525: the local mail sink of `kirikae up`).
    pub smtp_port: u16,
    /// TLS to the SMTP server: `none` (a relay on loopback, the local default), `starttls`
    /// (required, usually port 587) or `tls` (from the first byte, usually port 465). The
    /// server's certificate is checked against the system's trusted CAs, or `smtp_ca_file`.
    pub smtp_tls: SmtpTls,
    /// PEM file of a CA the SMTP server's certificate is checked against, in addition.
    pub smtp_ca_file: Option<PathBuf>,
    /// The SMTP login's user name, when the server asks for one.
    pub smtp_username: Option<String>,
    /// The SMTP login's password (from a secret).
    pub smtp_password: Option<String>,
    /// The sender of every mail.
    pub mail_from: String,
    /// Where the local mail sink (`kirikae up`, the tests) writes each message it receives.
    pub mail_dir: PathBuf,
    /// A password has at least this many characters…
    pub password_min_length: usize,
    /// …and characters of at least this many of the four classes (upper, lower, digit, symbol).
    pub password_min_classes: usize,
    /// The last this many passwords of a user cannot be chosen again.
    pub password_history: usize,
    /// This many failed logins in a row lock the account until its administrator unlocks it.
    pub lockout_after: i32,
    /// Accounts unused for this many days are disabled (a periodic job).
    pub disable_after_days: u32,
    /// A change of the terms of use is mailed to every registration's contact within this many
    /// days of its notice (terms 1.3.3: 30); a mail still unsent then is reported overdue.
    pub terms_mail_days: u32,
    /// How often the notice mailer looks for mail to send (and retries what failed).
    pub notice_mail_interval_ms: u64,
    /// How long a missing audit id must stay missing before the relay asks PostgreSQL which
    /// transactions could still commit it (it is passed only once none can: rolled back).
    pub audit_gap_patience_ms: u64,
    /// Logins one user id may attempt per minute (the hub's: the API processes share it, each
    /// taking 1/N), all at once if it likes; beyond it the login is answered 429
    /// `rate_limited` before any password work.
    pub login_per_user_per_min: u32,
    /// Logins one client certificate may attempt per minute, for any users (shared by the API
    /// processes as `login_per_user_per_min` is).
    pub login_per_certificate_per_min: u32,
    /// A client must send a request's whole header within this long of its connection being
    /// ready for one (HTTP/1.1; also how long an idle kept-alive connection stays open), and
    /// an HTTP/2 client must answer a ping within it; otherwise the connection is closed.
    pub http_header_timeout_ms: u64,
    /// A request's whole body must arrive within this long of its header; a client that
    /// dribbles or stops is answered 408 `request_timeout` and its connection closed.
    pub http_body_timeout_ms: u64,
    /// A client must finish the TLS handshake within this long of its TCP connection being
    /// accepted; otherwise the connection is closed (a silent or slow client holds a socket and
    /// a task for this long at most).
    pub tls_handshake_timeout_ms: u64,
    /// The most connections one API process holds at once, handshakes included. At the cap it
    /// accepts no more until one ends: the next clients wait in the listen backlog rather than
    /// exhaust the process's file descriptors (its open-file limit, `ulimit -n`, must be above
    /// this plus the database pool and the broker connections).
    pub http_max_connections: usize,
    /// A PEM file of a CA trusted for webhook endpoints besides the public roots (a private
    /// PKI, or the tests' own CA).
    pub webhook_ca_file: Option<PathBuf>,
    /// How long a webhook event is retried before it is recorded `failed` and the next one is
    /// delivered (a day by default).
    pub webhook_retry_for_secs: u64,
    /// The first retry delay of a failed webhook delivery; each next one doubles (with jitter).
    pub webhook_retry_min_ms: u64,
    /// The longest delay between two attempts at one webhook event.
    pub webhook_retry_max_ms: u64,
    /// How often the webhook delivery job looks for new events when it has nothing to do.
    pub webhook_poll_ms: u64,
    /// Lets a webhook point at loopback, private, link-local and other internal addresses
    /// (local development and the tests only): off, they are refused at registration and
    /// never connected to at delivery (SSRF; docs/security.md).
    pub webhook_allow_private: bool,
    /// How every process writes its log lines to stderr: `text` (for a person at a terminal)
    /// or `json` (one object a line, for a log collector). Each line about an HTTP request
    /// carries its `request_id` and `trace_id` either way.
    pub log_format: LogFormat,
    /// The key ring of master keys that wrap the data keys of the records' personal fields
    /// (JSON, docs/security.md): the API, the projector and every connector read the same one.
    pub field_keys_file: PathBuf,
    /// With no file at `field_keys_file`, write a fresh local key ring there (a development
    /// machine). Off (Helm), a missing key ring stops the process rather than let it write
    /// personal data in clear.
    pub field_keys_create: bool,
    /// A command (run with `/bin/sh -c`) that prints the key ring, read instead of
    /// `field_keys_file`, so the master keys stay in a KMS or secret store and never on this
    /// machine's disk, e.g. `vault kv get -field=ring secret/kirikae`. Run at start and again
    /// whenever the ring is read again; `kirikae keys add` and the retiring of keys are then
    /// done in the store (docs/security.md).
    pub field_keys_command: Option<String>,
    /// Where every process sends the spans of its work (OTLP over HTTP, JSON encoding), e.g.
    /// `http://127.0.0.1:4318` for an OpenTelemetry Collector, Jaeger or Tempo; `/v1/traces` is
    /// appended. Unset: nothing is recorded or sent (the trace id is still logged).
    pub otlp_endpoint: Option<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            kafka_brokers: "127.0.0.1:9092".into(),
            topic_prefix: "kirikae".into(),
            topic_partitions: 3,
            topic_replication: 1,
            topic_retention_ms: -1,
            request_retention_ms: 30 * 24 * 3600 * 1000,
            kafka_idempotence: true,
            kafka_linger_ms: 2,
            kafka_security_protocol: KafkaSecurityProtocol::Plaintext,
            kafka_sasl_mechanism: KafkaSaslMechanism::ScramSha512,
            kafka_sasl_username: None,
            kafka_sasl_password: None,
            kafka_ca_file: None,
            database_url: "postgres://kirikae@127.0.0.1:5432/kirikae".into(),
            database_owner: "postgres".into(),
            database_owner_password: None,
            database_sslmode: DatabaseSslMode::Disable,
            database_ca_file: None,
            database_pool_size: 16,
            api_listen: "127.0.0.1:8443".parse().expect("literal"),
            ops_listen: "127.0.0.1:9100".parse().expect("literal"),
            tls_dir: ".kirikae/certs".into(),
            session_ttl_secs: 8 * 3600,
            web_idle_secs: 30 * 60,
            connectors_dir: "connectors".into(),
            connector_lanes: 32,
            connector_sent_after_ms: 100,
            connector_dedupe_window: 20_000,
            sim_base_port: 18100,
            sim_points_per_area: 5000,
            sim_seed: 2016,
            sim_data_dir: ".kirikae/sim".into(),
            sim_match_window_ms: None,
            intermediation_expiry_business_days: 2,
            intermediation_expiry_ms: None,
            intermediation_claim_timeout_secs: 30,
            rate_limit_per_sec: 1000,
            rate_limit_burst: 2000,
            smtp_host: "127.0.0.1".into(),
            smtp_port: 2525,
            smtp_tls: SmtpTls::None,
            smtp_ca_file: None,
            smtp_username: None,
            smtp_password: None,
            mail_from: "kirikae@localhost".into(),
            mail_dir: ".kirikae/mail".into(),
            password_min_length: 12,
            password_min_classes: 3,
            password_history: 5,
            lockout_after: 5,
            disable_after_days: 90,
            terms_mail_days: 30,
            notice_mail_interval_ms: 5000,
            audit_gap_patience_ms: 1_000,
            login_per_user_per_min: 20,
            login_per_certificate_per_min: 120,
            http_header_timeout_ms: 10_000,
            http_body_timeout_ms: 60_000,
            tls_handshake_timeout_ms: 10_000,
            http_max_connections: 4096,
            webhook_ca_file: None,
            webhook_retry_for_secs: 24 * 3600,
            webhook_retry_min_ms: 1_000,
            webhook_retry_max_ms: 3_600_000,
            webhook_poll_ms: 250,
            webhook_allow_private: false,
            log_format: LogFormat::Text,
            field_keys_file: ".kirikae/keys/field-keys.json".into(),
            field_keys_create: true,
            field_keys_command: None,
            otlp_endpoint: None,
        }
    }
}

/// Kafka's `security.protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KafkaSecurityProtocol {
    Plaintext,
    Ssl,
    SaslSsl,
}

/// Kafka's `sasl.mechanism`, as Kafka spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KafkaSaslMechanism {
    #[serde(rename = "PLAIN")]
    Plain,
    #[serde(rename = "SCRAM-SHA-256")]
    ScramSha256,
    #[serde(rename = "SCRAM-SHA-512")]
    ScramSha512,
}

/// PostgreSQL's `sslmode`, as libpq spells it (the subset the hub offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatabaseSslMode {
    Disable,
    Prefer,
    Require,
    VerifyFull,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    Text,
    Json,
}

/// How mail reaches the SMTP server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    None,
    Starttls,
    Tls,
}

#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(#[from] Box<figment::Error>);

impl Settings {
    /// Defaults, then the file (`kirikae.toml` when none is named and it exists), then env.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(f) => fig = fig.merge(Toml::file_exact(f)),
            None => fig = fig.merge(Toml::file("kirikae.toml")),
        }
        // KIRIKAE_NEW_PASSWORD is an input of `kirikae user`, not a setting.
        fig = fig.merge(Env::prefixed("KIRIKAE_").ignore(&["NEW_PASSWORD"]));
        fig.extract().map_err(|e| ConfigError(Box::new(e)))
    }

    /// The password rules these settings make.
    pub fn password_policy(&self) -> crate::domain::PasswordPolicy {
        crate::domain::PasswordPolicy {
            min_length: self.password_min_length,
            min_classes: self.password_min_classes,
        }
    }

    /// The projector's ops listener: the port after [`Settings::ops_listen`]'s.
    pub fn projector_ops_listen(&self) -> SocketAddr {
        self.ops_listen_plus(1)
    }

    /// The ops listener of `area`'s connector: [`Settings::ops_listen`]'s port + 10 + the
    /// area's number.
    pub fn connector_ops_listen(&self, area: Area) -> SocketAddr {
        self.ops_listen_plus(10 + area.number())
    }

    /// `ops_listen` moved by `offset` ports; port 0 (any free port) stays 0.
    fn ops_listen_plus(&self, offset: u16) -> SocketAddr {
        let mut addr = self.ops_listen;
        if addr.port() != 0 {
            addr.set_port(addr.port().saturating_add(offset));
        }
        addr
    }

    pub fn requests_topic(&self, area: Area) -> String {
        format!("{}.requests.{}", self.topic_prefix, area.code())
    }

    pub fn results_topic(&self, area: Area) -> String {
        format!("{}.results.{}", self.topic_prefix, area.code())
    }

    pub fn dlq_topic(&self, area: Area) -> String {
        format!("{}.dlq.{}", self.topic_prefix, area.code())
    }

    /// The state changes of switching intermediations, keyed by point id.
    pub fn intermediations_topic(&self) -> String {
        format!("{}.intermediations", self.topic_prefix)
    }

    /// The audit trail, relayed from `audit_log` in order (`schemas/audit_record.avsc`).
    pub fn audit_topic(&self) -> String {
        format!("{}.audit", self.topic_prefix)
    }

    /// The topics that carry what customers gave (the request and dead-letter topics), kept
    /// `request_retention_ms`; the others are kept `topic_retention_ms`.
    pub fn personal_data_topics(&self) -> Vec<String> {
        Area::ALL
            .into_iter()
            .flat_map(|a| [self.requests_topic(a), self.dlq_topic(a)])
            .collect()
    }

    /// The retention of `topic`: [`Self::personal_data_topics`] are kept
    /// `request_retention_ms`, the rest `topic_retention_ms`.
    pub fn retention_ms(&self, topic: &str) -> i64 {
        if self.personal_data_topics().iter().any(|t| t == topic) {
            self.request_retention_ms
        } else {
            self.topic_retention_ms
        }
    }

    /// Every topic the hub uses, for `migrate` to create.
    pub fn all_topics(&self) -> Vec<String> {
        Area::ALL
            .into_iter()
            .flat_map(|a| {
                [
                    self.requests_topic(a),
                    self.results_topic(a),
                    self.dlq_topic(a),
                ]
            })
            .chain([self.intermediations_topic(), self.audit_topic()])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::result_large_err)] // figment::Jail's own signature
    fn defaults_run_on_this_machine_and_env_overrides_them() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("KIRIKAE_KAFKA_BROKERS", "broker-a:9092");
            jail.set_env("KIRIKAE_TOPIC_PARTITIONS", "6");
            let s = Settings::load(None).unwrap();
            assert_eq!(s.kafka_brokers, "broker-a:9092");
            assert_eq!(s.topic_partitions, 6);
            assert_eq!(s.requests_topic(Area::Tokyo), "kirikae.requests.03");
            Ok(())
        });
    }

    #[test]
    fn every_process_kind_has_its_own_default_ops_port() {
        let s = Settings::default();
        let mut ports = vec![s.ops_listen.port(), s.projector_ops_listen().port()];
        ports.extend(Area::ALL.map(|a| s.connector_ops_listen(a).port()));
        assert_eq!(ports[..3], [9100, 9101, 9111]);
        let mut unique = ports.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ports.len(), "{ports:?}");
        let sims: Vec<u16> = Area::ALL.map(|a| s.sim_base_port + a.number()).to_vec();
        assert!(sims.iter().all(|p| !ports.contains(p)) && s.api_listen.port() != 9100);
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn a_new_users_password_in_the_environment_is_not_a_setting() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("KIRIKAE_NEW_PASSWORD", "secret-secret");
            assert!(Settings::load(None).is_ok());
            jail.set_env("KIRIKAE_KAFKA_BROKER", "typo:9092");
            assert!(
                Settings::load(None).is_err(),
                "a misspelt setting is refused"
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)]
    fn an_unknown_setting_in_the_file_is_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("kirikae.toml", "kafka_brokrs = \"x\"")?;
            assert!(Settings::load(None).is_err());
            Ok(())
        });
    }
}
