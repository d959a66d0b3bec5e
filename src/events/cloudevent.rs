//! A CloudEvent pushed by Altinn Events, parsed once at the webhook (API-NOTES-2026 §4.2,
//! §4.4): the subscription handshake (`platform.events.validatesubscription`) or a
//! Correspondence event naming a resource (`urn:altinn:resource:<id>`) and a message
//! (`resourceinstance`, the correspondence id). Every problem names its field; nothing of
//! the body is quoted back (`subject` and `alternativesubject` may name a person and are
//! never read).

use jiff::Timestamp;
use serde_json::{Map, Value};

use crate::model::ResourceId;
use crate::outcome::CorrespondenceId;

/// The type of the validation event Altinn posts once a subscription is created.
pub const VALIDATION_TYPE: &str = "platform.events.validatesubscription";
/// The prefix of every Correspondence event type.
pub const CORRESPONDENCE_PREFIX: &str = "no.altinn.correspondence.";
/// The prefix of an event's `resource`.
pub const RESOURCE_PREFIX: &str = "urn:altinn:resource:";
/// The longest event id accepted.
pub const MAX_ID_LEN: usize = 256;

/// What a push said, once parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pushed {
    /// The subscription handshake: answer 2xx.
    Validation {
        /// The event id.
        id: String,
    },
    /// A Correspondence event: a hint to fetch that message again.
    Correspondence(Hint),
    /// Any other event type (never subscribed to by reachcheck).
    Other {
        /// The event id.
        id: String,
    },
}

/// A Correspondence event: which message may have changed, and how Altinn says it did.
/// A hint only: never evidence by itself (docs/design.md, "Message outcomes").
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hint {
    /// The event id (de-duplication).
    pub id: String,
    /// The type without [`CORRESPONDENCE_PREFIX`], e.g. `correspondencereceiverread`.
    pub kind: String,
    /// The resource the message was sent under.
    pub resource: ResourceId,
    /// The message.
    pub correspondence: CorrespondenceId,
    /// When Altinn says it happened, if the event says.
    pub time: Option<Timestamp>,
}

/// Why a body is not an event we can use: names the field, never quotes the value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not JSON at all.
    #[error("the body is not a JSON object (line {line}, column {column})")]
    NotJson {
        /// Where the parser stopped.
        line: usize,
        /// Where the parser stopped.
        column: usize,
    },
    /// JSON, but not an object.
    #[error("the body is not a JSON object: a CloudEvent is one")]
    NotObject,
    /// A required attribute is absent.
    #[error("`{0}` is missing: a CloudEvent from Altinn carries it")]
    Missing(&'static str),
    /// An attribute that is present but unusable.
    #[error("`{field}` {why}")]
    Invalid {
        /// The attribute.
        field: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
}

impl EventError {
    /// The attribute at fault (`body` when the whole body is).
    pub fn field(&self) -> &'static str {
        match self {
            EventError::NotJson { .. } | EventError::NotObject => "body",
            EventError::Missing(f) => f,
            EventError::Invalid { field, .. } => field,
        }
    }
}

fn text<'a>(o: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, EventError> {
    match o.get(field) {
        None | Some(Value::Null) => Err(EventError::Missing(field)),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(EventError::Invalid {
            field,
            why: "is not a string",
        }),
    }
}

