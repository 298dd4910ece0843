//! Every domain type parsed from outside text: supply-point ids, company codes, user ids,
//! corporate numbers, request ids, areas, function slugs and idempotency keys.
#![no_main]

use kirikae::domain::{
    Area, CompanyCode, CorporateNumber, Function, RequestId, SupplyPointId, UserId,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kirikae::requests::idempotency::IdempotencyKey::parse(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(point) = SupplyPointId::parse(text) {
        // A parsed id names its area and reads back as itself.
        let _ = point.area();
        assert_eq!(SupplyPointId::parse(point.as_str()).ok(), Some(point));
    }
    let _ = CompanyCode::parse(text);
    let _ = UserId::parse(text);
    let _ = CorporateNumber::parse(text);
    let _ = text.parse::<RequestId>();
    let _ = text.parse::<Area>();
    let _ = text.parse::<Function>();
});
