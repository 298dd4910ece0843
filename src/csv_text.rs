//! CSV files as Japanese offices exchange them: UTF-8 (with a BOM, so Excel reads it as UTF-8)
//! or Shift_JIS (CP932, what Excel in Japan saves by default). Every download of a CSV is
//! encoded here, and the encodings are named here for uploads and downloads alike; an upload
//! is read by `bulk::parse`.
//!
//! Every CSV the hub writes for people to open — the user list, the batch files for grid
//! operators — passes its cells through [`neutralise`] (CSV formula injection, OWASP): a cell
//! that a spreadsheet would run as a formula is written as text.

use std::borrow::Cow;

use encoding_rs::{SHIFT_JIS, UTF_8};

/// What a cell may not start with, lest a spreadsheet read it as a formula (OWASP "CSV
/// Injection"): `=`, `+`, `-`, `@`, TAB and CR.
pub const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The quote [`neutralise`] puts in front of a cell.
pub const QUOTE: char = '\'';

/// A cell as it is safe to open in a spreadsheet: one that starts with a character of
/// [`FORMULA_STARTS`] gets a single quote `'` in front (OWASP's recommendation), so Excel and
/// LibreOffice show it as text and run nothing: `=HYPERLINK("…")` is written
/// `'=HYPERLINK("…")`. A cell that already starts with `'` gets one more, so that the rule can
/// be undone exactly by [`restore`] (the batch files are read back by a program). Every other
/// cell is written as it is.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    match cell.chars().next() {
        Some(c) if c == QUOTE || FORMULA_STARTS.contains(&c) => {
            Cow::Owned(format!("{QUOTE}{cell}"))
        }
        _ => Cow::Borrowed(cell),
    }
}

/// The cell [`neutralise`] was given: one leading `'` dropped, if there is one.
pub fn restore(cell: &str) -> &str {
    cell.strip_prefix(QUOTE).unwrap_or(cell)
}

/// The byte order mark that tells Excel a CSV is UTF-8.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// How a CSV's text is written as bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CsvEncoding {
    /// UTF-8 with a BOM on download; with or without one on upload.
    #[default]
    Utf8,
    /// Shift_JIS as Windows writes it (CP932).
    ShiftJis,
}

impl CsvEncoding {
    /// An encoding named by a query parameter or a `charset` (`utf-8`, `shift_jis`, `sjis`,
    /// `cp932`, `windows-31j`, any case); `None` for a name it does not know.
    pub fn from_label(label: &str) -> Option<Self> {
        let label = label.trim().trim_matches('"').to_ascii_lowercase();
        match label.as_str() {
            "utf-8" | "utf8" => Some(CsvEncoding::Utf8),
            "shift_jis" | "shift-jis" | "sjis" | "cp932" | "windows-31j" | "ms932" => {
                Some(CsvEncoding::ShiftJis)
            }
            _ => None,
        }
    }

    /// The `charset` of a `Content-Type` naming this encoding.
    pub fn charset(self) -> &'static str {
        match self {
            CsvEncoding::Utf8 => "utf-8",
            CsvEncoding::ShiftJis => "Shift_JIS",
        }
    }
}

/// The `charset` parameter of a `Content-Type` value, if it names an encoding known here.
pub fn charset_of(content_type: &str) -> Option<CsvEncoding> {
    content_type.split(';').skip(1).find_map(|param| {
        let (name, value) = param.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| CsvEncoding::from_label(value))
            .flatten()
    })
}

