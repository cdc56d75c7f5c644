//! LinkKeys: one key per export, the same every time, and links made with it verify with it only.

use crate::Timestamp;
use crate::domain::ids::{AccountId, AttachmentId, ExportId, UserId};
use crate::domain::link_token::{self, LinkClaims, LinkError};
use crate::domain::owner::ExportOwner;
use crate::ports::LinkKeys;

/// An export's key is the same on every derivation and differs for another export, another
/// account or another kid; an unknown kid is refused; a link made with one export's key verifies
/// with it and is forged under any other.
pub async fn each_export_has_its_own_link_key<K: LinkKeys>(keys: &K) {
    let (account_id, export) = (AccountId::random(), ExportId::new());
    let account = ExportOwner::from(account_id.clone());
    let kid = keys.current_kid();
    assert!(kid >= 1, "kids count from 1");
    let key = keys.derive(kid, &account, &export).await.unwrap();
    assert_eq!(keys.derive(kid, &account, &export).await.unwrap(), key, "derivation is deterministic");
    let other_export = keys.derive(kid, &account, &ExportId::new()).await.unwrap();
    let other_account = keys.derive(kid, &AccountId::random().into(), &export).await.unwrap();
    // A self-service user whose id is the account's: a key of its own.
    let same_id_user = ExportOwner::User(UserId::parse(account_id.as_str()).unwrap());
    let user_key = keys.derive(kid, &same_id_user, &export).await.unwrap();
    assert!(other_export != key && other_account != key && user_key != key);
    for unknown in [0, kid.saturating_add(1)] {
        if unknown != kid {
            let refused = keys.derive(unknown, &account, &export).await;
            assert!(matches!(refused, Err(crate::Error::NotFound(_))), "kid {unknown}: {refused:?}");
        }
    }
    let claims = LinkClaims {
        kid,
        owner: account,
        account_id,
        export_id: export,
        expires_at: Timestamp::parse("2026-12-08T00:00:00Z").unwrap(),
        attachment_id: AttachmentId::random(),
        uploaded_at: Timestamp::parse("2026-11-01T09:00:00.250Z").unwrap(),
    };
    let token = link_token::encode(&claims, &key).unwrap();
    let read = link_token::decode(&token).unwrap();
    assert_eq!(read.clone().verify(&key), Ok(claims));
    assert_eq!(read.verify(&other_export), Err(LinkError::Forged));
}
