//! The bulk file reader on good and bad files: each bad file is refused naming what and where,
//! each bad row keeps the single application's code and message.

use chrono::NaiveDate;

use super::kind::BulkKind;
use super::parse::{Row, Uploader, parse};
use super::{sample, template};
use crate::csv_text::{self, CsvEncoding};
use crate::domain::{CompanyCode, CompanyKind, Refusal};

fn me() -> Uploader {
    Uploader {
        company: CompanyCode::parse("A0001").unwrap(),
        kind: CompanyKind::Retailer,
    }
}

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

fn start() -> BulkKind {
    BulkKind::parse("switch-start").unwrap()
}

const HEADER: &str = "供給地点特定番号,スイッチング予定日,現小売事業者コード,現小売お客さま番号,需要者名義,需要者連絡先電話番号,契約電流,廃止取次番号,託送供給等約款への同意,契約決定方法,契約電力";

fn file(lines: &[&str]) -> String {
    let mut text = format!("{HEADER}\r\n");
    for l in lines {
        text.push_str(l);
        text.push_str("\r\n");
    }
    text
}

const GOOD: &str = "0300000000000000000001,2026/12/10,Z0300,C-1,㈱髙橋商店①,03-1234-5678,,,1,,";
const PAST: &str = "0300000000000000000002,2026/11/24,Z0300,C-2,山田 太郎,,,,1,,";
const SHORT_POINT: &str = "030000000000000000003,2026/12/10,Z0300,C-3,山田 太郎,,,,1,,";

fn rows(bytes: &[u8], declared: Option<CsvEncoding>) -> Vec<Row> {
    parse(start(), bytes, declared, &me(), today())
        .expect("a readable file")
        .rows
}

fn refused(bytes: &[u8]) -> (String, String) {
    match parse(start(), bytes, None, &me(), today()) {
        Err(Refusal::InvalidField { code, en, .. }) => (code.to_string(), en),
        other => panic!("expected a refused file, got {other:?}"),
    }
}

#[test]
fn a_bad_row_keeps_the_single_applications_code_and_names_its_line_and_column() {
    let rows = rows(file(&[GOOD, PAST, SHORT_POINT]).as_bytes(), None);
    assert_eq!(rows.len(), 3);
    assert!(rows[0].outcome.is_ok(), "{:?}", rows[0]);
    assert_eq!(rows[0].line, 2);
    let past = rows[1].outcome.as_ref().unwrap_err();
    assert_eq!(
        (rows[1].line, past.code.as_str()),
        (3, "planned_date_in_past")
    );
    assert_eq!(past.column.as_deref(), Some("スイッチング予定日"));
    let short = rows[2].outcome.as_ref().unwrap_err();
    assert_eq!(short.code, "invalid_supply_point_id");
    assert_eq!(short.column.as_deref(), Some("供給地点特定番号"));
    assert_eq!(rows[2].point, "030000000000000000003");
}

#[test]
fn a_good_row_becomes_the_single_applications_json_body() {
    let rows = rows(file(&[GOOD]).as_bytes(), None);
    let body = rows[0].outcome.as_ref().unwrap();
    assert_eq!(body["planned_date"], "2026-12-10");
    assert_eq!(body["agreed_to_grid_terms"], true);
    assert_eq!(body["customer_name"], "㈱髙橋商店①");
    assert!(
        body.get("contract_ampere").is_none(),
        "an empty cell is absent"
    );
}

#[test]
fn the_same_file_in_shift_jis_and_in_utf8_with_a_bom_gives_the_same_rows() {
    let text = file(&[GOOD, PAST]);
    let sjis = csv_text::encode(&text, CsvEncoding::ShiftJis);
    let bom = csv_text::encode(&text, CsvEncoding::Utf8);
    assert!(std::str::from_utf8(&sjis).is_err(), "CP932 bytes for ①㈱髙");
    let from_sjis = parse(start(), &sjis, None, &me(), today()).unwrap();
    assert_eq!(from_sjis.encoding, CsvEncoding::ShiftJis);
    assert_eq!(from_sjis.rows, rows(&bom, None));
    // LF instead of CRLF reads alike too.
    assert_eq!(
        rows(text.replace("\r\n", "\n").as_bytes(), None),
        from_sjis.rows
    );
}

