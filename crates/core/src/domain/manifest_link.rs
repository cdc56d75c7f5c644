//! The token of a self-service user's manifest link (DESIGN §15): the link the Assistant sends when
//! the user's export ends. It fetches the manifest through the download function, as a hand-out
//! (counted, kept in the export's history), and it stops working when the export's links do, or at
//! once when the export is revoked. A pre-signed S3 URL could do neither: role credentials end
//! within hours, not 6 days, and an S3 URL cannot be taken back.
//!
//! Layout (kind 3; 55 bytes, then 74 base64url characters without padding):
//! `version(1) | kid(1) | kind(1) | userId(16) | exportId(16) | expiresAt(u32, s) | mac(16)`, the MAC
//! made as a file link's ([`link_token`]) with the same export link key. The kind is signed, so a
//! manifest link is never read as a file link, and the two have different lengths besides.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::domain::ids::{ExportId, UserId};
use crate::domain::link_token::{LinkError, MAC_BYTES, VERSION, uuid_bytes};
use crate::domain::time::Timestamp;

/// The kind byte of a user's manifest link (file links are 1 and 2).
pub const KIND_USER_MANIFEST: u8 = 3;
const SIGNED_BYTES: usize = 1 + 1 + 1 + 16 + 16 + 4;
/// Bytes of a manifest link's token before its encoding.
pub const TOKEN_BYTES: usize = SIGNED_BYTES + MAC_BYTES;
/// Characters of an encoded manifest link's token.
pub const TOKEN_CHARS: usize = (TOKEN_BYTES * 4).div_ceil(3);
/// Where manifest links live on the download function's URL.
pub const PATH_PREFIX: &str = "/m/";

/// What a manifest link says: this user's export's manifest, until then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestClaims {
    pub kid: u8,
    pub user: UserId,
    pub export_id: ExportId,
    /// Whole seconds.
    pub expires_at: Timestamp,
}

fn signed_bytes(claims: &ManifestClaims) -> Option<[u8; SIGNED_BYTES]> {
    let expires = u32::try_from(claims.expires_at.unix_millis().div_euclid(1000)).ok()?;
    let mut bytes = [0u8; SIGNED_BYTES];
    bytes[0] = VERSION;
    bytes[1] = claims.kid;
    bytes[2] = KIND_USER_MANIFEST;
    bytes[3..19].copy_from_slice(&uuid_bytes(claims.user.as_str()));
    bytes[19..35].copy_from_slice(&claims.export_id.to_bytes());
    bytes[35..39].copy_from_slice(&expires.to_be_bytes());
    Some(bytes)
}

fn keyed(key: &[u8; 32]) -> Hmac<Sha256> {
    <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length")
}

/// The token for `claims` under the export's link key; `None` for an expiry outside the layout
/// (before 1970 or after 2106).
pub fn encode(claims: &ManifestClaims, key: &[u8; 32]) -> Option<String> {
    let signed = signed_bytes(claims)?;
    let mut mac = keyed(key);
    mac.update(&signed);
    let mut bytes = [0u8; TOKEN_BYTES];
    bytes[..SIGNED_BYTES].copy_from_slice(&signed);
    bytes[SIGNED_BYTES..].copy_from_slice(&mac.finalize().into_bytes()[..MAC_BYTES]);
    Some(URL_SAFE_NO_PAD.encode(bytes))
}

/// The link itself: `base_url` (the download function's URL) and the token.
pub fn link(base_url: &str, claims: &ManifestClaims, key: &[u8; 32]) -> Option<String> {
    Some(format!("{}{PATH_PREFIX}{}", base_url.trim_end_matches('/'), encode(claims, key)?))
}

/// A manifest link's claims, read but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    claims: ManifestClaims,
    signed: [u8; SIGNED_BYTES],
    mac: [u8; MAC_BYTES],
}

impl Unverified {
    /// The claims, to find the key to verify with; trust none of them before [`Self::verify`].
    pub fn claims(&self) -> &ManifestClaims {
        &self.claims
    }

    /// The claims, if `key` (the export's link key) made the token; compared in constant time.
    pub fn verify(self, key: &[u8; 32]) -> Result<ManifestClaims, LinkError> {
        let mut mac = keyed(key);
        mac.update(&self.signed);
        mac.verify_truncated_left(&self.mac).map_err(|_| LinkError::Forged)?;
        Ok(self.claims)
    }
}

