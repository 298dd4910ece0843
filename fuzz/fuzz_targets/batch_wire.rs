//! The batch family's Shift_JIS CSV files: an answer file and a request file of every function.
#![no_main]

use kirikae::domain::Function;
use kirikae::wire::batch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let function = Function::ALL[pick as usize % Function::ALL.len()];
    let _ = batch::read_answers(function, body);
    let _ = batch::read_requests(function, body);
});
