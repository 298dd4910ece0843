//! The screens over plain HTTPS, for what needs no script: a clerk's session cookie is the
//! token of an API login (the same session store), and each form's CSRF token is read from
//! the menu as a browser would find it in the page.

use super::harness::{Retailer, TestApp};

pub struct WebClient {
    pub api: Retailer,
    cookie: String,
    pub csrf: String,
}

/// A screen as it arrived: the status, the path it ended on (after redirects) and the HTML.
pub struct Screen {
    pub status: u16,
    pub path: String,
    pub html: String,
}

impl Screen {
    /// The value of the `attr` attribute of the element of id `id` (`href`, `value`).
    pub fn attr(&self, id: &str, attr: &str) -> Option<String> {
        let start = self.html.find(&format!("id=\"{id}\""))?;
        let tag_start = self.html[..start].rfind('<')?;
        let tag_end = start + self.html[start..].find('>')?;
        let tag = &self.html[tag_start..tag_end];
        let at = tag.find(&format!(" {attr}=\""))? + attr.len() + 3;
        let value = &tag[at..at + tag[at..].find('"')?];
        Some(value.replace("&#38;", "&").replace("&amp;", "&"))
    }
}

impl WebClient {
    /// A signed-in clerk of `company` (its administrator user, as `TestApp::login`).
    pub async fn of(app: &TestApp, company: &str) -> WebClient {
        Self::signed_in(app.login(company).await).await
    }

    /// The screens for the session `api` of an API login (any user).
    pub async fn signed_in(api: Retailer) -> WebClient {
        let cookie = format!("__Host-kirikae-session={}", api.token);
        let mut web = WebClient {
            api,
            cookie,
            csrf: String::new(),
        };
        let menu = web.get("/web/").await;
        assert_eq!(menu.status, 200, "{}", menu.html);
        web.csrf = menu
            .html
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .expect("the sign-out form's CSRF token")
            .to_string();
        web
    }

    async fn screen(resp: reqwest::Response) -> Screen {
        let status = resp.status().as_u16();
        let path = resp.url().path().to_string();
        Screen {
            status,
            path,
            html: resp.text().await.unwrap(),
        }
    }

    /// GETs `path` (with its query), following redirects.
    pub async fn get(&self, path: &str) -> Screen {
        let resp = self
            .api
            .http
            .get(format!("{}{path}", self.api.api))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        Self::screen(resp).await
    }

    /// GETs `path` and returns the raw bytes (a CSV download).
    pub async fn bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let resp = self
            .api
            .http
            .get(format!("{}{path}", self.api.api))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    /// POSTs `body` of `content_type` (a multipart form) to `path`, following redirects.
    pub async fn post_raw(&self, path: &str, content_type: &str, body: Vec<u8>) -> Screen {
        let resp = self
            .api
            .http
            .post(format!("{}{path}", self.api.api))
            .header("cookie", &self.cookie)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        Self::screen(resp).await
    }

    /// POSTs the form `pairs` (the CSRF token added) to `path`, following redirects.
    pub async fn post(&self, path: &str, pairs: &[(&str, &str)]) -> Screen {
        let mut form: Vec<(&str, &str)> = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(pairs);
        let resp = self
            .api
            .http
            .post(format!("{}{path}", self.api.api))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        Self::screen(resp).await
    }
}
