//! Bulk applications (一括申請): thousands of applications from one CSV file, checked before
//! anything is filed. Upload spools the file to disk as it arrives ([`Spool`]), reads and
//! checks it row by row ([`parse`]) and stores the batch with its rows a chunk at a time
//! ([`store`]); the preview shows the bad rows with line, column and message;
//! confirm hands the batch to the filing job ([`filing`]), which files each good row through
//! `requests::Submissions` exactly once (a deterministic idempotency key per row) and resumes
//! after a restart; follow shows counts by status and a download of every row's outcome.
//! No HTTP here: the API and the web screens call [`Bulk`] alike.

mod download;
mod filers;
pub mod filing;
pub mod kind;
pub mod parse;
pub mod row;
mod service;
mod spool;
pub mod store;
mod template;
mod view;

pub use filing::run_filing;
pub use kind::{BulkKind, Filer};
pub use service::{Bulk, MAX_FILE_BYTES, UserLine};
pub use spool::{Spool, Upload};
pub use template::{sample, template};
pub use view::{BadRow, BatchView, Counts};

#[cfg(test)]
mod tests;