#[test]
fn a_declared_encoding_wins_and_a_wrong_one_names_the_line_and_column() {
    let sjis = csv_text::encode(&file(&[GOOD]), CsvEncoding::ShiftJis);
    let err = parse(start(), &sjis, Some(CsvEncoding::Utf8), &me(), today()).unwrap_err();
    // The header is Shift_JIS too: it is not the header in UTF-8.
    assert_eq!(err.code(), "wrong_header");
    let mut utf8_header = format!("{HEADER}\r\n").into_bytes();
    utf8_header.extend(csv_text::encode(
        &format!("{GOOD}\r\n"),
        CsvEncoding::ShiftJis,
    ));
    let err = parse(
        start(),
        &utf8_header,
        Some(CsvEncoding::Utf8),
        &me(),
        today(),
    )
    .unwrap_err();
    assert_eq!(err.code(), "wrong_encoding");
    assert!(
        err.to_string().contains("line 2, column 需要者名義"),
        "{err}"
    );
}

#[test]
fn a_file_mixing_utf8_and_shift_jis_lines_is_refused_naming_the_line() {
    let mut bytes = csv_text::encode(&file(&[GOOD]), CsvEncoding::ShiftJis);
    bytes.extend(format!("{PAST}\r\n").as_bytes());
    let (code, en) = refused(&bytes);
    assert_eq!(code, "mixed_encoding");
    assert!(en.contains("line 3"), "{en}");
}

#[test]
fn a_wrong_header_is_refused_naming_the_columns() {
    let (code, en) = refused("user_id,name,mail\nx,y,z\n".as_bytes());
    assert_eq!(code, "wrong_header");
    assert!(en.contains("供給地点特定番号"), "{en}");
    let missing = HEADER.replace(",契約電力", "");
    let (code, en) = refused(format!("{missing}\n").as_bytes());
    assert_eq!(code, "wrong_header");
    assert!(en.contains("契約電力"), "{en}");
}

#[test]
fn a_row_with_too_many_or_too_few_cells_is_refused_naming_the_line() {
    let (code, en) = refused(file(&[GOOD, "0300000000000000000002,2026/12/10"]).as_bytes());
    assert_eq!(code, "cell_count");
    assert!(en.contains("line 3 has 2 cells"), "{en}");
    let (code, _) = refused(file(&[&format!("{GOOD},extra")]).as_bytes());
    assert_eq!(code, "cell_count");
}

#[test]
fn a_quote_left_open_is_refused_naming_its_line() {
    let open = "0300000000000000000002,2026/12/10,Z0300,\"C-2,山田,,,,1,,";
    let (code, en) = refused(file(&[GOOD, open, GOOD]).as_bytes());
    assert_eq!(code, "open_quote");
    assert!(en.contains("line 3"), "{en}");
    // A quoted cell with a comma and an escaped quote is fine.
    let quoted = "0300000000000000000002,2026/12/10,Z0300,\"C-2,\"\"x\"\"\",山田 太郎,,,,1,,";
    let rows = rows(file(&[quoted]).as_bytes(), None);
    assert_eq!(
        rows[0].outcome.as_ref().unwrap()["previous_customer_number"],
        "C-2,\"x\""
    );
}

#[test]
fn a_binary_or_empty_file_is_refused() {
    assert_eq!(
        refused(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR").0,
        "binary_file"
    );
    assert_eq!(refused(b"").0, "empty_file");
    assert_eq!(refused(format!("{HEADER}\r\n").as_bytes()).0, "no_rows");
    assert_eq!(refused(b"%PDF-1.4 not a csv").0, "wrong_header");
}

#[test]
fn blank_lines_are_skipped_and_lines_keep_their_numbers() {
    let text = file(&[GOOD, "", ",,,,,,,,,,", PAST]);
    let rows = rows(text.as_bytes(), None);
    assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), [2, 5]);
}

#[test]
fn every_sample_file_reads_without_a_bad_row() {
    for kind in BulkKind::ALL {
        let text = sample(kind, today(), &me().company);
        assert!(text.starts_with(&template(kind)));
        let parsed = parse(kind, text.as_bytes(), None, &me(), today()).unwrap();
        assert_eq!(parsed.rows.len(), 2, "{kind}");
        for row in parsed.rows {
            assert!(row.outcome.is_ok(), "{kind}: {row:?}");
        }
    }
}

