//! The download link's endpoint (docs/DESIGN.md §8) over `export_core::rules::download`: a
//! `GET /f/{token}` of the function URL is answered `302` to a short-lived S3 URL that serves the
//! file as a download, once the link, its export and its file check out and the fetch is counted;
//! a `GET /m/{token}` (a self-service user's manifest link, §15) likewise to the manifest, once
//! the hand-out is counted. Nothing else is served, and nothing of a token or a URL is logged.

pub use entry::url_handler;

use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use entry::UrlFunction;
use entry::api::HttpReply;
use export_core::aws::Aws;
use export_core::config::ConfigError;
use export_core::rules::download::{Downloader, LinkRequest};
use export_core::{Backend, Error};

/// Where links live on the function URL: `/f/` and the token.
pub const LINK_PREFIX: &str = "/f/";
/// A self-service user's manifest link (the Assistant's reply, DESIGN §15): `/m/` and its token.
pub const MANIFEST_LINK_PREFIX: &str = export_core::domain::manifest_link::PATH_PREFIX;
const MANIFEST_ROUTE: &str = "/m/{token}";

pub struct DownloadExport<B: Backend> {
    pub downloader: Downloader<B>,
}

impl DownloadExport<Aws> {
    pub fn on_aws(config: &export_core::Config, sdk: &aws_config::SdkConfig) -> Result<Self, ConfigError> {
        Ok(DownloadExport { downloader: Downloader::on_aws(config, sdk)? })
    }
}

/// Headers of every answer: nothing is stored by a browser or a proxy, and the redirect target
/// (a URL that works for a minute) is never sent on as a Referer.
fn private(mut reply: HttpReply) -> HttpReply {
    reply.headers.retain(|(name, _)| *name != "cache-control");
    reply.headers.push(("cache-control", "no-store".into()));
    reply.headers.push(("referrer-policy", "no-referrer".into()));
    reply
}

impl<B: Backend> UrlFunction for DownloadExport<B> {
    const NAME: &'static str = "download-export";
    const ROUTE: &'static str = "/f/{token}";

