//! The bulk functions (一括申請) and their files' columns. Each bulk function has one
//! [`Filer`]: the service a row goes through, so a row meets exactly the rules, refusal codes
//! and messages of the single call — an application through `requests::Submissions`, or a
//! 廃止取次 registration or decision through `intermediation::Intermediations`. The batch
//! machinery (upload, preview, confirm, filing, download) is the same for all of them. The
//! Japanese column names are the ones the template publishes.

use std::fmt;

use crate::domain::{Function, HubFunction, IntermediationStep, PointClass};
use crate::intermediation::IntermediationPointClass;
use crate::messages::shape::{FieldShape, Shape, shapes};

/// One column of a bulk file: its header as users write it, and the field of the single
/// call's body it fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub header: &'static str,
    pub field: &'static str,
}

const fn col(header: &'static str, field: &'static str) -> Column {
    Column { header, field }
}

/// スイッチング開始申請's columns after the point.
const SWITCH_START: &[Column] = &[
    col("スイッチング予定日", "planned_date"),
    col("現小売事業者コード", "previous_retailer_code"),
    col("現小売お客さま番号", "previous_customer_number"),
    col("需要者名義", "customer_name"),
    col("需要者連絡先電話番号", "customer_phone"),
    col("契約電流", "contract_ampere"),
    col("廃止取次番号", "intermediation_number"),
    col("託送供給等約款への同意", "agreed_to_grid_terms"),
    col("契約決定方法", "contract_method"),
    col("契約電力", "contract_kw"),
];

/// スイッチング廃止申請's columns after the point.
const SWITCH_END: &[Column] = &[
    col("スイッチング予定日", "planned_date"),
    col("新小売事業者コード", "new_retailer_code"),
    col("お客さま番号", "customer_number"),
    col("廃止取次番号", "intermediation_number"),
];

/// 需要者情報変更's columns after the point.
const CUSTOMER_CHANGE: &[Column] = &[
    col("変更日", "effective_date"),
    col("需要者名義", "customer_name"),
    col("連絡先電話番号", "customer_phone"),
    col("郵送先住所", "mailing_address"),
];

/// 使用量情報照会(パスワード取得申請)'s columns after the point.
const USAGE_PASSWORD: &[Column] = &[
    col("需要者名義", "customer_name"),
    col("需要者連絡先電話番号", "customer_phone"),
];

/// 使用量情報照会申請 (高圧・特別高圧)'s columns after the point.
const HV_USAGE_REQUEST: &[Column] = &[
    col("電圧区分", "voltage_class"),
    col("需要者名義", "customer_name"),
    col("同意書番号", "consent_reference"),
];

/// スイッチング廃止取次登録's columns after the point (the class is the bulk function's).
const INTERMEDIATION: &[Column] = &[
    col("現小売事業者コード", "current_retailer_code"),
    col("お客さま番号", "customer_number"),
    col("契約名義", "contract_name"),
    col("需要場所", "supply_address"),
    col("スイッチング希望日", "desired_switch_date"),
];

/// スイッチング廃止取次判断's columns after the intermediation's id.
const DECISION: &[Column] = &[
    col("判断", "decision"),
    col("否認理由", "reasons"),
    col("備考", "note"),
];

/// ユーザ一括登録's columns after the user id: the headers of the users' own CSV.
const USERS: &[Column] = &[
    col("name", "name"),
    col("mail", "mail"),
    col("administrator", "administrator"),
    col("permissions", "permissions"),
    col("contractor", "contractor"),
];

/// The service a row of a bulk function is filed through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filer {
    /// One application of a catalogue function (`requests::Submissions::submit`).
    Submission(Function),
    /// One スイッチング廃止取次登録 of points of the class (`Intermediations::register`).
    IntermediationRegister(IntermediationPointClass),
    /// One スイッチング廃止取次判断 (`Intermediations::decide`).
    IntermediationDecision(IntermediationPointClass),
    /// One ユーザ登録 by the registration's administrator (`Accounts::register_user`).
    Users,
}

/// A bulk function: the service and function its rows are filed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BulkKind(Filer);

const fn of(function: Function) -> BulkKind {
    BulkKind(Filer::Submission(function))
}

impl BulkKind {
    /// Every bulk function of the catalogue (§5) delivered so far, in the catalogue's order.
    pub const ALL: [BulkKind; 17] = [
        BulkKind(Filer::IntermediationRegister(IntermediationPointClass::Lv)),
        BulkKind(Filer::IntermediationRegister(IntermediationPointClass::Hv)),
        BulkKind(Filer::IntermediationRegister(IntermediationPointClass::Gen)),
        of(Function::SwitchStart),
        of(Function::HvSwitchStart),
        of(Function::GenSwitchStart),
        BulkKind(Filer::IntermediationDecision(IntermediationPointClass::Lv)),
        BulkKind(Filer::IntermediationDecision(IntermediationPointClass::Hv)),
        BulkKind(Filer::IntermediationDecision(IntermediationPointClass::Gen)),
        of(Function::SwitchEnd),
        of(Function::HvSwitchEnd),
        of(Function::GenSwitchEnd),
        of(Function::CustomerChange),
        of(Function::HvCustomerChange),
        of(Function::UsagePassword),
        of(Function::HvUsageRequest),
        BulkKind(Filer::Users),
    ];

