//! 事業者登録 (the operator's registrations): the list and the register form, and one
//! registration's page — its status with suspend (利用の中断), resume and end (利用契約の終了),
//! the one administrator ID, and its client certificates. Every action is the CLI's service
//! function (`accounts::registrations`, `accounts::certificates`) with the operator named.

use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::{Errors, OperatorVisitor, OpsChrome, given, page_or_refusal, shown_time, typed_time};
use crate::accounts::certificates;
use crate::accounts::registrations::{self, NewRegistration, RegistrationRow, RegistrationStatus};
use crate::domain::{CompanyCode, CompanyKind, CorporateNumber, Refusal, UserId};
use crate::web::WebState;
use crate::web::page::csrf_refused;

/// What the register form posts (also what it shows again after a refusal).
#[derive(Deserialize, Default)]
pub struct RegisterForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub contact_email: String,
    #[serde(default)]
    pub corporate_number: String,
}

#[derive(Template)]
#[template(path = "ops/registrations.html")]
struct List {
    chrome: Option<OpsChrome>,
    rows: Vec<RegistrationRow>,
    form: RegisterForm,
    errors: Errors,
    done: Option<String>,
}

#[derive(Deserialize)]
pub struct Done {
    done: Option<String>,
}

const REGISTER_FIELDS: &[&str] = &["code", "name", "kind", "contact_email", "corporate_number"];

async fn list_page(
    state: &WebState,
    v: &OperatorVisitor,
    form: RegisterForm,
    errors: Errors,
    done: Option<String>,
) -> Result<List, Refusal> {
    Ok(List {
        chrome: Some(OpsChrome::of(v)),
        rows: registrations::overview(&state.pool).await?,
        form,
        errors,
        done,
    })
}

/// 事業者一覧 and the register form.
pub async fn list(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Query(q): Query<Done>,
) -> Response {
    let form = RegisterForm {
        kind: "retailer".into(),
        ..Default::default()
    };
    let page = list_page(&state, &v, form, Errors::none(), q.done).await;
    page_or_refusal(StatusCode::OK, page)
}

