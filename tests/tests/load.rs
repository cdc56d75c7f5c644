//! Load on the local stack (issue #9): many administrators at once. Run alone after the other tests
//! (see scripts/test.sh), so the numbers are not shared with unrelated work.

use std::collections::HashMap;
use std::time::Duration;

use export_core::domain::model::{AccountType, ConversationType};
use integration_tests::{Stack, attachment, download_manifest, rows, seed_account, sha256_hex};
use reqwest::Method;

const WAIT: Duration = Duration::from_secs(600);

#[tokio::test]
async fn two_hundred_simultaneous_requests_over_twenty_accounts_accept_exactly_one_each() {
    let stack = Stack::load();
    let mut accounts = Vec::new();
    for _ in 0..20 {
        accounts.push(seed_account(&stack, AccountType::Enterprise, false).await.id);
    }
    let requests = (0..200).map(|i| {
        let (stack, account) = (stack.clone(), accounts[i % 20].clone());
        tokio::spawn(async move {
            let reply =
                stack.api(Method::POST, &format!("/accounts/{account}/data-exports"), None, None).await;
            (account, reply)
        })
    });
    let replies = futures::future::join_all(requests).await;

    let mut accepted: HashMap<String, Vec<String>> = HashMap::new();
    let mut statuses: HashMap<u16, u32> = HashMap::new();
    for joined in replies {
        let (account, reply) = joined.unwrap();
        *statuses.entry(reply.status).or_default() += 1;
        match reply.status {
            202 => accepted
                .entry(account.to_string())
                .or_default()
                .push(reply.body["exportId"].as_str().unwrap().to_owned()),
            429 => {
                assert_eq!(reply.body["code"], "ThrottledClientException");
                assert!(reply.headers.get("retry-after").is_some(), "Retry-After on every 429");
            }
            other => panic!("no request may end {other}: {:?}", reply.body),
        }
    }
    assert_eq!(statuses.get(&202), Some(&20), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&180), "{statuses:?}");
    assert_eq!(accepted.len(), 20, "one per account");
    assert!(accepted.values().all(|ids| ids.len() == 1));

    // The accepted ones run to the end.
    for account in &accounts {
        let export_id = &accepted[account.as_str()][0];
        let view = stack.wait_for_export(account, export_id, WAIT).await;
        assert_eq!(view["status"], "SUCCEEDED", "{view}");
    }
}

#[tokio::test]
async fn fifty_exports_of_different_accounts_at_once_all_succeed_with_exact_manifests() {
    let stack = Stack::load();
    let base = export_core::Timestamp::parse("2026-06-01T00:00:00Z").unwrap();
    let mut seeded = Vec::new();
    for n in 0..50u64 {
        let account = seed_account(&stack, AccountType::Enterprise, false).await;
        // Different sizes, so the manifests differ.
        let mut attachments: Vec<_> = (0..(n % 7 + 1))
            .map(|i| {
                attachment(
                    &account.id,
                    &account.managed_user,
                    ConversationType::Group,
                    base.plus(Duration::from_secs(i)),
                )
            })
            .collect();
        stack.add_attachments(&mut attachments, true).await;
        seeded.push((account, attachments));
    }
    let starts = seeded.iter().map(|(account, _)| {
        let (stack, id) = (stack.clone(), account.id.clone());
        tokio::spawn(async move {
            let reply = stack.api(Method::POST, &format!("/accounts/{id}/data-exports"), None, None).await;
            assert_eq!(reply.status, 202, "{:?}", reply.body);
            reply.body["exportId"].as_str().unwrap().to_owned()
        })
    });
    let export_ids: Vec<String> =
        futures::future::join_all(starts).await.into_iter().map(Result::unwrap).collect();

    for ((account, attachments), export_id) in seeded.iter().zip(&export_ids) {
        let view = stack.wait_for_export(&account.id, export_id, WAIT).await;
        assert_eq!(view["status"], "SUCCEEDED", "{view}");
        let manifest = download_manifest(&view).await;
        let listed: Vec<(String, String)> =
            rows(&manifest).iter().map(|r| (r[0].to_owned(), r[11].to_owned())).collect();
        let expected: Vec<(String, String)> =
            attachments.iter().map(|a| (a.attachment_id.to_string(), a.sha256.clone())).collect();
        assert_eq!(listed, expected, "exactly this account's files, in upload order");
        // One link per manifest is followed: it downloads the right bytes.
        let first = reqwest::get(&rows(&manifest)[0][13]).await.unwrap().bytes().await.unwrap();
        assert_eq!(sha256_hex(&first), expected[0].1);
    }
}