/// The claims a token makes, unverified; `Malformed` for anything that is not a manifest link's.
pub fn decode(token: &str) -> Result<Unverified, LinkError> {
    if token.len() != TOKEN_CHARS {
        return Err(LinkError::Malformed);
    }
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| LinkError::Malformed)?;
    let bytes: [u8; TOKEN_BYTES] = raw.try_into().map_err(|_| LinkError::Malformed)?;
    if bytes[0] != VERSION || bytes[2] != KIND_USER_MANIFEST {
        return Err(LinkError::Malformed);
    }
    let user: [u8; 16] = bytes[3..19].try_into().expect("16 bytes");
    let user = UserId::parse(&uuid::Uuid::from_bytes(user).to_string()).map_err(|_| LinkError::Malformed)?;
    let export_id = ExportId::from_bytes(bytes[19..35].try_into().expect("16 bytes"));
    let expires = u32::from_be_bytes(bytes[35..39].try_into().expect("4 bytes"));
    let expires_at = Timestamp::from_unix_millis(i64::from(expires) * 1000).ok_or(LinkError::Malformed)?;
    Ok(Unverified {
        claims: ManifestClaims { kid: bytes[1], user, export_id, expires_at },
        signed: bytes[..SIGNED_BYTES].try_into().expect("the signed bytes"),
        mac: bytes[SIGNED_BYTES..].try_into().expect("the MAC"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::link_token;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];

    fn claims() -> ManifestClaims {
        ManifestClaims {
            kid: 1,
            user: UserId::parse("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d").unwrap(),
            export_id: ExportId::parse("01KAW6ZQ5V0000000000000000").unwrap(),
            expires_at: Timestamp::parse("2026-11-30T10:05:00Z").unwrap(),
        }
    }

    #[test]
    fn a_manifest_link_is_74_url_safe_characters_under_m_and_verifies_to_its_claims() {
        let token = encode(&claims(), &KEY).unwrap();
        assert_eq!((token.len(), TOKEN_CHARS), (74, 74));
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
        assert_eq!(decode(&token).unwrap().claims(), &claims());
        assert_eq!(decode(&token).unwrap().verify(&KEY).unwrap(), claims());
        assert_eq!(decode(&token).unwrap().verify(&[9; 32]), Err(LinkError::Forged));
        assert_eq!(
            link("https://dl.example/", &claims(), &KEY).unwrap(),
            format!("https://dl.example/m/{token}")
        );
        let late =
            ManifestClaims { expires_at: Timestamp::parse("2107-01-01T00:00:00Z").unwrap(), ..claims() };
        assert_eq!(encode(&late, &KEY), None);
    }

    #[test]
    fn a_file_link_is_not_a_manifest_link_nor_the_other_way_round() {
        let manifest = encode(&claims(), &KEY).unwrap();
        assert_eq!(link_token::decode(&manifest).unwrap_err(), LinkError::Malformed);
        let file = link_token::encode(
            &link_token::LinkClaims {
                kid: 1,
                owner: claims().user.into(),
                export_id: claims().export_id,
                expires_at: claims().expires_at,
                attachment_id: crate::domain::ids::AttachmentId::random(),
                uploaded_at: Timestamp::parse("2026-06-01T08:30:00.123Z").unwrap(),
                account_id: crate::domain::ids::AccountId::random(),
            },
            &KEY,
        )
        .unwrap();
        assert_eq!(decode(&file).unwrap_err(), LinkError::Malformed);
        // The kind is signed: the same bytes with another kind are malformed, or forged if the
        // kind were ever accepted.
        let mut raw = URL_SAFE_NO_PAD.decode(&manifest).unwrap();
        raw[2] = link_token::KIND_USER_FILE;
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode(&raw)).unwrap_err(), LinkError::Malformed);
        for junk in ["", "m", &"A".repeat(TOKEN_CHARS), &"*".repeat(TOKEN_CHARS)] {
            assert_eq!(decode(junk).unwrap_err(), LinkError::Malformed, "{junk}");
        }
    }

    proptest! {
        #[test]
        fn any_flipped_byte_is_refused(index in 0..TOKEN_BYTES, flip in 1u8..=255) {
            let mut raw = URL_SAFE_NO_PAD.decode(encode(&claims(), &KEY).unwrap()).unwrap();
            raw[index] ^= flip;
            let verdict = decode(&URL_SAFE_NO_PAD.encode(&raw)).and_then(|u| u.verify(&KEY));
            prop_assert!(verdict.is_err());
        }
    }
}
