//! An administrator issuing ids to its registration's people (one at a time, from a form or a
//! CSV row alike) and reissuing a forgotten password. Both mail a random initial password, and
//! the change is committed only once the mail is sent: nobody holds an id they never received.

use super::administration::require_admin;
use super::contractors::{self, corporate_number};
use super::passwords::{self, initial_password, remember};
use super::sessions::end_sessions;
use super::users::{self, User, UserRow};
use super::{Accounts, Principal};
use crate::audit;
use crate::domain::{Callable, CompanyCode, CompanyKind, CorporateNumber, Refusal, UserId};
use crate::mail;

/// What an administrator asks for when registering a user.
#[derive(Debug, Clone, Default)]
pub struct UserRequest {
    /// ユーザID: 3 to 32 letters, digits, `.`, `_`, `-`, beginning with the registration's
    /// company code and a separator (`A0001.sato`); unique in the hub.
    pub user_id: String,
    /// The natural person the id is issued to (one person per id).
    pub name: String,
    /// Where the id and the initial password are mailed.
    pub mail: String,
    pub administrator: bool,
    /// Function slugs; `None`: all the registration's kind allows.
    pub permissions: Option<Vec<String>>,
    /// 法人番号 of an authorised contractor (受託者) the person works for.
    pub contractor: Option<String>,
}

/// The permissions `slugs` name (catalogue functions, and the intermediation functions the hub
/// answers itself), each allowed to the registration's kind, without repeats.
pub(super) fn permissions_of(kind: CompanyKind, slugs: &[String]) -> Result<Vec<String>, Refusal> {
    let mut out: Vec<Callable> = Vec::with_capacity(slugs.len());
    for slug in slugs {
        let f = Callable::permission_by_slug(slug).ok_or_else(|| {
            Refusal::invalid(
                "permissions",
                "unknown_function",
                format!("機能 {slug} は存在しません"),
                format!("there is no function {slug}"),
            )
        })?;
        if !f.open_to(kind) {
            return Err(Refusal::PermissionNotAllowedForKind(f));
        }
        if !out.contains(&f) {
            out.push(f);
        }
    }
    Ok(out.iter().map(|f| f.slug().to_string()).collect())
}

/// A person's name (1 to 100 characters) and a mail address.
pub(super) fn check_name_and_mail(name: &str, mail_address: &str) -> Result<(), Refusal> {
    if name.trim().is_empty() || name.chars().count() > 100 {
        return Err(Refusal::invalid(
            "name",
            "invalid_name",
            "氏名は1〜100文字で指定してください",
            "name is 1 to 100 characters",
        ));
    }
    if !mail::valid_address(mail_address) {
        return Err(Refusal::invalid(
            "mail",
            "invalid_mail",
            "メールアドレスが正しくありません",
            "mail is not a valid mail address",
        ));
    }
    Ok(())
}

/// A request's fields as the rules read them.
pub(super) struct Checked {
    user_id: UserId,
    permissions: Option<Vec<String>>,
    contractor: Option<CorporateNumber>,
}

/// Every rule of a request that needs no database: the id's form, the name and mail, the
/// permissions within the kind, and a contractor's user never an administrator.
fn check_request(admin: &Principal, r: &UserRequest) -> Result<Checked, Refusal> {
    check_request_of(&admin.company, admin.kind, r)
}

/// [`check_request`] for an administrator of `company`, a registration of `kind` (a bulk
/// file's row, checked before it is filed).
pub(super) fn check_request_of(
    company: &CompanyCode,
    kind: CompanyKind,
    r: &UserRequest,
) -> Result<Checked, Refusal> {
    let user_id = user_id_of(&r.user_id)?;
    if !user_id.belongs_to(company) {
        return Err(outside_namespace(company));
    }
    check_name_and_mail(&r.name, &r.mail)?;
    let permissions = r
        .permissions
        .as_deref()
        .map(|p| permissions_of(kind, p))
        .transpose()?;
    let contractor = r
        .contractor
        .as_deref()
        .map(|c| corporate_number("contractor", c))
        .transpose()?;
    if contractor.is_some() && r.administrator {
        return Err(contractor_cannot_administer());
    }
    Ok(Checked {
        user_id,
        permissions,
        contractor,
    })
}

/// A contractor's (受託者's) user never administers the registration: not made one at
/// registration, not by a later change, and one made so before this rule holds is refused as an
/// administrator ([`super::require_admin`]).
pub(super) fn contractor_cannot_administer() -> Refusal {
    Refusal::invalid(
        "administrator",
        "contractor_cannot_administer",
        "受託者のユーザを管理者にすることはできません",
        "a contractor's user cannot be an administrator of the registration",
    )
}

