//! kirikae (切替): an open, message-driven hub for Japan's electricity switching support.
//!
//! Each module owns one part of the flow: `api` takes applications, `kafka` carries them,
//! `connector` delivers them to a grid operator, `projector` keeps their status in PostgreSQL,
//! and `tso_sim` plays the grid operators for development and tests.

pub mod accounts;
pub mod api;
pub mod audit;
pub mod bench;
pub mod certs;
pub mod config;
pub mod connector;
pub mod csv_text;
pub mod db;
pub mod docs;
pub mod domain;
pub mod hub;
pub mod intermediation;
pub mod kafka;
pub mod mail;
pub mod messages;
pub mod metrics;
pub mod notices;
pub mod ops;
pub mod projector;
pub mod replay;
pub mod requests;
pub mod tso_sim;
pub mod up;
pub mod wire;
