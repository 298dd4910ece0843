//! An uploaded file on its way in: written to a temporary file as its chunks arrive (the API's
//! body, or the file part of the web form), sniffed as it goes ([`Sniff`]) and cut off past
//! [`MAX_FILE_BYTES`], so the hub never holds a file in memory; then read row by row from
//! the disk. The temporary file is removed when the upload is dropped, whatever became of it.

use std::fs::File;
use std::path::PathBuf;

use chrono::NaiveDate;
use futures::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;
use uuid::Uuid;

use super::kind::BulkKind;
use super::parse::{self, Row, Sniff, Summary, Uploader};
use super::service::MAX_FILE_BYTES;
use crate::csv_text::CsvEncoding;
use crate::domain::Refusal;

/// A temporary file, removed when dropped.
struct TempPath(PathBuf);

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn internal(e: std::io::Error) -> Refusal {
    Refusal::Internal(anyhow::anyhow!("spooling an upload: {e}"))
}

/// How much of an oversized upload is read and thrown away so that the 413 reaches the
/// client as an answer (a connection closed mid-upload would hide it); beyond this the
/// connection is simply dropped.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// A file being received.
pub struct Spool {
    path: TempPath,
    file: tokio::io::BufWriter<tokio::fs::File>,
    sniff: Sniff,
    len: usize,
}

impl Spool {
    /// A new, empty temporary file.
    pub async fn create() -> Result<Spool, Refusal> {
        let path = std::env::temp_dir().join(format!("kirikae-bulk-{}.csv", Uuid::now_v7()));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(internal)?;
        Ok(Spool {
            path: TempPath(path),
            file: tokio::io::BufWriter::with_capacity(64 * 1024, file),
            sniff: Sniff::new(),
            len: 0,
        })
    }

    /// Receives an upload from `body` as it arrives: `file` picks out of each chunk the bytes
    /// of the file (all of them for the API's body; the file part of a web form), appending
    /// them to its second argument. 413 `file_too_large` past [`MAX_FILE_BYTES`], once the
    /// rest is read and thrown away (up to a limit); 400 when the connection breaks.
    pub async fn receive<C: AsRef<[u8]>, E: std::fmt::Display>(
        body: impl Stream<Item = Result<C, E>>,
        mut file: impl FnMut(&[u8], &mut Vec<u8>) -> Result<(), Refusal>,
    ) -> Result<Upload, Refusal> {
        let mut spool = Spool::create().await?;
        let mut body = std::pin::pin!(body);
        let (mut seen, mut refused, mut bytes) = (0usize, None, Vec::new());
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Refusal::BadRequest(e.to_string()))?;
            let chunk = chunk.as_ref();
            seen += chunk.len();
            if refused.is_some() {
                if seen > DRAIN_LIMIT {
                    break;
                }
                continue;
            }
            bytes.clear();
            let written = match file(chunk, &mut bytes) {
                Ok(()) => spool.write(&bytes).await,
                Err(r) => Err(r),
            };
            if let Err(r) = written {
                refused = Some(r);
            }
        }
        match refused {
            Some(r) => Err(r),
            None => spool.finish().await,
        }
    }

    /// The next bytes of the file; 413 `file_too_large` once the file passes
    /// [`MAX_FILE_BYTES`] (nothing more is written: the caller stops, or drains the rest).
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), Refusal> {
        self.len += chunk.len();
        if self.len > MAX_FILE_BYTES {
            return Err(Refusal::BulkFileTooLarge(MAX_FILE_BYTES));
        }
        self.sniff.feed(chunk);
        self.file.write_all(chunk).await.map_err(internal)
    }

    #[cfg(test)]
    pub fn path(&self) -> &std::path::Path {
        &self.path.0
    }

    /// The file as received, ready to be read.
    pub async fn finish(mut self) -> Result<Upload, Refusal> {
        self.file.flush().await.map_err(internal)?;
        self.sniff.finish();
        Ok(Upload {
            path: self.path,
            sniff: self.sniff,
        })
    }
}

/// A file received whole (on disk), not read yet.
pub struct Upload {
    path: TempPath,
    sniff: Sniff,
}

impl Upload {
    /// The encoding the file will be read in (`declared` wins).
    pub fn encoding(&self, declared: Option<CsvEncoding>) -> CsvEncoding {
        self.sniff.encoding(declared).0
    }

    /// Reads the file row by row (blocking I/O and CPU: call it off the async threads),
    /// handing each row to `emit`; see [`parse::read`].
    pub fn read(
        &self,
        kind: BulkKind,
        declared: Option<CsvEncoding>,
        uploader: &Uploader,
        today: NaiveDate,
        emit: impl FnMut(Row) -> Result<(), Refusal>,
    ) -> Result<Summary, Refusal> {
        let open = || File::open(&self.path.0).map_err(internal);
        parse::read(
            kind,
            &self.sniff,
            (open()?, open()?),
            declared,
            uploader,
            today,
            emit,
        )
    }
}
