//! The company administrator's functions (管理者機能) over its own registration's users: list,
//! detail, modification, deletion, unlock, enabling and disabling, and permissions. Every
//! statement is scoped to the administrator's company, so another company's user is simply
//! not found; every read and change is audited in the transaction that makes it.

use tokio_postgres::types::ToSql;

use super::enrolment::{check_name_and_mail, contractor_cannot_administer, permissions_of};
use super::sessions::end_sessions;
use super::users::{self, User};
use super::{Accounts, Principal};
use crate::audit;
use crate::domain::Refusal;

/// Only the registration's administrator administers its users, and never a contractor's user
/// (one flagged so before the rule held everywhere is not obeyed).
pub fn require_admin(principal: &Principal) -> Result<(), Refusal> {
    if principal.administrator && principal.contractor.is_none() {
        Ok(())
    } else {
        Err(Refusal::AdministratorRequired)
    }
}

/// What an administrator may change of a user; `None` keeps it.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    pub name: Option<String>,
    pub mail: Option<String>,
    pub administrator: Option<bool>,
}

impl Accounts {
    /// ユーザ一覧表示: the registration's users, by id.
    pub async fn list_users(&self, admin: &Principal) -> Result<Vec<User>, Refusal> {
        require_admin(admin)?;
        let client = self.pool.get().await?;
        let all = users::all(&client, &admin.company, admin.kind).await?;
        let detail = serde_json::json!({ "count": all.len() });
        audit::record(&client, admin, "user.list", "*", detail).await?;
        Ok(all)
    }

    /// ユーザ詳細表示: one user of the registration.
    pub async fn user(&self, admin: &Principal, user_id: &str) -> Result<User, Refusal> {
        require_admin(admin)?;
        let client = self.pool.get().await?;
        let user = users::fetch(&client, &admin.company, admin.kind, user_id).await?;
        audit::record(&client, admin, "user.read", user_id, serde_json::json!({})).await?;
        Ok(user)
    }

    /// ユーザ修正: the person's name, mail address or administrator flag (an administrator
    /// keeps its own); a notice of the change is mailed to the user.
    pub async fn modify_user(
        &self,
        admin: &Principal,
        user_id: &str,
        change: UserChange,
    ) -> Result<User, Refusal> {
        require_admin(admin)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let before = users::fetch(&tx, &admin.company, admin.kind, user_id).await?;
        let name = change.name.clone().unwrap_or(before.name);
        let mail_address = change.mail.clone().unwrap_or(before.mail);
        check_name_and_mail(&name, &mail_address)?;
        if change.administrator == Some(false) && user_id == admin.user_id {
            return Err(Refusal::invalid(
                "administrator",
                "cannot_demote_self",
                "自分自身の管理者権限は外せません",
                "an administrator cannot remove its own administrator flag",
            ));
        }
        if change.administrator == Some(true) && before.contractor.is_some() {
            return Err(contractor_cannot_administer());
        }
        let administrator = change.administrator.unwrap_or(before.administrator);
        tx.execute(
            "UPDATE users SET name = $3, mail = $4, administrator = $5
             WHERE company_code = $1 AND user_id = $2",
            &[
                &admin.company.as_str(),
                &user_id,
                &name,
                &mail_address,
                &administrator,
            ],
        )
        .await?;
        let detail = serde_json::json!({
            "name": change.name, "mail": change.mail, "administrator": change.administrator,
        });
        audit::record(&tx, admin, "user.modify", user_id, detail).await?;
        let after = users::fetch(&tx, &admin.company, admin.kind, user_id).await?;
        tx.commit().await?;
        self.forget(user_id);
        let (subject, text) = crate::mail::changed(admin.company.as_str(), user_id, &name);
        // The change is made; a notice that cannot be sent is logged, not undone.
        if let Err(e) = self.send(&mail_address, &subject, text).await {
            tracing::warn!(error = %e, user_id, "change notice not mailed");
        }
        Ok(after)
    }

