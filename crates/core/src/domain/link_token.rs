//! The token of a revocable download link (docs/proposals/revocable-links.md): which file of which
//! export, until when, MAC'd with the export's own key, in 103 URL-safe characters.
//!
//! Layout of an account's export's link (kind 1; 77 bytes, then base64url without padding):
//! `version(1) | kid(1) | kind(1) | accountId(16) | exportId(16) | expiresAt(u32, s) |
//! attachmentId(16) | uploadedAt(u48, ms) | mac(16)`, all integers big-endian. The MAC is the first
//! 16 bytes of HMAC-SHA256 over the bytes before it, under the export's link key (`kid` names the
//! key it derives from, so a key can be replaced while older links still verify). The ids and the
//! upload time rebuild the catalog's sort key, so a link needs no table of its own.
//!
//! A self-service user's export (kind 2; 93 bytes, 124 characters) names the user where kind 1
//! names the account, and adds the file's own account after the upload time: its files come from
//! many accounts' catalogs. The kind is signed, so one kind is never read as the other.
//!
//! A token is read in two steps: [`decode`] gives the claims it makes, unverified (their account
//! and export name the key to verify with), and [`Unverified::verify`] checks the MAC in constant
//! time. Nothing of a token is trusted before that; nothing of it is ever logged.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use crate::domain::ids::{AccountId, AttachmentId, ExportId, UserId};
use crate::domain::owner::ExportOwner;
use crate::domain::time::Timestamp;

/// The only layout so far.
pub const VERSION: u8 = 1;
/// What the link fetches: an attachment of an account's export (the manifest's rows).
pub const KIND_FILE: u8 = 1;
/// An attachment of a self-service user's export.
pub const KIND_USER_FILE: u8 = 2;
/// Bytes of the MAC kept (128 bits).
pub const MAC_BYTES: usize = 16;
const SIGNED_BYTES: usize = 1 + 1 + 1 + 16 + 16 + 4 + 16 + 6;
/// A user's link signs the file's account too.
const USER_SIGNED_BYTES: usize = SIGNED_BYTES + 16;
/// Bytes of an account's export's token before its encoding.
pub const TOKEN_BYTES: usize = SIGNED_BYTES + MAC_BYTES;
/// Characters of an account's export's encoded token.
pub const TOKEN_CHARS: usize = (TOKEN_BYTES * 4).div_ceil(3);
/// Bytes of a self-service user's export's token.
pub const USER_TOKEN_BYTES: usize = USER_SIGNED_BYTES + MAC_BYTES;
/// Characters of a self-service user's export's token (the longest token).
pub const USER_TOKEN_CHARS: usize = (USER_TOKEN_BYTES * 4).div_ceil(3);

/// What a link says: this file of this export, until then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkClaims {
    /// The link key the export's key derives from.
    pub kid: u8,
    /// Whose export: the account (kind 1) or the self-service user (kind 2).
    pub owner: ExportOwner,
    pub export_id: ExportId,
    /// Whole seconds: when the link stops working.
    pub expires_at: Timestamp,
    pub attachment_id: AttachmentId,
    /// Milliseconds, as the catalog's sort key holds it.
    pub uploaded_at: Timestamp,
    /// The account whose catalog holds the file: the owner itself for an account's export.
    pub account_id: AccountId,
}

/// Why a token was refused. The messages say what is wrong, never what the token held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Not a token of this layout (length, characters, version, kind, ids, times).
    Malformed,
    /// The MAC does not match: altered, or made with another key.
    Forged,
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LinkError::Malformed => "the link is not a download link of this service",
            LinkError::Forged => "the link was altered or was not made by this service",
        })
    }
}

impl std::error::Error for LinkError {}

/// A token's claims, read but not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unverified {
    claims: LinkClaims,
    signed: [u8; USER_SIGNED_BYTES],
    signed_len: usize,
    mac: [u8; MAC_BYTES],
}

impl Unverified {
    /// The claims, to find the key to verify with; trust none of them before [`Self::verify`].
    pub fn claims(&self) -> &LinkClaims {
        &self.claims
    }

