//! Revocable links end to end on the local stack (issue 25; DESIGN §8): every manifest link goes
//! through the download function, which serves the file as a download and counts the fetch;
//! revoking one export refuses every link of it — attachments, manifest, reports, statement —
//! within a minute, while the account's other export and another account's keep working; only
//! RevokeDataExport of the export's own account may revoke.

use std::time::{Duration, Instant};

use export_core::Timestamp;
use export_core::domain::ids::AccountId;
use export_core::domain::model::{AccountType, Attachment, ConversationType};
use integration_tests::{
    Caller, SeededAccount, Stack, attachment, download_manifest, rows, seed_account, sha256_hex,
};
use reqwest::Method;

const WAIT: Duration = Duration::from_secs(180);

/// Three files of the managed user: an HTML page (which a browser would render), a PDF, a text.
async fn account_with_files(stack: &Stack) -> (SeededAccount, Vec<Attachment>) {
    let seeded = seed_account(stack, AccountType::Enterprise, false).await;
    let base = Timestamp::parse("2026-04-01T09:00:00Z").unwrap();
    let mut files: Vec<Attachment> = ["minutes.html", "plan.pdf", "notes.txt"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let mut a = attachment(
                &seeded.id,
                &seeded.managed_user,
                ConversationType::Direct,
                base.plus(Duration::from_secs(60 * i as u64)),
            );
            a.file_name = (*name).to_owned();
            a.object_key = format!("{}/{}/{name}", seeded.id, a.attachment_id);
            if name.ends_with(".html") {
                a.content_type = "text/html".into();
            }
            a
        })
        .collect();
    stack.add_attachments(&mut files, true).await;
    (seeded, files)
}

