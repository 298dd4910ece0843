//! The PostgreSQL side of intermediations: applying an event (the projector, and a
//! registration in the transaction it commits once the broker has acknowledged the event), and
//! claiming a transition before its event is produced.
//!
//! Applying is idempotent by event id (each event is recorded once in `intermediation_events`)
//! and follows [`transition`]: an event the state machine does not allow is recorded as not
//! applied and changes nothing, so replaying the topic into an empty database gives the same
//! rows.
//!
//! The claim: a decision, withdrawal or expiry first sets `pending_event` on a row that is
//! awaiting a decision and not claimed (a conditional UPDATE, so of concurrent callers exactly
//! one wins), then produces its event, then answers. The projector clears the claim when it
//! applies any transition. A claim whose event the broker acknowledged is kept until then,
//! however long the projector takes ([`acknowledged`]); one whose event never reached the
//! broker (a crash, or a broker that did not acknowledge) is left in place and may be retaken
//! once it is older than `intermediation_claim_timeout_secs`.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use super::{EventKind, IntermediationEvent, IntermediationPointClass, Party, State, transition};

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The state moved (or the registration was recorded).
    Changed(State),
    /// Seen before (same event id): nothing to do.
    Duplicate,
    /// Not allowed from the current state: recorded, ignored.
    Ignored,
}

fn reasons_of(e: &IntermediationEvent) -> Vec<String> {
    e.decline_reasons
        .iter()
        .map(|r| r.code().to_string())
        .collect()
}

/// Applies `e`: records it in the history once, then moves the current state if the state
/// machine allows it.
pub async fn apply<C: GenericClient>(
    tx: &C,
    e: &IntermediationEvent,
) -> Result<Applied, tokio_postgres::Error> {
    let stmt = tx
        .prepare_cached(
            "INSERT INTO intermediation_events
                 (event_id, intermediation_id, kind, supply_point_id, actor_company_code,
                  actor_user_id, occurred_at, decline_reasons, note, applied)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, false)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .await?;
    let inserted = tx
        .execute(
            &stmt,
            &[
                &e.event_id,
                &e.intermediation_id,
                &e.kind.as_str(),
                &e.supply_point_id,
                &e.actor_company_code,
                &e.actor_user_id,
                &e.occurred_at,
                &reasons_of(e),
                &e.note,
            ],
        )
        .await?;
    if inserted == 0 {
        return Ok(Applied::Duplicate);
    }
    let current = tx
        .query_opt(
            "SELECT state FROM intermediations WHERE intermediation_id = $1 FOR UPDATE",
            &[&e.intermediation_id],
        )
        .await?
        .and_then(|r| State::parse(r.get::<_, &str>(0)));
    let next = match transition(current, e.kind) {
        Ok(next) => next,
        Err(why) => {
            tracing::warn!(
                event_id = %e.event_id,
                intermediation_id = %e.intermediation_id,
                kind = e.kind.as_str(),
                reason = %why,
                "intermediation event not allowed from the current state: ignored"
            );
            return Ok(Applied::Ignored);
        }
    };
    if e.kind == EventKind::Registered {
        if !insert_registered(tx, e).await? {
            return Ok(Applied::Ignored);
        }
    } else {
        tx.execute(
            "UPDATE intermediations
                SET state = $2, decline_reasons = $3, note = $4, decided_at = $5,
                    decided_by_company = $6, decided_by_user = $7,
                    pending_event = NULL, pending_since = NULL, updated_at = now()
              WHERE intermediation_id = $1",
            &[
                &e.intermediation_id,
                &next.as_str(),
                &reasons_of(e),
                &e.note,
                &e.occurred_at,
                &e.actor_company_code,
                &e.actor_user_id,
            ],
        )
        .await?;
    }
    crate::push::events::append_intermediation(tx, e.intermediation_id).await?;
    tx.execute(
        "UPDATE intermediation_events SET applied = true WHERE event_id = $1",
        &[&e.event_id],
    )
    .await?;
    Ok(Applied::Changed(next))
}

