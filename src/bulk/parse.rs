//! Reading a bulk file: its bytes (UTF-8 with or without a BOM, or Shift_JIS/CP932; CRLF or
//! LF) into one checked row per line, or the reason the file as a whole cannot be read. Every
//! row is checked by the single call's own rules (`row::check`), so a row is refused with the
//! same code and message as the API would give.
//! Pure: no I/O.
//!
//! The file is read record by record from its bytes: the CSV structure (comma, quote, line
//! end) is ASCII, and no Shift_JIS trail byte is ASCII punctuation, so the records are found
//! before any decoding and each cell is decoded on its own, which lets a bad byte be named by
//! its line and column.

use std::io::{BufRead, BufReader, Read};

use chrono::NaiveDate;
use csv::ByteRecord;
use serde_json::{Map, Value};

use super::kind::{BulkKind, Column};
use crate::csv_text::CsvEncoding;
use crate::domain::{CompanyCode, CompanyKind, Refusal};
use crate::messages::shape::Shape;

/// The most data rows a file may hold (a larger upload is split by the user).
pub const MAX_ROWS: usize = 50_000;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Why one row will not be filed: the column at fault (when one is) and the refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowFault {
    pub column: Option<String>,
    pub code: String,
    pub ja: String,
    pub en: String,
}

impl RowFault {
    /// The fault of a row the single call refused with `refusal`.
    pub fn of(kind: BulkKind, refusal: &Refusal) -> Self {
        let column = match refusal {
            Refusal::InvalidField { field, .. } => kind
                .header_of(field)
                .map(str::to_string)
                .or_else(|| (!field.is_empty()).then(|| field.clone())),
            _ => None,
        };
        let (ja, en) = refusal.messages();
        RowFault {
            column,
            code: refusal.code().to_string(),
            ja,
            en,
        }
    }
}

/// One data line of a file: the point as written, and the application's JSON body or why not.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// The line of the file the record starts on (the header is line 1).
    pub line: u32,
    pub point: String,
    pub outcome: Result<Value, RowFault>,
}

/// A file read: the encoding it was read in and its rows.
#[derive(Debug)]
pub struct Parsed {
    pub encoding: CsvEncoding,
    pub rows: Vec<Row>,
}

/// A file read row by row: its encoding, how many rows it held and how many were bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub encoding: CsvEncoding,
    pub rows: usize,
    pub bad: usize,
}

/// Who uploads a file: its rows are checked as this company's single calls.
#[derive(Debug, Clone)]
pub struct Uploader {
    pub company: CompanyCode,
    /// The registration's kind (a user row's permissions are checked against it).
    pub kind: CompanyKind,
}

/// A file that cannot be read at all: 422 with `code`, saying what and where.
fn file_error(code: &'static str, ja: String, en: String) -> Refusal {
    Refusal::invalid("file", code, ja, en)
}

/// What a file's bytes say as a whole, learnt as they arrive (a chunk at a time, whatever the
/// chunks' sizes), before any row is read: whether it starts with a BOM, is blank, holds a
/// binary byte, leaves a quote open, and is valid UTF-8 throughout (what the encoding is
/// detected by). Flat memory: a few counters and at most three carried bytes.
#[derive(Debug)]
pub struct Sniff {
    /// The first bytes, held until there are three (a BOM is told by them).
    head: Vec<u8>,
    started: bool,
    bom: bool,
    /// Bytes after the BOM seen so far.
    seen: u64,
    blank: bool,
    binary_at: Option<u64>,
    line: usize,
    inside_quote: bool,
    quote_opened: usize,
    /// A UTF-8 sequence cut by the end of a chunk, completed by the next.
    carry: Vec<u8>,
    not_utf8: bool,
    finished: bool,
}

impl Default for Sniff {
    fn default() -> Self {
        Sniff {
            head: Vec::new(),
            started: false,
            bom: false,
            seen: 0,
            blank: true,
            binary_at: None,
            line: 1,
            inside_quote: false,
            quote_opened: 0,
            carry: Vec::new(),
            not_utf8: false,
            finished: false,
        }
    }
}

impl Sniff {
    pub fn new() -> Self {
        Sniff::default()
    }

    /// The whole of `bytes` sniffed.
    pub fn of(bytes: &[u8]) -> Self {
        let mut sniff = Sniff::new();
        sniff.feed(bytes);
        sniff.finish();
        sniff
    }

    /// The next bytes of the file.
    pub fn feed(&mut self, chunk: &[u8]) {
        if self.started {
            self.scan(chunk);
            return;
        }
        self.head.extend_from_slice(chunk);
        if self.head.len() >= BOM.len() {
            self.start();
        }
    }

