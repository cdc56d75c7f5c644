//! `attachment-export download`: every file of a manifest, with bounded concurrency, retries with
//! backoff, resume (files already complete and verified are skipped), SHA-256 verification, a safe
//! on-disk layout, an index of original names, and a report that names expired URLs as such.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use export_core::Timestamp;
use export_core::domain::ids::{AttachmentId, ConversationId};
use futures::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::CliError;
use crate::safe_fs::Folder;
use crate::safety::{checked_url, formula_guard, http_error, is_bidi_control, is_zero_width};

/// One manifest row, as the downloader needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub attachment_id: String,
    pub conversation_type: String,
    pub conversation_id: String,
    pub file_name: String,
    pub size_bytes: u64,
    pub sha256: String,
    pub url: String,
}

#[derive(Debug, Clone)]
pub struct DownloadOptions {
    pub out: PathBuf,
    pub concurrency: usize,
    pub retries: u32,
}

#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DownloadReport {
    pub downloaded: u64,
    pub skipped: u64,
    pub failed: Vec<Failure>,
    pub bytes: u64,
    pub by_conversation_type: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Failure {
    pub attachment_id: String,
    pub file_name: String,
    pub reason: String,
    pub expired: bool,
}

/// Reads a CSV (with header) or JSON Lines manifest.
pub fn read_manifest(bytes: &[u8]) -> Result<Vec<Entry>, CliError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'{') {
        return bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
            .map(|line| {
                let v: serde_json::Value = serde_json::from_slice(line)
                    .map_err(|e| CliError::Usage(format!("manifest line: {e}")))?;
                let text = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
                Ok(Entry {
                    attachment_id: text("attachment_id"),
                    conversation_type: text("conversation_type"),
                    conversation_id: text("conversation_id"),
                    file_name: text("file_name"),
                    size_bytes: v["size_bytes"].as_u64().unwrap_or(0),
                    sha256: text("sha256"),
                    url: text("url"),
                })
            })
            .collect();
    }
    let mut reader = csv::Reader::from_reader(bytes);
    let headers = reader.headers().map_err(|e| CliError::Usage(format!("manifest header: {e}")))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| CliError::Usage(format!("manifest has no {name} column")))
    };
    let (id, kind, conversation, name, size, sha, url) = (
        column("attachment_id")?,
        column("conversation_type")?,
        column("conversation_id")?,
        column("file_name")?,
        column("size_bytes")?,
        column("sha256")?,
        column("url")?,
    );
    reader
        .records()
        .map(|r| {
            let r = r.map_err(|e| CliError::Usage(format!("manifest row: {e}")))?;
            Ok(Entry {
                attachment_id: r[id].to_owned(),
                conversation_type: r[kind].to_owned(),
                conversation_id: r[conversation].to_owned(),
                file_name: unguard(&r[name]),
                size_bytes: r[size].parse().unwrap_or(0),
                sha256: r[sha].to_owned(),
                url: r[url].to_owned(),
            })
        })
        .collect()
}

/// Undoes the manifest's spreadsheet guard (`'` before `=`, `+`, `-`, `@`, tab, CR).
fn unguard(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_owned(),
        _ => cell.to_owned(),
    }
}

/// A file name safe on any file system: no separators, no control characters, no leading dots,
/// no bidi controls or zero-width characters (dropped: they make a name look like another),
/// bounded length. Originals are kept in the index.
pub fn sanitize(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .filter(|c| !is_bidi_control(*c) && !is_zero_width(*c))
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                '_'
            } else {
                c
            }
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.');
    let mut out = String::new();
    for c in trimmed.chars() {
        if out.len() + c.len_utf8() > 120 {
            break;
        }
        out.push(c);
    }
    if out.is_empty() { "file".to_owned() } else { out }
}

