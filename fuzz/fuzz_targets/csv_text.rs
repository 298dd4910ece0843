//! CSV text as uploaded: bytes in a declared (or guessed) encoding, and the Content-Type that
//! declares it; a decoded text neutralised and restored cell by cell reads back as itself.
#![no_main]

use kirikae::csv_text::{self, CsvEncoding};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else {
        return;
    };
    let declared = [None, Some(CsvEncoding::Utf8), Some(CsvEncoding::ShiftJis)][pick as usize % 3];
    if let Ok(text) = csv_text::decode(bytes, declared) {
        for cell in text.split(',') {
            assert_eq!(csv_text::restore(&csv_text::neutralise(cell)), cell);
        }
    }
    if let Ok(header) = std::str::from_utf8(bytes) {
        let _ = csv_text::charset_of(header);
    }
});
