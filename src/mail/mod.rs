//! Mail to users over SMTP (lettre): the user id and initial password at registration and
//! reissue, and the notice of a change, to `smtp_host:smtp_port`: plain SMTP to a relay on
//! loopback (`kirikae up` and the tests run [`sink`] there), or STARTTLS or TLS, required and
//! the server's certificate checked, to any other (`smtp_tls`).

pub mod sink;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{Settings, SmtpTls};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("invalid mail address {0:?}")]
    Address(String),
    #[error("building the message: {0}")]
    Build(#[from] lettre::error::Error),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("SMTP settings: {0}")]
    Settings(String),
}

/// Sends mail through the configured SMTP server.
pub struct Mailer {
    /// The transport, or why the settings make none (every send then fails with it).
    transport: Result<AsyncSmtpTransport<Tokio1Executor>, String>,
    from: String,
}

impl Mailer {
    pub fn new(settings: &Settings) -> Self {
        let transport = transport(settings).map_err(|e| {
            tracing::error!(error = %e, "no mail can be sent");
            e.to_string()
        });
        Mailer {
            transport,
            from: settings.mail_from.clone(),
        }
    }

    /// Sends `body` (UTF-8, sent as 8bit so it stays readable) to `to`.
    pub async fn send(&self, to: &str, subject: &str, body: String) -> Result<(), MailError> {
        let from: Mailbox = self
            .from
            .parse()
            .map_err(|_| MailError::Address(self.from.clone()))?;
        let to: Mailbox = to.parse().map_err(|_| MailError::Address(to.into()))?;
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN)
            .body(
                match Body::new_with_encoding(wrap(&body), ContentTransferEncoding::EightBit) {
                    Ok(b) => b,
                    // Not sendable as 8bit (a NUL, say): lettre picks quoted-printable or base64.
                    Err(_) => Body::new(body),
                },
            )?;
        let transport = self
            .transport
            .as_ref()
            .map_err(|e| MailError::Settings(e.clone()))?;
        transport.send(message).await?;
        Ok(())
    }
}

/// The SMTP transport the settings describe: its TLS and, when a user is named, its login.
fn transport(settings: &Settings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let mut builder =
        AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(settings.smtp_host.as_str())
            .port(settings.smtp_port)
            .timeout(Some(std::time::Duration::from_secs(10)))
            .tls(tls(settings)?);
    if let Some(user) = &settings.smtp_username {
        let password = settings.smtp_password.clone().unwrap_or_default();
        builder = builder.credentials(Credentials::new(user.clone(), password));
    }
    Ok(builder.build())
}

/// `smtp_tls` as lettre's [`Tls`]: STARTTLS is required, never opportunistic (a server, or a
/// man in the middle, that does not offer it gets no mail), and the server's certificate is
/// checked against the trusted roots and `smtp_ca_file`.
fn tls(settings: &Settings) -> Result<Tls, MailError> {
    if settings.smtp_tls == SmtpTls::None {
        return Ok(Tls::None);
    }
    let mut params = TlsParameters::builder(settings.smtp_host.clone());
    if let Some(file) = &settings.smtp_ca_file {
        let pem = std::fs::read(file)
            .map_err(|e| MailError::Settings(format!("reading {}: {e}", file.display())))?;
        params = params.add_root_certificate(Certificate::from_pem(&pem)?);
    }
    let params = params.build_rustls()?;
    Ok(match settings.smtp_tls {
        SmtpTls::Starttls => Tls::Required(params),
        _ => Tls::Wrapper(params),
    })
}

/// `text` with every line cut to under 76 bytes (at character boundaries), so that it can be
/// sent as readable 8bit text: Japanese has no spaces to break at, and a line of 25 kana is
/// already 75 bytes.
fn wrap(text: &str) -> String {
    const MAX: usize = 72;
    let mut out = String::with_capacity(text.len() + text.len() / MAX * 2);
    for (i, line) in text.split("\r\n").enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        let mut width = 0;
        for c in line.chars() {
            if width + c.len_utf8() > MAX {
                out.push_str("\r\n");
                width = 0;
            }
            out.push(c);
            width += c.len_utf8();
        }
    }
    out
}

/// Whether `s` is a mail address lettre can send to.
pub fn valid_address(s: &str) -> bool {
    s.parse::<lettre::Address>().is_ok()
}

