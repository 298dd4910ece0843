//! The records that travel on Kafka, and their Avro single-object encoding.
//!
//! The `.avsc` files in `schemas/` are the contract with the grid-operator teams; the Rust types
//! here are the hub's view of them, converted by hand so that every field is visible in review.

pub mod canonical;
mod codec;
#[cfg(test)]
mod compatibility;
mod convert;
pub mod evolve;
#[cfg(test)]
pub mod fixtures;
pub mod intermediation_event;
mod schemas;
pub mod shape;
mod types;

pub use codec::{Codec, CodecError};
pub use intermediation_event::IntermediationEvent;
pub use schemas::{PREVIOUS, SchemaSet, composed_schema_json};
pub use shape::{RecordShape, Shape, ShapeError, shapes, strict_day};
pub use types::*;
