//! National identity numbers (fødselsnummer, D-number): recognised so that they are never
//! stored, logged or shown (docs/design.md, "Real components").
//!
//! An identity number is 11 digits, optionally with one space, dot or hyphen after the 6th,
//! whose two last digits are both valid mod-11 check digits. Text that reachcheck ingests
//! from Altinn (a sender's own reference, a recipient, a notification's recipient) has them
//! masked with [`mask_identity_numbers`]; [`is_identity_number`] tells whether a whole
//! value is one.

use std::borrow::Cow;

/// What a masked identity number is replaced with.
pub const MASK: &str = "***********";

const WEIGHTS_1: [u32; 9] = [3, 7, 6, 1, 8, 9, 4, 5, 2];
const WEIGHTS_2: [u32; 10] = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2];

fn control(digits: &[u32], weights: &[u32]) -> Option<u32> {
    let sum: u32 = digits.iter().zip(weights).map(|(d, w)| d * w).sum();
    match 11 - sum % 11 {
        11 => Some(0),
        10 => None,
        c => Some(c),
    }
}

/// Whether 11 digits pass both mod-11 checks.
fn checks(d: &[u32; 11]) -> bool {
    control(&d[..9], &WEIGHTS_1) == Some(d[9]) && control(&d[..10], &WEIGHTS_2) == Some(d[10])
}

/// The length in bytes of an identity number starting at byte `i` of `b`, if one does:
/// 11 digits with at most one separator after the 6th, not part of a longer digit run.
fn match_at(b: &[u8], i: usize) -> Option<usize> {
    if i > 0 && b[i - 1].is_ascii_digit() {
        return None;
    }
    let mut d = [0u32; 11];
    let mut n = 0;
    let mut j = i;
    while n < 11 {
        let c = *b.get(j)?;
        if c.is_ascii_digit() {
            d[n] = u32::from(c - b'0');
            n += 1;
        } else if n == 6 && j == i + 6 && matches!(c, b' ' | b'.' | b'-') {
            // The one separator allowed, right after the sixth digit.
        } else {
            return None;
        }
        j += 1;
    }
    if b.get(j).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    checks(&d).then_some(j - i)
}

/// Whether `s` (trimmed) is a national identity number.
pub fn is_identity_number(s: &str) -> bool {
    let b = s.trim().as_bytes();
    match_at(b, 0) == Some(b.len()) && !b.is_empty()
}

/// `text` with every identity number in it replaced by [`MASK`]; borrowed when it has none.
pub fn mask_identity_numbers(text: &str) -> Cow<'_, str> {
    let b = text.as_bytes();
    let mut out: Option<String> = None;
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i].is_ascii_digit()
            && let Some(len) = match_at(b, i)
        {
            let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
            // Digits and separators are ASCII, so these are character boundaries.
            o.push_str(&text[copied..i]);
            o.push_str(MASK);
            i += len;
            copied = i;
            continue;
        }
        i += 1;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[copied..]);
            Cow::Owned(o)
        }
    }
}

/// Whether `text` contains an identity number anywhere.
pub fn contains_identity_number(text: &str) -> bool {
    matches!(mask_identity_numbers(text), Cow::Owned(_))
}

/// Why a piece of free text (a justification, a contact line, a name) is refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FreeTextError {
    /// It holds a national identity number.
    #[error("it contains a national identity number: free text must hold no personal data")]
    IdentityNumber,
    /// It is longer than allowed.
    #[error("it is {given} characters long: at most {max}")]
    TooLong {
        /// Its length in characters.
        given: usize,
        /// The most allowed.
        max: usize,
    },
    /// It holds a control character other than a line break or a tab.
    #[error("it contains the control character U+{0:04X}")]
    Control(u32),
    /// It holds a bidirectional override or isolate, which can make text read otherwise
    /// than it is stored.
    #[error("it contains the bidirectional formatting character U+{0:04X}")]
    Bidi(u32),
}

