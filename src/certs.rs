//! A development PKI (`kirikae certs`): one CA, a server certificate for the API on loopback, and
//! one client certificate per company, whose common name is the company code.
//! Written to a git-ignored folder; production uses certificates from the hub's real CA.

use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};

use crate::domain::CompanyCode;

/// The common name of the hub operator's client certificates (`accounts::operators`): lower
/// case and a hyphen, which no company code (4–5 capital letters or digits) can be.
pub const OPERATOR_CN: &str = "kirikae-operator";

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("certificate generation: {0}")]
    Rcgen(#[from] rcgen::Error),
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

fn write(path: PathBuf, contents: &str) -> Result<(), CertError> {
    std::fs::write(&path, contents).map_err(|source| CertError::Io { path, source })
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Loads the CA in `dir`, or creates it when missing.
fn ca(dir: &Path, name: &str) -> Result<Issuer<'static, KeyPair>, CertError> {
    if let (Some(cert), Some(key)) = (read(&dir.join("ca.pem")), read(&dir.join("ca.key"))) {
        let key = KeyPair::from_pem(&key)?;
        return Ok(Issuer::from_ca_cert_pem(&cert, key)?);
    }
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "kirikae development");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let cert = params.self_signed(&key)?;
    write(dir.join("ca.pem"), &cert.pem())?;
    write(dir.join("ca.key"), &key.serialize_pem())?;
    Ok(Issuer::new(params, key))
}

fn leaf(
    dir: &Path,
    file: &str,
    sans: Vec<String>,
    common_name: &str,
    usage: ExtendedKeyUsagePurpose,
    ca: &Issuer<'_, KeyPair>,
) -> Result<(), CertError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(sans)?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params.extended_key_usages = vec![usage];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    let cert = params.signed_by(&key, ca)?;
    write(dir.join(format!("{file}.pem")), &cert.pem())?;
    write(dir.join(format!("{file}.key")), &key.serialize_pem())?;
    Ok(())
}

/// Writes (or completes) the development PKI in `dir`: `ca.pem`/`ca.key`,
/// `server.pem`/`server.key`, `client-<CODE>.pem`/`.key` for each company, and
/// `client-operator.pem`/`.key`, the hub operator's (common name `kirikae-operator`).
/// An existing CA is kept, so certificates issued earlier stay valid.
pub fn generate(dir: &Path, ca_name: &str, companies: &[CompanyCode]) -> Result<(), CertError> {
    std::fs::create_dir_all(dir).map_err(|source| CertError::Io {
        path: dir.into(),
        source,
    })?;
    let ca = ca(dir, ca_name)?;
    if !dir.join("server.pem").exists() {
        let sans = vec!["localhost".to_string(), "127.0.0.1".to_string()];
        leaf(
            dir,
            "server",
            sans,
            "localhost",
            ExtendedKeyUsagePurpose::ServerAuth,
            &ca,
        )?;
    }
    // The hub operator's certificate, for the operator screens (`accounts::operators`).
    if !dir.join("client-operator.pem").exists() {
        leaf(
            dir,
            "client-operator",
            vec![],
            OPERATOR_CN,
            ExtendedKeyUsagePurpose::ClientAuth,
            &ca,
        )?;
    }
    for c in companies {
        let file = format!("client-{c}");
        if !dir.join(format!("{file}.pem")).exists() {
            leaf(
                dir,
                &file,
                vec![],
                c.as_str(),
                ExtendedKeyUsagePurpose::ClientAuth,
                &ca,
            )?;
        }
    }
    Ok(())
}
