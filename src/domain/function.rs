//! Catalogue functions that go to a grid operator, with the real interface's identities kept as
//! data: one row per function in [`SPECS`], read by every part of the hub (routes, schemas,
//! connector mappings, simulator, docs, metrics).

use std::fmt;
use std::str::FromStr;

use strum::{EnumIter, EnumString, IntoStaticStr};

/// Which register a function's point belongs to, and so which family of service ids it uses.
/// Its slug prefixes the class's functions and names its status route (`hv-status`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, EnumString, IntoStaticStr)]
pub enum PointClass {
    /// 低圧: keyed by 供給地点特定番号, service ids `IF_`.
    #[strum(serialize = "lv")]
    LowVoltage,
    /// 高圧 (and for usage requests ≥ 500 kW and extra-high voltage): keyed by 供給地点特定番号,
    /// service ids `KF_`.
    #[strum(serialize = "hv")]
    HighVoltage,
    /// 低圧FIT電源・FIT卒業電源: keyed by 受電地点特定番号, service ids `FF_`.
    #[strum(serialize = "gen")]
    Generation,
}

impl PointClass {
    pub const ALL: [PointClass; 3] = [
        PointClass::LowVoltage,
        PointClass::HighVoltage,
        PointClass::Generation,
    ];

    /// The slug prefix of the class's functions and its status route (`hv-status`, …).
    pub fn slug(self) -> &'static str {
        self.into()
    }

    pub fn name_ja(self) -> &'static str {
        match self {
            PointClass::LowVoltage => "低圧",
            PointClass::HighVoltage => "高圧",
            PointClass::Generation => "低圧FIT電源・FIT卒業電源",
        }
    }

    pub fn by_slug(slug: &str) -> Option<PointClass> {
        slug.parse().ok()
    }
}

/// Who may call a function, from the catalogue's "who" column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callers {
    /// 小売電気事業者 only.
    Retailers,
    /// 小売電気事業者 and 需要抑制契約者.
    RetailersAndDr,
}

/// One catalogue function's identities and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FunctionSpec {
    pub function: Function,
    pub slug: &'static str,
    pub name_ja: &'static str,
    /// The real interface's service id.
    pub service_id: &'static str,
    /// 申込種別 where the function is an application (look-ups have none). 廃止 is 01 or 02 by
    /// whether equipment is removed: the record's [`crate::messages::RequestRecord::application_kind`]
    /// decides.
    pub application_kind: Option<&'static str>,
    pub class: PointClass,
    pub callers: Callers,
    /// Refused by the operator for plain FIT points (FIT卒業電源 only).
    pub post_fit_only: bool,
    /// The Avro record of the request's payload, as a name and as a variant to match on.
    pub payload_record: &'static str,
    pub payload: PayloadRecord,
    /// The Avro record of the completed answer.
    pub result_record: &'static str,
}

/// The Avro record a function's request payload is, one variant per record: code that turns
/// a payload into its type matches on it, so a record added here and forgotten there does not
/// compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, EnumString, IntoStaticStr)]
pub enum PayloadRecord {
    FacilityInquiry,
    UsagePassword,
    UsageInquiry,
    Reconnection,
    Abolition,
    SwitchStart,
    SwitchEnd,
    CustomerChange,
    AmpereChange,
    HvUsageRequest,
    HvUsageInquiry,
    PointSearch,
}

macro_rules! functions {
    ($( $variant:ident => ($slug:literal, $ja:literal, $sid:literal, $kind:expr, $class:ident, $callers:ident, $post_fit:literal, $payload:ident, $result:literal) ),+ $(,)?) => {
        /// A catalogue function that goes to a grid operator. The slug is its name everywhere:
        /// route, schema, metric label, test.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Function { $($variant),+ }

        /// Every function's row, in the order of [`Function`].
        pub const SPECS: &[FunctionSpec] = &[$(
            FunctionSpec {
                function: Function::$variant,
                slug: $slug,
                name_ja: $ja,
                service_id: $sid,
                application_kind: $kind,
                class: PointClass::$class,
                callers: Callers::$callers,
                post_fit_only: $post_fit,
                payload_record: stringify!($payload),
                payload: PayloadRecord::$payload,
                result_record: $result,
            }
        ),+];

        impl Function {
            pub const ALL: &'static [Function] = &[$(Function::$variant),+];
        }
    };
}