    /// ユーザ削除: deletes the user id (its sessions end); not the administrator itself.
    pub async fn delete_user(&self, admin: &Principal, user_id: &str) -> Result<(), Refusal> {
        require_admin(admin)?;
        if user_id == admin.user_id {
            return Err(Refusal::invalid(
                "user_id",
                "cannot_delete_self",
                "自分自身は削除できません",
                "an administrator cannot delete itself",
            ));
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let n = tx
            .execute(
                "DELETE FROM users WHERE company_code = $1 AND user_id = $2",
                &[&admin.company.as_str(), &user_id],
            )
            .await?;
        if n == 0 {
            return Err(Refusal::UserNotFound);
        }
        audit::record(&tx, admin, "user.delete", user_id, serde_json::json!({})).await?;
        tx.commit().await?;
        self.forget(user_id);
        Ok(())
    }

    /// ロック解除: unlocks an account locked by failed logins.
    pub async fn unlock(&self, admin: &Principal, user_id: &str) -> Result<User, Refusal> {
        let set = "locked = false, failed_logins = 0";
        let detail = serde_json::json!({});
        self.update(admin, user_id, set, &[], "user.unlock", detail)
            .await
    }

    /// 有効/無効切替: a disabled account cannot log in and its sessions end; enabling counts
    /// as use for the disabling of unused accounts. An administrator cannot disable itself.
    pub async fn set_enabled(
        &self,
        admin: &Principal,
        user_id: &str,
        enabled: bool,
    ) -> Result<User, Refusal> {
        if !enabled && admin.administrator && user_id == admin.user_id {
            return Err(Refusal::invalid(
                "enabled",
                "cannot_disable_self",
                "自分自身は無効にできません",
                "an administrator cannot disable itself",
            ));
        }
        let disabled = !enabled;
        let set = "disabled = $3, enabled_at = CASE WHEN $3 THEN enabled_at ELSE now() END";
        let action = if enabled {
            "user.enable"
        } else {
            "user.disable"
        };
        let detail = serde_json::json!({});
        self.update(admin, user_id, set, &[&disabled], action, detail)
            .await
    }

    /// 利用者権限設定: the functions the user may call, within what the registration's kind
    /// allows.
    pub async fn set_permissions(
        &self,
        admin: &Principal,
        user_id: &str,
        functions: &[String],
    ) -> Result<User, Refusal> {
        require_admin(admin)?;
        let functions = permissions_of(admin.kind, functions)?;
        let detail = serde_json::json!({ "functions": functions });
        self.update(
            admin,
            user_id,
            "permissions = $3",
            &[&functions],
            "user.permissions",
            detail,
        )
        .await
    }

    /// Applies `set` (an SQL assignment list over `$3…`) to the administrator's company's
    /// `user_id`, audits `action`, ends the sessions of a user now disabled, and answers the
    /// user as it is now.
    async fn update(
        &self,
        admin: &Principal,
        user_id: &str,
        set: &str,
        params: &[&(dyn ToSql + Sync)],
        action: &str,
        detail: serde_json::Value,
    ) -> Result<User, Refusal> {
        require_admin(admin)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let company = admin.company.as_str();
        let mut all: Vec<&(dyn ToSql + Sync)> = vec![&company, &user_id];
        all.extend_from_slice(params);
        let sql = format!("UPDATE users SET {set} WHERE company_code = $1 AND user_id = $2");
        if tx.execute(&sql, &all).await? == 0 {
            return Err(Refusal::UserNotFound);
        }
        audit::record(&tx, admin, action, user_id, detail).await?;
        let user = users::fetch(&tx, &admin.company, admin.kind, user_id).await?;
        if !user.enabled {
            end_sessions(&tx, user_id).await?;
        }
        tx.commit().await?;
        self.forget(user_id);
        Ok(user)
    }
}