/// Parses a pushed body.
///
/// # Errors
/// Not a JSON object; `specversion` not `1.0`; no usable `id` or `type`; for a
/// Correspondence event, a `resource` that is not `urn:altinn:resource:<id>`, a
/// `resourceinstance` that is not a correspondence id, or a `time` that is not RFC 3339.
pub fn parse(body: &[u8]) -> Result<Pushed, EventError> {
    let v: Value = serde_json::from_slice(body).map_err(|e| EventError::NotJson {
        line: e.line(),
        column: e.column(),
    })?;
    let Value::Object(o) = v else {
        return Err(EventError::NotObject);
    };
    if text(&o, "specversion")? != "1.0" {
        return Err(EventError::Invalid {
            field: "specversion",
            why: "is not `1.0`",
        });
    }
    let id = text(&o, "id")?;
    if id.trim().is_empty() || id.len() > MAX_ID_LEN || id.chars().any(char::is_control) {
        return Err(EventError::Invalid {
            field: "id",
            why: "is empty, longer than 256 characters or holds control characters",
        });
    }
    let id = id.to_owned();
    let kind = text(&o, "type")?;
    if kind == VALIDATION_TYPE {
        return Ok(Pushed::Validation { id });
    }
    let Some(kind) = kind.strip_prefix(CORRESPONDENCE_PREFIX) else {
        return Ok(Pushed::Other { id });
    };
    let resource = text(&o, "resource")?
        .strip_prefix(RESOURCE_PREFIX)
        .and_then(|r| ResourceId::parse(r).ok())
        .ok_or(EventError::Invalid {
            field: "resource",
            why: "is not `urn:altinn:resource:<resource id>`",
        })?;
    let correspondence = CorrespondenceId::parse(text(&o, "resourceinstance")?).map_err(|_| {
        EventError::Invalid {
            field: "resourceinstance",
            why: "is not a correspondence id (a UUID)",
        }
    })?;
    let time = match o.get("time") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => {
            Some(s.parse::<Timestamp>().map_err(|_| EventError::Invalid {
                field: "time",
                why: "is not an RFC 3339 time",
            })?)
        }
        Some(_) => {
            return Err(EventError::Invalid {
                field: "time",
                why: "is not a string",
            });
        }
    };
    Ok(Pushed::Correspondence(Hint {
        id,
        kind: kind.to_owned(),
        resource,
        correspondence,
        time,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const READ: &str = r#"{"id":"0d7c1bde-5b7a-4b1e-9b5c-2f3a1d4e5f60","specversion":"1.0",
        "time":"2026-11-20T08:10:00.123456Z","resource":"urn:altinn:resource:politi-bekymringsmelding",
        "resourceinstance":"019ce781-a5c0-7d03-8f51-3e7dda66dd74",
        "type":"no.altinn.correspondence.correspondencereceiverread",
        "source":"https://platform.altinn.no/correspondence/api/v1/correspondence",
        "subject":"urn:altinn:organization:identifier-no:310000019"}"#;

    #[test]
    fn a_correspondence_event_is_a_hint_about_one_message() {
        let Pushed::Correspondence(h) = parse(READ.as_bytes()).unwrap() else {
            panic!("not a hint");
        };
        assert_eq!(h.kind, "correspondencereceiverread");
        assert_eq!(h.resource.as_str(), "politi-bekymringsmelding");
        assert_eq!(
            h.correspondence.to_string(),
            "019ce781-a5c0-7d03-8f51-3e7dda66dd74"
        );
        assert_eq!(h.id, "0d7c1bde-5b7a-4b1e-9b5c-2f3a1d4e5f60");
        assert!(h.time.is_some());
    }

    #[test]
    fn the_shared_samples_parse() {
        let validation = r#"{"id":"694caa35-8b25-4cd7-b800-f6eeb93c56ed","source":"https://platform.altinn.no/events/api/v1/subscriptions/1234","type":"platform.events.validatesubscription","specversion":"1.0"}"#;
        assert_eq!(
            parse(validation.as_bytes()).unwrap(),
            Pushed::Validation {
                id: "694caa35-8b25-4cd7-b800-f6eeb93c56ed".into()
            }
        );
        let never = r#"{"id":"1faa107f-3c0a-4fa6-9fce-7cee8838e258","time":"2026-08-20T10:00:00Z","type":"no.altinn.correspondence.correspondencereceiverneverread","source":"https://platform.tt02.altinn.no/correspondence/api/v1/correspondence","subject":"urn:altinn:organization:identifier-no:314249879","resource":"urn:altinn:resource:nabovarsel","specversion":"1.0","resourceinstance":"019ce781-a5c0-7d03-8f51-3e7dda66dd74"}"#;
        assert!(matches!(
            parse(never.as_bytes()).unwrap(),
            Pushed::Correspondence(h) if h.kind == "correspondencereceiverneverread"
        ));
        let other = r#"{"id":"x","type":"app.instance.created","specversion":"1.0"}"#;
        assert_eq!(
            parse(other.as_bytes()).unwrap(),
            Pushed::Other { id: "x".into() }
        );
    }

    #[test]
    fn every_problem_names_its_field_and_never_quotes_the_body() {
        let with = |k: &str, v: Value| {
            let mut o: Value = serde_json::from_str(READ).unwrap();
            if v.is_null() {
                o.as_object_mut().unwrap().remove(k);
            } else {
                o[k] = v;
            }
            serde_json::to_vec(&o).unwrap()
        };
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (b"{not json".to_vec(), "body"),
            (b"[1,2]".to_vec(), "body"),
            (with("specversion", Value::from("0.3")), "specversion"),
            (with("id", Value::Null), "id"),
            (with("id", Value::from("")), "id"),
            (with("id", Value::from("a".repeat(300))), "id"),
            (with("id", Value::from(7)), "id"),
            (with("type", Value::Null), "type"),
            (
                with("resource", Value::from("politi-bekymringsmelding")),
                "resource",
            ),
            (with("resource", Value::Null), "resource"),
            (
                with("resourceinstance", Value::from("01017012343")),
                "resourceinstance",
            ),
            (with("time", Value::from("yesterday")), "time"),
        ];
        for (body, field) in cases {
            let e = parse(&body).unwrap_err();
            assert_eq!(e.field(), field, "{e}");
            assert!(!e.to_string().contains("01017012343"), "{e}");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        for body in [
            &b""[..],
            b"\xff\xfe",
            b"null",
            b"{\"specversion\":\"1.0\"}",
            b"{}",
        ] {
            assert!(parse(body).is_err());
        }
    }
}