    /// The claims, if `key` (the export's link key) made the token.
    pub fn verify(self, key: &[u8; 32]) -> Result<LinkClaims, LinkError> {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        mac.update(&self.signed[..self.signed_len]);
        // verify_truncated_left compares in constant time.
        mac.verify_truncated_left(&self.mac).map_err(|_| LinkError::Forged)?;
        Ok(self.claims)
    }
}

/// Hex digit values, 0xff for anything else.
const HEX_VALUES: [u8; 256] = {
    let mut table = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        table[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        table[b'a' as usize + i] = 10 + i as u8;
        i += 1;
    }
    table
};

/// Where each byte's two hex digits start in a hyphenated UUID.
const UUID_DIGITS: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];

/// The 16 bytes of an id. Ids are lowercase hyphenated UUIDs by construction (`ids::parse`), so
/// the digits sit at fixed places: 5–20 % less time than `uuid::Uuid::parse_str`, which must
/// also accept the other forms (`make bench` reports both as `links.uuid_decode`).
pub fn uuid_bytes(id: &str) -> [u8; 16] {
    let digits = id.as_bytes();
    assert!(digits.len() == 36, "ids are hyphenated UUIDs by construction");
    let mut bytes = [0u8; 16];
    for (byte, at) in bytes.iter_mut().zip(UUID_DIGITS) {
        let (high, low) = (HEX_VALUES[digits[at] as usize], HEX_VALUES[digits[at + 1] as usize]);
        debug_assert!(high | low != 0xff, "ids are lowercase hex by construction");
        *byte = high << 4 | low;
    }
    bytes
}

/// The token for `claims`, MAC'd with the export's link key. Times beyond the layout's range
/// (before 1970, `expiresAt` after 2106) cannot be links: `None`.
pub fn encode(claims: &LinkClaims, key: &[u8; 32]) -> Option<String> {
    let maker = LinkMaker::new("", claims.kid, &claims.owner, &claims.export_id, claims.expires_at, key)?;
    let (bytes, len) = maker.token_bytes(&claims.account_id, &claims.attachment_id, claims.uploaded_at)?;
    Some(URL_SAFE_NO_PAD.encode(&bytes[..len]))
}

/// Makes the links of one export, fast: the export's fields and the keyed HMAC state are set once,
/// so a link costs one HMAC over 61 bytes (three SHA-256 compressions) and a base64 encode into the
/// caller's buffer (`make bench` measures it against the SDK's presigner). The one writer of the
/// token's layout ([`encode`] uses it too).
#[derive(Clone)]
pub struct LinkMaker {
    /// `https://<download endpoint>/f/`, the part every link of the export shares.
    prefix: String,
    keyed: Hmac<Sha256>,
    head: [u8; 39],
    expires_at: Timestamp,
}

impl LinkMaker {
    /// Links to `base_url` (the download endpoint, without a trailing slash) of `export`'s files,
    /// valid until `expires_at`, under the export's link key (`kid`). `None` if `expires_at` is
    /// beyond the layout (after 2106) or before 1970.
    pub fn new(
        base_url: &str,
        kid: u8,
        owner: &ExportOwner,
        export: &ExportId,
        expires_at: Timestamp,
        key: &[u8; 32],
    ) -> Option<Self> {
        let expires = u32::try_from(expires_at.unix_millis().div_euclid(1000)).ok()?;
        let mut head = [0u8; 39];
        head[0] = VERSION;
        head[1] = kid;
        head[2] = match owner {
            ExportOwner::Account(_) => KIND_FILE,
            ExportOwner::User(_) => KIND_USER_FILE,
        };
        head[3..19].copy_from_slice(&uuid_bytes(owner.id()));
        head[19..35].copy_from_slice(&export.to_bytes());
        head[35..39].copy_from_slice(&expires.to_be_bytes());
        let keyed = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes any key length");
        // What the token says, to the second.
        let expires_at = Timestamp::from_unix_millis(i64::from(expires) * 1000)?;
        Some(Self { prefix: format!("{}/f/", base_url.trim_end_matches('/')), keyed, head, expires_at })
    }

