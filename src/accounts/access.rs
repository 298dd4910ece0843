//! Who may call a function the hub answers itself ([`HubFunction`]): the one place of that
//! rule, called by the services that answer them (intermediation, status, operator list).
//! First the registration's kind (the catalogue's "who"), then, for the intermediation
//! functions, the user's own permissions.

use deadpool_postgres::Pool;

use super::Principal;
use super::registrations::{self, DirectoryEntry};
use crate::domain::{HubFunction, Refusal};

/// Refuses `principal` the hub function `f`: `function_not_allowed` when its registration's kind
/// may not call it, `function_not_permitted` when its permissions (set by its administrator)
/// leave it out. A user whose permissions were never set has all its kind allows, and costs
/// no query.
pub async fn may(pool: &Pool, principal: &Principal, f: HubFunction) -> Result<(), Refusal> {
    may_all(pool, principal, &[f]).await
}

/// [`may`] for each of `functions` (one look-up at most): the first refused answers.
pub async fn may_all(
    pool: &Pool,
    principal: &Principal,
    functions: &[HubFunction],
) -> Result<(), Refusal> {
    for &f in functions {
        open(principal, f)?;
    }
    if principal.permissions.is_none() || !functions.iter().any(|f| f.in_permissions()) {
        return Ok(());
    }
    // The session keeps only the operator functions of the permissions; the hub ones are read
    // where they are kept.
    let set: Option<Vec<String>> = pool
        .get()
        .await?
        .query_opt(
            "SELECT permissions FROM users WHERE user_id = $1 AND company_code = $2",
            &[&principal.user_id, &principal.company.as_str()],
        )
        .await?
        .and_then(|r| r.get(0));
    let Some(slugs) = set else { return Ok(()) };
    match functions
        .iter()
        .find(|f| f.in_permissions() && !slugs.iter().any(|s| s == f.slug()))
    {
        Some(&f) => Err(Refusal::FunctionNotPermitted(f.into())),
        None => Ok(()),
    }
}

/// The kind's part of [`may`] alone, for a call that does not know yet which of a family of
/// functions it is (all of which the kind's rule treats alike): `function_not_allowed`.
pub fn open(principal: &Principal, f: HubFunction) -> Result<(), Refusal> {
    if f.open_to(principal.kind) {
        Ok(())
    } else {
        Err(Refusal::FunctionNotAllowed(f.into()))
    }
}

/// 事業者一覧取得 (IS_30110): every registration, by company code, for a retailer's user.
pub async fn operators(pool: &Pool, principal: &Principal) -> Result<Vec<DirectoryEntry>, Refusal> {
    may(pool, principal, HubFunction::Operators).await?;
    registrations::directory(pool).await
}
