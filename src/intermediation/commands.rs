//! The parties' commands: register (IS_20110), decide (IS_20410, one or in bulk) and withdraw.
//! Each is checked by `rules`, made into its one event, written where it must be before it is
//! produced (the claim or the row, with its audit row in the same transaction), produced with
//! `acks=all`, and only then answered; the projector applies the event (`store::apply`).

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde_json::json;
use uuid::Uuid;

use super::rules::withdrawal_note;
use super::store::{self, ClaimRefused};
use super::{
    Decision, DecisionBody, DeclineReason, EventKind, IntermediationEvent,
    IntermediationPointClass, RegistrationBody, State, WithdrawalBody,
};
use crate::accounts::{Principal, access};
use crate::audit;
use crate::config::Settings;
use crate::domain::{HubFunction, IntermediationStep as Step, PointClass, Refusal};
use crate::kafka::Publisher;
use crate::messages::Codec;
use crate::metrics;
use crate::vault::{KEY_HEADER, Vault};

/// What a party asks of an intermediation, as a web form or a CSV row would give it.
pub enum Command {
    Register {
        body: RegistrationBody,
        idempotency_key: Option<String>,
    },
    Decide {
        id: String,
        body: DecisionBody,
    },
    Withdraw {
        id: String,
        body: WithdrawalBody,
    },
}

/// What a command did.
pub enum Outcome {
    Registered(Registered),
    Transitioned(Transitioned),
}

/// A registration on the broker; it awaits a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    pub id: Uuid,
    /// 廃止取次番号, to quote in the switch-start and switch-end.
    pub number: String,
    pub expires_at: DateTime<Utc>,
}

/// A decision or withdrawal on the broker; `state` is where its event moves the intermediation.
#[derive(Debug, Clone, PartialEq)]
pub struct Transitioned {
    pub id: Uuid,
    pub event_id: Uuid,
    pub state: State,
}

/// The most decisions one bulk call may carry.
pub const BULK_MAX: usize = 100;

/// The command side of intermediations, over the hub's pool and producer.
pub struct Intermediations<'a> {
    pub(super) pool: &'a Pool,
    publisher: &'a Publisher,
    codec: &'a Codec,
    pub(super) settings: &'a Settings,
    /// Seals an event's personal fields before it reaches the broker (docs/security.md).
    vault: &'a Vault,
}

impl<'a> Intermediations<'a> {
    pub fn new(
        pool: &'a Pool,
        publisher: &'a Publisher,
        codec: &'a Codec,
        settings: &'a Settings,
        vault: &'a Vault,
    ) -> Self {
        Intermediations {
            pool,
            publisher,
            codec,
            settings,
            vault,
        }
    }

    /// Any command; the front ends that know which one they hold call the method of its name.
    pub async fn handle(&self, by: &Principal, command: Command) -> Result<Outcome, Refusal> {
        Ok(match command {
            Command::Register {
                body,
                idempotency_key,
            } => Outcome::Registered(self.register(by, body, idempotency_key.as_deref()).await?),
            Command::Decide { id, body } => {
                Outcome::Transitioned(self.decide(by, &id, body).await?)
            }
            Command::Withdraw { id, body } => {
                Outcome::Transitioned(self.withdraw(by, &id, body).await?)
            }
        })
    }

    /// 登録: with `idempotency_key`, a retry of the same registration is answered as the first
    /// was (and produced again if the first never reached the broker).
    pub async fn register(
        &self,
        by: &Principal,
        body: RegistrationBody,
        idempotency_key: Option<&str>,
    ) -> Result<Registered, Refusal> {
        let outcome = async {
            match body
                .point_class
                .as_deref()
                .and_then(IntermediationPointClass::by_slug)
            {
                Some(c) => access::may(self.pool, by, function(Step::Register, c)).await?,
                // No class yet to name the permission: the kind's rule (the same for every
                // class), and the body's check refuses the class.
                None => access::open(by, function(Step::Register, IntermediationPointClass::Lv))?,
            }
            self.try_register(by, body, idempotency_key).await
        }
        .await;
        counted("register", &outcome);
        outcome
    }

