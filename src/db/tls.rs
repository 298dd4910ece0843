//! TLS to PostgreSQL with rustls, after libpq's `sslmode`: `disable` never, `prefer` when the
//! server offers it, `require` always (the server's certificate not checked: encryption
//! against a passive listener only), `verify-full` always, the certificate checked against
//! `database_ca_file` (or the web's trusted roots) and the host name.

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_postgres::config::SslMode;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{DatabaseSslMode, Settings};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("reading {0}: {1}")]
    Pem(String, rustls_pki_types::pem::Error),
    #[error("TLS configuration: {0}")]
    Rustls(#[from] rustls::Error),
}

/// Sets `config`'s TLS mode from the settings and returns the connector that goes with it.
pub fn configure(
    config: &mut tokio_postgres::Config,
    settings: &Settings,
) -> Result<MakeRustlsConnect, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let (mode, client) = match settings.database_sslmode {
        DatabaseSslMode::VerifyFull => {
            let roots = roots(settings.database_ca_file.as_deref())?;
            (
                SslMode::Require,
                builder.with_root_certificates(roots).with_no_client_auth(),
            )
        }
        other => {
            let mode = match other {
                DatabaseSslMode::Disable => SslMode::Disable,
                DatabaseSslMode::Prefer => SslMode::Prefer,
                _ => SslMode::Require,
            };
            let verifier = Arc::new(Unchecked(provider.signature_verification_algorithms));
            let client = builder
                .dangerous()
                .with_custom_certificate_verifier(verifier)
                .with_no_client_auth();
            (mode, client)
        }
    };
    config.ssl_mode(mode);
    Ok(MakeRustlsConnect::new(client))
}

/// The CAs in `file`, or without one the web's trusted roots (a managed database's CA is
/// usually among them).
fn roots(file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let Some(file) = file else {
        return Ok(RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        });
    };
    let shown = || file.display().to_string();
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_file_iter(file).map_err(|e| TlsError::Pem(shown(), e))? {
        roots.add(ca.map_err(|e| TlsError::Pem(shown(), e))?)?;
    }
    Ok(roots)
}

/// `prefer` and `require`: any certificate is taken (as libpq does in these modes), but the
/// handshake's signatures are still checked, so the session key is the server's.
#[derive(Debug)]
struct Unchecked(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for Unchecked {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