functions! {
    FacilityInquiry => ("facility-inquiry", "設備情報照会", "IF_10110", None, LowVoltage, RetailersAndDr, false, FacilityInquiry, "FacilityInquiryResult"),
    UsagePassword => ("usage-password", "使用量情報照会(パスワード取得申請)", "IF_10210", Some("08"), LowVoltage, RetailersAndDr, false, UsagePassword, "UsagePasswordResult"),
    UsageInquiry => ("usage-inquiry", "使用量情報照会", "IF_10310", None, LowVoltage, RetailersAndDr, false, UsageInquiry, "UsageResult"),
    Reconnection => ("reconnection", "再点", "IF_10410", Some("04"), LowVoltage, Retailers, false, Reconnection, "ApplicationResult"),
    Abolition => ("abolition", "廃止・撤去", "IF_10510", Some("01"), LowVoltage, Retailers, false, Abolition, "ApplicationResult"),
    SwitchStart => ("switch-start", "スイッチング開始申請", "IF_10610", Some("05"), LowVoltage, Retailers, false, SwitchStart, "SwitchStartResult"),
    SwitchEnd => ("switch-end", "スイッチング廃止申請", "IF_10710", Some("03"), LowVoltage, Retailers, false, SwitchEnd, "SwitchStartResult"),
    CustomerChange => ("customer-change", "需要者情報変更", "IF_10810", Some("07"), LowVoltage, Retailers, false, CustomerChange, "ApplicationResult"),
    AmpereChange => ("ampere-change", "アンペア変更", "IF_10910", Some("06"), LowVoltage, Retailers, false, AmpereChange, "ApplicationResult"),
    HvUsageRequest => ("hv-usage-request", "使用量情報照会申請(高圧・特別高圧)", "KF_10210", Some("08"), HighVoltage, RetailersAndDr, false, HvUsageRequest, "ApplicationResult"),
    HvUsageInquiry => ("hv-usage-inquiry", "使用量情報照会(高圧)", "KF_10310", None, HighVoltage, RetailersAndDr, false, HvUsageInquiry, "UsageResult"),
    HvAbolition => ("hv-abolition", "廃止・撤去(高圧)", "KF_10510", Some("01"), HighVoltage, Retailers, false, Abolition, "ApplicationResult"),
    HvSwitchStart => ("hv-switch-start", "スイッチング開始申請(高圧)", "KF_10610", Some("05"), HighVoltage, Retailers, false, SwitchStart, "SwitchStartResult"),
    HvSwitchEnd => ("hv-switch-end", "スイッチング廃止申請(高圧)", "KF_10710", Some("03"), HighVoltage, Retailers, false, SwitchEnd, "SwitchStartResult"),
    HvCustomerChange => ("hv-customer-change", "需要者情報変更(高圧)", "KF_10810", Some("07"), HighVoltage, Retailers, false, CustomerChange, "ApplicationResult"),
    GenFacilityInquiry => ("gen-facility-inquiry", "設備情報照会(FIT電源)", "FF_10110", None, Generation, Retailers, false, FacilityInquiry, "FacilityInquiryResult"),
    GenReconnection => ("gen-reconnection", "再点(FIT卒業電源)", "FF_10410", Some("04"), Generation, Retailers, true, Reconnection, "ApplicationResult"),
    GenAbolition => ("gen-abolition", "廃止・撤去(FIT電源)", "FF_10510", Some("01"), Generation, Retailers, false, Abolition, "ApplicationResult"),
    GenSwitchStart => ("gen-switch-start", "スイッチング開始申請(FIT卒業電源)", "FF_10610", Some("05"), Generation, Retailers, true, SwitchStart, "SwitchStartResult"),
    GenSwitchEnd => ("gen-switch-end", "スイッチング廃止申請(FIT卒業電源)", "FF_10710", Some("03"), Generation, Retailers, true, SwitchEnd, "SwitchStartResult"),
    GenProducerChange => ("gen-producer-change", "発電者情報変更", "FF_10810", Some("07"), Generation, Retailers, false, CustomerChange, "ApplicationResult"),
    PointSearch => ("point-search", "特定地点検索", "IF_10010", None, LowVoltage, RetailersAndDr, false, PointSearch, "PointSearchResult"),
}

/// What a function does at the grid operator, for the rules that depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    FacilityInquiry,
    UsagePassword,
    UsageInquiry,
    Reconnection,
    Abolition,
    SwitchStart,
    SwitchEnd,
    InformationChange,
    AmpereChange,
    UsageRequest,
    /// 特定地点検索: keyed by the area, not by a point.
    PointSearch,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown function {0:?}")]
pub struct FunctionError(pub String);