#[test]
fn a_usage_application_of_one_corporate_customer_refuses_rows_of_another_customer_or_area() {
    let kind = BulkKind::parse("usage-password").unwrap();
    let text = "供給地点特定番号,需要者名義,需要者連絡先電話番号\r\n\
                0300000000000000000001,株式会社髙橋商店,\r\n\
                0300000000000000000002,山田 太郎,\r\n\
                0400000000000000000003,株式会社髙橋商店,\r\n\
                0300000000000000000004,株式会社髙橋商店,03-1234-5678\r\n";
    let rows = parse(kind, text.as_bytes(), None, &me(), today())
        .unwrap()
        .rows;
    let codes: Vec<Option<&str>> = rows
        .iter()
        .map(|r| r.outcome.as_ref().err().map(|f| f.code.as_str()))
        .collect();
    assert_eq!(
        codes,
        [None, Some("not_one_customer"), Some("not_one_area"), None]
    );
    assert_eq!(
        rows[1].outcome.as_ref().unwrap_err().column.as_deref(),
        Some("需要者名義")
    );
}

/// `bytes` sniffed `size` bytes at a time, as a streamed upload arrives, then read.
fn rows_streamed(bytes: &[u8], size: usize) -> Result<Vec<Row>, Refusal> {
    let mut sniff = super::parse::Sniff::new();
    for chunk in bytes.chunks(size) {
        sniff.feed(chunk);
    }
    sniff.finish();
    let mut rows = Vec::new();
    super::parse::read(
        start(),
        &sniff,
        (bytes, bytes),
        None,
        &me(),
        today(),
        |row| {
            rows.push(row);
            Ok(())
        },
    )?;
    Ok(rows)
}

#[test]
fn a_file_arriving_in_chunks_reads_as_the_whole_file_whatever_the_chunks_cut() {
    let text = file(&[GOOD, PAST, "", SHORT_POINT]);
    let sjis = csv_text::encode(&text, CsvEncoding::ShiftJis);
    let bom = csv_text::encode(&text, CsvEncoding::Utf8);
    for bytes in [sjis.as_slice(), bom.as_slice(), text.as_bytes()] {
        let whole = rows(bytes, None);
        // A chunk of 1 cuts the BOM and every multi-byte character; 2 and 7 cut some.
        for size in [1, 2, 7, 4096] {
            assert_eq!(
                rows_streamed(bytes, size).unwrap(),
                whole,
                "chunks of {size}"
            );
        }
    }
    // A mixed file is still refused at its UTF-8 line, however it arrived.
    let mut mixed = sjis.clone();
    mixed.extend(format!("{PAST}\r\n").as_bytes());
    for size in [1, 3, 4096] {
        let err = rows_streamed(&mixed, size).unwrap_err();
        assert_eq!(err.code(), "mixed_encoding", "chunks of {size}");
        assert!(err.to_string().contains("line 6"), "{err}");
    }
}

#[tokio::test]
async fn a_spooled_upload_past_the_limit_is_refused_and_its_temporary_file_removed() {
    let mut spool = super::Spool::create().await.unwrap();
    let path = spool.path().to_path_buf();
    assert!(path.exists());
    let chunk = vec![b'a'; 1024 * 1024];
    let mut refused = None;
    for _ in 0..=super::MAX_FILE_BYTES / chunk.len() {
        if let Err(r) = spool.write(&chunk).await {
            refused = Some(r);
            break;
        }
    }
    let refused = refused.expect("refused past the limit");
    assert_eq!(refused.code(), "file_too_large");
    let (ja, en) = refused.messages();
    assert!(en.contains("20 MiB") && ja.contains("20MB"), "{ja} / {en}");
    drop(spool);
    assert!(!path.exists(), "the temporary file is removed");
}

#[tokio::test]
async fn a_spooled_upload_reads_row_by_row_from_disk_as_from_memory() {
    let text = csv_text::encode(&file(&[GOOD, PAST]), CsvEncoding::ShiftJis);
    let mut spool = super::Spool::create().await.unwrap();
    for chunk in text.chunks(5) {
        spool.write(chunk).await.unwrap();
    }
    let upload = spool.finish().await.unwrap();
    assert_eq!(upload.encoding(None), CsvEncoding::ShiftJis);
    let mut streamed = Vec::new();
    let summary = upload
        .read(start(), None, &me(), today(), |row| {
            streamed.push(row);
            Ok(())
        })
        .unwrap();
    assert_eq!((summary.rows, summary.bad), (2, 1));
    assert_eq!(streamed, rows(&text, None));
}