/// A delivered export of the account, and its manifest's rows and view.
async fn delivered(
    stack: &Stack,
    account: &AccountId,
) -> (String, serde_json::Value, Vec<csv::StringRecord>) {
    stack.open_window(account).await;
    let export_id = stack.request_export(account, r#"{"format":"csv"}"#).await;
    let view = stack.wait_for_export(account, &export_id, WAIT).await;
    assert_eq!(view["status"], "SUCCEEDED", "{view}");
    let manifest = download_manifest(&view).await;
    (export_id, view, rows(&manifest))
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The status a link answers now (the download function's, before any redirect).
async fn link_status(link: &str) -> u16 {
    no_redirects().get(link).send().await.unwrap().status().as_u16()
}

#[tokio::test]
async fn revoking_an_export_refuses_all_its_links_within_a_minute_and_no_other_exports() {
    let stack = Stack::load();
    let (seeded, files) = account_with_files(&stack).await;
    let (other_account, _) = account_with_files(&stack).await;
    let account = &seeded.id;
    let (older, _, older_rows) = delivered(&stack, account).await;
    let (revoked, view, revoked_rows) = delivered(&stack, account).await;
    let (_, _, foreign_rows) = delivered(&stack, &other_account.id).await;

    // A link downloads its file as an attachment, whatever its type: the HTML page too.
    let html = revoked_rows.iter().find(|r| &r[8] == "minutes.html").expect("the page is listed");
    let answer = no_redirects().get(&html[13]).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    let target = answer.headers()["location"].to_str().unwrap().to_owned();
    let page = reqwest::get(&target).await.unwrap();
    assert_eq!(page.status(), 200);
    let disposition = page.headers()["content-disposition"].to_str().unwrap().to_owned();
    assert_eq!(disposition, "attachment; filename=\"minutes.html\"; filename*=UTF-8''minutes.html");
    assert_eq!(page.headers()["cache-control"], "private, no-store");
    let page_sha = sha256_hex(&page.bytes().await.unwrap());
    assert_eq!(page_sha, files[0].sha256, "the page's bytes, untouched");

    // curl -L, as an administrator's script would fetch a link: one redirect, the right bytes.
    let saved = std::env::temp_dir().join(format!("revocation-{revoked}.pdf"));
    let pdf = revoked_rows.iter().find(|r| &r[8] == "plan.pdf").unwrap();
    let curl = std::process::Command::new("curl")
        .args(["-sS", "-L", "--max-redirs", "1", "-o"])
        .arg(&saved)
        .arg(&pdf[13])
        .output()
        .unwrap();
    assert!(curl.status.success(), "{}", String::from_utf8_lossy(&curl.stderr));
    assert_eq!(sha256_hex(&std::fs::read(&saved).unwrap()), pdf[11].to_string());
    std::fs::remove_file(&saved).unwrap();

    // downloads.csv counts exactly the two files fetched, each once.
    let path = format!("/accounts/{account}/data-exports/{revoked}");
    let now = stack.api(Method::GET, &path, None, None).await;
    assert_eq!(now.body["downloads"]["filesFetched"], 2, "{:?}", now.body);
    let report = reqwest::get(now.body["downloadsReport"]["url"].as_str().unwrap()).await.unwrap();
    let report = report.text().await.unwrap();
    let fetched: Vec<(String, String)> = csv::Reader::from_reader(report.as_bytes())
        .records()
        .map(|r| r.unwrap())
        .map(|r| (r[1].to_owned(), format!("{}/{}", &r[2], &r[3])))
        .collect();
    assert_eq!(
        fetched,
        [("minutes.html", "yes/1"), ("plan.pdf", "yes/1"), ("notes.txt", "no/0")]
            .map(|(n, f)| (n.to_owned(), f.to_owned()))
            .to_vec(),
        "{report}"
    );

    // Who may not revoke: RetrieveDataExport alone, and another account's RevokeDataExport.
    let revoke = format!("{path}/revoke");
    let reader = Caller::tenant(account, &["RetrieveDataExport"]);
    assert_eq!(stack.api_as(&reader, Method::POST, &revoke, None).await.status, 403);
    let stranger = Caller::tenant(&other_account.id, &["RevokeDataExport"]);
    assert_eq!(stack.api_as(&stranger, Method::POST, &revoke, None).await.status, 403);
    assert_eq!(link_status(&html[13]).await, 302, "nothing was revoked by the refusals");

    // The export's own administrator revokes it.
    let manifest_link = view["manifest"]["url"].as_str().unwrap().to_owned();
    let admin = Caller::tenant(account, &["RevokeDataExport"]);
    let started = Instant::now();
    let reply = stack.api_as(&admin, Method::POST, &revoke, None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert_eq!(reply.body["status"], "REVOKED");
    assert_eq!(reply.body["revokedBy"]["principal"], Caller::TENANT_ARN);
    // Within a minute every link of it is refused: each file's link, and the manifest's.
    // A link asked for before the revocation reaches the function's record cache is still served,
    // and counted: those files join the two fetched above.
    let mut counted: std::collections::BTreeSet<String> =
        [html, pdf].iter().map(|r| r[0].to_owned()).collect();
    for row in &revoked_rows {
        loop {
            match link_status(&row[13]).await {
                410 => break,
                302 if started.elapsed() < Duration::from_secs(60) => {
                    counted.insert(row[0].to_owned());
                    tokio::time::sleep(Duration::from_millis(250)).await
                }
                status => panic!("{}: {status} {:?} after revocation", &row[8], started.elapsed()),
            }
        }
    }
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    let gone = reqwest::get(&manifest_link).await.unwrap().status().as_u16();
    assert!(gone == 404 || gone == 403, "the manifest's hand-out link: {gone}");
    // The refusal's page, once this request reaches a function instance whose record cache has
    // caught up (another instance may still serve the link for its cache's second, as above).
    let body = loop {
        let answer = no_redirects().get(&html[13]).send().await.unwrap();
        if answer.status() == 410 {
            break answer.text().await.unwrap();
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{}: still {}", &html[8], answer.status());
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(body.contains("revoked at"), "{body}");
    // The account's older export and another account's export still download.
    for row in older_rows.iter().chain(&foreign_rows) {
        assert_eq!(link_status(&row[13]).await, 302, "{}", &row[8]);
    }
    // RetrieveDataExport says REVOKED, with who and when, and hands out no link.
    let after = stack.api(Method::GET, &path, None, None).await;
    assert_eq!((after.status, after.body["status"].as_str()), (200, Some("REVOKED")), "{:?}", after.body);
    assert!(after.body.get("manifest").is_none() && after.body["revokedAt"].is_string());
    assert_eq!(after.body["downloads"]["filesFetched"], counted.len() as u64);
    // For good: revoking again changes nothing, and an undelivered export has nothing to revoke.
    let again = stack.api_as(&admin, Method::POST, &revoke, None).await;
    assert_eq!((again.status, &again.body["revokedAt"]), (200, &reply.body["revokedAt"]));
    let older_path = format!("/accounts/{account}/data-exports/{older}/revoke");
    let unknown = older_path.replace(&older, "01KAW6ZQ5V0000000000000000");
    assert_eq!(stack.api_as(&admin, Method::POST, &unknown, None).await.status, 404);
}
