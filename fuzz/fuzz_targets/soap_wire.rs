//! The SOAP/XML family: an operator's answer to every function (the connector's side) and a
//! request envelope (the simulator's side).
#![no_main]

use kirikae::domain::Function;
use kirikae::wire::soap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let function = Function::ALL[pick as usize % Function::ALL.len()];
    let _ = soap::read_answer(function, body);
    let _ = soap::parse_envelope(body);
});
