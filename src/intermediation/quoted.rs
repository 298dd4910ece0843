//! The 廃止取次番号 quoted on a switch: the switch-start of the new retailer and the switch-end
//! of the current retailer (field `intermediation_number` of `SwitchStart` and `SwitchEnd`, in
//! every point class) may follow an intermediation only if it was approved, for that point,
//! between these two retailers.

use deadpool_postgres::Pool;

use super::State;
use crate::domain::{CompanyCode, Refusal, SupplyPointId};

/// Who quotes the number, which says which party of the intermediation the caller must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotedBy {
    /// On a switch-end: the current retailer the intermediation was addressed to.
    CurrentRetailer,
    /// On a switch-start: the new retailer that registered it.
    NewRetailer,
}

const FIELD: &str = "intermediation_number";

/// `Ok` when `number` names an approved intermediation of `point` in which `caller` is the
/// party `role` says; otherwise `422` with `intermediation_number_unknown` (also for a number
/// of other companies, so that one cannot probe them), `intermediation_point_mismatch` or
/// `intermediation_not_approved`.
pub async fn check_quoted(
    pool: &Pool,
    number: &str,
    point: &SupplyPointId,
    caller: &CompanyCode,
    role: QuotedBy,
) -> Result<(), Refusal> {
    let party = match role {
        QuotedBy::CurrentRetailer => "current_retailer_code = $2",
        QuotedBy::NewRetailer => "new_retailer_code = $2",
    };
    let sql = format!(
        "SELECT point_id, state FROM intermediations
          WHERE intermediation_number = $1 AND {party}
          ORDER BY registered_at DESC LIMIT 1"
    );
    let row = pool
        .get()
        .await?
        .query_opt(&sql, &[&number, &caller.as_str()])
        .await?;
    let Some(row) = row else {
        return Err(Refusal::invalid(
            FIELD,
            "intermediation_number_unknown",
            format!("廃止取次番号 {number} のスイッチング廃止取次は見つかりません"),
            format!("no intermediation numbered {number} is one of your company's"),
        ));
    };
    let (quoted_point, state): (&str, &str) = (row.get(0), row.get(1));
    judge(number, point, quoted_point, State::parse(state))
}

/// The rule, apart from the lookup: the point must be the intermediation's, and it approved.
fn judge(
    number: &str,
    point: &SupplyPointId,
    quoted_point: &str,
    state: Option<State>,
) -> Result<(), Refusal> {
    if quoted_point != point.as_str() {
        return Err(Refusal::invalid(
            FIELD,
            "intermediation_point_mismatch",
            format!(
                "廃止取次番号 {number} は供給地点 {point} のスイッチング廃止取次ではありません"
            ),
            format!("intermediation {number} is not of supply point {point}"),
        ));
    }
    match state {
        Some(State::Approved) => Ok(()),
        other => {
            let (ja, en) = other.map_or(("不明", "unknown"), |s| (s.label_ja(), s.as_str()));
            Err(Refusal::invalid(
                FIELD,
                "intermediation_not_approved",
                format!(
                    "廃止取次番号 {number} のスイッチング廃止取次は承諾されていません(状態: {ja})"
                ),
                format!("intermediation {number} is not approved (it is {en})"),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point() -> SupplyPointId {
        SupplyPointId::parse("0300000000000000000001").unwrap()
    }

    #[test]
    fn a_quoted_intermediation_must_be_of_the_switched_point() {
        let refused = judge(
            "IS03-X",
            &point(),
            "0300000000000000000002",
            Some(State::Approved),
        );
        assert_eq!(refused.unwrap_err().code(), "intermediation_point_mismatch");
    }

    #[test]
    fn a_quoted_intermediation_must_be_approved() {
        for s in State::ALL {
            let judged = judge("IS03-X", &point(), point().as_str(), Some(s));
            match s {
                State::Approved => assert!(judged.is_ok()),
                _ => assert_eq!(judged.unwrap_err().code(), "intermediation_not_approved"),
            }
        }
    }
}
