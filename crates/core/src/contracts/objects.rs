//! ObjectStore: multipart uploads with part copies, aborts, absent objects.

use crate::domain::error::Error;
use crate::ports::ObjectStore;

use super::MIB;

/// Parts copied server-side and an uploaded tail assemble into one object, visible only once complete.
pub async fn multipart_upload_assembles_copied_parts_and_a_tail_server_side<O: ObjectStore>(
    store: &O,
    prefix: &str,
) {
    let p = prefix;
    // Two 5 MiB sources (S3's minimum for a non-final part) and a small tail.
    let a: Vec<u8> = (0..5 * MIB).map(|i| (i % 251) as u8).collect();
    let b: Vec<u8> = (0..5 * MIB).map(|i| (i % 241) as u8).collect();
    let tail = "last,line\nwith \"quotes\", ünïcode\n".as_bytes().to_vec();
    store
        .put(
            &format!("{p}a"),
            a.clone(),
            "application/octet-stream",
            &[("urls-expire-at", "2026-11-30T10:00:00.000Z")],
        )
        .await
        .unwrap();
    store.put(&format!("{p}b"), b.clone(), "application/octet-stream", &[]).await.unwrap();

    let key = format!("{p}assembled.csv");
    let upload = store
        .start_multipart(&key, "text/csv", &[("export-window-cutoff", "2026-11-24T10:00:00.000Z")])
        .await
        .unwrap();
    let parts = vec![
        store.upload_part_copy(&key, &upload, 1, &format!("{p}a"), None).await.unwrap(),
        store.upload_part_copy(&key, &upload, 2, &format!("{p}b"), None).await.unwrap(),
        store.upload_part(&key, &upload, 3, tail.clone()).await.unwrap(),
    ];
    assert!(parts.iter().all(|part| !part.etag.is_empty()));
    // Nothing is visible before completion.
    assert_eq!(store.head(&key).await.unwrap(), None);
    store.complete_multipart(&key, &upload, parts).await.unwrap();

    let expected: Vec<u8> = [a, b, tail].concat();
    assert_eq!(store.head(&key).await.unwrap().unwrap().size, expected.len() as u64);
    let a_head = store.head(&format!("{p}a")).await.unwrap().unwrap();
    assert_eq!(a_head.metadata["urls-expire-at"], "2026-11-30T10:00:00.000Z", "user metadata survives");
    let assembled = store.head(&key).await.unwrap().unwrap();
    assert_eq!(
        assembled.metadata.get("export-window-cutoff").map(String::as_str),
        Some("2026-11-24T10:00:00.000Z"),
        "an upload's metadata is the completed object's"
    );
    let got = store.get(&key).await.unwrap();
    assert!(got == expected, "assembled object differs from its parts");

    let mut listed = store.list(p).await.unwrap();
    listed.sort();
    assert_eq!(listed, vec![format!("{p}a"), format!("{p}assembled.csv"), format!("{p}b")]);
    store.delete(&listed).await.unwrap();
    assert!(store.list(p).await.unwrap().is_empty());
    assert!(matches!(store.get(&key).await, Err(Error::NotFound(_))));
}

/// A range of a large object reads and copies as those bytes only; S3's rule that every part but
/// the last is at least 5 MiB is enforced, and the refused upload leaves no object.
pub async fn ranges_read_and_copy_and_small_parts_are_refused<O: ObjectStore>(store: &O, prefix: &str) {
    let p = prefix;
    let big: Vec<u8> = (0..6 * MIB + 7).map(|i| (i % 239) as u8).collect();
    store.put(&format!("{p}big"), big.clone(), "application/octet-stream", &[]).await.unwrap();
    assert_eq!(store.get_range(&format!("{p}big"), 5, 70).await.unwrap(), big[5..70].to_vec());
    let end = big.len() as u64;
    assert_eq!(
        store.get_range(&format!("{p}big"), end - 3, end).await.unwrap(),
        big[big.len() - 3..].to_vec()
    );

    // A part read from the start, then the rest copied server-side as a range.
    let key = format!("{p}ranged");
    let upload = store.start_multipart(&key, "text/plain", &[]).await.unwrap();
    let head = store.get_range(&format!("{p}big"), 0, 5 * MIB as u64).await.unwrap();
    let parts = vec![
        store.upload_part(&key, &upload, 1, head).await.unwrap(),
        store
            .upload_part_copy(&key, &upload, 2, &format!("{p}big"), Some((5 * MIB as u64, end)))
            .await
            .unwrap(),
    ];
    store.complete_multipart(&key, &upload, parts).await.unwrap();
    assert!(store.get(&key).await.unwrap() == big, "the ranged parts make the source again");

    // A small part that is not the last: refused, as S3's EntityTooSmall.
    let small = format!("{p}small");
    let upload = store.start_multipart(&small, "text/plain", &[]).await.unwrap();
    let parts = vec![
        store.upload_part(&small, &upload, 1, b"short".to_vec()).await.unwrap(),
        store.upload_part(&small, &upload, 2, b"tail".to_vec()).await.unwrap(),
    ];
    assert!(store.complete_multipart(&small, &upload, parts).await.is_err(), "a small part before the last");
    // S3 keeps a refused upload until it is aborted; the local S3 server drops it at once and then
    // refuses the abort. The Finisher aborts and only warns if that fails (the bucket's lifecycle
    // rule removes incomplete uploads), so either is fine.
    let _ = store.abort_multipart(&small, &upload).await;
    assert_eq!(store.head(&small).await.unwrap(), None);
    store.delete(&[format!("{p}big"), key]).await.unwrap();
}

/// An aborted upload leaves no object.
pub async fn an_aborted_upload_leaves_nothing<O: ObjectStore>(store: &O, prefix: &str) {
    let key = format!("{}aborted.csv", prefix);
    let upload = store.start_multipart(&key, "text/csv", &[]).await.unwrap();
    store.upload_part(&key, &upload, 1, b"partial".to_vec()).await.unwrap();
    store.abort_multipart(&key, &upload).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap(), None);
}

/// An unknown key reads as absent (`get` says NotFound, `head` says None).
pub async fn a_missing_object_is_absent<O: ObjectStore>(store: &O, prefix: &str) {
    let key = format!("{prefix}missing");
    assert_eq!(store.head(&key).await.unwrap(), None);
    assert!(matches!(store.get(&key).await, Err(Error::NotFound(_))));
    assert!(store.list(prefix).await.unwrap().is_empty());
}
