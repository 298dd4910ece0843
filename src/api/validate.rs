//! Submission validation now lives in [`crate::domain::submission`] and
//! [`crate::requests::validate`]; this name stays for the handlers that still take today's date
//! from here until they move to their service.

pub use crate::domain::submission::today_jst;
