//! Request records for unit tests, built the same way in every test module.

use chrono::{TimeZone, Utc};

use super::{Payload, RequestRecord};
use crate::domain::{CompanyCode, SupplyPointId, UpdateFlag};

/// The request id every fixture carries, so tests can expect it in what they read back.
pub const REQUEST_ID: &str = "01931f6e-7b1a-7c3e-8a4b-0123456789ab";

/// A registration of `payload` at `point` by A0001's user, accepted 2026-11-25 01:02:03Z.
pub fn request(point: &str, payload: Payload) -> RequestRecord {
    RequestRecord {
        request_id: REQUEST_ID.parse().expect("test id"),
        function: payload.first_function(),
        company_code: CompanyCode::parse("A0001").expect("test code"),
        user_id: "taro.yamada".into(),
        point_id: SupplyPointId::parse(point).expect("test point"),
        update_flag: UpdateFlag::Register,
        original_request_id: None,
        accepted_at: Utc
            .with_ymd_and_hms(2026, 11, 25, 1, 2, 3)
            .single()
            .expect("test time"),
        payload,
        replay: 0,
    }
}