impl Function {
    pub fn spec(self) -> &'static FunctionSpec {
        &SPECS[self as usize]
    }

    pub fn slug(self) -> &'static str {
        self.spec().slug
    }

    pub fn name_ja(self) -> &'static str {
        self.spec().name_ja
    }

    /// The real interface's service id (IF_ low voltage, KF_ high voltage, FF_ FIT).
    pub fn service_id(self) -> &'static str {
        self.spec().service_id
    }

    /// The function a service id names, for operators' interfaces that route by it.
    pub fn by_service_id(service_id: &str) -> Option<Function> {
        SPECS
            .iter()
            .find(|s| s.service_id == service_id)
            .map(|s| s.function)
    }

    /// 申込種別 code where the function is an application (look-ups have none).
    pub fn application_kind(self) -> Option<&'static str> {
        self.spec().application_kind
    }

    pub fn class(self) -> PointClass {
        self.spec().class
    }

    /// Whether a demand-response contractor (需要抑制契約者) may call it.
    pub fn open_to_dr(self) -> bool {
        self.spec().callers == Callers::RetailersAndDr
    }

    pub fn post_fit_only(self) -> bool {
        self.spec().post_fit_only
    }

    /// What the function does, whatever its point class.
    pub fn operation(self) -> Operation {
        use Function as F;
        match self {
            F::FacilityInquiry | F::GenFacilityInquiry => Operation::FacilityInquiry,
            F::UsagePassword => Operation::UsagePassword,
            F::UsageInquiry | F::HvUsageInquiry => Operation::UsageInquiry,
            F::Reconnection | F::GenReconnection => Operation::Reconnection,
            F::Abolition | F::HvAbolition | F::GenAbolition => Operation::Abolition,
            F::SwitchStart | F::HvSwitchStart | F::GenSwitchStart => Operation::SwitchStart,
            F::SwitchEnd | F::HvSwitchEnd | F::GenSwitchEnd => Operation::SwitchEnd,
            F::CustomerChange | F::HvCustomerChange | F::GenProducerChange => {
                Operation::InformationChange
            }
            F::AmpereChange => Operation::AmpereChange,
            F::HvUsageRequest => Operation::UsageRequest,
            F::PointSearch => Operation::PointSearch,
        }
    }

    /// Whether the function files an application that can later be corrected or withdrawn.
    pub fn is_application(self) -> bool {
        self.application_kind().is_some()
    }
}

impl FromStr for Function {
    type Err = FunctionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SPECS
            .iter()
            .find(|f| f.slug == s)
            .map(|f| f.function)
            .ok_or_else(|| FunctionError(s.to_string()))
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_the_enum() {
        for (i, spec) in SPECS.iter().enumerate() {
            assert_eq!(spec.function as usize, i, "{}", spec.slug);
        }
    }

    #[test]
    fn service_ids_carry_the_class_prefix() {
        for spec in SPECS {
            let prefix = match spec.class {
                PointClass::LowVoltage => "IF_",
                PointClass::HighVoltage => "KF_",
                PointClass::Generation => "FF_",
            };
            assert!(spec.service_id.starts_with(prefix), "{}", spec.slug);
            let class_slug = spec.class.slug();
            assert!(
                class_slug == "lv" || spec.slug.starts_with(class_slug),
                "{}",
                spec.slug
            );
        }
    }

    #[test]
    fn only_the_catalogues_dr_functions_are_open_to_dr_contractors() {
        let open: Vec<_> = Function::ALL
            .iter()
            .filter(|f| f.open_to_dr())
            .map(|f| f.slug())
            .collect();
        assert_eq!(
            open,
            [
                "facility-inquiry",
                "usage-password",
                "usage-inquiry",
                "hv-usage-request",
                "hv-usage-inquiry",
                "point-search"
            ]
        );
    }

    #[test]
    fn post_fit_only_functions_are_the_generation_reconnection_and_switches() {
        let only: Vec<_> = Function::ALL
            .iter()
            .filter(|f| f.post_fit_only())
            .map(|f| f.slug())
            .collect();
        assert_eq!(
            only,
            ["gen-reconnection", "gen-switch-start", "gen-switch-end"]
        );
    }

    #[test]
    fn every_function_is_found_by_its_slug() {
        for &f in Function::ALL {
            assert_eq!(f.slug().parse::<Function>().unwrap(), f);
        }
        assert!("ampere-chang".parse::<Function>().is_err());
    }

    #[test]
    fn functions_keep_the_real_service_ids() {
        assert_eq!(Function::FacilityInquiry.service_id(), "IF_10110");
        assert_eq!(Function::SwitchStart.service_id(), "IF_10610");
        assert_eq!(Function::SwitchStart.application_kind(), Some("05"));
        for &f in Function::ALL {
            assert_eq!(Function::by_service_id(f.service_id()), Some(f));
        }
        assert_eq!(Function::by_service_id("IF_99999"), None);
        for class in PointClass::ALL {
            assert_eq!(PointClass::by_slug(class.slug()), Some(class));
        }
    }

    #[test]
    fn every_payload_record_is_named_by_its_variant() {
        for spec in SPECS {
            assert_eq!(spec.payload_record, <&str>::from(spec.payload));
            assert_eq!(spec.payload_record.parse(), Ok(spec.payload));
        }
        for record in PayloadRecord::iter() {
            assert!(SPECS.iter().any(|s| s.payload == record), "{record:?}");
        }
    }
}