    /// The file has ended.
    pub fn finish(&mut self) {
        if !self.started {
            self.start();
        }
        if !self.carry.is_empty() {
            self.not_utf8 = true;
        }
        self.finished = true;
    }

    fn start(&mut self) {
        self.started = true;
        let head = std::mem::take(&mut self.head);
        self.bom = head.starts_with(BOM);
        let body = if self.bom { &head[BOM.len()..] } else { &head };
        self.scan(body);
    }

    fn scan(&mut self, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            match b {
                b'"' => {
                    self.inside_quote = !self.inside_quote;
                    if self.inside_quote {
                        self.quote_opened = self.line;
                    }
                }
                b'\n' => self.line += 1,
                0 | 0x7F if self.binary_at.is_none() => {
                    self.binary_at = Some(self.seen + i as u64);
                }
                _ => {}
            }
            if !b.is_ascii_whitespace() {
                self.blank = false;
            }
        }
        self.seen += bytes.len() as u64;
        if !self.not_utf8 {
            self.check_utf8(bytes);
        }
    }

    fn check_utf8(&mut self, bytes: &[u8]) {
        let joined;
        let bytes = if self.carry.is_empty() {
            bytes
        } else {
            joined = [std::mem::take(&mut self.carry).as_slice(), bytes].concat();
            &joined
        };
        if let Err(e) = std::str::from_utf8(bytes) {
            match e.error_len() {
                Some(_) => self.not_utf8 = true,
                // A sequence the chunk cut: completed by the next one, or bad at the end.
                None => self.carry = bytes[e.valid_up_to()..].to_vec(),
            }
        }
    }

    /// Whether the file starts with a UTF-8 BOM (skipped before reading).
    pub fn bom(&self) -> bool {
        self.bom
    }

    /// The encoding the file is read in: `declared` wins; else valid UTF-8 is UTF-8 and
    /// anything else Shift_JIS. Whether it was detected rather than declared.
    pub fn encoding(&self, declared: Option<CsvEncoding>) -> (CsvEncoding, bool) {
        match declared {
            Some(e) => (e, false),
            None if !self.not_utf8 => (CsvEncoding::Utf8, true),
            None => (CsvEncoding::ShiftJis, true),
        }
    }

    /// Why the file as a whole cannot be read, if it cannot: blank, binary, a quote open.
    fn refusal(&self) -> Option<Refusal> {
        debug_assert!(self.finished, "a file is judged once it has ended");
        if self.blank {
            return Some(file_error(
                "empty_file",
                "ファイルが空です".into(),
                "the file is empty".into(),
            ));
        }
        if let Some(at) = self.binary_at {
            return Some(file_error(
                "binary_file",
                format!(
                    "CSVではなくバイナリファイルです({}バイト目に制御文字)",
                    at + 1
                ),
                format!(
                    "this is a binary file, not CSV (a control byte at byte {})",
                    at + 1
                ),
            ));
        }
        if self.inside_quote {
            let line = self.quote_opened;
            return Some(file_error(
                "open_quote",
                format!("{line}行目で始まる引用符(\")が閉じられていません"),
                format!("the quote (\") opened on line {line} is never closed"),
            ));
        }
        None
    }
}

/// Reads `bytes` as a file of `kind` uploaded by `uploader` on `today`, all its rows in
/// memory (a small file, and the tests). `declared` (a query parameter or the `charset`)
/// wins over detection.
pub fn parse(
    kind: BulkKind,
    bytes: &[u8],
    declared: Option<CsvEncoding>,
    uploader: &Uploader,
    today: NaiveDate,
) -> Result<Parsed, Refusal> {
    let sniff = Sniff::of(bytes);
    let mut rows = Vec::new();
    let summary = read(
        kind,
        &sniff,
        (bytes, bytes),
        declared,
        uploader,
        today,
        |row| {
            rows.push(row);
            Ok(())
        },
    )?;
    Ok(Parsed {
        encoding: summary.encoding,
        rows,
    })
}

