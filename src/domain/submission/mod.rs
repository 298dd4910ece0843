//! What every submission carries besides its function's own fields — the point (or the area of
//! a 特定地点検索), the update flag and the application a correction or withdrawal amends — and
//! the field checks the functions' rules are made of. Pure: no I/O, so every rule is tested
//! directly, and a web form or a CSV row is refused exactly as the API is.

mod amendment;
mod fields;
mod point;

use serde_json::{Map, Value};

use super::{Function, Refusal, RequestId, SupplyPointId, UpdateFlag};

pub use fields::{
    ampere, company_code, contract_method, filled, grid_terms, months, name, not_past, not_self,
    typed,
};

/// The part of a submission every function shares.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub point: SupplyPointId,
    pub update_flag: UpdateFlag,
    /// The application a correction or withdrawal amends.
    pub original_request_id: Option<RequestId>,
}

/// Takes the envelope's fields out of `body`, leaving the function's own fields in the map.
pub fn envelope(
    function: Function,
    body: Value,
) -> Result<(Envelope, Map<String, Value>), Refusal> {
    let Value::Object(mut fields) = body else {
        return Err(Refusal::MalformedJson(
            "the body must be a JSON object".into(),
        ));
    };
    let point = if function == Function::PointSearch {
        point::search_area(&mut fields)?
    } else {
        point::supply_point(&mut fields)?
    };
    let (update_flag, original_request_id) = amendment::amendment(function, &mut fields)?;
    let envelope = Envelope {
        point,
        update_flag,
        original_request_id,
    };
    Ok((envelope, fields))
}
