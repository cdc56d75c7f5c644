//! Identifiers (DESIGN §4): lowercase UUIDs for the chat service's ids, a ULID for exports.
//! Every id is validated when it is built or deserialized, so a bad id never reaches an AWS call.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::domain::error::Error;

/// Checks the canonical lowercase 8-4-4-4-12 hex form. `uuid::Uuid::parse_str` alone would also
/// accept uppercase, braces and URNs, which would give one account several spellings (and keys).
fn is_lowercase_uuid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_digit() || (b'a'..=b'f').contains(&b),
        })
}

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $label:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// What the id is called in messages to the administrator.
            pub const LABEL: &'static str = $label;

            pub fn parse(value: &str) -> Result<Self, Error> {
                if is_lowercase_uuid(value) {
                    Ok(Self(value.to_owned()))
                } else {
                    Err(Error::BadRequest(format!(
                        "{} must be a lowercase UUID such as 6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f; got {}",
                        $label,
                        quote_for_message(value)
                    )))
                }
            }

            /// A fresh random id (seeding and tests).
            pub fn random() -> Self {
                Self(uuid::Uuid::new_v4().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self, Error> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                Self::parse(&raw).map_err(serde::de::Error::custom)
            }
        }
    };
}

uuid_id!(
    /// An Enterprise or Team chat account.
    AccountId,
    "accountId"
);
uuid_id!(
    /// A user of an account (managed or not).
    UserId,
    "userId"
);
uuid_id!(
    /// A chat room; a ROOM conversation's `conversationId` is its room id.
    RoomId,
    "roomId"
);
uuid_id!(
    /// A 1:1, group or room conversation.
    ConversationId,
    "conversationId"
);
uuid_id!(
    /// A chat message (carries up to 25 attachments).
    MessageId,
    "messageId"
);
uuid_id!(
    /// One uploaded file.
    AttachmentId,
    "attachmentId"
);

impl From<&ConversationId> for RoomId {
    fn from(id: &ConversationId) -> Self {
        RoomId(id.0.clone())
    }
}

/// An export request: a ULID, so ids sort by request time (the newest-first listing relies on it).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ExportId(ulid::Ulid);

impl ExportId {
    pub const LABEL: &'static str = "exportId";

    pub fn new() -> Self {
        Self(ulid::Ulid::new())
    }

    /// An id whose time part is `at`, so ids sort like the requests' times.
    pub fn at(at: crate::domain::time::Timestamp) -> Self {
        Self(ulid::Ulid::from_datetime(at.as_datetime().into()))
    }

    pub fn parse(value: &str) -> Result<Self, Error> {
        // Canonical form only: 26 uppercase Crockford base32 characters, first one 0-7.
        let canonical = value.len() == 26
            && value.as_bytes()[0] <= b'7' // larger first digits overflow 128 bits
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b.is_ascii_uppercase() && !b"ILOU".contains(&b)));
        match ulid::Ulid::from_string(value) {
            Ok(id) if canonical => Ok(Self(id)),
            _ => Err(Error::BadRequest(format!(
                "exportId must be a 26-character ULID such as 01JDZ3Q4V5W6X7Y8Z9A0B1C2D3; got {}",
                quote_for_message(value)
            ))),
        }
    }

    /// The id's 16 bytes (a download link's token carries them: `domain::link_token`).
    pub fn to_bytes(&self) -> [u8; 16] {
        self.0.to_bytes()
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(ulid::Ulid::from_bytes(bytes))
    }

    /// Milliseconds since the Unix epoch encoded in the id.
    pub fn timestamp_ms(&self) -> u64 {
        self.0.timestamp_ms()
    }
}

impl Default for ExportId {
    fn default() -> Self {
        Self::new()
    }
}

impl FromStr for ExportId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Self::parse(s)
    }
}

impl fmt::Display for ExportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for ExportId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExportId({})", self.0)
    }
}

impl Serialize for ExportId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ExportId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Echoes a rejected value back to the administrator, bounded and with control characters escaped,
/// so an error message can never carry a megabyte or a terminal escape sequence.
pub fn quote_for_message(value: &str) -> String {
    const MAX: usize = 64;
    let mut out: String = value.chars().take(MAX).flat_map(char::escape_debug).collect();
    if value.chars().count() > MAX {
        out.push('…');
    }
    format!("\"{out}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_lowercase_uuids_only() {
        assert!(AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").is_ok());
        for bad in [
            "",
            "6F1C2D3E-4B5A-4C7D-8E9F-0A1B2C3D4E5F",
            "{6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f}",
            "6f1c2d3e4b5a4c7d8e9f0a1b2c3d4e5f",
            "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5g",
            "../6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5",
            "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f/",
        ] {
            let err = AccountId::parse(bad).unwrap_err();
            assert_eq!(err.code(), "BadRequestException", "{bad:?}");
            assert!(err.to_string().contains("accountId"), "{err}");
        }
    }

    #[test]
    fn export_ids_are_canonical_ulids_that_sort_by_time() {
        let a = ExportId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = ExportId::new();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
        assert_eq!(ExportId::parse(&a.to_string()).unwrap(), a);
        for bad in [
            "",
            "01jdz3q4v5w6x7y8z9a0b1c2d3",
            "01JDZ3Q4V5W6X7Y8Z9A0B1C2D",
            "01JDZ3Q4V5W6X7Y8Z9A0B1C2DL",
            "81JDZ3Q4V5W6X7Y8Z9A0B1C2D3",
        ] {
            assert!(ExportId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ids_deserialize_with_validation() {
        let ok: AccountId = serde_json::from_str("\"6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f\"").unwrap();
        assert_eq!(ok.as_str(), "6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f");
        assert!(serde_json::from_str::<AccountId>("\"nope\"").is_err());
    }

    #[test]
    fn rejected_values_are_quoted_bounded_and_escaped() {
        let long = "x".repeat(1000);
        let quoted = quote_for_message(&long);
        assert!(quoted.chars().count() < 70, "{quoted}");
        assert_eq!(quote_for_message("a\u{1b}[31m\n"), "\"a\\u{1b}[31m\\n\"");
    }
}