/// Checks free text a person typed in for reachcheck to keep (docs/design.md, "Real components"):
/// no identity number, at most `max` characters, no control characters but line breaks and
/// tabs, no bidirectional overrides or isolates.
pub fn check_free_text(text: &str, max: usize) -> Result<(), FreeTextError> {
    let given = text.chars().count();
    if given > max {
        return Err(FreeTextError::TooLong { given, max });
    }
    for c in text.chars() {
        let u = u32::from(c);
        if matches!(u, 0x202A..=0x202E | 0x2066..=0x2069) {
            return Err(FreeTextError::Bidi(u));
        }
        if c.is_control() && c != '\n' && c != '\t' && c != '\r' {
            return Err(FreeTextError::Control(u));
        }
    }
    if contains_identity_number(text) {
        return Err(FreeTextError::IdentityNumber);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_text_without_personal_data_or_tricks_passes_and_the_rest_is_named() {
        assert_eq!(
            check_free_text("Avtalt med kommunen, sak 2026/17.\nOK", 200),
            Ok(())
        );
        assert_eq!(
            check_free_text(&format!("gjelder {VALID}"), 200),
            Err(FreeTextError::IdentityNumber)
        );
        assert_eq!(
            check_free_text("010170 12343", 200),
            Err(FreeTextError::IdentityNumber)
        );
        assert_eq!(
            check_free_text(&"x".repeat(201), 200),
            Err(FreeTextError::TooLong {
                given: 201,
                max: 200
            })
        );
        assert_eq!(check_free_text("a\0b", 200), Err(FreeTextError::Control(0)));
        assert_eq!(
            check_free_text("abc\u{202E}fed", 200),
            Err(FreeTextError::Bidi(0x202E))
        );
        assert_eq!(
            check_free_text("\u{2067}x", 200),
            Err(FreeTextError::Bidi(0x2067))
        );
        // An error never repeats the text.
        let e = check_free_text(&format!("gjelder {VALID}"), 200)
            .unwrap_err()
            .to_string();
        assert!(!e.contains(VALID), "{e}");
    }

    /// Synthetic numbers that pass both checks (made for tests; no real person).
    const VALID: &str = "01017012343";

    #[test]
    fn valid_numbers_pass_both_check_digits_and_others_do_not() {
        assert!(is_identity_number(VALID));
        assert!(is_identity_number("010170 12343"));
        assert!(is_identity_number("010170.12343"));
        assert!(is_identity_number("010170-12343"));
        assert!(
            !is_identity_number("01017012344"),
            "second check digit wrong"
        );
        assert!(
            !is_identity_number("01017012335"),
            "first check digit wrong"
        );
        assert!(!is_identity_number("0101701234"), "ten digits");
        assert!(
            !is_identity_number("0101 7012343"),
            "separator in the wrong place"
        );
        assert!(!is_identity_number("010170--12343"), "two separators");
        assert!(!is_identity_number(""));
    }

    #[test]
    fn masking_replaces_only_whole_numbers() {
        assert_eq!(
            mask_identity_numbers(&format!("sak 2026/17 gjelder {VALID}, se vedlegg")),
            format!("sak 2026/17 gjelder {MASK}, se vedlegg")
        );
        assert_eq!(
            mask_identity_numbers("a 010170-12343 b 010170 12343"),
            format!("a {MASK} b {MASK}")
        );
        // Part of a longer run of digits: a reference, not a person.
        assert!(matches!(
            mask_identity_numbers(&format!("9{VALID}")),
            Cow::Borrowed(_)
        ));
        assert!(matches!(
            mask_identity_numbers("ref 2026-000123"),
            Cow::Borrowed(_)
        ));
        assert_eq!(mask_identity_numbers(VALID), MASK);
        assert!(contains_identity_number(&format!("x{VALID}")));
        assert!(!contains_identity_number("ordinary text æøå 12"));
    }
}
