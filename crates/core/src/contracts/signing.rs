//! SignerFactory and UrlSigner: a part's URL signer, made for a signing time, signs links that
//! fetch their object, and says when they stop working.

use std::time::Duration;

use crate::Timestamp;
use crate::ports::{SignerFactory, UrlSigner};

/// The caller has stored `body` at `bucket`/`key` and nothing at `missing`; `fetch` GETs a URL as a
/// downloader would (`None` when it is refused or finds nothing). A signer made now says its URLs
/// expire `lifetime` later; its URL for the object fetches the object, and its URL for the missing
/// key fetches nothing; a URL written into a reused buffer replaces what the buffer held.
pub async fn a_signed_url_fetches_its_object_and_says_when_it_expires<F: SignerFactory>(
    factory: &F,
    lifetime: Duration,
    (bucket, key, missing): (&str, &str, &str),
    body: &[u8],
    fetch: impl AsyncFn(&str) -> Option<Vec<u8>>,
) {
    let signed_at = Timestamp::now();
    let mut signer = factory.signer(signed_at).await.unwrap();
    assert_eq!(signer.urls_expire_at(), signed_at.plus(lifetime));
    let mut url = String::from("left over from the previous row");
    signer.sign_get(bucket, missing, &mut url);
    assert!(!url.contains("left over"), "the buffer is overwritten: {url}");
    assert_eq!(fetch(&url).await, None, "a URL for another key does not fetch this object");
    signer.sign_get(bucket, key, &mut url);
    assert_eq!(fetch(&url).await.as_deref(), Some(body), "the URL fetches its object");
}
