//! What a connector asks of a protocol family: deliver one request to the grid operator and
//! bring back its answer, with every failure classified as worth retrying or not.

use super::batch::BatchClient;
use super::definition::ConnectorDefinition;
use super::json::JsonClient;
use super::soap::SoapClient;
use crate::messages::RequestRecord;
/// Re-exported: what a call comes to is the dialects' vocabulary, shared with the simulator.
pub use crate::wire::{CallError, ProtocolFamily, TsoAnswer};

/// The protocol family an area's definition chose, ready to call.
pub enum Protocol {
    Soap(SoapClient),
    Json(JsonClient),
    Batch(BatchClient),
}

impl Protocol {
    /// The client of the definition's family for its endpoint; a bad endpoint fails here,
    /// before the connector consumes anything.
    pub fn build(def: &ConnectorDefinition) -> Result<Self, CallError> {
        Ok(match def.protocol {
            ProtocolFamily::Soap => Protocol::Soap(SoapClient::new(&def.endpoint, def.timeout())?),
            ProtocolFamily::Json => Protocol::Json(JsonClient::new(&def.endpoint, def.timeout())?),
            ProtocolFamily::Batch => Protocol::Batch(BatchClient::new(
                &def.endpoint,
                def.timeout(),
                def.batch_max(),
                def.batch_wait(),
            )?),
        })
    }

    pub async fn call(&self, request: &RequestRecord) -> Result<TsoAnswer, CallError> {
        match self {
            Protocol::Soap(c) => c.call(request).await,
            Protocol::Json(c) => c.call(request).await,
            Protocol::Batch(c) => c.call(request).await,
        }
    }

    /// The family's name, as definitions spell it, for logs and metric labels.
    pub fn family(&self) -> &'static str {
        match self {
            Protocol::Soap(_) => ProtocolFamily::Soap.name(),
            Protocol::Json(_) => ProtocolFamily::Json.name(),
            Protocol::Batch(_) => ProtocolFamily::Batch.name(),
        }
    }
}
