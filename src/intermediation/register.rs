//! Registration (IS_20110). The row is written in a transaction held open while the event is
//! produced, and committed only once the broker has acknowledged it: the row exists only for
//! an event on the topic, and the unique index `intermediations_one_open` makes a concurrent
//! second registration of the same point by the same retailer wait for the first, then fail.
//! With an `Idempotency-Key` the event's identity is claimed first (`keys`), so a retry
//! produces the same event again, which the projector recognises by its id. A retry racing
//! its first attempt waits on that event id's row until the first commits (then it is a
//! duplicate and produces nothing) or rolls back (then it produces in the first's place).

use chrono::{SubsecRound, Utc};
use deadpool_postgres::{GenericClient, Object};
use serde_json::json;
use uuid::Uuid;

use super::commands::{Intermediations, Registered, SealedEvent};
use super::keys::{self, Identity};
use super::store::{self, Applied};
use super::{
    EventKind, IntermediationEvent, Registration, RegistrationBody, expires_at,
    intermediation_number, today_jst,
};
use crate::accounts::{Principal, registrations};
use crate::audit;
use crate::domain::{CompanyCode, CompanyKind, Refusal};

impl Intermediations<'_> {
    pub(super) async fn try_register(
        &self,
        by: &Principal,
        body: RegistrationBody,
        idempotency_key: Option<&str>,
    ) -> Result<Registered, Refusal> {
        let r = Registration::validate(body, &by.company, today_jst())?;
        let key = idempotency_key.map(keys::valid_key).transpose()?;
        let client = self.pool.get().await?;
        ensure_retailer(&client, &r.current_retailer).await?;
        let mut identity = self.fresh_identity(&r);
        if let Some(key) = key {
            let hash = keys::body_hash(&r);
            identity = keys::claim(&client, by.company.as_str(), key, &hash, identity).await?;
        }
        let answer = Registered {
            id: identity.id,
            number: identity.number.clone(),
            expires_at: identity.expires_at,
        };
        let event = registered_event(&r, identity, by);
        // Sealed with no connection held: sealing may take one of its own for the data key, and
        // racing registrations each holding one while waiting for a second would drain the pool.
        drop(client);
        let sealed = self.seal(&event).await?;
        let mut client = self.pool.get().await?;
        self.write_and_produce(&mut client, by, &event, &sealed)
            .await?;
        Ok(answer)
    }

    /// The row and its audit row in one transaction, committed once the event is produced; a
    /// failed send rolls it back, so there is no row without its event.
    async fn write_and_produce(
        &self,
        client: &mut Object,
        by: &Principal,
        e: &IntermediationEvent,
        sealed: &SealedEvent,
    ) -> Result<(), Refusal> {
        let tx = client.transaction().await?;
        match store::apply(&tx, e).await? {
            Applied::Changed(_) => {}
            // Written only for an event already on the topic: this is a retry.
            Applied::Duplicate => return Ok(()),
            Applied::Ignored => return Err(Refusal::IntermediationAlreadyOpen),
        }
        let detail = json!({
            "point_id": e.supply_point_id,
            "current_retailer_code": e.current_retailer_code,
            "intermediation_number": e.intermediation_number,
        });
        let id = e.intermediation_id.to_string();
        audit::record(&tx, by, "intermediation.register", &id, detail).await?;
        self.produce(sealed).await?;
        if let Err(err) = tx.commit().await {
            tracing::error!(error = %err, intermediation_id = %id, "registration row not written; the projector will");
        }
        Ok(())
    }

    /// The id, number and times of a new registration.
    fn fresh_identity(&self, r: &Registration) -> Identity {
        let id = Uuid::now_v7();
        let registered_at = Utc::now().trunc_subsecs(3);
        Identity {
            id,
            event_id: Uuid::now_v7(),
            number: intermediation_number(id, &r.point, registered_at),
            registered_at,
            expires_at: expires_at(
                registered_at,
                self.settings.intermediation_expiry_business_days,
                self.settings.intermediation_expiry_ms,
            ),
        }
    }
}

/// The REGISTERED event of `r` with the identity it was (first) given.
fn registered_event(r: &Registration, identity: Identity, by: &Principal) -> IntermediationEvent {
    let mut e = IntermediationEvent::new(
        identity.id,
        EventKind::Registered,
        r.point.to_string(),
        by.company.to_string(),
        by.user_id.clone(),
    );
    e.event_id = identity.event_id;
    e.occurred_at = identity.registered_at;
    e.intermediation_number = Some(identity.number);
    e.new_retailer_code = Some(by.company.to_string());
    e.current_retailer_code = Some(r.current_retailer.to_string());
    e.customer_number = Some(r.customer_number.clone());
    e.contract_name = Some(r.contract_name.clone());
    e.supply_address = Some(r.supply_address.clone());
    e.desired_switch_date = Some(r.desired_switch_date);
    e.point_class = Some(r.point_class);
    e.expires_at = Some(identity.expires_at);
    e
}

/// The addressed current retailer must be a retailer registered with the hub.
async fn ensure_retailer<C: GenericClient>(client: &C, code: &CompanyCode) -> Result<(), Refusal> {
    let known = registrations::kind_of(client, code).await? == Some(CompanyKind::Retailer);
    if known {
        return Ok(());
    }
    Err(Refusal::invalid(
        "current_retailer_code",
        "unknown_company",
        format!("事業者コード {code} の小売電気事業者は登録されていません"),
        format!("no retailer {code} is registered with the hub"),
    ))
}
