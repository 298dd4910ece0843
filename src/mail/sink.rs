//! A minimal local SMTP server that accepts every message and writes it, as received, to
//! `<mail_dir>/<time>-<n>.eml`, the envelope sender and recipients as `X-Envelope-*:` lines
//! first. For `kirikae up` and the tests: it relays nothing and listens on loopback only.
//! (mailin-embedded needs a TLS backend that would add a second rustls crypto provider.)

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

/// A message is refused past this size, a command line past 1000 bytes (RFC 5321).
const MAX_MESSAGE: usize = 10 * 1024 * 1024;
const MAX_LINE: usize = 1000;

/// Starts the sink on `listen` (a loopback address; port 0 picks one) writing to `dir` until
/// `shutdown`; returns its address.
pub async fn start(
    listen: SocketAddr,
    dir: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<SocketAddr> {
    anyhow::ensure!(
        listen.ip().is_loopback(),
        "the mail sink listens on loopback only, not {listen}"
    );
    std::fs::create_dir_all(dir)?;
    let listener = TcpListener::bind(listen).await?;
    let addr = listener.local_addr()?;
    let dir = dir.to_path_buf();
    tokio::spawn(async move {
        loop {
            let stream = tokio::select! {
                _ = shutdown.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((s, _)) => s,
                    Err(e) => {
                        tracing::warn!(error = %e, "mail sink accept failed");
                        continue;
                    }
                },
            };
            let dir = dir.clone();
            tokio::spawn(async move {
                if let Err(e) = session(stream, &dir).await {
                    tracing::debug!(error = %e, "mail sink session ended");
                }
            });
        }
    });
    Ok(addr)
}

/// One SMTP session: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; anything else is 502,
/// a command out of order 503.
async fn session(stream: TcpStream, dir: &Path) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    write.write_all(b"220 kirikae-mail-sink ESMTP\r\n").await?;
    let (mut greeted, mut from, mut to) = (false, None::<String>, Vec::<String>::new());
    let mut line = Vec::new();
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        if line.len() > MAX_LINE {
            write.write_all(b"500 line too long\r\n").await?;
            continue;
        }
        let text = String::from_utf8_lossy(&line).trim_end().to_string();
        let upper = text.to_ascii_uppercase();
        let verb = upper.split_whitespace().next().unwrap_or("");
        let reply: &[u8] = match verb {
            "EHLO" => {
                greeted = true;
                b"250-kirikae-mail-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            }
            "HELO" => {
                greeted = true;
                b"250 kirikae-mail-sink\r\n"
            }
            "MAIL" if !greeted => b"503 say EHLO first\r\n",
            "MAIL" if upper.starts_with("MAIL FROM:") => {
                from = Some(address(&text["MAIL FROM:".len()..]));
                to.clear();
                b"250 OK\r\n"
            }
            "RCPT" if from.is_none() => b"503 MAIL first\r\n",
            "RCPT" if upper.starts_with("RCPT TO:") => {
                to.push(address(&text["RCPT TO:".len()..]));
                b"250 OK\r\n"
            }
            "DATA" if to.is_empty() => b"503 RCPT first\r\n",
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let body = read_data(&mut read).await?;
                let reply: &[u8] = match body {
                    None => b"552 message too large\r\n",
                    Some(body) => match store(dir, from.as_deref().unwrap_or(""), &to, &body) {
                        Ok(()) => b"250 OK stored\r\n",
                        Err(e) => {
                            tracing::error!(error = %e, "mail sink could not store a message");
                            b"451 local error\r\n"
                        }
                    },
                };
                from = None;
                to.clear();
                reply
            }
            "RSET" => {
                from = None;
                to.clear();
                b"250 OK\r\n"
            }
            "NOOP" => b"250 OK\r\n",
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            "MAIL" | "RCPT" => b"501 syntax error\r\n",
            _ => b"502 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
}

/// The address inside `<…>` (parameters such as `BODY=8BITMIME` after it are ignored).
fn address(arg: &str) -> String {
    let arg = arg.trim();
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if a < b => arg[a + 1..b].to_string(),
        _ => arg.split_whitespace().next().unwrap_or("").to_string(),
    }
}

/// The message up to the line holding a single dot, dot-unstuffed; `None` if it is too large
/// (read to its end all the same, so the session stays in step).
async fn read_data(
    read: &mut BufReader<tokio::net::tcp::OwnedReadHalf>,
) -> std::io::Result<Option<Vec<u8>>> {
    let (mut body, mut too_large, mut line) = (Vec::new(), false, Vec::new());
    loop {
        line.clear();
        if read.read_until(b'\n', &mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        if line == b".\r\n" || line == b".\n" {
            return Ok((!too_large).then_some(body));
        }
        let unstuffed = if line.starts_with(b"..") {
            &line[1..]
        } else {
            &line[..]
        };
        if body.len() + unstuffed.len() > MAX_MESSAGE {
            too_large = true;
            body.clear();
        } else if !too_large {
            body.extend_from_slice(unstuffed);
        }
    }
}

fn store(dir: &Path, from: &str, to: &[String], body: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let mut message = format!("X-Envelope-From: {from}\r\n").into_bytes();
    for rcpt in to {
        message.extend_from_slice(format!("X-Envelope-To: {rcpt}\r\n").as_bytes());
    }
    message.extend_from_slice(body);
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
    let name = format!("{stamp:020}-{n:06}.eml");
    // Written aside, then renamed: a reader never sees half a message.
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, &message)?;
    std::fs::rename(&tmp, dir.join(name))
}

/// Every message in `dir`, oldest first.
pub fn messages(dir: &Path) -> Vec<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "eml"))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_message_sent_over_smtp_lands_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let addr = start("127.0.0.1:0".parse().unwrap(), dir.path(), stop.clone())
            .await
            .unwrap();
        let settings = crate::config::Settings {
            smtp_port: addr.port(),
            ..Default::default()
        };
        let mailer = super::super::Mailer::new(&settings);
        mailer
            .send("taro@example.jp", "件名", "本文\r\n.dot line\r\n".into())
            .await
            .unwrap();
        let all = messages(dir.path());
        assert_eq!(all.len(), 1);
        assert!(
            all[0].contains("X-Envelope-To: taro@example.jp"),
            "{}",
            all[0]
        );
        assert!(all[0].contains("本文\r\n.dot line"), "{}", all[0]);
        stop.cancel();
    }

    #[tokio::test]
    async fn with_starttls_or_tls_required_a_server_without_tls_gets_no_mail() {
        let dir = tempfile::tempdir().unwrap();
        let stop = CancellationToken::new();
        let addr = start("127.0.0.1:0".parse().unwrap(), dir.path(), stop.clone())
            .await
            .unwrap();
        for tls in [
            crate::config::SmtpTls::Starttls,
            crate::config::SmtpTls::Tls,
        ] {
            let settings = crate::config::Settings {
                smtp_port: addr.port(),
                smtp_tls: tls,
                ..Default::default()
            };
            let mailer = super::super::Mailer::new(&settings);
            let sent = mailer
                .send("taro@example.jp", "件名", "初期パスワード".into())
                .await;
            assert!(sent.is_err(), "{tls:?}: sent in clear");
        }
        assert!(messages(dir.path()).is_empty());
        stop.cancel();
    }

    #[test]
    fn the_address_is_read_from_its_brackets() {
        assert_eq!(address(" <a@b.jp> BODY=8BITMIME"), "a@b.jp");
        assert_eq!(address("a@b.jp"), "a@b.jp");
    }
}