/// `{out}/{type}/{conversation}/{attachment}-{name}`; ids that are not ids (a hostile manifest)
/// are replaced, so nothing can leave `out`.
pub fn local_path(out: &Path, e: &Entry) -> PathBuf {
    let (kind, conversation, file) = layout(e);
    out.join(kind).join(conversation).join(file)
}

/// The three names below the output folder: type folder, conversation folder, file.
fn layout(e: &Entry) -> (&'static str, String, String) {
    let kind = match e.conversation_type.as_str() {
        "DIRECT" => "direct",
        "GROUP" => "group",
        "ROOM" => "room",
        _ => "other",
    };
    let conversation = ConversationId::parse(&e.conversation_id)
        .map(|c| c.to_string())
        .unwrap_or_else(|_| "unknown-conversation".into());
    let id =
        AttachmentId::parse(&e.attachment_id).map(|a| a.to_string()).unwrap_or_else(|_| "unknown".into());
    (kind, conversation, format!("{id}-{}", sanitize(&e.file_name)))
}

/// The half-written file's name next to `file` (`{attachment}-{name}.part`, as before).
fn part_name(file: &str) -> String {
    let replaced = Path::new(file).with_extension("part");
    let part = replaced.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if part == file || part.is_empty() { format!("{file}.part") } else { part.to_owned() }
}

/// When a download link stops working, from its own token (the link's last path segment).
pub fn link_expiry(url: &str) -> Option<Timestamp> {
    let token = url.rsplit('/').next()?;
    Some(export_core::domain::link_token::decode(token).ok()?.claims().expires_at)
}

/// The one redirect a link may answer, checked before it is followed: to an S3 pre-signed GET —
/// `https` to an S3 endpoint of amazonaws.com (or plain `http` on the loopback, the local stack)
/// carrying a SigV4 query signature. Anything else is refused, and never requested.
pub fn expected_redirect(location: Option<&str>) -> Result<reqwest::Url, String> {
    let location = location.ok_or("the link answered a redirect without a Location")?;
    let url = checked_url(location, "the redirect")?;
    let signed = url.query_pairs().any(|(k, _)| k == "X-Amz-Signature");
    let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
    let s3_host = host.ends_with(".amazonaws.com")
        && host.split('.').any(|label| label == "s3" || label.starts_with("s3-"))
        && url.scheme() == "https";
    if signed && (s3_host || crate::safety::is_loopback(&url)) {
        Ok(url)
    } else {
        Err("the link redirected somewhere other than an S3 download; not followed".into())
    }
}

/// The SHA-256 of an open file, read in pieces (files can be large).
async fn file_sha256(file: std::fs::File) -> Option<String> {
    let mut file = tokio::fs::File::from_std(file);
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut buffer).await.ok()?;
        if n == 0 {
            return Some(export_core::domain::hex::encode(&hasher.finalize()));
        }
        hasher.update(&buffer[..n]);
    }
}

enum Outcome {
    Downloaded(u64),
    Skipped(u64),
    Failed(Failure),
}