/// Reads a file of `kind` row by row, handing each to `emit` as it is read (a row is not kept
/// here, so memory stays flat whatever the file's length). `sniff` is the file's whole
/// bytes sniffed; `sources` are two readers of those bytes from their start (the records,
/// and the line numbers counted a little ahead of them). The first `Err` stops the reading:
/// a file refused as a whole is refused whatever was emitted before.
pub fn read<R: Read, L: Read>(
    kind: BulkKind,
    sniff: &Sniff,
    sources: (R, L),
    declared: Option<CsvEncoding>,
    uploader: &Uploader,
    today: NaiveDate,
    mut emit: impl FnMut(Row) -> Result<(), Refusal>,
) -> Result<Summary, Refusal> {
    if let Some(refusal) = sniff.refusal() {
        return Err(refusal);
    }
    let (mut records, mut lines) = sources;
    if sniff.bom() {
        skip_bom(&mut records)?;
        skip_bom(&mut lines)?;
    }
    let (encoding, detected) = sniff.encoding(declared);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(records);
    let mut records = reader.byte_records();
    let header = match records.next() {
        Some(Ok(h)) => h,
        _ => return Err(wrong_header(kind, "(none)")),
    };
    let order = header_order(kind, &header, encoding)?;
    let reading = Reading {
        kind,
        encoding,
        detected,
        uploader,
        today,
        order: &order,
    };
    let mut lines = LineCounter::new(lines);
    let mut one_customer = super::row::OneCustomer::default();
    let (mut rows, mut bad) = (0, 0);
    for record in records {
        let record = record.map_err(|e| {
            file_error(
                "invalid_csv",
                format!("CSVとして読み取れません: {e}"),
                format!("not readable as CSV: {e}"),
            )
        })?;
        if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            continue; // a blank line, or a line of empty cells as spreadsheets leave
        }
        if rows == MAX_ROWS {
            return Err(file_error(
                "too_many_rows",
                format!("1ファイル{MAX_ROWS}行までです。ファイルを分けてください"),
                format!("a file holds at most {MAX_ROWS} rows; split it"),
            ));
        }
        let line = lines.line_at(record.position().map_or(0, |p| p.byte()))?;
        let mut row = reading.row(line, &record)?;
        one_customer.check(kind, &mut row);
        rows += 1;
        bad += usize::from(row.outcome.is_err());
        emit(row)?;
    }
    if rows == 0 {
        return Err(file_error(
            "no_rows",
            "ヘッダ行の後に申請の行がありません".into(),
            "there are no rows after the header line".into(),
        ));
    }
    Ok(Summary {
        encoding,
        rows,
        bad,
    })
}

fn skip_bom(source: &mut impl Read) -> Result<(), Refusal> {
    let mut bom = [0u8; BOM.len()];
    source.read_exact(&mut bom).map_err(internal)
}

fn internal(e: std::io::Error) -> Refusal {
    Refusal::Internal(anyhow::anyhow!("reading an uploaded file: {e}"))
}

/// The line a byte offset of the file is on, counted by reading the file a second time just
/// ahead of the records (offsets only grow, so it is one more pass, not a copy).
struct LineCounter<L: Read> {
    source: BufReader<L>,
    offset: u64,
    newlines: u32,
}

impl<L: Read> LineCounter<L> {
    fn new(source: L) -> Self {
        LineCounter {
            source: BufReader::new(source),
            offset: 0,
            newlines: 0,
        }
    }

    /// `offset` is where the reader stood before the record: the previous record's line end
    /// (and any blank lines) may still lie ahead of the record's first byte.
    fn line_at(&mut self, offset: u64) -> Result<u32, Refusal> {
        while self.offset < offset {
            let buf = self.source.fill_buf().map_err(internal)?;
            if buf.is_empty() {
                break;
            }
            let n = buf.len().min((offset - self.offset) as usize);
            self.newlines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u32;
            self.source.consume(n);
            self.offset += n as u64;
        }
        loop {
            let buf = self.source.fill_buf().map_err(internal)?;
            match buf.first() {
                Some(b'\n') => self.newlines += 1,
                Some(b'\r') => {}
                _ => break,
            }
            self.source.consume(1);
            self.offset += 1;
        }
        Ok(self.newlines + 1)
    }
}

fn wrong_header(kind: BulkKind, found: &str) -> Refusal {
    let expected: Vec<&str> = kind.columns().iter().map(|c| c.header).collect();
    let expected = expected.join(",");
    file_error(
        "wrong_header",
        format!(
            "1行目(ヘッダ行)が{}の様式ではありません({found})。列名: {expected}",
            kind.name_ja()
        ),
        format!(
            "line 1 is not the header of {} ({found}); the columns are: {expected}",
            kind.slug()
        ),
    )
}