/// The row of a registration; `false` (logged) when the event lacks a field it must carry, or
/// when the point already has an open intermediation of this new retailer (the unique index
/// `intermediations_one_open`; the API refuses such a registration before producing it, so this
/// is met only when replaying a log written before the rule).
async fn insert_registered<C: GenericClient>(
    tx: &C,
    e: &IntermediationEvent,
) -> Result<bool, tokio_postgres::Error> {
    let (
        Some(number),
        Some(new),
        Some(current),
        Some(customer),
        Some(name),
        Some(address),
        Some(date),
        Some(class),
        Some(expires),
    ) = (
        &e.intermediation_number,
        &e.new_retailer_code,
        &e.current_retailer_code,
        &e.customer_number,
        &e.contract_name,
        &e.supply_address,
        e.desired_switch_date,
        e.point_class,
        e.expires_at,
    )
    else {
        tracing::error!(event_id = %e.event_id, "registration event without its fields: ignored");
        return Ok(false);
    };
    let area: String = e.supply_point_id.chars().take(2).collect();
    let inserted = tx
        .execute(
            "INSERT INTO intermediations
             (intermediation_id, intermediation_number, point_id, area, point_class,
              new_retailer_code, new_user_id, current_retailer_code, customer_number,
              contract_name, supply_address, desired_switch_date, state, registered_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'awaiting_decision', $13, $14)
         ON CONFLICT DO NOTHING",
            &[
                &e.intermediation_id,
                number,
                &e.supply_point_id,
                &area,
                &class.slug(),
                new,
                &e.actor_user_id,
                current,
                customer,
                name,
                address,
                &date,
                &e.occurred_at,
                &expires,
            ],
        )
        .await?;
    if inserted == 0 {
        tracing::warn!(event_id = %e.event_id, point = %e.supply_point_id, "registration while another of the point's is open: ignored");
    }
    Ok(inserted == 1)
}

/// Why a claim was not granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimRefused {
    /// The caller is not the party of this transition (or there is no such intermediation).
    NotVisible,
    /// It is no longer awaiting a decision, or another transition holds the claim.
    NotPending,
}

/// Claims the transition `kind` of intermediation `id` for `company` (ignored for the hub's
/// expiry) with event `event_id`; returns the point id (the event's key).
pub async fn claim<C: GenericClient>(
    client: &C,
    id: Uuid,
    kind: EventKind,
    company: &str,
    event_id: Uuid,
    timeout_secs: u64,
) -> Result<Result<String, ClaimRefused>, tokio_postgres::Error> {
    let party = match super::party_of(kind) {
        Party::CurrentRetailer => "current_retailer_code = $2",
        Party::NewRetailer => "new_retailer_code = $2",
        Party::Hub => "$2::text IS NOT NULL",
    };
    let sql = format!(
        "UPDATE intermediations
            SET pending_event = $3, pending_since = now()
          WHERE intermediation_id = $1 AND {party}
            AND state = 'awaiting_decision'
            AND (pending_event IS NULL OR pending_since < now() - make_interval(secs => $4))
          RETURNING point_id"
    );
    let timeout = timeout_secs as f64;
    if let Some(row) = client
        .query_opt(&sql, &[&id, &company, &event_id, &timeout])
        .await?
    {
        return Ok(Ok(row.get(0)));
    }
    let visible = client
        .query_opt(
            &format!("SELECT 1 FROM intermediations WHERE intermediation_id = $1 AND {party}"),
            &[&id, &company],
        )
        .await?;
    Ok(Err(match visible {
        Some(_) => ClaimRefused::NotPending,
        None => ClaimRefused::NotVisible,
    }))
}

/// Keeps the claim of `event_id` until the projector applies it: the broker acknowledged the
/// event, so retaking the claim after its timeout (while the projector lags) would let a second
/// transition through. Only a claim whose event was never acknowledged times out.
pub async fn acknowledged<C: GenericClient>(
    client: &C,
    id: Uuid,
    event_id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE intermediations SET pending_since = 'infinity'
              WHERE intermediation_id = $1 AND pending_event = $2",
            &[&id, &event_id],
        )
        .await?;
    Ok(())
}

/// Gives a claim back when its event was certainly not produced (it could not even be encoded).
pub async fn release<C: GenericClient>(
    client: &C,
    id: Uuid,
    event_id: Uuid,
) -> Result<(), tokio_postgres::Error> {
    client
        .execute(
            "UPDATE intermediations SET pending_event = NULL, pending_since = NULL
              WHERE intermediation_id = $1 AND pending_event = $2",
            &[&id, &event_id],
        )
        .await?;
    Ok(())
}

/// The point class of `id` as the caller's company may see it (either party), if at all.
pub async fn class_visible_to<C: GenericClient>(
    client: &C,
    id: Uuid,
    company: &str,
) -> Result<Option<IntermediationPointClass>, tokio_postgres::Error> {
    Ok(client
        .query_opt(
            "SELECT point_class FROM intermediations
              WHERE intermediation_id = $1 AND (new_retailer_code = $2 OR current_retailer_code = $2)",
            &[&id, &company],
        )
        .await?
        .and_then(|r| IntermediationPointClass::by_slug(r.get::<_, &str>(0))))
}
