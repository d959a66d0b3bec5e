//! [`OrgNumber`]: a Norwegian organisation number, checked once at the boundary.

use std::fmt;
use std::str::FromStr;

/// A 9-digit Norwegian organisation number whose last digit is a valid mod-11 check digit
/// (weights 3, 2, 7, 6, 5, 4, 3, 2).
///
/// The only way to get one is [`OrgNumber::parse`] (or [`OrgNumber::from_body`], which
/// computes the check digit), so every `OrgNumber` past the boundary is valid.
///
/// ```
/// use reachcheck::OrgNumber;
/// let bergen = OrgNumber::parse("964338531").unwrap();
/// assert_eq!(bergen.to_string(), "964338531");
/// assert!(OrgNumber::parse("964338532").is_err());
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OrgNumber(u32);

const WEIGHTS: [u32; 8] = [3, 2, 7, 6, 5, 4, 3, 2];

/// Why a string is not an organisation number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrgNumberError {
    /// Nothing was given.
    #[error("the organisation number is empty")]
    Empty,
    /// Something other than digits (and spaces between digit groups).
    #[error("`{0}` is not an organisation number: it may contain only digits")]
    NotDigits(String),
    /// Not nine digits.
    #[error("`{value}` is not an organisation number: it has {digits} digits, not 9")]
    WrongLength {
        /// The rejected input.
        value: String,
        /// How many digits it has.
        digits: usize,
    },
    /// The check digit does not match the first eight digits.
    #[error("`{value}` is not a valid organisation number: its check digit should be {expected}")]
    CheckDigit {
        /// The rejected input.
        value: String,
        /// The check digit the first eight digits call for.
        expected: u32,
    },
    /// The first eight digits give remainder 1, for which no check digit exists.
    #[error("`{0}` is not a valid organisation number: no check digit fits its first eight digits")]
    NoCheckDigit(String),
}

impl OrgNumber {
    /// Parses a 9-digit organisation number. Spaces between digit groups (`964 338 531`)
    /// are accepted, as Norwegian documents often print them.
    pub fn parse(input: &str) -> Result<Self, OrgNumberError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(OrgNumberError::Empty);
        }
        let mut value: u32 = 0;
        let mut digits = 0usize;
        for c in trimmed.chars() {
            match c {
                '0'..='9' => {
                    digits += 1;
                    if digits <= 9 {
                        value = value * 10 + (c as u32 - '0' as u32);
                    }
                }
                ' ' => {}
                _ => return Err(OrgNumberError::NotDigits(crate::problem::excerpt(trimmed))),
            }
        }
        if digits != 9 {
            return Err(OrgNumberError::WrongLength {
                value: crate::problem::excerpt(trimmed),
                digits,
            });
        }
        match check_digit(value / 10) {
            Some(expected) if expected == value % 10 => Ok(OrgNumber(value)),
            Some(expected) => Err(OrgNumberError::CheckDigit {
                value: trimmed.to_owned(),
                expected,
            }),
            None => Err(OrgNumberError::NoCheckDigit(trimmed.to_owned())),
        }
    }

    /// Builds the organisation number whose first eight digits are `body`
    /// (`0..=99_999_999`), appending its check digit. `None` when no check digit fits
    /// (about one body in eleven) or `body` has more than eight digits. Used to make
    /// synthetic test and demo data.
    pub fn from_body(body: u32) -> Option<Self> {
        if body > 99_999_999 {
            return None;
        }
        check_digit(body).map(|c| OrgNumber(body * 10 + c))
    }

    /// The organisation number `n` (e.g. `964338531`; leading zeros implied, as `parse`
    /// accepts them), if its check digit is right. The fast path for numbers stored as
    /// integers.
    pub fn from_u32(n: u32) -> Option<Self> {
        if n > 999_999_999 {
            return None;
        }
        (check_digit(n / 10) == Some(n % 10)).then_some(OrgNumber(n))
    }

    /// The number as an integer (e.g. `964338531`).
    pub fn get(self) -> u32 {
        self.0
    }
}

/// The mod-11 check digit for the first eight digits, or `None` if none exists.
fn check_digit(body: u32) -> Option<u32> {
    let mut rest = body;
    let mut sum = 0;
    for w in WEIGHTS.iter().rev() {
        sum += (rest % 10) * w;
        rest /= 10;
    }
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c),
    }
}

impl fmt::Display for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:09}", self.0)
    }
}

impl fmt::Debug for OrgNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OrgNumber({:09})", self.0)
    }
}

impl FromStr for OrgNumber {
    type Err = OrgNumberError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        OrgNumber::parse(s)
    }
}

impl serde::Serialize for OrgNumber {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for OrgNumber {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        OrgNumber::parse(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_u32_checks_like_parse() {
        for n in [964338531_u32, 964338532, 1_000_000_000, 310000019] {
            assert_eq!(
                OrgNumber::from_u32(n),
                OrgNumber::parse(&n.to_string()).ok(),
                "{n}"
            );
        }
        assert_eq!(
            OrgNumber::from_u32(12_345_679).map(|o| o.to_string()),
            OrgNumber::parse("012345679").ok().map(|o| o.to_string())
        );
        assert!(OrgNumber::from_u32(964338531).is_some());
    }

    #[test]
    fn accepts_real_municipality_numbers() {
        for n in ["958935420", "964338531", "944496394", "964965226"] {
            assert_eq!(OrgNumber::parse(n).unwrap().to_string(), n);
        }
    }

    #[test]
    fn accepts_spaces_between_groups() {
        assert_eq!(
            OrgNumber::parse(" 964 338 531 ").unwrap().get(),
            964_338_531
        );
    }

    #[test]
    fn error_messages_name_the_value_and_the_fault() {
        assert_eq!(
            OrgNumber::parse("96433853").unwrap_err().to_string(),
            "`96433853` is not an organisation number: it has 8 digits, not 9"
        );
        assert_eq!(
            OrgNumber::parse("964338532").unwrap_err().to_string(),
            "`964338532` is not a valid organisation number: its check digit should be 1"
        );
        assert_eq!(
            OrgNumber::parse("96433853x").unwrap_err().to_string(),
            "`96433853x` is not an organisation number: it may contain only digits"
        );
        assert_eq!(
            OrgNumber::parse("").unwrap_err().to_string(),
            "the organisation number is empty"
        );
    }

    #[test]
    fn from_body_appends_the_check_digit_parse_accepts() {
        let mut made = 0;
        for body in 31_000_000..31_000_100 {
            if let Some(n) = OrgNumber::from_body(body) {
                made += 1;
                assert_eq!(OrgNumber::parse(&n.to_string()).unwrap(), n);
            } else {
                // remainder 1: every last digit must then be rejected
                for last in 0..10 {
                    assert!(OrgNumber::parse(&format!("{body:08}{last}")).is_err());
                }
            }
        }
        assert!(made > 80, "most bodies have a check digit, got {made}");
        assert_eq!(OrgNumber::from_body(100_000_000), None);
    }

    #[test]
    fn leading_zeros_are_kept_in_display() {
        let n = OrgNumber::from_body(1_234_567).unwrap();
        assert_eq!(n.to_string().len(), 9);
        assert!(n.to_string().starts_with("01234567"));
    }
}
