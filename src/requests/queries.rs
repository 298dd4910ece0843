//! 業務処理状況確認: one request or a filtered page of them, always of the caller's company (in
//! SQL, so another company's request is simply not found); every read that shows personal
//! data is written to the audit log before it is shown.

use uuid::Uuid;

use super::listing::{ListAnswer, ListFilters, ListQuery};
use super::store;
use super::submissions::Submissions;
use super::view::RequestView;
use crate::accounts::{Principal, access};
use crate::db::cursor;
use crate::domain::{HubFunction, PointClass, Refusal};

impl Submissions {
    /// One request of the caller's company; with `class`, only of that class (`hv-status`,
    /// `gen-status`): another class's request is not found, and not recorded as read.
    pub async fn status(
        &self,
        principal: &Principal,
        id: &str,
        class: Option<PointClass>,
    ) -> Result<RequestView, Refusal> {
        let f = HubFunction::Status(class.unwrap_or(PointClass::LowVoltage));
        access::may(&self.pool, principal, f).await?;
        let id: Uuid = id.parse().map_err(|_| Refusal::RequestNotFound)?;
        let client = self.pool.get().await?;
        let view = store::one(&client, &principal.company, id)
            .await?
            .filter(|v| class.is_none_or(|c| v.function().is_some_and(|f| f.class() == c)))
            .ok_or(Refusal::RequestNotFound)?;
        drop(client);
        self.audit_personal_data(principal, std::slice::from_ref(&view))
            .await?;
        Ok(view)
    }

    /// The caller's requests, newest first, filtered and paged; `class` (from the route)
    /// overrides the query's.
    pub async fn list(
        &self,
        principal: &Principal,
        mut query: ListQuery,
        class: Option<PointClass>,
    ) -> Result<ListAnswer, Refusal> {
        if let Some(class) = class {
            query.class = Some(class.slug().to_string());
        }
        // Without a class (or with one that is no class, refused below) the list is of the
        // classes every caller may read.
        let class = query.class.as_deref().and_then(PointClass::by_slug);
        let f = HubFunction::StatusList(class.unwrap_or(PointClass::LowVoltage));
        access::may(&self.pool, principal, f).await?;
        let filters = ListFilters::parse(&query, &principal.company)?;
        let client = self.pool.get().await?;
        let mut items = store::list(&client, &filters, filters.limit + 1).await?;
        let next_cursor = (items.len() as i64 > filters.limit).then(|| {
            items.truncate(filters.limit as usize);
            let last = items.last().expect("limit >= 1");
            cursor::encode(last.accepted_at, last.request_id)
        });
        drop(client);
        self.audit_personal_data(principal, &items).await?;
        Ok(ListAnswer { items, next_cursor })
    }
}

impl Submissions {
    /// Records that `principal` reads the personal data among `views` (terms 4.1–4.5), committed
    /// before they are shown (with the reads of other callers meanwhile: one commit for them).
    async fn audit_personal_data(
        &self,
        principal: &Principal,
        views: &[RequestView],
    ) -> Result<(), Refusal> {
        let read: Vec<String> = views
            .iter()
            .filter(|v| v.shows_personal_data())
            .map(|v| v.request_id.to_string())
            .collect();
        let subject = match read.as_slice() {
            [] => return Ok(()),
            [one] => one.clone(),
            _ => "(list)".into(),
        };
        let entry = crate::audit::Entry::new(
            principal,
            "request.result_read",
            subject,
            serde_json::json!({ "request_ids": read }),
        );
        self.read_log
            .get_or_init(|| crate::audit::group_log(self.pool.clone()))
            .write(entry)
            .await
    }
}