async fn fetch_one(http: &reqwest::Client, root: &Folder, e: &Entry, retries: u32) -> Outcome {
    let fail = |reason: String, expired: bool| {
        Outcome::Failed(Failure {
            attachment_id: e.attachment_id.clone(),
            file_name: e.file_name.clone(),
            reason,
            expired,
        })
    };
    // The transport rule first: a link that breaks it is never requested.
    let url = match checked_url(&e.url, "the download link") {
        Ok(url) => url,
        Err(why) => return fail(why, false),
    };
    let (kind, conversation, file) = layout(e);
    let folder = match root.child(kind).and_then(|k| k.child(&conversation)) {
        Ok(folder) => folder,
        Err(why) => return fail(why.0, false),
    };
    match folder.open_existing(&file) {
        Ok(Some(existing)) => {
            if file_sha256(existing).await.as_deref() == Some(e.sha256.as_str()) {
                return Outcome::Skipped(e.size_bytes);
            }
        }
        Ok(None) => {}
        Err(why) => return fail(why.0, false),
    }
    let partial = part_name(&file);
    let mut last_error = String::new();
    for attempt in 0..=retries {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt.min(6)))).await;
        }
        let response = match http.get(url.clone()).send().await {
            Ok(r) => r,
            Err(err) => {
                last_error = http_error(err);
                continue;
            }
        };
        // The link answers a redirect to the file (DESIGN §8); follow that one only.
        let response = match response.status().as_u16() {
            302 | 303 | 307 => {
                let location =
                    response.headers().get(reqwest::header::LOCATION).and_then(|v| v.to_str().ok());
                let target = match expected_redirect(location) {
                    Ok(target) => target,
                    Err(why) => return fail(why, false),
                };
                match http.get(target).send().await {
                    Ok(r) => r,
                    Err(err) => {
                        last_error = http_error(err);
                        continue;
                    }
                }
            }
            _ => response,
        };
        match response.status().as_u16() {
            200 => {}
            status @ 300..=399 => {
                return fail(
                    format!("redirected again (HTTP {status}); only one redirect is followed"),
                    false,
                );
            }
            403 if link_expiry(&e.url).is_none() => {
                return fail("refused (HTTP 403): this is not a download link of the service".into(), false);
            }
            403 => {
                // S3 refused the redirect: it expired before the transfer began. Ask again.
                last_error = "the redirect expired before the download started (HTTP 403)".into();
                continue;
            }
            404 => return fail("the file no longer exists (HTTP 404)".into(), false),
            410 => {
                // Revoked, expired, or its export is gone: the service's own words, which hold no link.
                let message = response
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["message"].as_str().map(crate::safety::redact))
                    .unwrap_or_else(|| "the link no longer works (HTTP 410)".into());
                let expired = link_expiry(&e.url).is_some_and(|t| t <= Timestamp::now());
                return fail(message, expired);
            }
            status => {
                last_error = format!("HTTP {status}");
                continue; // 429, 5xx and the like: retry
            }
        }
        let limit = e.size_bytes;
        if let Some(announced) = response.content_length()
            && announced > limit
        {
            return fail(
                format!(
                    "size mismatch: the server announced {announced} bytes, the manifest says {limit}; nothing written"
                ),
                false,
            );
        }
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut oversize = false;
        let written = async {
            let mut file = tokio::fs::File::from_std(folder.create_new(&partial).map_err(|r| r.0)?);
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(http_error)?;
                // Never written beyond the manifest's size: the excess is cut and the file failed.
                let room = (limit - size).min(chunk.len() as u64) as usize;
                let kept = &chunk[..room];
                hasher.update(kept);
                size += kept.len() as u64;
                file.write_all(kept).await.map_err(|e| e.to_string())?;
                if room < chunk.len() {
                    oversize = true;
                    break;
                }
            }
            file.flush().await.map_err(|e| e.to_string())
        }
        .await;
        if let Err(err) = written {
            last_error = format!("interrupted: {err}");
            continue;
        }
        if oversize {
            folder.remove(&partial);
            return fail(
                format!(
                    "size mismatch: the body is longer than the manifest's {limit} bytes; cut there and discarded"
                ),
                false,
            );
        }
        let digest = export_core::domain::hex::encode(&hasher.finalize());
        if digest != e.sha256 {
            folder.remove(&partial);
            let sizes = if size == limit {
                String::new()
            } else {
                format!(" ({size} bytes, the manifest says {limit})")
            };
            return fail(
                format!("SHA-256 mismatch: got {digest}, the manifest says {}{sizes}", e.sha256),
                false,
            );
        }
        return match folder.rename(&partial, &file) {
            Ok(()) => Outcome::Downloaded(size),
            Err(why) => fail(why.0, false),
        };
    }
    fail(format!("gave up after {} attempts: {last_error}", retries + 1), false)
}

