//! A real headless Chromium for the web tests, driven over WebDriver (chromedriver and
//! fantoccini). It presents a client certificate at the TLS level as a clerk's browser does:
//! each browser gets a HOME of its own whose NSS database (`~/.pki/nssdb`, made with `certutil`
//! and `pk12util`) trusts the hub's CA and holds the company's certificate and key, and
//! Chromium's `AutoSelectCertificateForUrls` policy (a file under
//! `/etc/chromium/policies/managed/`) picks it without a dialog. A browser made without a
//! company holds the CA alone, and so has no certificate to present.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use super::harness::{TestApp, free_port};

/// Where Chromium reads managed policies on Debian.
const POLICY_DIR: &str = "/etc/chromium/policies/managed";

pub struct Browser {
    pub client: Client,
    pub downloads: PathBuf,
    driver: Child,
    _home: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        // chromedriver ends the browsers it started with it.
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn run(cmd: &mut Command) {
    let out = cmd
        .output()
        .expect("the NSS and OpenSSL tools (scripts/test installs them)");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The policy that lets Chromium present the one certificate it holds to the hub on
/// loopback without asking.
fn write_policy() {
    let policy = json!({
        "AutoSelectCertificateForUrls": [
            json!({"pattern": "https://localhost:*", "filter": {}}).to_string()
        ]
    });
    std::fs::create_dir_all(POLICY_DIR).expect("root may write Chromium's policies");
    let path = Path::new(POLICY_DIR).join("kirikae-tests.json");
    let text = policy.to_string();
    if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
        std::fs::write(path, text).unwrap();
    }
}

/// An NSS database in `home` trusting the hub's CA and, with `company`, holding its client
/// certificate and key.
fn nss_database(home: &Path, certs: &Path, company: Option<&str>) {
    let db = home.join(".pki/nssdb");
    std::fs::create_dir_all(&db).unwrap();
    let db = format!("sql:{}", db.display());
    run(Command::new("certutil").args(["-N", "-d", &db, "--empty-password"]));
    let ca = certs.join("ca.pem");
    run(Command::new("certutil")
        .args(["-A", "-d", &db, "-n", "kirikae-test-ca", "-t", "C,,", "-i"])
        .arg(&ca));
    if let Some(code) = company {
        let p12 = home.join("client.p12");
        run(Command::new("openssl")
            .args(["pkcs12", "-export", "-passout", "pass:", "-in"])
            .arg(certs.join(format!("client-{code}.pem")))
            .arg("-inkey")
            .arg(certs.join(format!("client-{code}.key")))
            .arg("-out")
            .arg(&p12));
        run(Command::new("pk12util")
            .args(["-d", &db, "-W", "", "-i"])
            .arg(&p12));
    }
}

impl Browser {
    /// A headless Chromium presenting `company`'s client certificate (none with `None`).
    pub async fn start(app: &TestApp, company: Option<&str>) -> Browser {
        write_policy();
        let home = tempfile::tempdir().unwrap();
        nss_database(home.path(), app.certs.path(), company);
        let downloads = home.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .env("HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/test installs chromium-driver)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = home.path().join("profile");
        let caps = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu",
                    "--disable-dev-shm-usage", "--window-size=1280,1000",
                    format!("--user-data-dir={}", profile.display()),
                ],
                "prefs": {
                    "download.default_directory": downloads.display().to_string(),
                    "download.prompt_for_download": false,
                }
            }
        });
        let caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        Browser {
            client,
            downloads,
            driver,
            _home: home,
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap();
    }

    /// Types `value` into the input of id `id`, replacing what it held.
    pub async fn fill(&self, id: &str, value: &str) {
        let e = self.client.find(Locator::Id(id)).await.unwrap();
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    pub async fn click(&self, id: &str) {
        self.client
            .find(Locator::Id(id))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
    }

    /// Clicks the element of id `id` and waits until the page it leads to has loaded (a form's
    /// submit answers after the click returns).
    pub async fn submit(&self, id: &str) {
        self.client
            .execute("window.kirikaeLeaving = true;", vec![])
            .await
            .unwrap();
        self.click(id).await;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let arrived = self
                .client
                .execute(
                    "return !window.kirikaeLeaving && document.readyState === 'complete';",
                    vec![],
                )
                .await;
            if matches!(arrived, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            assert!(Instant::now() < deadline, "#{id} led nowhere");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The text of the element of id `id`, if there is one.
    pub async fn text(&self, id: &str) -> Option<String> {
        let e = self.client.find(Locator::Id(id)).await.ok()?;
        e.text().await.ok()
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_string()
    }

    pub async fn source(&self) -> String {
        self.client.source().await.unwrap()
    }

    /// Waits until the element of id `id` shows `want`; its text.
    pub async fn wait_text(&self, id: &str, want: &str, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let got = self.text(id).await.unwrap_or_default();
            if got.contains(want) {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "#{id} never showed {want:?}; it shows {got:?}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Signs in as `user_id` with `password` through the sign-in form.
    pub async fn sign_in(&self, app: &TestApp, user_id: &str, password: &str) {
        self.goto(&format!("{}/web/signin", app.api)).await;
        self.fill("user_id", user_id).await;
        self.fill("password", password).await;
        self.submit("signin").await;
    }

    /// Saves a screenshot of the page as `docs/screens/<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.unwrap();
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screens");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Waits for a finished download and reads it. Chromium writes a download to
    /// `*.crdownload` and renames it when done, but it may reserve the final name first with
    /// an empty file: a `.csv` counts only once it has bytes and no `.crdownload` is left.
    pub async fn downloaded(&self, secs: u64) -> Vec<u8> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let files: Vec<PathBuf> = std::fs::read_dir(&self.downloads)
                .unwrap()
                .filter_map(|e| e.ok().map(|e| e.path()))
                .collect();
            let writing = files
                .iter()
                .any(|p| p.extension().is_some_and(|x| x == "crdownload"));
            let done = files.iter().find(|p| {
                p.extension().is_some_and(|x| x == "csv")
                    && std::fs::metadata(p).is_ok_and(|m| m.len() > 0)
            });
            if let (false, Some(p)) = (writing, done) {
                let bytes = std::fs::read(p).unwrap();
                std::fs::remove_file(p).unwrap();
                return bytes;
            }
            assert!(Instant::now() < deadline, "no download arrived");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}