/// 事業者登録: `registrations::register_company_by`, as `kirikae company --code … --name …`.
pub async fn register(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Form(f): Form<RegisterForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let outcome = async {
        let code = CompanyCode::parse(f.code.trim()).map_err(|_| {
            Refusal::invalid(
                "code",
                "invalid_company_code",
                "事業者コードは英大文字と数字の4〜5文字で入力してください",
                "a company code is 4 to 5 capital letters or digits",
            )
        })?;
        if f.name.trim().is_empty() {
            return Err(Refusal::invalid(
                "name",
                "name_required",
                "事業者名を入力してください",
                "the company's name is required",
            ));
        }
        let kind = CompanyKind::parse(&f.kind).ok_or_else(|| {
            Refusal::invalid(
                "kind",
                "invalid_kind",
                "種別を選んでください",
                "choose the registration's kind",
            )
        })?;
        let number = given(&f.corporate_number)
            .map(|n| CorporateNumber::parse(&n))
            .transpose()
            .map_err(|_| {
                Refusal::invalid(
                    "corporate_number",
                    "invalid_corporate_number",
                    "法人番号は13桁の数字で入力してください",
                    "a corporate number is 13 digits",
                )
            })?;
        let contact = given(&f.contact_email);
        let r = NewRegistration {
            code: &code,
            name: f.name.trim(),
            kind,
            contact_email: contact.as_deref(),
            corporate_number: number.as_ref(),
        };
        registrations::register_company_by(&state.pool, &r, &v.actor())
            .await
            .map_err(|e| e.into_refusal())?;
        Ok::<_, Refusal>(code)
    }
    .await;
    match outcome {
        Ok(code) => {
            Redirect::to(&format!("/web/ops/registrations/{code}?done=registered")).into_response()
        }
        Err(r @ (Refusal::Internal(_) | Refusal::DatabaseUnavailable(_))) => {
            crate::web::page::refused(&r)
        }
        Err(r) => {
            let errors = Errors::of(&r, REGISTER_FIELDS);
            let page = list_page(&state, &v, f, errors, None).await;
            page_or_refusal(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}

/// A client certificate as the page lists it.
pub struct CertificateRow {
    pub fingerprint: String,
    pub not_before: String,
    pub not_after: String,
    pub valid_now: bool,
}

#[derive(Template)]
#[template(path = "ops/registration.html")]
struct One {
    chrome: Option<OpsChrome>,
    r: RegistrationRow,
    certificates: Vec<CertificateRow>,
    errors: Errors,
    done: Option<String>,
}

const ONE_FIELDS: &[&str] = &["user_id", "admin_name", "password", "pem", "not_after"];

async fn one_page(
    state: &WebState,
    v: &OperatorVisitor,
    code: &str,
    errors: Errors,
    done: Option<String>,
) -> Result<One, Refusal> {
    let rows = registrations::overview(&state.pool).await?;
    let Some(r) = rows.into_iter().find(|r| r.code == code) else {
        return Err(registrations::RegistrationError::UnknownCompany(code.into()).into_refusal());
    };
    let parsed = CompanyCode::parse(code).map_err(|e| Refusal::Internal(e.into()))?;
    let now = chrono::Utc::now();
    let certificates = certificates::certificates_of(&state.pool, &parsed)
        .await?
        .into_iter()
        .map(|c| CertificateRow {
            valid_now: c.not_before <= now && now < c.not_after,
            fingerprint: c.fingerprint,
            not_before: shown_time(c.not_before),
            not_after: shown_time(c.not_after),
        })
        .collect();
    Ok(One {
        chrome: Some(OpsChrome::of(v)),
        r,
        certificates,
        errors,
        done,
    })
}

/// One registration: status and its actions, the administrator ID, the certificates.
pub async fn one(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Path(code): Path<String>,
    Query(q): Query<Done>,
) -> Response {
    let page = one_page(&state, &v, &code, Errors::none(), q.done).await;
    page_or_refusal(StatusCode::OK, page)
}

/// The answer to an action on one registration: back to its page with what was done, or the
/// page again with the refusal next to its field.
async fn after(
    state: &WebState,
    v: &OperatorVisitor,
    code: &str,
    outcome: Result<&str, Refusal>,
) -> Response {
    match outcome {
        Ok(done) => {
            Redirect::to(&format!("/web/ops/registrations/{code}?done={done}")).into_response()
        }
        Err(r @ (Refusal::Internal(_) | Refusal::DatabaseUnavailable(_))) => {
            crate::web::page::refused(&r)
        }
        Err(r) => {
            let errors = Errors::of(&r, ONE_FIELDS);
            let page = one_page(state, v, code, errors, None).await;
            page_or_refusal(StatusCode::UNPROCESSABLE_ENTITY, page)
        }
    }
}

fn company(code: &str) -> Result<CompanyCode, Refusal> {
    CompanyCode::parse(code)
        .map_err(|_| registrations::RegistrationError::UnknownCompany(code.into()).into_refusal())
}

#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    status: String,
}

/// 利用の中断 / 再開 / 利用契約の終了: `registrations::set_status_by`, as `kirikae company
/// suspend|resume|end`. The registration's clerks are refused from their next request.
pub async fn status(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Path(code): Path<String>,
    Form(f): Form<StatusForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let outcome = async {
        let c = company(&code)?;
        let status = RegistrationStatus::parse(&f.status).ok_or_else(|| {
            Refusal::invalid(
                "status",
                "invalid_status",
                "状態は active / suspended / ended のいずれかです",
                "a status is active, suspended or ended",
            )
        })?;
        registrations::set_status_by(&state.pool, &c, status, &v.actor())
            .await
            .map_err(|e| e.into_refusal())?;
        Ok::<_, Refusal>(status.as_str())
    }
    .await;
    after(&state, &v, &code, outcome).await
}

#[derive(Deserialize)]
pub struct AdministratorForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    admin_name: String,
    #[serde(default)]
    password: String,
}

/// 管理者ID発行: `Accounts::issue_admin_by`, as `kirikae company issue-admin` (once per
/// registration; the initial password must be changed at first login).
pub async fn administrator(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Path(code): Path<String>,
    Form(f): Form<AdministratorForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let outcome = async {
        let c = company(&code)?;
        let user = UserId::parse(f.user_id.trim()).map_err(|_| {
            Refusal::invalid(
                "user_id",
                "invalid_user_id",
                "ユーザIDは英数字と . _ - の3〜32文字で入力してください",
                "a user id is 3 to 32 letters, digits, '.', '_' or '-'",
            )
        })?;
        state
            .accounts
            .issue_admin_by(&c, &user, f.admin_name.trim(), &f.password, &v.actor())
            .await
            .map_err(|e| e.into_refusal())?;
        Ok::<_, Refusal>("administrator")
    }
    .await;
    after(&state, &v, &code, outcome).await
}

#[derive(Deserialize)]
pub struct CertificateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    pem: String,
    /// Empty: the certificate's own notAfter; a past time withdraws it.
    #[serde(default)]
    not_after: String,
}

/// 証明書登録: `certificates::register_certificate_by`, as `kirikae certs register`;
/// registering the same certificate with a past end withdraws it.
pub async fn certificate(
    State(state): State<WebState>,
    v: OperatorVisitor,
    Path(code): Path<String>,
    Form(f): Form<CertificateForm>,
) -> Response {
    if !v.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let outcome = async {
        let c = company(&code)?;
        let validity = match given(&f.not_after) {
            Some(t) => {
                let until = typed_time("not_after", &t)?;
                let own = certificates::read_certificate(f.pem.as_bytes())
                    .map_err(|e| e.into_refusal())?;
                Some((own.not_before, until))
            }
            None => None,
        };
        certificates::register_certificate_by(
            &state.pool,
            &c,
            f.pem.as_bytes(),
            validity,
            &v.actor(),
        )
        .await
        .map_err(|e| e.into_refusal())?;
        Ok::<_, Refusal>("certificate")
    }
    .await;
    after(&state, &v, &code, outcome).await
}
