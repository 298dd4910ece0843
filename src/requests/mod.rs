//! Requests: every rule and statement about an accepted application — its `requests` row,
//! idempotency keys, status queries and paging — shared by the API, the web, bulk uploads and
//! the CLI.

mod accept_log;
mod dead_letters;
pub mod idempotency;
mod listing;
mod queries;
mod rules;
pub mod store;
mod submissions;
pub mod validate;
mod view;

pub use dead_letters::{DeadLetter, dead_letters_of, depth_by_area, run_depth_gauge};
pub use idempotency::IdempotencyKey;
pub use listing::{ListAnswer, ListFilters, ListQuery};
pub use submissions::{Submissions, may_submit};
pub use validate::{Submission, submission};
pub use view::RequestView;