    /// The bulk function of this slug: the single function's (`switch-start`,
    /// `hv-switch-intermediation`, `gen-switch-intermediation-decision`, …).
    pub fn parse(slug: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.slug() == slug)
    }

    pub fn filer(self) -> Filer {
        self.0
    }

    /// The hub function of an intermediation kind (its permission), if it is one.
    pub fn hub_function(self) -> Option<HubFunction> {
        let (step, class) = match self.0 {
            Filer::Submission(_) | Filer::Users => return None,
            Filer::IntermediationRegister(c) => (IntermediationStep::Register, c),
            Filer::IntermediationDecision(c) => (IntermediationStep::Decision, c),
        };
        Some(HubFunction::Intermediation(step, point_class(class)))
    }

    pub fn slug(self) -> &'static str {
        match (self.0, self.hub_function()) {
            (Filer::Submission(f), _) => f.slug(),
            (Filer::Users, _) => "users",
            (_, Some(h)) => h.slug(),
            (_, None) => unreachable!("every intermediation kind has its hub function"),
        }
    }

    /// The class of the points the rows are of (users are of none: low voltage, for the
    /// sample's numbers alone).
    pub fn class(self) -> PointClass {
        match self.0 {
            Filer::Submission(f) => f.class(),
            Filer::Users => PointClass::LowVoltage,
            Filer::IntermediationRegister(c) | Filer::IntermediationDecision(c) => point_class(c),
        }
    }

    /// The name users know: 開始一括申請 for スイッチング開始申請, and so on.
    pub fn name_ja(self) -> String {
        let base = match self.0 {
            Filer::Users => "ユーザ一括登録",
            Filer::IntermediationRegister(_) => "スイッチング廃止取次一括登録",
            Filer::IntermediationDecision(_) => "スイッチング廃止取次一括判断",
            Filer::Submission(
                Function::SwitchStart | Function::HvSwitchStart | Function::GenSwitchStart,
            ) => "スイッチング開始一括申請",
            Filer::Submission(
                Function::SwitchEnd | Function::HvSwitchEnd | Function::GenSwitchEnd,
            ) => "スイッチング廃止一括申請",
            Filer::Submission(Function::UsagePassword | Function::HvUsageRequest) => {
                "同一法人需要者の使用量情報照会一括申請"
            }
            Filer::Submission(_) => "需要者情報変更一括申請",
        };
        match self.class() {
            PointClass::LowVoltage => base.to_string(),
            class => format!("{base}({})", class.name_ja()),
        }
    }

    /// The column that names what a row is about: the intermediation's id for a decision,
    /// else the point (受電地点特定番号 for generation points, 供給地点特定番号 otherwise).
    pub fn point_column(self) -> Column {
        match (self.0, self.class()) {
            (Filer::IntermediationDecision(_), _) => col("廃止取次ID", "id"),
            (Filer::Users, _) => col("user_id", "user_id"),
            (_, PointClass::Generation) => col("受電地点特定番号", "supply_point_id"),
            _ => col("供給地点特定番号", "supply_point_id"),
        }
    }

    /// Every column, the point's first, in the template's order.
    pub fn columns(self) -> Vec<Column> {
        let own = match self.0 {
            Filer::Users => USERS,
            Filer::IntermediationRegister(_) => INTERMEDIATION,
            Filer::IntermediationDecision(_) => DECISION,
            Filer::Submission(f) => match f.spec().payload_record {
                "SwitchStart" => SWITCH_START,
                "SwitchEnd" => SWITCH_END,
                "UsagePassword" => USAGE_PASSWORD,
                "HvUsageRequest" => HV_USAGE_REQUEST,
                _ => CUSTOMER_CHANGE,
            },
        };
        std::iter::once(self.point_column())
            .chain(own.iter().copied())
            .collect()
    }

    /// Whether a file's header may leave `column` out (its cells then all empty): the users'
    /// own CSV names only `user_id`, `name` and `mail` for certain, as the older
    /// `POST /api/v1/admin/users/bulk` has always taken it.
    pub fn may_omit(self, column: Column) -> bool {
        matches!(self.0, Filer::Users) && !matches!(column.field, "user_id" | "name" | "mail")
    }

    /// Whether every row of a file must be of one corporate customer in one area
    /// (同一法人需要者の使用量情報照会一括申請): the batch is that customer's one application.
    pub fn one_customer(self) -> bool {
        matches!(
            self.0,
            Filer::Submission(Function::UsagePassword | Function::HvUsageRequest)
        )
    }

    /// The shape of a column's field (the point is text; so is every intermediation field but
    /// the date and the list of decline reasons).
    pub fn shape_of(self, field: &str) -> Shape {
        match (self.0, field) {
            (Filer::Submission(f), _) => shapes()
                .known(f.spec().payload_record)
                .fields
                .iter()
                .find(|x| x.name == field)
                .map(|x: &FieldShape| x.shape.clone())
                .unwrap_or(Shape::Str),
            (_, "desired_switch_date") => Shape::Date,
            (Filer::Users, "administrator") => Shape::Bool,
            (_, "reasons" | "permissions") => Shape::Array(Box::new(Shape::Str)),
            _ => Shape::Str,
        }
    }

    /// The header of the column that fills `field`, for naming a refused field in a row.
    pub fn header_of(self, field: &str) -> Option<&'static str> {
        self.columns()
            .into_iter()
            .find(|c| c.field == field)
            .map(|c| c.header)
    }

    /// What a column means: the schema's documentation of its field, or the single call's.
    pub fn meaning_of(self, field: &str) -> String {
        let own = match field {
            "supply_point_id" => {
                "22桁の地点特定番号 (22-digit point id; its first two digits are the area)"
            }
            "id" => "判断する廃止取次のID (the intermediation id its registration gave)",
            "current_retailer_code" => {
                "現小売の事業者コード (the retailer now supplying the point)"
            }
            "customer_number" if self.hub_function().is_some() => {
                "現小売でのお客さま番号 (the customer number at the current retailer)"
            }
            "contract_name" => "現小売での契約名義 (the contract name at the current retailer)",
            "supply_address" => "需要場所 (the supply address)",
            "desired_switch_date" => "スイッチング希望日 (not in the past)",
            "decision" => "承諾 (approve) または 否認 (decline)",
            "reasons" => "否認理由: コードまたは名称を「;」区切り (decline reasons, `;`-separated)",
            "note" => "備考: 否認理由「その他」のとき必須 (required with other)",
            "user_id" => "ユーザID: 3〜32文字の英数字と . _ - (3 to 32 letters, digits, . _ -)",
            "name" => "氏名 (the person the id is issued to)",
            "mail" => "メールアドレス (the id and initial password are mailed there)",
            "administrator" => "管理者なら 1 (true for an administrator)",
            "permissions" => {
                "利用できる機能のスラッグを空白区切り; 空なら種別の全機能 (space-separated function slugs)"
            }
            "contractor" => "受託者の法人番号 (a contractor's corporate number); optional",
            _ => "",
        };
        if !own.is_empty() {
            return own.into();
        }
        let Filer::Submission(f) = self.0 else {
            return String::new();
        };
        shapes()
            .known(f.spec().payload_record)
            .fields
            .iter()
            .find(|x| x.name == field)
            .map(|x| x.doc.clone())
            .unwrap_or_default()
    }
}

