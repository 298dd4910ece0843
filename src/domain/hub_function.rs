//! Catalogue functions the hub answers itself (no grid operator): スイッチング廃止取次 (its four
//! steps, per point class), 業務処理状況確認 (per class, one request or a list) and 事業者一覧取得.
//! Who may call each is the catalogue's "who" column, as for [`Function`]; the intermediation
//! functions can also be given to or withheld from a user by its permissions, like
//! [`Function`]s, under the slugs listed here.

use std::fmt;

use super::{Callers, CompanyKind, Function, PointClass};

/// One step of スイッチング廃止取次.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntermediationStep {
    /// 登録 (IS_20110) and its 取下げ, by the new retailer.
    Register,
    /// 結果照会 (IS_20210): those the caller registered.
    Result,
    /// 照会 (IS_20310): those addressed to the caller.
    Inbox,
    /// 判断 (IS_20410), by the addressed current retailer.
    Decision,
}

/// A function the hub answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HubFunction {
    Intermediation(IntermediationStep, PointClass),
    /// 業務処理状況確認 of one request (`status`, `hv-status`, `gen-status`).
    Status(PointClass),
    /// 業務処理状況確認 of a list (`status-list`, `hv-status-list`, `gen-status-list`).
    StatusList(PointClass),
    /// 事業者一覧取得 (IS_30110).
    Operators,
}

const STEPS: [IntermediationStep; 4] = [
    IntermediationStep::Register,
    IntermediationStep::Result,
    IntermediationStep::Inbox,
    IntermediationStep::Decision,
];

impl HubFunction {
    /// Every hub function: the intermediation ones by class and step, then status, operators.
    pub fn all() -> Vec<HubFunction> {
        let mut all: Vec<HubFunction> = PointClass::ALL
            .iter()
            .flat_map(|&c| {
                STEPS
                    .iter()
                    .map(move |&s| HubFunction::Intermediation(s, c))
            })
            .collect();
        all.extend(PointClass::ALL.iter().map(|&c| HubFunction::Status(c)));
        all.extend(PointClass::ALL.iter().map(|&c| HubFunction::StatusList(c)));
        all.push(HubFunction::Operators);
        all
    }

    /// Its name in permissions and messages: `switch-intermediation-decision`,
    /// `hv-switch-intermediation`, `gen-status-list`, `operators`, …
    pub fn slug(self) -> &'static str {
        use HubFunction as H;
        use IntermediationStep as S;
        use PointClass::{Generation as G, HighVoltage as Hv, LowVoltage as Lv};
        match self {
            H::Intermediation(S::Register, Lv) => "switch-intermediation",
            H::Intermediation(S::Result, Lv) => "switch-intermediation-result",
            H::Intermediation(S::Inbox, Lv) => "switch-intermediation-inbox",
            H::Intermediation(S::Decision, Lv) => "switch-intermediation-decision",
            H::Intermediation(S::Register, Hv) => "hv-switch-intermediation",
            H::Intermediation(S::Result, Hv) => "hv-switch-intermediation-result",
            H::Intermediation(S::Inbox, Hv) => "hv-switch-intermediation-inbox",
            H::Intermediation(S::Decision, Hv) => "hv-switch-intermediation-decision",
            H::Intermediation(S::Register, G) => "gen-switch-intermediation",
            H::Intermediation(S::Result, G) => "gen-switch-intermediation-result",
            H::Intermediation(S::Inbox, G) => "gen-switch-intermediation-inbox",
            H::Intermediation(S::Decision, G) => "gen-switch-intermediation-decision",
            H::Status(Lv) => "status",
            H::Status(Hv) => "hv-status",
            H::Status(G) => "gen-status",
            H::StatusList(Lv) => "status-list",
            H::StatusList(Hv) => "hv-status-list",
            H::StatusList(G) => "gen-status-list",
            H::Operators => "operators",
        }
    }

    pub fn name_ja(self) -> String {
        let class = |c: PointClass| match c {
            PointClass::LowVoltage => "",
            PointClass::HighVoltage => "(高圧)",
            PointClass::Generation => "(発電)",
        };
        match self {
            HubFunction::Intermediation(step, c) => {
                let step = match step {
                    IntermediationStep::Register => "登録",
                    IntermediationStep::Result => "結果照会",
                    IntermediationStep::Inbox => "照会",
                    IntermediationStep::Decision => "判断",
                };
                format!("スイッチング廃止取次{step}{}", class(c))
            }
            HubFunction::Status(c) => format!("業務処理状況確認{}", class(c)),
            HubFunction::StatusList(c) => format!("業務処理状況確認(一覧){}", class(c)),
            HubFunction::Operators => "事業者一覧取得".to_string(),
        }
    }

    /// The catalogue's "who": status of low and high voltage is open to DR contractors too;
    /// generation status, the operator list and every intermediation are retailers' only.
    pub fn callers(self) -> Callers {
        match self {
            HubFunction::Status(c) | HubFunction::StatusList(c) if c != PointClass::Generation => {
                Callers::RetailersAndDr
            }
            _ => Callers::Retailers,
        }
    }

    /// Whether a registration of `kind` may call it.
    pub fn open_to(self, kind: CompanyKind) -> bool {
        kind == CompanyKind::Retailer || self.callers() == Callers::RetailersAndDr
    }

    /// Whether a user's permissions can give or withhold it (the intermediation functions);
    /// status and the operator list follow the registration's kind alone.
    pub fn in_permissions(self) -> bool {
        matches!(self, HubFunction::Intermediation(..))
    }

    /// The permission-bearing hub function of `slug`.
    pub fn permission_by_slug(slug: &str) -> Option<HubFunction> {
        HubFunction::all()
            .into_iter()
            .find(|h| h.in_permissions() && h.slug() == slug)
    }
}

