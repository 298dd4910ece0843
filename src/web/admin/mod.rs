//! 管理者機能 on the screen: a registration's administrator manages its users (list with the
//! CSV download, detail, register, edit, delete, unlock, enable/disable, reissue password,
//! permissions) and its contractors (list, authorise, revoke). Every handler calls the
//! `accounts::Accounts` function the API's `/api/v1/admin/…` calls, so a form meets the same
//! rule, the same audit trail and the same refusal, shown next to the field it names. The bulk
//! registration from CSV is `/web/bulk`'s `users` function (the API's `/api/v1/bulk/users`
//! filer); these screens only lead there.

mod contractors;
mod users;

use axum::Router;
use axum::routing::{get, post};
use chrono::{DateTime, FixedOffset, Utc};

use super::WebState;
use super::page::MenuItem;
use super::signin::Shown;
use crate::accounts::{Principal, require_admin};
use crate::domain::Refusal;

/// The administrator's screens, merged into `web::router`.
pub fn routes() -> Router<WebState> {
    Router::new()
        .route("/web/admin/users", get(users::list))
        .route("/web/admin/users.csv", get(users::list_csv))
        .route(
            "/web/admin/users/new",
            get(users::new_form).post(users::register),
        )
        .route("/web/admin/users/{id}", get(users::one).post(users::edit))
        .route("/web/admin/users/{id}/delete", post(users::delete))
        .route("/web/admin/users/{id}/unlock", post(users::unlock))
        .route("/web/admin/users/{id}/enabled", post(users::set_enabled))
        .route(
            "/web/admin/users/{id}/password-reissue",
            post(users::reissue_password),
        )
        .route(
            "/web/admin/users/{id}/permissions",
            post(users::set_permissions),
        )
        .route(
            "/web/admin/contractors",
            get(contractors::list).post(contractors::authorise),
        )
        .route(
            "/web/admin/contractors/{number}/revoke",
            post(contractors::revoke),
        )
}

/// The menu's administrator entries: only for the registration's administrator (the rule of
/// `accounts::require_admin`, which every handler's service call applies again).
pub fn menu_items(principal: &Principal) -> Vec<MenuItem> {
    if require_admin(principal).is_err() {
        return vec![];
    }
    vec![
        MenuItem {
            href: "/web/admin/users".into(),
            label: "ユーザ管理".into(),
        },
        MenuItem {
            href: "/web/admin/contractors".into(),
            label: "受託者管理".into(),
        },
    ]
}

/// A refusal as a form shows it: next to the field it concerns. The refusals that are not an
/// `InvalidField` but still belong to one input (a taken user id, a permission the kind does
/// not allow, an unauthorised contractor) are put next to that input too.
fn shown(r: &Refusal) -> Shown {
    let mut s = Shown::from(r);
    let field = match r {
        Refusal::UserExists(_) => Some("user_id"),
        Refusal::PermissionNotAllowedForKind(_) => Some("permissions"),
        Refusal::ContractorNotAuthorised(_) => Some("contractor"),
        _ => None,
    };
    if let Some(f) = field {
        s.field = Some(f.to_string());
    }
    s
}

/// Whether a refusal belongs on the form that caused it (else it is a page of its own): a
/// field's refusal, and a mail that could not be sent (nothing was done; the administrator
/// keeps what it typed and tries again).
fn on_the_form(r: &Refusal) -> bool {
    matches!(
        r,
        Refusal::InvalidField { .. }
            | Refusal::UserExists(_)
            | Refusal::PermissionNotAllowedForKind(_)
            | Refusal::ContractorNotAuthorised(_)
            | Refusal::MailUnavailable(_)
    )
}

/// A time as the screens show it: Japan time, to the minute.
fn jst(t: &DateTime<Utc>) -> String {
    let tokyo = FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset");
    t.with_timezone(&tokyo).format("%Y-%m-%d %H:%M").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_user_id_is_shown_next_to_the_user_id_field() {
        let s = shown(&Refusal::UserExists("sato".into()));
        assert_eq!(s.field.as_deref(), Some("user_id"));
        assert_eq!(s.code, "user_exists");
        assert!(on_the_form(&Refusal::UserExists("sato".into())));
        assert!(!on_the_form(&Refusal::UserNotFound));
    }

    #[test]
    fn times_are_shown_in_japan_time() {
        let t = DateTime::parse_from_rfc3339("2026-01-31T15:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(jst(&t), "2026-02-01 00:30");
    }
}