fn point_class(c: IntermediationPointClass) -> PointClass {
    match c {
        IntermediationPointClass::Lv => PointClass::LowVoltage,
        IntermediationPointClass::Hv => PointClass::HighVoltage,
        IntermediationPointClass::Gen => PointClass::Generation,
    }
}

impl fmt::Display for BulkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.slug())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_each_bulk_function_has_exactly_one_column() {
        for kind in BulkKind::ALL {
            let Filer::Submission(function) = kind.filer() else {
                continue;
            };
            let record = shapes().known(function.spec().payload_record);
            let mut fields: Vec<&str> = kind.columns().iter().map(|c| c.field).collect();
            assert_eq!(fields.remove(0), "supply_point_id");
            let mut declared: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
            fields.sort();
            declared.sort();
            assert_eq!(fields, declared, "{kind}");
            let mut headers: Vec<&str> = kind.columns().iter().map(|c| c.header).collect();
            headers.sort();
            headers.dedup();
            assert_eq!(
                headers.len(),
                kind.columns().len(),
                "{kind}: headers repeat"
            );
        }
    }

    #[test]
    fn a_bulk_function_is_named_by_its_single_functions_slug() {
        assert_eq!(
            BulkKind::parse("hv-switch-end").map(BulkKind::filer),
            Some(Filer::Submission(Function::HvSwitchEnd))
        );
        assert_eq!(BulkKind::parse("facility-inquiry"), None);
        assert_eq!(
            BulkKind::parse("gen-switch-start")
                .unwrap()
                .point_column()
                .header,
            "受電地点特定番号"
        );
    }

    #[test]
    fn an_intermediation_bulk_function_is_named_by_its_hub_functions_slug() {
        let register = BulkKind::parse("gen-switch-intermediation").unwrap();
        assert_eq!(
            register.filer(),
            Filer::IntermediationRegister(IntermediationPointClass::Gen)
        );
        assert_eq!(register.point_column().header, "受電地点特定番号");
        let decide = BulkKind::parse("hv-switch-intermediation-decision").unwrap();
        assert_eq!(decide.point_column().field, "id");
        assert_eq!(decide.name_ja(), "スイッチング廃止取次一括判断(高圧)");
        // Only the functions that file something are bulk functions.
        assert_eq!(BulkKind::parse("switch-intermediation-inbox"), None);
        let slugs: std::collections::HashSet<&str> =
            BulkKind::ALL.iter().map(|k| k.slug()).collect();
        assert_eq!(slugs.len(), BulkKind::ALL.len(), "slugs are unique");
    }
}
