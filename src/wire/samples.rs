//! Sample answers for every catalogue function (the payloads and results come from
//! `messages::fixtures`), so that the round-trip tests of all three families cover each
//! function without a line per function.

use super::answer::TsoAnswer;
use crate::domain::Function;
pub use crate::messages::fixtures::{TEXT, payload, request, result, sample};

/// Every kind of answer to `function`: completed with a full and a sparse result, refused,
/// pending and acknowledged.
pub fn answers(function: Function) -> Vec<TsoAnswer> {
    vec![
        TsoAnswer::Completed(result(function, true)),
        TsoAnswer::Completed(result(function, false)),
        TsoAnswer::Refused {
            code: "E1001".into(),
            message: format!("該当する供給地点特定番号が存在しません {TEXT}"),
        },
        TsoAnswer::Pending { stage: "05".into() },
        TsoAnswer::Acknowledged,
    ]
}
