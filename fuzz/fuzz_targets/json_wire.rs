//! The JSON family: an operator's answer with any status to every function, and a request body
//! (the simulator's side).
#![no_main]

use kirikae::domain::Function;
use kirikae::wire::json;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [pick, status, body @ ..] = data else {
        return;
    };
    let function = Function::ALL[*pick as usize % Function::ALL.len()];
    let status = [200u16, 202, 400, 404, 409, 422, 500, 503][*status as usize % 8];
    let _ = json::read_answer(function, status, body);
    let _ = json::parse_body(function, body);
});