    /// When the links stop working (to the second: the token keeps whole seconds).
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// The link of one file of `account`'s catalog into `out` (cleared first); `false` (and `out`
    /// empty) if its upload time is outside the layout. An account's export's files are its own
    /// (its link does not repeat the account); a user's name theirs.
    pub fn link(
        &self,
        account: &AccountId,
        attachment: &AttachmentId,
        uploaded_at: Timestamp,
        out: &mut String,
    ) -> bool {
        out.clear();
        let Some((bytes, len)) = self.token_bytes(account, attachment, uploaded_at) else {
            return false;
        };
        out.push_str(&self.prefix);
        // Into a buffer on the stack, then appended: 10–20 % faster than `encode_string`
        // (`make bench` reports both as `links.base64`).
        let mut encoded = [0u8; USER_TOKEN_CHARS];
        let written = URL_SAFE_NO_PAD
            .encode_slice(&bytes[..len], &mut encoded)
            .expect("USER_TOKEN_CHARS fits any token");
        out.push_str(std::str::from_utf8(&encoded[..written]).expect("base64url is ASCII"));
        true
    }

    /// One file's token, before its encoding: the export's head, the file's id and upload time,
    /// and the truncated MAC over them.
    fn token_bytes(
        &self,
        account: &AccountId,
        attachment: &AttachmentId,
        uploaded_at: Timestamp,
    ) -> Option<([u8; USER_TOKEN_BYTES], usize)> {
        let uploaded = u64::try_from(uploaded_at.unix_millis()).ok().filter(|ms| *ms < 1 << 48)?;
        let mut bytes = [0u8; USER_TOKEN_BYTES];
        bytes[..39].copy_from_slice(&self.head);
        bytes[39..55].copy_from_slice(&uuid_bytes(attachment.as_str()));
        bytes[55..61].copy_from_slice(&uploaded.to_be_bytes()[2..]);
        let signed = if self.head[2] == KIND_USER_FILE {
            bytes[61..77].copy_from_slice(&uuid_bytes(account.as_str()));
            USER_SIGNED_BYTES
        } else {
            SIGNED_BYTES
        };
        let mut mac = self.keyed.clone();
        mac.update(&bytes[..signed]);
        bytes[signed..signed + MAC_BYTES].copy_from_slice(&mac.finalize().into_bytes()[..MAC_BYTES]);
        Some((bytes, signed + MAC_BYTES))
    }
}