    async fn answer(&self, request: &LambdaFunctionUrlRequest) -> Result<HttpReply, Error> {
        let method = request.request_context.http.method.as_deref().unwrap_or_default();
        if method != "GET" {
            // A HEAD would need its own signature on S3; OPTIONS and the rest mean nothing here.
            let body = serde_json::json!({
                "code": "MethodNotAllowedException",
                "message": format!("Download links answer GET only, not {method}."),
            });
            let mut reply = HttpReply::json(405, &body);
            reply.headers.push(("allow", "GET".into()));
            return Ok(private(reply));
        }
        let path = request.raw_path.as_deref().unwrap_or_default();
        let source_ip = request.request_context.http.source_ip.as_deref().unwrap_or_default();
        let token = |prefix: &str| path.strip_prefix(prefix).filter(|t| !t.contains('/'));
        let (route, answer) = if let Some(token) = token(LINK_PREFIX) {
            (Self::ROUTE, self.downloader.redirect(&LinkRequest { token, source_ip }).await)
        } else if let Some(token) = token(MANIFEST_LINK_PREFIX) {
            (MANIFEST_ROUTE, self.downloader.manifest_redirect(token).await)
        } else {
            (Self::ROUTE, Err(Error::NotFound("There is nothing here but download links.".into())))
        };
        match answer {
            Ok(url) => {
                Ok(private(HttpReply { status: 302, headers: vec![("location", url)], body: String::new() }))
            }
            Err(e) => {
                // Logged here, by route template and address: the path is the token.
                let caller = entry::Caller::of_function_url(request);
                entry::log_unsuccessful(Self::NAME, &caller, &format!("GET {route}"), &e);
                // A busy table or KMS is worth a retry: 503 with Retry-After, which download tools
                // honour (the API's replies fold it into a 500).
                if e.http_status() == 503 {
                    let body = serde_json::json!({"code": e.code(), "message": e.public_message()});
                    let mut reply = private(HttpReply::json(503, &body));
                    reply.headers.push(("retry-after", "1".into()));
                    return Ok(reply);
                }
                Ok(private(HttpReply::error(e)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use export_core::Timestamp;
    use export_core::domain::ids::{AccountId, AttachmentId, ExportId};
    use export_core::domain::model::AccountType;
    use export_core::memory::{Harness, InMemory, World};
    use export_core::ports::ExportStore;
    use lambda_runtime::{Context, LambdaEvent};
    use serde_json::Value;

    use super::*;

    use export_core::testing::{SAMPLE_ACCOUNT, SAMPLE_EXPORT};
    const SAMPLE_FILE: &str = "0b7e4c1a-2d3f-4e5a-9b6c-7d8e9f0a1b2c";
    const SAMPLE_UPLOADED_AT: &str = "2026-11-20T08:30:00.125Z";

    #[derive(Debug, Clone, Copy)]
    enum Expect {
        Http(i64, Option<&'static str>),
        FunctionError(&'static str),
    }

    /// Every sample event of download-export (events/download-export/).
    const EVENTS: &[(&str, Expect)] = &[
        ("link.json", Expect::Http(302, None)),
        ("link-altered.json", Expect::Http(403, Some("ForbiddenException"))),
        ("link-head.json", Expect::Http(405, Some("MethodNotAllowedException"))),
        ("not-a-link.json", Expect::Http(404, Some("NotFoundException"))),
        ("manifest-link.json", Expect::Http(302, None)),
        ("manifest-link-altered.json", Expect::Http(403, Some("ForbiddenException"))),
        ("manifest-link-as-file-link.json", Expect::Http(403, Some("ForbiddenException"))),
        ("api-event.json", Expect::FunctionError("WrongEntryPointException")),
        ("direct-payload.json", Expect::FunctionError("WrongEntryPointException")),
    ];

    /// The sample account's delivered sample export, with the sample file (an HTML page) in the
    /// catalog.
    fn deps() -> Harness<DownloadExport<InMemory>> {
        let world = World::at("2026-11-25T09:00:00Z");
        let account = AccountId::parse(SAMPLE_ACCOUNT).unwrap();
        world.directory.insert_account(account.clone(), AccountType::Enterprise, false);
        let at = Timestamp::parse("2026-11-24T10:00:00Z").unwrap();
        let record = export_core::testing::delivered_sample_record(1);
        world.store.insert(record);
        let mut file = export_core::contracts::attachments_a_minute_apart(&account, at, 1).remove(0);
        file.attachment_id = AttachmentId::parse(SAMPLE_FILE).unwrap();
        file.uploaded_at = Timestamp::parse(SAMPLE_UPLOADED_AT).unwrap();
        (file.file_name, file.object_key) = ("minutes.html".into(), format!("{account}/minutes.html"));
        world.directory.attachments.lock().unwrap().insert(account, vec![file]);
        world.store.insert(sample_user_record());
        let function = DownloadExport { downloader: world.downloader(&["attachments"]) };
        Harness { world, function }
    }

    /// The sample user's delivered export (through the Assistant): the sample export's record, but
    /// theirs, and the manifest the link of `manifest-link.json` fetches.
    const SAMPLE_USER: &str = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";

    fn sample_user_record() -> export_core::domain::model::ExportRecord {
        let mut record = export_core::testing::delivered_sample_record(2);
        record.owner = export_core::domain::ids::UserId::parse(SAMPLE_USER).unwrap().into();
        record.requested_by = export_core::domain::model::RequestedBy::new(
            "chat-service:assistant",
            export_core::domain::model::Via::Assistant,
        );
        let result = record.result.as_mut().unwrap();
        result.manifest_key = format!("exports/users/{SAMPLE_USER}/{SAMPLE_EXPORT}/attachments.csv");
        record
    }

    async fn invoke(deps: &Harness<DownloadExport<InMemory>>, json: &str) -> Result<Value, Error> {
        let payload: Value = serde_json::from_str(json).unwrap();
        url_handler(&deps.function, LambdaEvent::new(payload, Context::default())).await
    }

    #[tokio::test]
    async fn every_sample_event_gives_its_documented_reply() {
        let events =
            export_core::testing::sample_events(env!("CARGO_MANIFEST_DIR"), "download-export", EVENTS);
        for (name, json, expect) in events {
            let deps = deps();
            let token = serde_json::from_str::<Value>(json).unwrap()["rawPath"]
                .as_str()
                .map(|p| p.trim_start_matches(LINK_PREFIX).to_owned());
            match (expect, invoke(&deps, json).await) {
                (Expect::Http(status, code), Ok(reply)) => {
                    assert_eq!(reply["statusCode"], status, "{name}: {reply}");
                    assert_eq!(reply["headers"]["cache-control"], "no-store", "{name}");
                    assert_eq!(reply["headers"]["referrer-policy"], "no-referrer", "{name}");
                    if let Some(code) = code {
                        let body: Value = serde_json::from_str(reply["body"].as_str().unwrap()).unwrap();
                        assert_eq!(body["code"], code, "{name}");
                        if let Some(token) = token.filter(|t| t.len() > 20) {
                            assert!(
                                !reply.to_string().contains(&token),
                                "{name}: a refusal never echoes the token"
                            );
                        }
                    }
                }
                (Expect::FunctionError(code), Err(e)) => assert_eq!(e.code(), code, "{name}: {e}"),
                (expect, outcome) => panic!("{name}: expected {expect:?}, got {outcome:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_link_redirects_to_its_file_as_a_download_and_is_counted() {
        let deps = deps();
        let reply = invoke(&deps, include_str!("../../../events/download-export/link.json")).await.unwrap();
        let location = reply["headers"]["location"].as_str().unwrap();
        assert!(
            location.starts_with(&format!(
                "https://download.invalid/attachments/{SAMPLE_ACCOUNT}/minutes.html?ttl=45"
            )),
            "{location}"
        );
        assert!(location.contains("minutes%2Ehtml"), "named, as a download: {location}");
        let (account, export) =
            (AccountId::parse(SAMPLE_ACCOUNT).unwrap(), ExportId::parse(SAMPLE_EXPORT).unwrap());
        let summary = deps.world.store.download_summary(&account.clone().into(), &export).await.unwrap();
        assert_eq!(summary.files_fetched, 1);
        let receipts =
            deps.world.store.receipts(&account.clone().into(), &export, None, 10).await.unwrap().items;
        assert_eq!((receipts[0].fetch_count, receipts[0].first_source_ip.as_str()), (1, "203.0.113.7"));
        // A second fetch counts on the receipt, not in the summary.
        invoke(&deps, include_str!("../../../events/download-export/link.json")).await.unwrap();
        assert_eq!(
            deps.world.store.download_summary(&account.clone().into(), &export).await.unwrap().files_fetched,
            1
        );
        assert_eq!(
            deps.world.store.receipts(&account.clone().into(), &export, None, 10).await.unwrap().items[0]
                .fetch_count,
            2
        );
    }

    #[tokio::test]
    async fn a_manifest_link_redirects_to_the_users_manifest_as_a_counted_hand_out_until_revoked() {
        use export_core::domain::manifest_link::{self, ManifestClaims};
        use export_core::ports::{LinkKeys, StatusChange};
        let deps = deps();
        let record = sample_user_record();
        let (owner, export) = (record.owner.clone(), record.export_id);
        // The event's token is the sample user's export's, made as Finalize makes it.
        let user = export_core::domain::ids::UserId::parse(SAMPLE_USER).unwrap();
        let key = deps.world.link_keys.derive(1, &owner, &export).await.unwrap();
        let claims = ManifestClaims {
            kid: 1,
            user,
            export_id: export,
            expires_at: record.result.unwrap().urls_expire_at,
        };
        let event = include_str!("../../../events/download-export/manifest-link.json");
        assert!(
            event.contains(&manifest_link::link("", &claims, &key).unwrap()),
            "the event holds the real token"
        );

        let reply = invoke(&deps, event).await.unwrap();
        assert_eq!(reply["statusCode"], 302, "{reply}");
        let location = reply["headers"]["location"].as_str().unwrap();
        assert!(
            location.contains(&format!("exports/users/{SAMPLE_USER}/{SAMPLE_EXPORT}/attachments.csv")),
            "{location}"
        );
        let view = deps.world.store.get(&owner, &export).await.unwrap().unwrap();
        assert_eq!(view.retrievals, 1, "a hand-out, counted");
        let handouts = deps.world.store.handouts(&owner, &export, 5).await.unwrap();
        assert_eq!(handouts[0].principal, "assistant-reply-link");

        // An altered link, or one read as a file link, is not counted.
        for refused in ["manifest-link-altered.json", "manifest-link-as-file-link.json"] {
            let path = format!("{}/../../events/download-export/{refused}", env!("CARGO_MANIFEST_DIR"));
            let reply = invoke(&deps, &std::fs::read_to_string(path).unwrap()).await.unwrap();
            assert_eq!(reply["statusCode"], 403, "{refused}");
        }
        assert_eq!(deps.world.store.get(&owner, &export).await.unwrap().unwrap().retrievals, 1);

        // Revoked: the link stops at once (the record is read afresh), and says when.
        let at = Timestamp::parse("2026-11-25T09:00:00Z").unwrap();
        let by = export_core::domain::model::RequestedBy::new(
            "arn:aws:iam::123456789012:user/op",
            export_core::domain::model::Via::Api,
        );
        let revoked = StatusChange::Revoked { at, by };
        deps.world.store.change_status(&owner, &export, revoked).await.unwrap();
        let reply = invoke(&deps, event).await.unwrap();
        assert_eq!(reply["statusCode"], 410, "{reply}");
        assert!(reply["body"].as_str().unwrap().contains("revoked at 2026-11-25T09:00:00"), "{reply}");
        // Past its expiry it is gone too, whatever the record says.
        deps.world.clock.advance(std::time::Duration::from_secs(5 * 86_400 + 3_600));
        let reply = invoke(&deps, event).await.unwrap();
        assert!(reply["body"].as_str().unwrap().contains("expired at"), "{reply}");
    }

    #[tokio::test]
    async fn a_refused_link_is_not_counted() {
        let deps = deps();
        let reply =
            invoke(&deps, include_str!("../../../events/download-export/link-altered.json")).await.unwrap();
        assert_eq!(reply["statusCode"], 403);
        let (account, export) =
            (AccountId::parse(SAMPLE_ACCOUNT).unwrap(), ExportId::parse(SAMPLE_EXPORT).unwrap());
        assert_eq!(
            deps.world.store.download_summary(&account.clone().into(), &export).await.unwrap().files_fetched,
            0
        );
    }
}