impl fmt::Display for HubFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

/// Any function a caller may be refused: one that goes to a grid operator or one the hub
/// answers itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Callable {
    Operator(Function),
    Hub(HubFunction),
}

impl Callable {
    pub fn slug(self) -> &'static str {
        match self {
            Callable::Operator(f) => f.slug(),
            Callable::Hub(h) => h.slug(),
        }
    }

    pub fn name_ja(self) -> String {
        match self {
            Callable::Operator(f) => f.name_ja().to_string(),
            Callable::Hub(h) => h.name_ja(),
        }
    }

    pub fn open_to(self, kind: CompanyKind) -> bool {
        match self {
            Callable::Operator(f) => kind.may_call(f),
            Callable::Hub(h) => h.open_to(kind),
        }
    }

    /// The function a permission slug names: a [`Function`] or a permission-bearing
    /// [`HubFunction`].
    pub fn permission_by_slug(slug: &str) -> Option<Callable> {
        slug.parse::<Function>()
            .ok()
            .map(Callable::Operator)
            .or_else(|| HubFunction::permission_by_slug(slug).map(Callable::Hub))
    }

    /// Every permission a user of `kind` has when none were set: the kind's functions.
    pub fn default_permissions(kind: CompanyKind) -> Vec<Callable> {
        Function::ALL
            .iter()
            .map(|&f| Callable::Operator(f))
            .chain(
                HubFunction::all()
                    .into_iter()
                    .filter(|h| h.in_permissions())
                    .map(Callable::Hub),
            )
            .filter(|c| c.open_to(kind))
            .collect()
    }
}

impl From<Function> for Callable {
    fn from(f: Function) -> Self {
        Callable::Operator(f)
    }
}

impl From<HubFunction> for Callable {
    fn from(h: HubFunction) -> Self {
        Callable::Hub(h)
    }
}

impl fmt::Display for Callable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_unique_and_none_is_a_functions() {
        let all = HubFunction::all();
        let mut slugs: Vec<_> = all.iter().map(|h| h.slug()).collect();
        slugs.sort();
        slugs.dedup();
        assert_eq!(slugs.len(), all.len());
        for s in slugs {
            assert!(s.parse::<Function>().is_err(), "{s}");
        }
    }

    #[test]
    fn only_low_and_high_voltage_status_is_open_to_dr_contractors() {
        let open: Vec<_> = HubFunction::all()
            .into_iter()
            .filter(|h| h.open_to(CompanyKind::DrContractor))
            .map(|h| h.slug())
            .collect();
        assert_eq!(
            open,
            ["status", "hv-status", "status-list", "hv-status-list"]
        );
        assert!(
            HubFunction::all()
                .iter()
                .all(|h| h.open_to(CompanyKind::Retailer))
        );
    }

    #[test]
    fn permissions_name_the_intermediation_functions_only() {
        assert_eq!(
            Callable::permission_by_slug("gen-switch-intermediation-inbox"),
            Some(Callable::Hub(HubFunction::Intermediation(
                IntermediationStep::Inbox,
                PointClass::Generation
            )))
        );
        assert_eq!(
            Callable::permission_by_slug("switch-start"),
            Some(Callable::Operator(Function::SwitchStart))
        );
        assert_eq!(Callable::permission_by_slug("gen-status"), None);
        assert_eq!(Callable::permission_by_slug("operators"), None);
        let dr = Callable::default_permissions(CompanyKind::DrContractor);
        assert!(dr.iter().all(|c| matches!(c, Callable::Operator(_))));
        let retailer = Callable::default_permissions(CompanyKind::Retailer);
        assert_eq!(retailer.len(), Function::ALL.len() + 12);
    }
}
