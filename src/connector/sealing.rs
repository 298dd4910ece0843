//! A result leaves the connector with its personal fields sealed by its request's data key,
//! and the `kirikae-key` header that carries the key (docs/security.md).

use super::worker::Job;
use crate::messages::ResultRecord;
use crate::vault::{self, Keys, RecordKey};

/// The headers a result is produced with.
pub type Headers = Vec<(&'static str, String)>;

/// `result` sealed with the data key in `job`'s header, and the headers to produce it with;
/// as it is for a request from before sealing (no header).
pub fn sealed(
    keys: &Keys,
    result: &ResultRecord,
    job: &Job,
) -> Result<(ResultRecord, Headers), String> {
    let Some(header) = &job.field_key else {
        return Ok((result.clone(), Vec::new()));
    };
    let key =
        RecordKey::open(keys, header, result.company_code.as_str()).map_err(|e| e.to_string())?;
    let sealed = vault::fields::seal_result(result, &key).map_err(|e| e.to_string())?;
    Ok((sealed, vec![(vault::KEY_HEADER, key.header().to_string())]))
}
