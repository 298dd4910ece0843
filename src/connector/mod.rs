//! The connector: one consumer group per area, delivering requests to that area's grid operator
//! and reporting the answers on the area's result topic.

pub mod definition;
mod ledger;
mod offsets;
pub mod protocol;
mod runtime;
pub mod soap;
mod worker;

pub use ledger::Ledger;
pub use offsets::OffsetTracker;
pub use runtime::run;
