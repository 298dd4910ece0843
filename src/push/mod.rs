//! Results pushed to the retailer (docs/push.md): the events log every status change of a
//! registration's requests and intermediations is appended to (`events`), read as a feed with a
//! cursor or as server-sent events, and delivered to the registration's webhook, signed, in
//! order, at least once (`webhooks`, `delivery`).
//!
//! Owner of the tables `events`, `webhooks` and `webhook_deliveries`.

pub mod delivery;
pub mod events;
pub mod signature;
pub mod targets;
pub mod webhooks;

pub use delivery::run as run_delivery;
pub use events::{Cursor, Event};