/// User ids are one namespace for the hub (a login names only the id), so a registration
/// choosing an id another registration holds would have to be told it is taken: an oracle of
/// other companies' ids. So a registration chooses ids only in its own part of the namespace
/// ([`UserId::belongs_to`]), where no other registration's id can be; the refusal of an id
/// outside it is the same whether or not anybody holds it.
pub(super) fn outside_namespace(company: &CompanyCode) -> Refusal {
    Refusal::invalid(
        "user_id",
        "user_id_outside_registration",
        format!("ユーザIDは事業者コードと区切り文字(. _ -)で始めてください(例: {company}.sato)"),
        format!(
            "a user id must begin with the registration's company code and '.', '_' or '-' \
             (e.g. {company}.sato)"
        ),
    )
}

fn user_id_of(s: &str) -> Result<UserId, Refusal> {
    UserId::parse(s).map_err(|e| {
        Refusal::invalid(
            "user_id",
            "invalid_user_id",
            "ユーザIDは3〜32文字の英数字と . _ - で指定してください",
            e.to_string(),
        )
    })
}

impl Accounts {
    /// ユーザ登録: issues a user id to a person of the administrator's registration; the id and
    /// a random initial password (to be changed at first login) are mailed to them.
    pub async fn register_user(&self, admin: &Principal, r: UserRequest) -> Result<User, Refusal> {
        require_admin(admin)?;
        let checked = check_request(admin, &r)?;
        let password = initial_password();
        let hash = passwords::hash(password.clone()).await?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if let Some(c) = &checked.contractor {
            contractors::require_authorised(&tx, &admin.company, c).await?;
        }
        let contractor = checked.contractor.as_ref().map(|c| c.as_str());
        let row = UserRow {
            company: &admin.company,
            user_id: &checked.user_id,
            hash: &hash,
            name: &r.name,
            mail: &r.mail,
            administrator: r.administrator,
            must_change_password: true,
            permissions: checked.permissions.clone(),
            contractor,
        };
        users::insert(&tx, &row, self.password_history).await?;
        let detail = serde_json::json!({
            "name": r.name, "mail": r.mail, "administrator": r.administrator,
            "permissions": checked.permissions, "contractor": contractor,
        });
        let user_id = checked.user_id.as_str();
        audit::record(&tx, admin, "user.create", user_id, detail).await?;
        let user = users::fetch(&tx, &admin.company, admin.kind, user_id).await?;
        let (subject, text) = mail::issued(admin.company.as_str(), user_id, &r.name, &password);
        self.send(&r.mail, &subject, text).await?;
        tx.commit().await?;
        Ok(user)
    }

    /// パスワード再発行: sets a new random initial password (to be changed at the next login),
    /// unlocks the account, ends every session of the user (on every process: whoever held one,
    /// perhaps the very person the password was reissued against, must log in with the new
    /// password), and mails the password to the user. Not to the administrator itself: it
    /// would be locked out of every call until it read the mail.
    pub async fn reissue_password(
        &self,
        admin: &Principal,
        user_id: &str,
    ) -> Result<User, Refusal> {
        require_admin(admin)?;
        if user_id == admin.user_id {
            return Err(Refusal::invalid(
                "user_id",
                "cannot_reissue_own_password",
                "自分自身のパスワードは再発行できません(パスワード変更を使用してください)",
                "an administrator cannot reissue its own password; change it instead",
            ));
        }
        let password = initial_password();
        let hash = passwords::hash(password.clone()).await?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE users SET password_hash = $3, must_change_password = true,
                                  locked = false, failed_logins = 0
                 WHERE company_code = $1 AND user_id = $2",
                &[&admin.company.as_str(), &user_id, &hash],
            )
            .await?;
        if n == 0 {
            return Err(Refusal::UserNotFound);
        }
        remember(&tx, user_id, &hash, self.password_history).await?;
        end_sessions(&tx, user_id).await?;
        let detail = serde_json::json!({});
        audit::record(&tx, admin, "user.password_reissue", user_id, detail).await?;
        let user = users::fetch(&tx, &admin.company, admin.kind, user_id).await?;
        let (subject, text) =
            mail::reissued(admin.company.as_str(), user_id, &user.name, &password);
        self.send(&user.mail, &subject, text).await?;
        tx.commit().await?;
        self.forget(user_id);
        Ok(user)
    }

    /// Mails `text`; a mail that cannot be sent refuses the action it belongs to. The refusal
    /// (which is logged) keeps the SMTP server's reason without any mail address in it.
    pub(super) async fn send(&self, to: &str, subject: &str, text: String) -> Result<(), Refusal> {
        self.mailer
            .send(to, subject, text)
            .await
            .map_err(|e| Refusal::MailUnavailable(without_addresses(&e.to_string())))
    }
}

/// `text` with every word holding an `@` (a mail address, perhaps in `<…>`) replaced by
/// `<address>`: SMTP servers quote the recipient in their refusals, and logs keep no address.
pub(super) fn without_addresses(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            if word.contains('@') {
                "<address>"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::without_addresses;

    #[test]
    fn a_mail_error_is_logged_without_the_address_it_quotes() {
        let smtp = "permanent error (550): 5.1.1 <taro@example.jp>: Recipient address rejected";
        let shown = without_addresses(smtp);
        assert!(!shown.contains("taro@example.jp"), "{shown}");
        assert!(shown.contains("Recipient address rejected"), "{shown}");
    }
}