/// The claims a token makes, unverified; `Malformed` for anything that is not a token.
pub fn decode(token: &str) -> Result<Unverified, LinkError> {
    if token.len() != TOKEN_CHARS && token.len() != USER_TOKEN_CHARS {
        return Err(LinkError::Malformed);
    }
    let raw = URL_SAFE_NO_PAD.decode(token).map_err(|_| LinkError::Malformed)?;
    let signed_len = match (raw.first(), raw.get(2), raw.len()) {
        (Some(&VERSION), Some(&KIND_FILE), TOKEN_BYTES) => SIGNED_BYTES,
        (Some(&VERSION), Some(&KIND_USER_FILE), USER_TOKEN_BYTES) => USER_SIGNED_BYTES,
        _ => return Err(LinkError::Malformed),
    };
    let mut bytes = [0u8; USER_TOKEN_BYTES];
    bytes[..raw.len()].copy_from_slice(&raw);
    let uuid = |range: std::ops::Range<usize>| {
        let id: [u8; 16] = bytes[range].try_into().expect("16 bytes");
        uuid::Uuid::from_bytes(id).to_string()
    };
    let owner_id = uuid(3..19);
    let (owner, account_id) = if signed_len == USER_SIGNED_BYTES {
        let user = UserId::parse(&owner_id).map_err(|_| LinkError::Malformed)?;
        (ExportOwner::User(user), AccountId::parse(&uuid(61..77)).map_err(|_| LinkError::Malformed)?)
    } else {
        let account = AccountId::parse(&owner_id).map_err(|_| LinkError::Malformed)?;
        (ExportOwner::Account(account.clone()), account)
    };
    let export: [u8; 16] = bytes[19..35].try_into().expect("16 bytes");
    let export_id = ExportId::from_bytes(export);
    let attachment_id = AttachmentId::parse(&uuid(39..55)).map_err(|_| LinkError::Malformed)?;
    let expires = u32::from_be_bytes(bytes[35..39].try_into().expect("4 bytes"));
    let mut uploaded = [0u8; 8];
    uploaded[2..].copy_from_slice(&bytes[55..61]);
    let expires_at = Timestamp::from_unix_millis(i64::from(expires) * 1000).ok_or(LinkError::Malformed)?;
    let uploaded_ms = i64::try_from(u64::from_be_bytes(uploaded)).map_err(|_| LinkError::Malformed)?;
    let uploaded_at = Timestamp::from_unix_millis(uploaded_ms).ok_or(LinkError::Malformed)?;
    let claims =
        LinkClaims { kid: bytes[1], owner, export_id, expires_at, attachment_id, uploaded_at, account_id };
    let mut signed = [0u8; USER_SIGNED_BYTES];
    signed[..signed_len].copy_from_slice(&bytes[..signed_len]);
    let mac = bytes[signed_len..signed_len + MAC_BYTES].try_into().expect("the MAC");
    Ok(Unverified { claims, signed, signed_len, mac })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];

    proptest! {
        #[test]
        fn the_fixed_place_decode_reads_every_id_as_the_uuid_crate_does(raw in any::<[u8; 16]>()) {
            let id = uuid::Uuid::from_bytes(raw).to_string();
            prop_assert_eq!(uuid_bytes(&id), raw);
            prop_assert_eq!(uuid_bytes(&id), *uuid::Uuid::parse_str(&id).unwrap().as_bytes());
        }
    }

    fn claims() -> LinkClaims {
        let account = AccountId::parse("6f1c2d3e-4b5a-4c7d-8e9f-0a1b2c3d4e5f").unwrap();
        LinkClaims {
            kid: 1,
            owner: account.clone().into(),
            export_id: ExportId::parse("01KAW6ZQ5V0000000000000000").unwrap(),
            expires_at: Timestamp::parse("2026-11-30T10:05:00Z").unwrap(),
            attachment_id: AttachmentId::parse("0b7e3c1a-2f4d-4e5a-9b6c-7d8e9f0a1b2c").unwrap(),
            uploaded_at: Timestamp::parse("2026-06-01T08:30:00.123Z").unwrap(),
            account_id: account,
        }
    }

    /// A self-service user's link: the user's export, a file of another account's catalog.
    fn user_claims() -> LinkClaims {
        LinkClaims {
            owner: UserId::parse("1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d").unwrap().into(),
            account_id: AccountId::parse("9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b").unwrap(),
            ..claims()
        }
    }

    #[test]
    fn a_users_token_is_124_characters_and_names_the_user_and_the_files_account() {
        let token = encode(&user_claims(), &KEY).unwrap();
        assert_eq!((token.len(), USER_TOKEN_CHARS), (124, 124));
        let read = decode(&token).unwrap();
        assert_eq!(read.claims(), &user_claims());
        assert_eq!(read.verify(&KEY).unwrap(), user_claims());
        // The kind is signed: the same bytes read as the other kind do not verify.
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        raw[2] = KIND_FILE;
        raw.truncate(TOKEN_BYTES);
        let as_account = URL_SAFE_NO_PAD.encode(&raw);
        assert!(decode(&as_account).and_then(|u| u.verify(&KEY)).is_err());
        // Another file account, MAC'd with another key, is forged.
        let moved = LinkClaims { account_id: AccountId::random(), ..user_claims() };
        let forged = encode(&moved, &[9; 32]).unwrap();
        assert_eq!(decode(&forged).unwrap().verify(&KEY), Err(LinkError::Forged));
        let c = user_claims();
        let maker =
            LinkMaker::new("https://dl.example", c.kid, &c.owner, &c.export_id, c.expires_at, &KEY).unwrap();
        let mut link = String::new();
        assert!(maker.link(&c.account_id, &c.attachment_id, c.uploaded_at, &mut link));
        assert_eq!(link, format!("https://dl.example/f/{token}"));
    }

    #[test]
    fn a_token_is_103_url_safe_characters_and_verifies_to_its_claims() {
        let token = encode(&claims(), &KEY).unwrap();
        assert_eq!((token.len(), TOKEN_CHARS), (103, 103));
        assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
        let read = decode(&token).unwrap();
        assert_eq!(read.claims(), &claims());
        assert_eq!(read.verify(&KEY).unwrap(), claims());
    }

    #[test]
    fn another_key_or_an_altered_claim_is_forged() {
        let token = encode(&claims(), &KEY).unwrap();
        assert_eq!(decode(&token).unwrap().verify(&[8; 32]), Err(LinkError::Forged));
        // A later expiry, MAC'd with another key, does not pass under this export's.
        let longer = LinkClaims {
            expires_at: claims().expires_at.plus(std::time::Duration::from_secs(86_400)),
            ..claims()
        };
        let forged = encode(&longer, &[9; 32]).unwrap();
        assert_eq!(decode(&forged).unwrap().verify(&KEY), Err(LinkError::Forged));
    }

    #[test]
    fn anything_but_a_token_is_malformed() {
        let token = encode(&claims(), &KEY).unwrap();
        for bad in [String::new(), token[1..].to_owned(), format!("{token}A"), token.replace('-', "+")] {
            if bad.len() == TOKEN_CHARS && URL_SAFE_NO_PAD.decode(&bad).is_ok() {
                continue; // no '-' to replace: the same token
            }
            assert_eq!(decode(&bad).err(), Some(LinkError::Malformed), "{bad}");
        }
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        raw[0] = 2; // another version
        assert_eq!(decode(&URL_SAFE_NO_PAD.encode(&raw)).err(), Some(LinkError::Malformed));
    }

    #[test]
    fn the_link_maker_makes_the_token_encode_makes() {
        let c = claims();
        let maker =
            LinkMaker::new("https://dl.example/", c.kid, &c.owner, &c.export_id, c.expires_at, &KEY).unwrap();
        let mut link = String::from("left over");
        assert!(maker.link(&c.account_id, &c.attachment_id, c.uploaded_at, &mut link));
        assert_eq!(link, format!("https://dl.example/f/{}", encode(&c, &KEY).unwrap()));
        let before_1970 = Timestamp::from_unix_millis(-5).unwrap();
        assert!(!maker.link(&c.account_id, &c.attachment_id, before_1970, &mut link));
        assert!(link.is_empty());
    }

    #[test]
    fn times_outside_the_layout_make_no_token() {
        let past = LinkClaims { uploaded_at: Timestamp::from_unix_millis(-1).unwrap(), ..claims() };
        assert_eq!(encode(&past, &KEY), None);
        let far = LinkClaims { expires_at: Timestamp::parse("2107-01-01T00:00:00Z").unwrap(), ..claims() };
        assert_eq!(encode(&far, &KEY), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::with_cases(512) })]

        /// Any one byte changed anywhere (claims or MAC) is refused, as malformed or forged.
        #[test]
        fn any_flipped_byte_is_refused(index in 0..USER_TOKEN_BYTES, flip in 1u8..=255, user in any::<bool>()) {
            let claims = if user { user_claims() } else { claims() };
            let token = encode(&claims, &KEY).unwrap();
            let index = if user { index } else { index % TOKEN_BYTES };
            let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
            raw[index] ^= flip;
            let altered = URL_SAFE_NO_PAD.encode(&raw);
            let verdict = decode(&altered).and_then(|u| u.verify(&KEY));
            prop_assert!(verdict.is_err(), "byte {} ^ {} passed", index, flip);
        }

        /// Decoding never panics, whatever it is given.
        #[test]
        fn decode_never_panics(text in ".{0,130}") {
            let _ = decode(&text);
        }

        #[test]
        fn decode_never_panics_on_tokens_of_the_right_length(
            raw in proptest::collection::vec(any::<u8>(), TOKEN_BYTES),
            tail in proptest::collection::vec(any::<u8>(), 16),
            user in any::<bool>(),
        ) {
            let mut raw = raw;
            if user {
                raw.extend(tail);
            }
            let _ = decode(&URL_SAFE_NO_PAD.encode(&raw)).map(|u| u.verify(&KEY));
        }
    }
}