/// The text of a whole CSV file in memory, such as a download read back. (Uploads are not
/// read here: `bulk::parse` is the one reader of uploaded files, row by row.) `declared` wins
/// when given; otherwise valid UTF-8 (a BOM dropped) is UTF-8 and anything else Shift_JIS. `Err` says why the bytes are not
/// text in the encoding they were taken to be in.
pub fn decode(bytes: &[u8], declared: Option<CsvEncoding>) -> Result<String, String> {
    let body = bytes.strip_prefix(BOM).unwrap_or(bytes);
    let encoding = match declared {
        Some(e) => e,
        None if std::str::from_utf8(body).is_ok() => CsvEncoding::Utf8,
        None => CsvEncoding::ShiftJis,
    };
    let (text, malformed) = match encoding {
        CsvEncoding::Utf8 => UTF_8.decode_without_bom_handling(body),
        CsvEncoding::ShiftJis => SHIFT_JIS.decode_without_bom_handling(bytes),
    };
    if malformed {
        return Err(format!("the file is not {}", encoding.charset()));
    }
    Ok(text.into_owned())
}

/// The bytes of a CSV to download: UTF-8 with a BOM, or Shift_JIS (a character Shift_JIS
/// lacks becomes a numeric character reference, as Windows does).
pub fn encode(text: &str, encoding: CsvEncoding) -> Vec<u8> {
    match encoding {
        CsvEncoding::Utf8 => [BOM, text.as_bytes()].concat(),
        CsvEncoding::ShiftJis => SHIFT_JIS.encode(text).0.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "user_id,name\nkirikae.taro,切替 太郎\n";

    #[test]
    fn a_cell_that_starts_a_formula_is_neutralised() {
        for cell in [
            "=HYPERLINK(\"http://evil.example/\",\"click\")",
            "+81-3-1234-5678",
            "-2+3+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0",
            "\t=1+1",
            "\r=1+1",
        ] {
            let written = neutralise(cell);
            assert_eq!(written, format!("'{cell}"), "{cell:?}");
            assert_eq!(restore(&written), cell);
        }
        // A cell starting with the quote itself is quoted again, so restoring is exact.
        assert_eq!(neutralise("'=1"), "''=1");
        assert_eq!(restore(&neutralise("'=1")), "'=1");
    }

    #[test]
    fn ordinary_cells_are_written_as_they_are() {
        for cell in [
            "",
            "切替 太郎",
            "kirikae.taro",
            "taro@example.jp",
            "a=b",
            "1-2",
            "2026-10-01T00:00:00Z",
        ] {
            assert!(
                matches!(neutralise(cell), Cow::Borrowed(c) if c == cell),
                "{cell:?}"
            );
            assert_eq!(restore(cell), cell);
        }
    }

    #[test]
    fn a_download_in_utf8_starts_with_the_bom_and_reads_back() {
        let bytes = encode(TEXT, CsvEncoding::Utf8);
        assert!(bytes.starts_with(BOM));
        assert_eq!(decode(&bytes, None).unwrap(), TEXT);
    }

    #[test]
    fn an_upload_is_utf8_with_or_without_a_bom_else_shift_jis() {
        assert_eq!(decode(TEXT.as_bytes(), None).unwrap(), TEXT);
        let sjis = encode(TEXT, CsvEncoding::ShiftJis);
        assert!(std::str::from_utf8(&sjis).is_err());
        assert_eq!(decode(&sjis, None).unwrap(), TEXT);
        // A declared encoding wins: Shift_JIS bytes declared UTF-8 are refused.
        assert!(decode(&sjis, Some(CsvEncoding::Utf8)).is_err());
    }

    #[test]
    fn an_encoding_is_named_by_a_label_or_a_content_type_charset() {
        assert_eq!(
            CsvEncoding::from_label("Shift_JIS"),
            Some(CsvEncoding::ShiftJis)
        );
        assert_eq!(
            CsvEncoding::from_label("CP932"),
            Some(CsvEncoding::ShiftJis)
        );
        assert_eq!(CsvEncoding::from_label("latin1"), None);
        assert_eq!(
            charset_of("text/csv; charset=\"shift_jis\""),
            Some(CsvEncoding::ShiftJis)
        );
        assert_eq!(charset_of("text/csv"), None);
    }
}
