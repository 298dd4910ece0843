//! The connector: one consumer group per area, delivering requests to that area's grid operator
//! and reporting the answers on the area's result topic. The clients here make the calls;
//! the documents they send and read are [`crate::wire`]'s.

pub mod batch;
mod circuit;
pub mod dead_letter;
pub mod definition;
pub mod json;
mod lanes;
mod ledger;
mod offsets;
pub mod protocol;
mod runtime;
mod sealing;
pub mod soap;
mod transport;
mod worker;

pub use circuit::CircuitSettings;
pub use ledger::Ledger;
pub use offsets::OffsetTracker;
pub use runtime::{Health, run, run_with_health};
