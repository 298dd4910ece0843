//! Filing one good row through its bulk function's service ([`Filer`]), exactly once:
//! - an application through `requests::Submissions::submit_under`, under a request id derived
//!   from its batch and line ([`request_id_of`]): a retry finds the request recorded by its
//!   first filing, with that id, and produces its record again only while it is still
//!   `accepted` (the connector deduplicates a copy that arrived twice);
//! - a 廃止取次登録 through `Intermediations::register`, with the idempotency key
//!   `bulk-<batch>-<line>`, so a retry is answered with the first filing's id and produces
//!   nothing new;
//! - a 廃止取次判断 through `Intermediations::decide`, which takes no key: its own claim lets
//!   one decision through, and a retry of a row whose first attempt may have reached the broker
//!   finds that attempt's event in the intermediation's history (by this user, of this
//!   decision) and is recorded as filed by it instead of refused as already decided;
//! - a ユーザ登録 through `Accounts::register_user`, whose user id is its own key: a retry of an
//!   attempted row that meets `user_exists` with the row's name and mail is the first filing.
//!   A user has no UUID; the row records one derived from the company and the user id, so it
//!   is the same on every retry.

use std::sync::Arc;

use deadpool_postgres::Pool;
use serde_json::{Value, json};
use sha2::Digest;
use uuid::Uuid;

use super::kind::{BulkKind, Filer};
use super::row;
use crate::accounts::bulk::user_request_of;
use crate::accounts::{Accounts, Principal};
use crate::config::Settings;
use crate::domain::{Refusal, RequestId};
use crate::intermediation::{Decision, Intermediations, RegistrationBody, State, queries};
use crate::kafka::Publisher;
use crate::messages::Codec;
use crate::requests::Submissions;

/// A row filed: the id it was filed as (a request's, or an intermediation's) and what else the
/// service answered, for the download.
pub struct Filed {
    pub id: Uuid,
    pub outcome: Option<Value>,
}

/// The services rows are filed through, over one pool and producer.
pub struct Filers {
    pool: Pool,
    publisher: Publisher,
    codec: Arc<Codec>,
    settings: Arc<Settings>,
    submissions: Submissions,
    accounts: Accounts,
}

impl Filers {
    pub fn new(pool: Pool, publisher: Publisher, settings: Settings) -> anyhow::Result<Self> {
        let accounts = Accounts::new(&settings, pool.clone());
        let codec = Arc::new(Codec::new());
        let settings = Arc::new(settings);
        let submissions = Submissions::new(
            pool.clone(),
            publisher.clone(),
            codec.clone(),
            settings.clone(),
        )?;
        Ok(Filers {
            pool,
            publisher,
            codec,
            settings,
            submissions,
            accounts,
        })
    }

