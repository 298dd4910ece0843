//! The keyset cursor now lives in [`crate::db::cursor`]; this name stays for the handlers that
//! still page by it here until they move to their service.

pub use crate::db::cursor::{decode, encode};
