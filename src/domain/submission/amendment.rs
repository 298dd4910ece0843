//! 更新フラグ and 元の受付番号: a registration names no original, a correction or withdrawal
//! must, and only an application (not a look-up) can be amended.

use serde_json::{Map, Value};

use crate::domain::{Function, Refusal, RequestId, UpdateFlag};

/// `update_flag` (register, correct, withdraw; register when absent) and, for the last two,
/// `original_request_id`.
pub(super) fn amendment(
    function: Function,
    fields: &mut Map<String, Value>,
) -> Result<(UpdateFlag, Option<RequestId>), Refusal> {
    let flag = update_flag(fields)?;
    let original = original_request_id(fields)?;
    match (flag, original) {
        (UpdateFlag::Register, None) => Ok((flag, None)),
        (UpdateFlag::Register, Some(_)) => Err(Refusal::invalid(
            "original_request_id",
            "original_without_amendment",
            "新規登録には元の受付番号を指定できません",
            "a registration has no original_request_id; use update_flag correct or withdraw",
        )),
        (_, _) if !function.is_application() => Err(Refusal::invalid(
            "update_flag",
            "not_amendable",
            format!(
                "「{}」は申込ではないため訂正・取消できません",
                function.name_ja()
            ),
            format!(
                "{function} is a look-up, not an application: it cannot be corrected or withdrawn"
            ),
        )),
        (_, None) => Err(Refusal::invalid(
            "original_request_id",
            "missing_field",
            "訂正・取消には元の受付番号(original_request_id)が必要です",
            "a correction or withdrawal needs original_request_id",
        )),
        (_, Some(id)) => Ok((flag, Some(id))),
    }
}

fn update_flag(fields: &mut Map<String, Value>) -> Result<UpdateFlag, Refusal> {
    match fields.remove("update_flag") {
        None | Some(Value::Null) => Ok(UpdateFlag::Register),
        Some(v) => serde_json::from_value::<UpdateFlag>(v).map_err(|_| {
            Refusal::invalid(
                "update_flag",
                "invalid_update_flag",
                "更新フラグは register(登録), correct(訂正), withdraw(取消) のいずれかです",
                "update_flag is one of register, correct, withdraw",
            )
        }),
    }
}

fn original_request_id(fields: &mut Map<String, Value>) -> Result<Option<RequestId>, Refusal> {
    match fields.remove("original_request_id") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => s.parse::<RequestId>().map(Some).map_err(|_| {
            Refusal::invalid(
                "original_request_id",
                "invalid_original_request_id",
                "元の受付番号(original_request_id)の形式が正しくありません",
                "original_request_id must be a request id (UUID)",
            )
        }),
        Some(_) => Err(Refusal::invalid(
            "original_request_id",
            "invalid_original_request_id",
            "元の受付番号(original_request_id)は文字列で指定してください",
            "original_request_id must be a string",
        )),
    }
}
