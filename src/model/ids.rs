//! Identifiers of message types and Altinn resources.

use std::fmt;
use std::sync::Arc;

/// Why a string is not a usable identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Nothing was given.
    #[error("the {0} is empty")]
    Empty(&'static str),
    /// A character outside letters, digits, `.`, `_` and `-`.
    #[error("`{value}` is not a valid {what}: use only letters, digits, `.`, `_` and `-`")]
    BadChar {
        /// Which kind of identifier.
        what: &'static str,
        /// The rejected input.
        value: String,
    },
    /// Longer than 100 characters.
    #[error("`{value}…` is not a valid {what}: it is longer than 100 characters")]
    TooLong {
        /// Which kind of identifier.
        what: &'static str,
        /// The first characters of the rejected input.
        value: String,
    },
}

fn check_id(what: &'static str, input: &str) -> Result<Arc<str>, IdError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(IdError::Empty(what));
    }
    if s.chars().count() > 100 {
        return Err(IdError::TooLong {
            what,
            value: s.chars().take(40).collect(),
        });
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err(IdError::BadChar {
            what,
            value: s.to_owned(),
        });
    }
    Ok(Arc::from(s))
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Parses an identifier: letters, digits, `.`, `_` and `-`, at most 100 characters.
            pub fn parse(input: &str) -> Result<Self, IdError> {
                check_id($what, input).map($name)
            }

            /// The identifier as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

id_type!(
    /// The id of a message type (e.g. `bekymringsmelding`), as used in routing tables.
    MessageTypeId,
    "message type id"
);
id_type!(
    /// The id of an Altinn resource (e.g. `politi-bekymringsmelding`), as in
    /// `urn:altinn:resource:<id>`. Compared exactly, as Altinn's `string-equal` does.
    ResourceId,
    "resource id"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_altinn_style_names_and_reject_others() {
        assert_eq!(
            MessageTypeId::parse(" bekymringsmelding ")
                .unwrap()
                .as_str(),
            "bekymringsmelding"
        );
        assert!(ResourceId::parse("app_ttd_am-devtest.v2").is_ok());
        assert_eq!(
            MessageTypeId::parse("bekymrings melding")
                .unwrap_err()
                .to_string(),
            "`bekymrings melding` is not a valid message type id: use only letters, digits, `.`, `_` and `-`"
        );
        assert_eq!(
            ResourceId::parse("").unwrap_err().to_string(),
            "the resource id is empty"
        );
    }
}