    /// 判断 by the addressed current retailer.
    pub async fn decide(
        &self,
        by: &Principal,
        id: &str,
        body: DecisionBody,
    ) -> Result<Transitioned, Refusal> {
        let outcome = async {
            let id = parse_id(id)?;
            self.may_on(by, id, Step::Decision).await?;
            let d = Decision::validate(body)?;
            self.transit(by, id, d.kind, d.reasons, d.note).await
        }
        .await;
        counted("decide", &outcome);
        outcome
    }

    /// 一括判断: 1 to [`BULK_MAX`] decisions, each answered on its own, in the given order.
    pub async fn decide_many(
        &self,
        by: &Principal,
        items: Vec<(String, DecisionBody)>,
    ) -> Result<Vec<Result<Transitioned, Refusal>>, Refusal> {
        if items.is_empty() || items.len() > BULK_MAX {
            return Err(Refusal::invalid(
                "items",
                "invalid_field",
                "items は1〜100件で指定してください",
                "items must hold 1 to 100 decisions",
            ));
        }
        let mut outcomes = Vec::with_capacity(items.len());
        for (id, body) in items {
            outcomes.push(self.decide(by, &id, body).await);
        }
        Ok(outcomes)
    }

    /// 取下げ by the new retailer.
    pub async fn withdraw(
        &self,
        by: &Principal,
        id: &str,
        body: WithdrawalBody,
    ) -> Result<Transitioned, Refusal> {
        let outcome = async {
            let id = parse_id(id)?;
            self.may_on(by, id, Step::Register).await?;
            let note = withdrawal_note(body)?;
            self.transit(by, id, EventKind::Withdrawn, vec![], note)
                .await
        }
        .await;
        counted("withdraw", &outcome);
        outcome
    }

    /// Claims the transition with its audit row (one transaction), produces, answers. A failed
    /// send keeps the claim: the record may still have reached the broker, and a second
    /// transition must not be produced unless the first surely was not; the claim may be
    /// retaken after `intermediation_claim_timeout_secs`. An acknowledged send keeps it until
    /// the projector applies the event.
    async fn transit(
        &self,
        by: &Principal,
        id: Uuid,
        kind: EventKind,
        reasons: Vec<DeclineReason>,
        note: Option<String>,
    ) -> Result<Transitioned, Refusal> {
        let (company, user) = (by.company.to_string(), by.user_id.clone());
        let mut e = IntermediationEvent::new(id, kind, String::new(), company, user);
        e.decline_reasons = reasons;
        e.note = note;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let timeout = self.settings.intermediation_claim_timeout_secs;
        e.supply_point_id =
            match store::claim(&tx, id, kind, by.company.as_str(), e.event_id, timeout).await? {
                Ok(point) => point,
                Err(ClaimRefused::NotVisible) => return Err(Refusal::IntermediationNotFound),
                Err(ClaimRefused::NotPending) => return Err(Refusal::IntermediationAlreadyDecided),
            };
        let reasons: Vec<&str> = e.decline_reasons.iter().map(|r| r.code()).collect();
        let detail = json!({"kind": kind.as_str(), "reasons": reasons, "event_id": e.event_id});
        audit::record(&tx, by, audit_action(kind), &id.to_string(), detail).await?;
        tx.commit().await?;
        drop(client);
        if let Err(err) = self.publish(&e).await {
            if matches!(err, Refusal::Internal(_)) {
                // Not even encoded, so certainly not produced: give the claim back.
                store::release(&self.pool.get().await?, id, e.event_id).await?;
            }
            return Err(err);
        }
        // Should this fail, the claim times out as an unacknowledged one would (logged).
        let kept = async {
            store::acknowledged(&self.pool.get().await?, id, e.event_id).await?;
            Ok::<_, Refusal>(())
        };
        if let Err(err) = kept.await {
            tracing::warn!(error = %err, intermediation_id = %id, "acknowledged claim not kept");
        }
        let state = super::transition(Some(State::AwaitingDecision), kind)
            .expect("every transition leaves awaiting_decision");
        Ok(Transitioned {
            id,
            event_id: e.event_id,
            state,
        })
    }