/// Downloads every entry under `options.out` and writes `index.csv` there.
pub async fn download(
    entries: &[Entry],
    options: &DownloadOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<DownloadReport, CliError> {
    let root = Folder::root(&options.out).map_err(|e| CliError::Usage(e.0))?;
    let http = crate::safety::http_client(Duration::from_secs(300)).map_err(CliError::Http)?;
    let outcomes: Vec<(usize, Outcome)> = futures::stream::iter(entries.iter().enumerate())
        .map(|(i, e)| {
            let (http, root) = (&http, &root);
            async move {
                let outcome = fetch_one(http, root, e, options.retries).await;
                let (files, bytes) = match &outcome {
                    Outcome::Downloaded(b) | Outcome::Skipped(b) => (1, *b),
                    Outcome::Failed(_) => (1, 0),
                };
                progress(files, bytes);
                (i, outcome)
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    let mut report = DownloadReport::default();
    let mut index = csv::Writer::from_writer(Vec::new());
    index
        .write_record(["attachment_id", "conversation_type", "file_name", "path", "sha256", "status"])
        .map_err(|e| CliError::Usage(e.to_string()))?;
    let mut sorted = outcomes;
    sorted.sort_by_key(|(i, _)| *i);
    for (i, outcome) in sorted {
        let e = &entries[i];
        let status = match outcome {
            Outcome::Downloaded(b) => {
                report.downloaded += 1;
                report.bytes += b;
                *report.by_conversation_type.entry(e.conversation_type.clone()).or_default() += 1;
                "downloaded"
            }
            Outcome::Skipped(b) => {
                report.skipped += 1;
                report.bytes += b;
                *report.by_conversation_type.entry(e.conversation_type.clone()).or_default() += 1;
                "already complete"
            }
            Outcome::Failed(f) => {
                report.failed.push(f);
                "failed"
            }
        };
        let path = local_path(&options.out, e);
        let relative = path.strip_prefix(&options.out).unwrap_or(&path).display().to_string();
        // Every cell guarded: a spreadsheet opening the index shows names, never runs them.
        index
            .write_record(
                [e.attachment_id.as_str(), &e.conversation_type, &e.file_name, &relative, &e.sha256, status]
                    .map(formula_guard),
            )
            .map_err(|e| CliError::Usage(e.to_string()))?;
    }
    let index = index.into_inner().map_err(|e| CliError::Usage(e.to_string()))?;
    let written = root.create_new("index.csv.part").and_then(|mut file| {
        file.write_all(&index).map_err(|e| crate::safe_fs::Refused(format!("index.csv: {e}")))?;
        root.rename("index.csv.part", "index.csv")
    });
    written.map_err(|e| CliError::Usage(e.0))?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_names_stay_inside_the_output_folder() {
        let out = Path::new("/tmp/out");
        for name in ["../../../etc/passwd", "..", ".", "a/b\\c", "\u{0}nul", "con:txt", "line\nbreak", ""] {
            let e = Entry {
                attachment_id: "11111111-1111-4111-8111-111111111111".into(),
                conversation_type: "DIRECT".into(),
                conversation_id: "../../x".into(),
                file_name: name.into(),
                size_bytes: 0,
                sha256: String::new(),
                url: String::new(),
            };
            let p = local_path(out, &e);
            assert!(p.starts_with(out), "{p:?}");
            assert!(!p.components().any(|c| matches!(c, std::path::Component::ParentDir)), "{p:?}");
            assert_eq!(p.parent().unwrap().parent().unwrap(), out.join("direct"));
            assert!(
                p.file_name().unwrap().to_str().unwrap().starts_with("11111111-1111-4111-8111-111111111111-")
            );
        }
        assert_eq!(sanitize(&"é".repeat(200)).len(), 120);
    }

    #[test]
    fn bidi_controls_and_zero_width_characters_are_dropped_from_saved_names() {
        assert_eq!(sanitize("invoice\u{202e}fdp.exe"), "invoicefdp.exe");
        assert_eq!(sanitize("a\u{200b}b\u{200c}c\u{200d}d\u{2060}e\u{feff}f.txt"), "abcdef.txt");
        assert_eq!(sanitize("\u{2066}x\u{2069}\u{200e}\u{200f}\u{61c}\u{202a}.pdf"), "x.pdf");
        assert_eq!(sanitize("\u{feff}.hidden"), "hidden");
        assert_eq!(sanitize("\u{202e}\u{200b}"), "file");
        assert_eq!(part_name("id-report.pdf"), "id-report.part");
        assert_eq!(part_name("id-x.part"), "id-x.part.part");
    }

    #[test]
    fn reads_csv_and_jsonl_manifests_and_undoes_the_formula_guard() {
        let csv = "attachment_id,conversation_type,conversation_id,conversation_name,message_id,uploader_id,uploader_email,uploader_managed,file_name,content_type,size_bytes,sha256,uploaded_at,url,url_expires_at\r\n\
                   a,DIRECT,c,,m,u,e,true,'=SUM(1).xlsx,t,12,ff,2026,https://x,2026\r\n";
        let entries = read_manifest(csv.as_bytes()).unwrap();
        assert_eq!(entries[0].file_name, "=SUM(1).xlsx");
        assert_eq!(entries[0].size_bytes, 12);
        let jsonl = "{\"attachment_id\":\"a\",\"conversation_type\":\"ROOM\",\"conversation_id\":\"c\",\"file_name\":\"'=raw\",\"size_bytes\":3,\"sha256\":\"ee\",\"url\":\"u\"}\n";
        let entries = read_manifest(jsonl.as_bytes()).unwrap();
        assert_eq!((entries[0].file_name.as_str(), entries[0].conversation_type.as_str()), ("'=raw", "ROOM"));
    }

    #[test]
    fn only_a_signed_s3_download_is_followed() {
        let ok = [
            "https://attachments-prod.s3.us-east-1.amazonaws.com/a/b?X-Amz-Signature=ab&X-Amz-Expires=45",
            "https://s3.eu-west-1.amazonaws.com/bucket/k?X-Amz-Signature=ab",
            "http://127.0.0.1:18001/attachments-local/k?X-Amz-Signature=ab",
        ];
        for location in ok {
            assert!(expected_redirect(Some(location)).is_ok(), "{location}");
        }
        let refused = [
            None,
            Some("https://attachments-prod.s3.us-east-1.amazonaws.com/a/b"),
            Some("https://evil.example.com/a?X-Amz-Signature=ab"),
            Some("https://s3.amazonaws.com.evil.example/a?X-Amz-Signature=ab"),
            Some("http://attachments-prod.s3.us-east-1.amazonaws.com/a?X-Amz-Signature=ab"),
            Some("file:///etc/passwd?X-Amz-Signature=ab"),
        ];
        for location in refused {
            let why = expected_redirect(location).unwrap_err();
            assert!(!why.contains("evil") && !why.contains("X-Amz"), "the refusal names no URL: {why}");
        }
    }

    #[test]
    fn a_links_expiry_is_read_from_its_token() {
        use export_core::domain::ids::{AccountId, AttachmentId, ExportId};
        let expires = Timestamp::parse("2026-11-30T10:15:30Z").unwrap();
        let maker = export_core::domain::link_token::LinkMaker::new(
            "https://x.lambda-url.us-east-1.on.aws",
            1,
            &AccountId::random().into(),
            &ExportId::new(),
            expires,
            &[1; 32],
        )
        .unwrap();
        let mut link = String::new();
        assert!(maker.link(&AccountId::random(), &AttachmentId::random(), expires, &mut link));
        assert_eq!(link_expiry(&link), Some(expires));
        assert!(link_expiry("https://x/y").is_none());
    }
}