/// For each cell position of the header, the column it is; every column must be named once
/// (but one the kind lets a header omit).
fn header_order(
    kind: BulkKind,
    header: &ByteRecord,
    encoding: CsvEncoding,
) -> Result<Vec<Column>, Refusal> {
    let columns = kind.columns();
    let mut order = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let name = decode_cell(raw, encoding).map_err(|_| {
            wrong_header(
                kind,
                &format!("{}列目が{}ではありません", i + 1, encoding.charset()),
            )
        })?;
        let name = name.trim();
        let column = columns
            .iter()
            .find(|c| c.header == name)
            .ok_or_else(|| wrong_header(kind, &format!("不明な列 unknown column「{name}」")))?;
        if order.contains(column) {
            return Err(wrong_header(kind, &format!("列「{name}」が重複 repeated")));
        }
        order.push(*column);
    }
    if let Some(missing) = columns
        .iter()
        .find(|c| !order.contains(c) && !kind.may_omit(**c))
    {
        return Err(wrong_header(
            kind,
            &format!("列「{}」がありません missing", missing.header),
        ));
    }
    Ok(order)
}

fn decode_cell(raw: &[u8], encoding: CsvEncoding) -> Result<String, ()> {
    let (text, malformed) = match encoding {
        CsvEncoding::Utf8 => encoding_rs::UTF_8.decode_without_bom_handling(raw),
        CsvEncoding::ShiftJis => encoding_rs::SHIFT_JIS.decode_without_bom_handling(raw),
    };
    if malformed {
        Err(())
    } else {
        Ok(text.into_owned())
    }
}

/// What reading each data row needs.
struct Reading<'a> {
    kind: BulkKind,
    encoding: CsvEncoding,
    /// The encoding was detected, not declared: a line in the other one is a mixed file.
    detected: bool,
    uploader: &'a Uploader,
    today: NaiveDate,
    order: &'a [Column],
}

impl Reading<'_> {
    fn row(&self, line: u32, record: &ByteRecord) -> Result<Row, Refusal> {
        if record.len() != self.order.len() {
            return Err(file_error(
                "cell_count",
                format!(
                    "{line}行目の列数が{}です(ヘッダは{}列)",
                    record.len(),
                    self.order.len()
                ),
                format!(
                    "line {line} has {} cells; the header has {}",
                    record.len(),
                    self.order.len()
                ),
            ));
        }
        let raw_line: Vec<u8> = record.as_slice().to_vec();
        if self.detected
            && self.encoding == CsvEncoding::ShiftJis
            && !raw_line.is_ascii()
            && std::str::from_utf8(&raw_line).is_ok()
        {
            return Err(file_error(
                "mixed_encoding",
                format!("{line}行目はUTF-8、他の行はShift_JISです。文字コードを統一してください"),
                format!("line {line} is UTF-8 while other lines are Shift_JIS; use one encoding"),
            ));
        }
        let mut body = Map::new();
        let mut point = String::new();
        for (column, raw) in self.order.iter().zip(record.iter()) {
            let text = decode_cell(raw, self.encoding).map_err(|()| {
                file_error(
                    "wrong_encoding",
                    format!(
                        "{line}行目の列「{}」が{}として読めません(encoding パラメータで指定できます)",
                        column.header,
                        self.encoding.charset()
                    ),
                    format!(
                        "line {line}, column {}: not {} text (name the encoding with ?encoding=)",
                        column.header,
                        self.encoding.charset()
                    ),
                )
            })?;
            let text = text.trim();
            if *column == self.kind.point_column() {
                point = text.to_string();
            }
            if !text.is_empty() {
                let value = super::row::cell(self.kind, column.field, text);
                body.insert(column.field.to_string(), value);
            }
        }
        let outcome = super::row::check(self.kind, self.uploader, body, self.today)
            .map_err(|refusal| RowFault::of(self.kind, &refusal));
        Ok(Row {
            line,
            point,
            outcome,
        })
    }
}

/// A cell's text as the JSON value a single application would carry: numbers, booleans
/// (1/0, true/false, はい/いいえ, 同意/不同意) and dates (`2026/12/10` as spreadsheets write
/// them) converted; anything that does not convert stays text, so the single application's
/// check refuses it with its own message.
pub fn cell_value(shape: &Shape, text: &str) -> Value {
    match shape {
        Shape::Nullable(inner) => cell_value(inner, text),
        Shape::Int | Shape::Long => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| text.into()),
        Shape::Double => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .unwrap_or_else(|| text.into()),
        Shape::Bool => match text.to_ascii_lowercase().as_str() {
            "1" | "true" | "はい" | "同意" | "○" => Value::Bool(true),
            "0" | "false" | "いいえ" | "不同意" | "×" => Value::Bool(false),
            _ => text.into(),
        },
        Shape::Date => NaiveDate::parse_from_str(text, "%Y/%m/%d")
            .or_else(|_| NaiveDate::parse_from_str(text, "%Y-%m-%d"))
            .map(|d| Value::from(d.to_string()))
            .unwrap_or_else(|_| text.into()),
        _ => text.into(),
    }
}
