//! 訂正 and 取消 on the application form: the amendment a form files (`update_flag` and the
//! original's id, carried as hidden fields from the application's own page). Whether the
//! original may be amended is the submission service's to say (`original_not_found`,
//! `original_mismatch`, `original_finished`).

/// A correction (訂正) or withdrawal (取消) the form files, quoting the original application.
pub struct Amendment {
    pub flag: &'static str,
    pub label: &'static str,
    pub original: String,
}

/// The amendment `values` ask for (`update_flag` correct or withdraw and the original's id);
/// `None` for a registration. Whether it may amend that original is the service's to say.
pub fn amendment_of(values: &[(String, String)]) -> Option<Amendment> {
    let get = |n: &str| values.iter().find(|(k, _)| k == n).map(|(_, v)| v.trim());
    let (flag, label) = match get("update_flag")? {
        "correct" => ("correct", "訂正"),
        "withdraw" => ("withdraw", "取消"),
        _ => return None,
    };
    Some(Amendment {
        flag,
        label,
        original: get("original_request_id").unwrap_or_default().to_string(),
    })
}