/// The mail that issues a user id and its initial password.
pub fn issued(company: &str, user_id: &str, name: &str, password: &str) -> (String, String) {
    (
        "【kirikae】ユーザIDの発行のお知らせ".into(),
        format!(
            "{name} 様\r\n\r\n\
             事業者 {company} の管理者により、スイッチング支援システム(kirikae)のユーザIDが発行されました。\r\n\r\n\
             ユーザID: {user_id}\r\n\
             初期パスワード: {password}\r\n\r\n\
             初回ログイン後、パスワードを変更してください。変更するまで他の機能は利用できません。\r\n\
             このメールに心当たりがない場合は、貴社の管理者にお問い合わせください。\r\n"
        ),
    )
}

/// The mail of a reissued (initial) password.
pub fn reissued(company: &str, user_id: &str, name: &str, password: &str) -> (String, String) {
    (
        "【kirikae】パスワード再発行のお知らせ".into(),
        format!(
            "{name} 様\r\n\r\n\
             事業者 {company} の管理者により、パスワードが再発行されました。\r\n\r\n\
             ユーザID: {user_id}\r\n\
             初期パスワード: {password}\r\n\r\n\
             ログイン後、パスワードを変更してください。変更するまで他の機能は利用できません。\r\n"
        ),
    )
}

/// The notice that an administrator changed the user's registration.
pub fn changed(company: &str, user_id: &str, name: &str) -> (String, String) {
    (
        "【kirikae】ユーザ情報変更完了のお知らせ".into(),
        format!(
            "{name} 様\r\n\r\n\
             事業者 {company} の管理者により、ユーザID {user_id} の登録内容が変更されました。\r\n\
             このメールに心当たりがない場合は、貴社の管理者にお問い合わせください。\r\n"
        ),
    )
}

/// The mail of a change of the terms of use to a registration's contact (terms 1.3.3).
pub fn terms_changed(
    company: &str,
    company_name: &str,
    title: &str,
    published: &str,
    body: &str,
) -> (String, String) {
    let body = body.replace("\r\n", "\n").replace('\n', "\r\n");
    (
        format!("【kirikae】利用規約変更のお知らせ: {title}"),
        format!(
            "{company_name}({company})御中\r\n\r\n\
             スイッチング支援システム(kirikae)の利用規約を変更しました({published}公表)。\r\n\
             変更後の利用規約は、公表の時点から貴社の登録に適用されます。\r\n\r\n\
             {title}\r\n\r\n{body}\r\n\r\n\
             本件はインフォメーション(GET /api/v1/notices)でも確認できます。\r\n"
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(tls: SmtpTls) -> Settings {
        Settings {
            smtp_host: "mail.example.jp".into(),
            smtp_tls: tls,
            ..Settings::default()
        }
    }

    #[test]
    fn smtp_tls_chooses_plain_required_starttls_or_tls_for_the_configured_host() {
        assert!(matches!(tls(&settings(SmtpTls::None)).unwrap(), Tls::None));
        match tls(&settings(SmtpTls::Starttls)).unwrap() {
            Tls::Required(p) => assert_eq!(p.domain(), "mail.example.jp"),
            _ => panic!("STARTTLS must be required, not opportunistic"),
        }
        match tls(&settings(SmtpTls::Tls)).unwrap() {
            Tls::Wrapper(p) => assert_eq!(p.domain(), "mail.example.jp"),
            _ => panic!("tls is TLS from the first byte"),
        }
    }

    #[test]
    fn an_smtp_ca_file_that_cannot_be_read_is_an_error_not_a_plain_connection() {
        let s = Settings {
            smtp_ca_file: Some("/nonexistent/ca.pem".into()),
            ..settings(SmtpTls::Starttls)
        };
        assert!(matches!(tls(&s), Err(MailError::Settings(_))));
    }

    #[test]
    fn long_japanese_lines_are_cut_under_76_bytes_at_character_boundaries() {
        let (_, body) = issued("A0001", "sato.hanako", "佐藤 花子", "Abcdefgh-1234567");
        let wrapped = wrap(&body);
        assert!(wrapped.split("\r\n").all(|l| l.len() < 76), "{wrapped}");
        assert_eq!(wrapped.replace("\r\n", ""), body.replace("\r\n", ""));
        assert!(wrapped.contains("\r\n初期パスワード: Abcdefgh-1234567\r\n"));
    }
}
