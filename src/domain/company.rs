//! 事業者コード and user ids.

use std::fmt;

/// The company code of a retailer or DR contractor registration: 4 or 5 ASCII letters/digits
/// (the real codes are short alphanumerics such as "A0123"; their exact layout is not public).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompanyCode(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a company code is 4 or 5 capital letters or digits, not {0:?}")]
pub struct CompanyCodeError(pub String);

impl CompanyCode {
    pub fn parse(s: &str) -> Result<Self, CompanyCodeError> {
        let ok = (4..=5).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(CompanyCode(s.to_string()))
        } else {
            Err(CompanyCodeError(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CompanyCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a registration is: one company that sells and also runs demand response has two
/// registrations, one of each kind.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    strum::EnumIter,
    strum::EnumMessage,
    strum::EnumString,
    strum::IntoStaticStr,
)]
#[strum(serialize_all = "snake_case")]
pub enum CompanyKind {
    #[strum(message = "小売電気事業者")]
    Retailer,
    #[strum(message = "需要抑制契約者")]
    DrContractor,
}

impl CompanyKind {
    /// The word the database and the CLI use.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn name_ja(self) -> &'static str {
        strum::EnumMessage::get_message(&self).unwrap_or_default()
    }

    pub fn parse(s: &str) -> Option<CompanyKind> {
        s.parse().ok()
    }

    /// Whether a registration of this kind may call `function` (catalogue "who" column).
    pub fn may_call(self, function: super::Function) -> bool {
        match self {
            CompanyKind::Retailer => true,
            CompanyKind::DrContractor => function.open_to_dr(),
        }
    }
}

/// A user id: issued to one natural person; 3 to 32 characters of letters, digits, `.`, `_`, `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a user id is 3 to 32 letters, digits, '.', '_' or '-', not {0:?}")]
pub struct UserIdError(pub String);

impl UserId {
    pub fn parse(s: &str) -> Result<Self, UserIdError> {
        let ok = (3..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
        if ok {
            Ok(UserId(s.to_string()))
        } else {
            Err(UserIdError(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the id is in `company`'s namespace: it begins with the company code (either
    /// case) and one of `.`, `_`, `-` (`a0001.sato`, `A0001-sato`). Namespaces never overlap
    /// (a code is 4–5 capitals or digits, and the separator ends it), so an id a registration
    /// may choose is never one another registration could hold.
    pub fn belongs_to(&self, company: &CompanyCode) -> bool {
        let code = company.as_str();
        self.0.len() > code.len() + 1
            && self.0.is_char_boundary(code.len())
            && self.0[..code.len()].eq_ignore_ascii_case(code)
            && b"._-".contains(&self.0.as_bytes()[code.len()])
    }

    /// The registration whose namespace the id looks to be in: its part before the first
    /// `.`, `_` or `-`, upper-cased, if that is a company code's form.
    pub fn namespace(&self) -> Option<CompanyCode> {
        let head = self.0.split(['.', '_', '-']).next()?;
        (head.len() < self.0.len())
            .then(|| CompanyCode::parse(&head.to_ascii_uppercase()).ok())
            .flatten()
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 法人番号: the 13-digit number the National Tax Agency gives every company. It ties a
/// company's two registrations (retailer and DR contractor, terms 2.1.1) together, and names a
/// contractor (受託者, terms 2.3) that acts under a registration. The first digit is a check
/// digit over the other twelve, so a mistyped number is refused, not stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CorporateNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CorporateNumberError {
    #[error("a corporate number (法人番号) is 13 digits, not {0:?}")]
    Shape(String),
    #[error("the check digit of corporate number {0} is wrong")]
    CheckDigit(String),
}

impl CorporateNumber {
    pub fn parse(s: &str) -> Result<Self, CorporateNumberError> {
        if s.len() != 13 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CorporateNumberError::Shape(s.to_string()));
        }
        if s.as_bytes()[0] - b'0' != Self::check_digit(&s[1..]) {
            return Err(CorporateNumberError::CheckDigit(s.to_string()));
        }
        Ok(CorporateNumber(s.to_string()))
    }

    /// 9 − (Σ Pn·Qn mod 9), Pn the n-th of the twelve digits counted from the right, Qn 1 for
    /// odd n and 2 for even n (the NTA's published rule).
    fn check_digit(twelve: &str) -> u8 {
        let sum: u32 = twelve
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 2 })
            .sum();
        9 - (sum % 9) as u8
    }

    /// The valid number whose last twelve digits are `twelve` (tests and demo data).
    pub fn with_check_digit(twelve: &str) -> Result<Self, CorporateNumberError> {
        if twelve.len() != 12 || !twelve.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CorporateNumberError::Shape(twelve.to_string()));
        }
        Self::parse(&format!("{}{twelve}", Self::check_digit(twelve)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorporateNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_id_belongs_to_the_registration_whose_code_and_a_separator_begin_it() {
        let a = CompanyCode::parse("A0001").unwrap();
        let short = CompanyCode::parse("A000").unwrap();
        let id = |s: &str| UserId::parse(s).unwrap();
        for ok in ["a0001.sato", "A0001-sato", "a0001_x"] {
            assert!(id(ok).belongs_to(&a), "{ok}");
            assert_eq!(id(ok).namespace(), Some(a.clone()), "{ok}");
        }
        for not in ["sato.a0001", "a0001sato", "a0001.", "b0002.sato"] {
            assert!(!id(not).belongs_to(&a), "{not}");
        }
        // A code that begins another's is no prefix of the other's ids.
        assert!(!id("a0001.sato").belongs_to(&short));
        assert!(id("a000.sato").belongs_to(&short));
        assert_eq!(id("dr.user").namespace(), None);
        assert_eq!(id("plain").namespace(), None);
    }

    #[test]
    fn a_company_code_is_four_or_five_capitals_or_digits() {
        assert!(CompanyCode::parse("A0123").is_ok());
        assert!(CompanyCode::parse("9001").is_ok());
        for bad in ["A01", "A012345", "a0123", "A-12", ""] {
            assert!(CompanyCode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_user_id_is_short_and_plain() {
        assert!(UserId::parse("taro.yamada").is_ok());
        for bad in ["ab", "has space", "日本語ユーザ", &"x".repeat(33)] {
            assert!(UserId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_corporate_number_is_thirteen_digits_with_its_check_digit() {
        // The National Tax Agency's own number.
        assert!(CorporateNumber::parse("7000012050002").is_ok());
        assert_eq!(
            CorporateNumber::with_check_digit("000012050002").map(|n| n.to_string()),
            Ok("7000012050002".into())
        );
        assert!(matches!(
            CorporateNumber::parse("6000012050002"),
            Err(CorporateNumberError::CheckDigit(_))
        ));
        for bad in ["700001205000", "70000120500021", "700001205000x", ""] {
            assert!(
                matches!(
                    CorporateNumber::parse(bad),
                    Err(CorporateNumberError::Shape(_))
                ),
                "{bad}"
            );
        }
    }
}
