//! The grid operators' wire dialects, shared by both ends: the connector's clients write the
//! requests and read the answers, the simulator reads the requests and writes the answers, and
//! both do it with the documents, field encodings and constants held here, so the two ends
//! cannot drift apart. Nothing here opens a connection: HTTP calls, retries and folders being
//! watched belong to `connector` (client) and `tso_sim` (server).
//!
//! - [`soap`]: SOAP 1.1 envelopes, the service id in the header.
//! - [`json`]: JSON documents, the service id in the path, the status saying the kind of answer.
//! - [`batch`]: Shift_JIS CSV files exchanged through a folder.
//! - [`form`]: a record's JSON form, which every family's fields are read into and checked by.
//! - [`answer`]: what an operator answers, whatever the family.

pub mod answer;
pub mod batch;
pub mod form;
pub mod json;
#[cfg(test)]
pub mod samples;
pub mod soap;

use serde::Deserialize;

pub use answer::{CallError, TsoAnswer};

/// How an operator is reached; the connector has one client per family and the simulator
/// one desk per family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolFamily {
    /// SOAP/XML over HTTP(S), the service id in the header, as the real interface does.
    Soap,
    /// JSON over HTTP(S), the service id in the path, as operators' newer APIs do.
    Json,
    /// CSV files in Shift_JIS exchanged through a folder (`file://<dir>`), as some operators
    /// still take applications in batches.
    Batch,
}

impl ProtocolFamily {
    /// The name definitions use (`protocol = "json"`), also the label in logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            ProtocolFamily::Soap => "soap",
            ProtocolFamily::Json => "json",
            ProtocolFamily::Batch => "batch",
        }
    }
}
