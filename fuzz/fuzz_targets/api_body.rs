//! The API's JSON body of every function: the first byte picks the function, the rest is the
//! body. Validation must refuse or accept, never panic.
#![no_main]

use kirikae::domain::{CompanyCode, Function};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let function = Function::ALL[pick as usize % Function::ALL.len()];
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(body) else {
        return;
    };
    let company = CompanyCode::parse("A0001").expect("a valid company code");
    let today = chrono::NaiveDate::from_ymd_opt(2026, 4, 1).expect("a date");
    let _ = kirikae::requests::validate::submission(function, &company, body, today);
});
