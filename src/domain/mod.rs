//! The market's vocabulary: areas, point ids, companies, functions and request states.
//! Every type here validates once, at the edge; past the edge it is trusted.

mod area;
mod calendar;
mod company;
mod function;
mod hub_function;
mod password;
mod refusal;
mod request_id;
mod status;
pub mod submission;
mod supply_point;
mod update_flag;

pub use area::{Area, AreaError};
pub use calendar::{BusinessCalendar, LeadTime, today_jst};
pub use company::{
    CompanyCode, CompanyCodeError, CompanyKind, CorporateNumber, CorporateNumberError, UserId,
    UserIdError,
};
pub use function::{
    Callers, Function, FunctionError, FunctionSpec, Operation, PayloadRecord, PointClass, SPECS,
};
pub use hub_function::{Callable, HubFunction, IntermediationStep};
pub use password::{PasswordPolicy, PolicyViolation, character_classes};
pub use refusal::Refusal;
pub use request_id::RequestId;
pub use status::RequestStatus;
pub use supply_point::{SupplyPointId, SupplyPointIdError};
pub use update_flag::UpdateFlag;