    fn intermediations(&self) -> Intermediations<'_> {
        Intermediations::new(
            &self.pool,
            &self.publisher,
            &self.codec,
            &self.settings,
            self.submissions.vault(),
        )
    }

    /// Files the row `line` of `batch_id` (its stored `body`) as `principal`.
    /// `attempted`: an earlier round may already have filed it.
    pub async fn file(
        &self,
        principal: &Principal,
        kind: BulkKind,
        batch_id: Uuid,
        line: i32,
        body: Value,
        attempted: bool,
    ) -> Result<Filed, Refusal> {
        match kind.filer() {
            Filer::Submission(function) => {
                let (_, filed) = self
                    .file_all(principal, function, batch_id, vec![(line, body)])
                    .await?
                    .pop()
                    .expect("one outcome for one row");
                filed
            }
            Filer::IntermediationRegister(_) => {
                let key = key_of(batch_id, line);
                let body: RegistrationBody = row::typed(body)?;
                let r = self
                    .intermediations()
                    .register(principal, body, Some(&key))
                    .await?;
                let awaiting = State::AwaitingDecision;
                Ok(Filed {
                    id: r.id,
                    outcome: Some(json!({
                        "state": awaiting.as_str(), "state_ja": awaiting.label_ja(),
                        "intermediation_number": r.number, "expires_at": r.expires_at,
                    })),
                })
            }
            Filer::IntermediationDecision(_) => self.decide(principal, body, attempted).await,
            Filer::Users => self.register_user(principal, body, attempted).await,
        }
    }

    /// Files many rows of a [`Filer::Submission`] bulk function together through
    /// [`Submissions::submit_under`] (their rows committed with one statement, their records
    /// produced at once), each under its [`request_id_of`]: each row's outcome by its line, or
    /// `Err` for every row when the group could not be filed at all.
    pub async fn file_all(
        &self,
        principal: &Principal,
        function: crate::domain::Function,
        batch_id: Uuid,
        rows: Vec<(i32, Value)>,
    ) -> Result<Vec<(i32, Result<Filed, Refusal>)>, Refusal> {
        let lines: Vec<i32> = rows.iter().map(|(line, _)| *line).collect();
        let rows = rows
            .into_iter()
            .map(|(line, body)| (request_id_of(batch_id, line), body))
            .collect();
        let outcomes = self
            .submissions
            .submit_under(principal, function, rows)
            .await?;
        Ok(lines
            .into_iter()
            .zip(outcomes)
            .map(|(line, outcome)| {
                let filed = outcome.map(|id| Filed {
                    id: id.as_uuid(),
                    outcome: None,
                });
                (line, filed)
            })
            .collect())
    }

    async fn decide(
        &self,
        principal: &Principal,
        body: Value,
        attempted: bool,
    ) -> Result<Filed, Refusal> {
        let (id, decision) = row::decision_of(body)?;
        let wanted = Decision::validate(decision.clone())?.kind;
        match self
            .intermediations()
            .decide(principal, &id.to_string(), decision)
            .await
        {
            Ok(t) => Ok(decided(t.id, t.event_id, t.state)),
            Err(Refusal::IntermediationAlreadyDecided) if attempted => {
                self.earlier_decision(principal, id, wanted).await
            }
            Err(refusal) => Err(refusal),
        }
    }

    /// The decision an earlier attempt of this row made, if the history shows it (this user,
    /// this kind); while the intermediation still awaits a decision, the earlier attempt's
    /// event may be in flight (or its claim waiting to time out): the row waits.
    async fn earlier_decision(
        &self,
        principal: &Principal,
        id: Uuid,
        wanted: crate::intermediation::EventKind,
    ) -> Result<Filed, Refusal> {
        let found = queries::one(&self.pool, principal, &id.to_string()).await?;
        let mine = found.history.unwrap_or_default().into_iter().find(|e| {
            e.kind == wanted
                && e.actor_user_id == principal.user_id
                && e.actor_company_code == principal.company.as_str()
        });
        match (mine, found.state) {
            (Some(e), state) => Ok(decided(id, e.event_id, state)),
            (None, State::AwaitingDecision) => Err(Refusal::Internal(anyhow::anyhow!(
                "intermediation {id}: an earlier decision is still being applied"
            ))),
            (None, _) => Err(Refusal::IntermediationAlreadyDecided),
        }
    }
}

impl Filers {
    async fn register_user(
        &self,
        principal: &Principal,
        body: Value,
        attempted: bool,
    ) -> Result<Filed, Refusal> {
        let request = user_request_of(&principal.company, principal.kind, &body)?;
        let (user_id, name, mail) = (
            request.user_id.clone(),
            request.name.clone(),
            request.mail.clone(),
        );
        let user = match self.accounts.register_user(principal, request).await {
            Ok(user) => user,
            Err(Refusal::UserExists(_)) if attempted => {
                let user = self.accounts.user(principal, &user_id).await?;
                if user.name != name || user.mail != mail {
                    return Err(Refusal::UserExists(user_id));
                }
                user
            }
            Err(refusal) => return Err(refusal),
        };
        Ok(Filed {
            id: derived_id(&format!(
                "kirikae user\n{}/{}",
                principal.company, user.user_id
            )),
            outcome: Some(json!({
                "state": "registered", "state_ja": "登録済", "user_id": user.user_id,
            })),
        })
    }
}

/// The idempotency key a row is filed with, the same on every retry.
fn key_of(batch_id: Uuid, line: i32) -> String {
    format!("bulk-{batch_id}-{line}")
}

/// The request id an application row is filed under, the same on every retry: the batch's
/// own record of what it filed, where a key would be one more row to claim and settle.
pub fn request_id_of(batch_id: Uuid, line: i32) -> RequestId {
    RequestId::from(derived_id(&format!("kirikae bulk row\n{batch_id}/{line}")))
}

/// A UUID that stands for `key` (a hash of it), so that what is derived from the same things
/// gets the same id.
fn derived_id(key: &str) -> Uuid {
    let digest = sha2::Sha256::digest(key.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn decided(id: Uuid, event_id: Uuid, state: State) -> Filed {
    Filed {
        id,
        outcome: Some(json!({
            "state": state.as_str(), "state_ja": state.label_ja(), "event_id": event_id,
        })),
    }
}
