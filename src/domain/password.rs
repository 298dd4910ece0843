//! The password policy (terms of use: length and character classes), a pure rule applied
//! alike wherever a password is chosen: the API, the web, the CLI and a bulk CSV row.

/// The rules a new password must meet (settings `password_min_length`, `password_min_classes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub min_classes: usize,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 12,
            min_classes: 3,
        }
    }
}

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("a password has at least {0} characters")]
    TooShort(usize),
    #[error("a password mixes at least {0} of: upper case, lower case, digits, symbols")]
    TooFewClasses(usize),
}

impl PolicyViolation {
    pub fn message_ja(&self) -> String {
        match self {
            PolicyViolation::TooShort(n) => format!("パスワードは{n}文字以上にしてください"),
            PolicyViolation::TooFewClasses(n) => format!(
                "パスワードには英大文字・英小文字・数字・記号のうち{n}種類以上を含めてください"
            ),
        }
    }
}

impl PasswordPolicy {
    pub fn check(&self, password: &str) -> Result<(), PolicyViolation> {
        if password.chars().count() < self.min_length {
            return Err(PolicyViolation::TooShort(self.min_length));
        }
        if character_classes(password) < self.min_classes {
            return Err(PolicyViolation::TooFewClasses(self.min_classes));
        }
        Ok(())
    }
}

/// How many of the four classes (upper, lower, digit, symbol) `password` uses. Any character
/// that is not an ASCII letter or digit counts as a symbol.
pub fn character_classes(password: &str) -> usize {
    let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
    [
        has(|c| c.is_ascii_uppercase()),
        has(|c| c.is_ascii_lowercase()),
        has(|c| c.is_ascii_digit()),
        has(|c| !c.is_ascii_alphanumeric()),
    ]
    .into_iter()
    .filter(|&b| b)
    .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_has_at_least_twelve_characters() {
        let p = PasswordPolicy::default();
        assert_eq!(p.check("Ab1-Ab1-Ab1"), Err(PolicyViolation::TooShort(12)));
        assert_eq!(p.check("Ab1-Ab1-Ab1-"), Ok(()));
        // Characters, not bytes: twelve kana are twelve.
        assert_eq!(
            p.check("パスワードパスワードパスA1"),
            Ok(()),
            "kana count as symbols"
        );
    }

    #[test]
    fn a_password_mixes_three_of_the_four_classes() {
        let p = PasswordPolicy::default();
        assert_eq!(
            p.check("alllowercaseletters"),
            Err(PolicyViolation::TooFewClasses(3))
        );
        assert_eq!(
            p.check("lower-and-symbols"),
            Err(PolicyViolation::TooFewClasses(3))
        );
        assert_eq!(p.check("lower-and-symbols-9"), Ok(()));
        assert_eq!(p.check("UpperAndLower9"), Ok(()));
        assert_eq!(p.check("UPPER_AND_SYMBOL_9"), Ok(()));
        assert_eq!(character_classes("aA1!"), 4);
        assert_eq!(character_classes(""), 0);
    }

    #[test]
    fn the_policy_is_configurable() {
        let p = PasswordPolicy {
            min_length: 8,
            min_classes: 4,
        };
        assert_eq!(p.check("aA1!aA1!"), Ok(()));
        assert_eq!(p.check("aA1aaA1a"), Err(PolicyViolation::TooFewClasses(4)));
        assert_eq!(p.check("aA1!"), Err(PolicyViolation::TooShort(8)));
    }
}