    /// Refuses `by` the `step` of intermediation `id`'s class (see [`access::may`]); one it
    /// may not see is not found.
    async fn may_on(&self, by: &Principal, id: Uuid, step: Step) -> Result<(), Refusal> {
        access::open(by, function(step, IntermediationPointClass::Lv))?;
        let client = self.pool.get().await?;
        let class = store::class_visible_to(&client, id, by.company.as_str())
            .await?
            .ok_or(Refusal::IntermediationNotFound)?;
        drop(client);
        access::may(self.pool, by, function(step, class)).await
    }

    /// Produces `e` with its personal fields sealed (the one way an event reaches the topic
    /// from a party); a failure before the send is `Internal`: certainly not produced.
    pub(super) async fn publish(&self, e: &IntermediationEvent) -> Result<(), Refusal> {
        let sealed = self.seal(e).await?;
        self.produce(&sealed).await
    }

    /// `e` sealed and encoded, ready to produce. Sealing may read or make the data key with a
    /// connection of its own, so a caller holding a transaction seals before opening it (else
    /// racing callers could each hold one connection and wait for a second).
    pub(super) async fn seal(&self, e: &IntermediationEvent) -> Result<SealedEvent, Refusal> {
        let (sealed, key) = self
            .vault
            .seal_intermediation(e)
            .await
            .map_err(|err| Refusal::Internal(err.into()))?;
        let bytes = self
            .codec
            .encode_intermediation(&sealed)
            .map_err(|err| Refusal::Internal(err.into()))?;
        Ok(SealedEvent {
            point: e.supply_point_id.clone(),
            bytes,
            key,
        })
    }

    /// Produces an event [`Self::seal`] made.
    pub(super) async fn produce(&self, e: &SealedEvent) -> Result<(), Refusal> {
        let topic = self.settings.intermediations_topic();
        let headers: Vec<(&str, String)> = e.key.iter().map(|k| (KEY_HEADER, k.clone())).collect();
        self.publisher
            .publish_with_headers(&topic, &e.point, &e.bytes, &headers)
            .await
            .map_err(|err| Refusal::BrokerUnavailable(err.to_string()))?;
        Ok(())
    }
}

/// An event sealed and encoded, with its wrapped data key (none when nothing was sealed).
pub(super) struct SealedEvent {
    point: String,
    bytes: Vec<u8>,
    key: Option<String>,
}

/// The hub function of an intermediation `step` of points of class `c`.
pub(super) fn function(step: Step, c: IntermediationPointClass) -> HubFunction {
    let class = match c {
        IntermediationPointClass::Lv => PointClass::LowVoltage,
        IntermediationPointClass::Hv => PointClass::HighVoltage,
        IntermediationPointClass::Gen => PointClass::Generation,
    };
    HubFunction::Intermediation(step, class)
}

/// An id that is not a UUID names no intermediation.
pub(super) fn parse_id(id: &str) -> Result<Uuid, Refusal> {
    id.parse().map_err(|_| Refusal::IntermediationNotFound)
}

fn audit_action(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Registered => "intermediation.register",
        EventKind::Withdrawn => "intermediation.withdraw",
        EventKind::Expired => "intermediation.expire",
        EventKind::Approved | EventKind::Declined => "intermediation.decide",
    }
}

pub(super) fn counted<T>(action: &'static str, outcome: &Result<T, Refusal>) {
    metrics::IntermediationHandled {
        action,
        outcome: outcome.as_ref().map_or_else(|e| e.code(), |_| "accepted"),
    }
    .emit();
}
