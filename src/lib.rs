//! kirikae (切替): an open, message-driven hub for Japan's electricity switching support.
//!
//! The modules in layers, each using only the layers above it in this list (a test,
//! `tests/architecture.rs`, keeps the top-level modules free of cycles):
//!
//! 1. **Vocabulary**: `domain` (the market's types and pure rules, one refusal type) and
//!    `messages` (the Avro records on the topics and their codec).
//! 2. **Plumbing**: `config`, `db`, `kafka`, `mail`, `metrics`, `telemetry`, `csv_text`, `certs`,
//!    `recent`.
//! 3. **Wire dialects** of the grid operators: `wire` (SOAP/XML, JSON, batch files), shared by
//!    the connector (client side) and the simulator (server side).
//! 4. **Services**, one owner per aggregate, called alike by every front end: `audit`,
//!    `accounts`, `requests`, `intermediation`, `notices`, `bulk`, `push`.
//! 5. **Processes and front ends**: `api` (HTTP only), `connector`, `projector`, `tso_sim`,
//!    `replay`, `ops` (health and metrics endpoints), `web` (the screens, mounted by `api`).
//! 6. **Assembly**: `hub` (the one builder of every process and job), `up`, `bench`, `docs`.

// 1. Vocabulary
pub mod domain;
pub mod messages;

// 2. Plumbing
pub mod certs;
pub mod config;
pub mod csv_text;
pub mod db;
pub mod kafka;
pub mod mail;
pub mod metrics;
pub mod recent;
pub mod telemetry;

// 3. Wire dialects
pub mod wire;

// 4. Services
pub mod accounts;
pub mod audit;
pub mod bulk;
pub mod intermediation;
pub mod notices;
pub mod push;
pub mod requests;
pub mod vault;

// 5. Processes and front ends
pub mod api;
pub mod connector;
pub mod ops;
pub mod projector;
pub mod registry;
pub mod replay;
pub mod tso_sim;
pub mod web;

// 6. Assembly
pub mod bench;
pub mod chaos;
pub mod docs;
pub mod hub;
pub mod up;
