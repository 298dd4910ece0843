//! Integration tests of the hub on real components: the tansu (or any Kafka) broker at
//! KIRIKAE_KAFKA_BROKERS and PostgreSQL at 127.0.0.1:5432, started by `scripts/test`.
//! One binary, so the crate links once.

mod harness;

mod access;
mod access_matrix;
mod audit_relay;
mod audit_trail;
mod broker_restart;
mod bulk;
mod bulk_filing;
mod bulk_intermediation;
mod bulk_users;
mod bulk_variants;
mod chaos;
mod circuit;
mod connector_crash;
mod connector_stall;
mod contractors;
mod dead_letter;
mod end_to_end;
mod events;
mod field_encryption;
mod functions;
mod generated_client;
mod held;
mod idempotency;
mod intermediation;
mod kafka_tls;
mod listeners;
mod notices;
mod openapi;
mod ops;
mod projector;
mod protocol_families;
mod registrations;
mod registry;
mod schemas;
mod security;
mod sessions;
mod shutdown;
mod tracing;
mod unacknowledged;
mod users;
mod validation;
mod web;
mod web_admin;
mod web_browser;
mod web_bulk;
mod web_http;
mod web_intermediation;
mod web_ops;
mod web_screens;
mod web_search;
mod web_switch;
mod webhooks;
