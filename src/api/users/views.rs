//! What the administrator's user calls read and answer, as JSON: the bodies they accept and
//! the views of a user and of a bulk registration's lines.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::accounts::{User, UserChange, UserRequest};
use crate::bulk::UserLine;

/// A user as the administrator sees it (never its password).
#[derive(Serialize, utoipa::ToSchema)]
pub struct UserView {
    user_id: String,
    name: String,
    mail: String,
    administrator: bool,
    enabled: bool,
    locked: bool,
    failed_logins: i32,
    must_change_password: bool,
    /// The functions (slugs) the user may call: all the registration's kind allows unless set.
    permissions: Vec<String>,
    /// Whether `permissions` was set for the user (false: the kind's default).
    permissions_set: bool,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    /// 法人番号 of the contractor (受託者) the person works for, acting for the registration.
    contractor: Option<String>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            user_id: u.user_id,
            name: u.name,
            mail: u.mail,
            administrator: u.administrator,
            enabled: u.enabled,
            locked: u.locked,
            failed_logins: u.failed_logins,
            must_change_password: u.must_change_password,
            permissions: u.permissions,
            permissions_set: u.permissions_set,
            created_at: u.created_at,
            last_login_at: u.last_login_at,
            contractor: u.contractor,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    /// ユーザID: 3 to 32 letters, digits, `.`, `_`, `-`; unique in the hub.
    user_id: String,
    /// The natural person the id is issued to (one person per id).
    name: String,
    /// Where the id and the initial password are mailed.
    mail: String,
    #[serde(default)]
    administrator: bool,
    /// Function slugs; absent: all the registration's kind allows.
    permissions: Option<Vec<String>>,
    /// 法人番号 of an authorised contractor (受託者) the person works for: the user acts for
    /// the registration, and the audit trail names the contractor. Not with `administrator`.
    #[serde(default)]
    contractor: Option<String>,
}

impl From<NewUserBody> for UserRequest {
    fn from(b: NewUserBody) -> Self {
        UserRequest {
            user_id: b.user_id,
            name: b.name,
            mail: b.mail,
            administrator: b.administrator,
            permissions: b.permissions,
            contractor: b.contractor,
        }
    }
}

/// The answer for one line of a bulk registration.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkLine {
    /// The line of the CSV (the header is line 1).
    line: usize,
    user_id: String,
    /// `registered` or `refused`.
    outcome: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_ja: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message_en: Option<String>,
}

impl From<UserLine> for BulkLine {
    fn from(l: UserLine) -> Self {
        match l.result {
            Ok(user) => BulkLine {
                line: l.line as usize,
                user_id: user.user_id,
                outcome: "registered",
                code: None,
                message_ja: None,
                message_en: None,
            },
            Err(fault) => BulkLine {
                line: l.line as usize,
                user_id: l.user_id,
                outcome: "refused",
                code: Some(fault.code),
                message_ja: Some(fault.ja),
                message_en: Some(fault.en),
            },
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BulkAnswer {
    registered: usize,
    refused: usize,
    lines: Vec<BulkLine>,
}

impl From<Vec<UserLine>> for BulkAnswer {
    fn from(outcomes: Vec<UserLine>) -> Self {
        let lines: Vec<BulkLine> = outcomes.into_iter().map(BulkLine::from).collect();
        let registered = lines.iter().filter(|l| l.outcome == "registered").count();
        BulkAnswer {
            registered,
            refused: lines.len() - registered,
            lines,
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModifyBody {
    name: Option<String>,
    mail: Option<String>,
    administrator: Option<bool>,
}

impl From<ModifyBody> for UserChange {
    fn from(b: ModifyBody) -> Self {
        UserChange {
            name: b.name,
            mail: b.mail,
            administrator: b.administrator,
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Deleted {
    pub user_id: String,
    pub deleted: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnabledBody {
    pub enabled: bool,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionsBody {
    /// The function slugs the user may call (each allowed to the registration's kind).
    pub functions: Vec<String>,
}

/// `?encoding=` of a CSV download or upload: `utf-8` (default) or `shift_jis`.
#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CsvQuery {
    pub encoding: Option<String>,
}
