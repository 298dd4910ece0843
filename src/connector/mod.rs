//! The connector: one consumer group per area, delivering requests to that area's grid operator
//! and reporting the answers on the area's result topic.

pub mod batch;
pub mod definition;
mod ledger;
mod offsets;
mod runtime;
pub(crate) mod transport;
mod worker;

/// The clients of the protocol families, for the worker.
pub mod protocol {
    pub use crate::wire::answer::{CallError, Protocol, TsoAnswer};
}

pub use ledger::Ledger;
pub use offsets::OffsetTracker;
pub use runtime::run;
