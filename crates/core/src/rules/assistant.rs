//! The Assistant (DESIGN §15): what it answers a chat user's 1:1 message. The chat service calls
//! it with the sender's user id, which it vouches for; the Assistant's rules are StartDataExport's
//! (`Starter`), reached through a confirmation: `Get my attachments` answers with a command that
//! carries a one-time code, and only that command, sent back by the same user within
//! [`CODE_LIFETIME`], starts the export.
//!
//! The code is random (six lowercase letters from the OS's generator, by way of a v4 UUID), bound
//! to the user (kept under the user's key), single use (redeemed by a conditional delete) and kept
//! as its SHA-256 only. A wrong, expired, replayed or another user's code starts nothing and says
//! so; the reply never says which of them it was.

use std::time::Duration;

use crate::backend::Backend;
use crate::domain::error::{Error, Result};
use crate::domain::hex;
use crate::domain::ids::{ExportId, UserId};
use crate::domain::manifest_link::{self, ManifestClaims};
use crate::domain::model::{
    ExportFormat, ExportRecord, ExportResult, ExportStatus, FailureInfo, RequestedBy, Via,
};
use crate::domain::time::Timestamp;
use crate::ports::{AssistantReply, Clock, ExportStore, LinkKeys};
use crate::rules::start::{StartRequest, Starter, throttled};

/// How long a confirmation code works.
pub const CODE_LIFETIME: Duration = Duration::from_secs(600);

/// The longest message the Assistant reads; a longer one is answered as unknown text.
pub const MAX_MESSAGE_CHARS: usize = 200;

/// What the export records as its requester: the chat service, which vouched for the user.
pub const ASSISTANT_PRINCIPAL: &str = "chat-service:assistant";

const COMMAND: &str = "get my attachments";

pub const HELP: &str = "I can export every file you uploaded to 1:1 and group conversations, and every \
file in the rooms you created. Write \"Get my attachments\" and I will answer with a command to confirm. \
Within about a day I send you a link to a file of download links, which work for about 6 days. You can \
ask once every 7 days.";

const UNKNOWN: &str = "Sorry, I did not understand that. Write \"Get my attachments\" to export your \
files, or \"help\".";

const BAD_CODE: &str = "That confirmation code does not work: it may be mistyped, used already, or \
older than 10 minutes. Nothing was started. Write \"Get my attachments\" for a new code.";

/// What a message asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    Help,
    /// `Get my attachments`: a new confirmation code.
    Request,
    /// `Get my attachments <code>`.
    Confirm(String),
    Unknown,
}

/// Reads a message: words compared without case and extra spaces.
pub fn intent(text: &str) -> Intent {
    if text.chars().count() > MAX_MESSAGE_CHARS {
        return Intent::Unknown;
    }
    let words: Vec<String> = text.split_whitespace().map(str::to_lowercase).collect();
    let command: Vec<&str> = COMMAND.split(' ').collect();
    match words.as_slice() {
        [w] if w == "help" || w == "?" => Intent::Help,
        w if w == command.as_slice() => Intent::Request,
        [a, b, c, code] if [a.as_str(), b.as_str(), c.as_str()] == command.as_slice() => {
            Intent::Confirm(code.clone())
        }
        _ => Intent::Unknown,
    }
}

/// A fresh confirmation code: six lowercase letters, from 16 random bytes.
pub fn new_code() -> String {
    let random = uuid::Uuid::new_v4();
    random.as_bytes()[..6].iter().map(|b| char::from(b'a' + b % 26)).collect()
}

/// The SHA-256 a code is kept as.
pub fn code_digest(code: &str) -> String {
    hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(code.as_bytes()))
}

pub struct Assistant<B: Backend> {
    pub starter: Starter<B>,
}

impl<B: Backend> Assistant<B> {
    /// The reply to `user`'s message. Refusals are replies too (what the user reads); an `Err` is
    /// a failure of the service, for the chat service to retry or report.
    pub async fn answer(&self, user: &UserId, text: &str) -> Result<String> {
        match intent(text) {
            Intent::Help => Ok(HELP.to_owned()),
            Intent::Unknown => Ok(UNKNOWN.to_owned()),
            Intent::Request => self.request(user).await,
            Intent::Confirm(code) => self.confirm(user, &code).await,
        }
    }

    async fn request(&self, user: &UserId) -> Result<String> {
        if let Some(reply) = refusal_reply(self.starter.require_self_service(user).await)? {
            return Ok(reply);
        }
        // A closed window is said now, before a code that could not start anything.
        let owner = user.clone().into();
        let now = self.starter.clock.now();
        if let Some(t) = self.starter.store.throttle(&owner).await?.filter(|t| !t.is_open_at(now)) {
            let closed = throttled(&owner, &t, now, self.starter.window);
            tracing::info!(%user, "assistant: window closed, no code issued");
            return Ok(closed.public_message());
        }
        let code = new_code();
        let expires_at = now.plus(CODE_LIFETIME);
        self.starter.store.put_confirmation(user, &code_digest(&code), expires_at).await?;
        tracing::info!(%user, %expires_at, "assistant: confirmation code issued");
        Ok(format!(
            "To confirm, send this within 10 minutes: Get my attachments {code}\nI will then gather every \
             file you uploaded to 1:1 and group conversations, and every file in the rooms you created."
        ))
    }

    async fn confirm(&self, user: &UserId, code: &str) -> Result<String> {
        let now = self.starter.clock.now();
        if !self.starter.store.take_confirmation(user, &code_digest(code), now).await? {
            tracing::warn!(%user, "assistant: confirmation refused (wrong, expired, used or another user's code)");
            return Ok(BAD_CODE.to_owned());
        }
        let request = StartRequest {
            owner: user.clone().into(),
            client_token: None,
            format: ExportFormat::Csv,
            verify_objects: true,
            since: None,
            requested_by: RequestedBy::new(ASSISTANT_PRINCIPAL, Via::Assistant),
        };
        match self.starter.start(request).await {
            Ok(reply) => {
                tracing::info!(%user, export = %reply.export_id, "assistant: export accepted");
                Ok(format!(
                    "Thank you. I am gathering your attachments (export {}): every file you uploaded to 1:1 \
                     and group conversations, and every file in the rooms you created. When it is ready \
                     (usually within a day) I send you a link to the file of download links; its links \
                     work for about 6 days.",
                    reply.export_id
                ))
            }
            Err(e) => Ok(refusal_reply(Err(e))?.unwrap_or_default()),
        }
    }
}

/// How the Assistant's reply links a user's manifest when their export ends: the link keys (the
/// export's own key, as its files' links) and the download function's URL.
#[derive(Clone)]
pub struct ReplyLinks<K: LinkKeys> {
    pub keys: K,
    pub base_url: String,
}

impl<K: LinkKeys> ReplyLinks<K> {
    /// The manifest link of `user`'s export, working until `expires_at`; `None` (logged) when it
    /// cannot be made: the reply then says where else the file is.
    pub async fn manifest_link(
        &self,
        user: &UserId,
        export: &ExportId,
        expires_at: Timestamp,
    ) -> Option<String> {
        let kid = self.keys.current_kid();
        let key = match self.keys.derive(kid, &user.clone().into(), export).await {
            Ok(key) => key,
            Err(error) => {
                tracing::warn!(%user, %export, %error, "the reply's manifest link was not made");
                return None;
            }
        };
        let claims = ManifestClaims { kid, user: user.clone(), export_id: *export, expires_at };
        manifest_link::link(&self.base_url, &claims, &key)
    }
}

fn files(n: u64) -> String {
    if n == 1 { "1 file".to_owned() } else { format!("{n} files") }
}

fn utc(at: Timestamp) -> String {
    at.as_datetime().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// What the Assistant says when `record` (a user's export) ends: delivered with its manifest link
/// (`link`, working until the manifest's links stop), delivered without one (the link could not be
/// made), or failed with the failure's message. The window is given back on failure, so the user
/// may ask again at once.
pub fn ended_reply(
    record: &ExportRecord,
    user: &UserId,
    result: Option<&ExportResult>,
    failure: Option<&FailureInfo>,
    link: Option<String>,
) -> AssistantReply {
    let export = record.export_id;
    let mut reply = AssistantReply {
        user_id: user.clone(),
        export_id: export,
        status: record.status,
        reply: String::new(),
        link: None,
        link_expires_at: None,
        attachment_count: None,
        error_count: None,
        error_code: failure.map(|f| f.code.clone()),
    };
    let Some(result) = result else {
        let why = failure.map_or("it could not be finished.", |f| f.message.as_str());
        reply.status = ExportStatus::Failed;
        reply.reply = format!(
            "I could not gather your attachments (export {export}): {why} Nothing counts against your 7 days: \
             write \"Get my attachments\" to ask again."
        );
        return reply;
    };
    reply.status = result.status();
    reply.attachment_count = Some(result.attachment_count);
    reply.error_count = Some(result.error_count);
    let expires = utc(result.urls_expire_at);
    let found = match result.attachment_count {
        0 => format!(
            "I found no attachments of yours (export {export}), so the file of download links is empty."
        ),
        n => format!("Your attachments are ready (export {export}): {}.", files(n)),
    };
    let missing = match result.error_count {
        0 => String::new(),
        n => format!(
            " {} could not be included; the export's errors report, under your exports, says which and why.",
            files(n)
        ),
    };
    reply.reply = match &link {
        Some(link) => format!(
            "{found}{missing}\nThe file of download links: {link}\nIt and the links in it work until {expires}."
        ),
        None => format!(
            "{found}{missing}\nThe file of download links is under your exports; its links work until {expires}."
        ),
    };
    reply.link_expires_at = link.as_ref().map(|_| result.urls_expire_at);
    reply.link = link;
    reply
}

/// A refusal the user should read (self-service off, managed, Team, the window, a bad request) as
/// a reply; anything else stays an error.
fn refusal_reply(outcome: Result<()>) -> Result<Option<String>> {
    match outcome {
        Ok(()) => Ok(None),
        Err(
            e @ (Error::Forbidden(_)
            | Error::Unprocessable(_)
            | Error::Throttled { .. }
            | Error::BadRequest(_)),
        ) => {
            tracing::info!(code = e.code(), "assistant: refused");
            Ok(Some(e.public_message()))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::AccountType;
    use crate::domain::owner::ExportOwner;
    use crate::memory::World;

    const WEEK: Duration = Duration::from_secs(604_800);

    fn assistant(w: &World) -> Assistant<crate::memory::InMemory> {
        Assistant { starter: w.starter(WEEK) }
    }

    fn code_of(reply: &str) -> String {
        reply.split("Get my attachments ").nth(1).unwrap().split_whitespace().next().unwrap().to_owned()
    }

    #[test]
    fn messages_are_read_without_case_or_extra_spaces() {
        assert_eq!(intent("Get my attachments"), Intent::Request);
        assert_eq!(intent("  get   MY attachments "), Intent::Request);
        assert_eq!(intent("Get my attachments ktsben"), Intent::Confirm("ktsben".into()));
        assert_eq!(intent("help"), Intent::Help);
        for other in ["", "hello", "Get my files", "Get my attachments a b", &"x".repeat(300)] {
            assert_eq!(intent(other), Intent::Unknown, "{other}");
        }
        let code = new_code();
        assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_lowercase()), "{code}");
        assert_ne!(new_code(), new_code());
    }

    #[tokio::test]
    async fn a_confirmed_code_starts_the_export_once_and_no_other_code_starts_anything() {
        let w = World::at("2026-11-24T10:00:00Z");
        let (me, other) = (UserId::random(), UserId::random());
        let a = assistant(&w);
        let mine = code_of(&a.answer(&me, "Get my attachments").await.unwrap());
        let theirs = code_of(&a.answer(&other, "Get my attachments").await.unwrap());
        let started = || w.workflow.started.lock().unwrap().len();

        // Wrong, another user's, and (below) replayed and expired codes start nothing.
        for code in ["zzzzzz", theirs.as_str()] {
            let reply = a.answer(&me, &format!("Get my attachments {code}")).await.unwrap();
            assert_eq!(reply, BAD_CODE);
        }
        assert_eq!(started(), 0);
        let reply = a.answer(&me, &format!("get my attachments {}", mine.to_uppercase())).await.unwrap();
        assert!(reply.starts_with("Thank you"), "{reply}");
        assert_eq!(started(), 1);
        let records = w.store.records(ExportOwner::User(me.clone()));
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].requested_by.via, Via::Assistant);
        let replayed = a.answer(&me, &format!("Get my attachments {mine}")).await.unwrap();
        assert_eq!(replayed, BAD_CODE);
        assert_eq!(started(), 1, "a replayed code starts nothing");

        // The other user's code, ten minutes and a millisecond later: expired.
        w.clock.advance(CODE_LIFETIME + Duration::from_millis(1));
        let late = a.answer(&other, &format!("Get my attachments {theirs}")).await.unwrap();
        assert_eq!(late, BAD_CODE);
        assert_eq!(started(), 1);

        // Inside the window, no code is issued: the window is the answer.
        let closed = a.answer(&me, "Get my attachments").await.unwrap();
        assert!(closed.starts_with("You accepted an export request"), "{closed}");
    }

    #[test]
    fn the_end_of_export_reply_says_how_many_files_what_is_missing_and_until_when() {
        let user = UserId::random();
        let mut record = crate::testing::delivered_sample_record(1);
        record.owner = user.clone().into();
        let mut result = record.result.clone().unwrap();
        let link = "https://dl.example/m/token".to_owned();
        let one = ended_reply(&record, &user, Some(&result), None, Some(link.clone()));
        assert!(
            one.reply.starts_with("Your attachments are ready") && one.reply.contains("1 file."),
            "{}",
            one.reply
        );
        assert!(
            one.reply.contains(&link) && one.reply.contains("until 2026-11-30 10:00 UTC"),
            "{}",
            one.reply
        );
        assert_eq!(
            (one.link.as_deref(), one.link_expires_at),
            (Some(link.as_str()), Some(result.urls_expire_at))
        );
        (result.attachment_count, result.error_count) = (12, 2);
        let some = ended_reply(&record, &user, Some(&result), None, None);
        assert_eq!(some.status, ExportStatus::SucceededWithErrors);
        assert!(
            some.reply.contains("12 files") && some.reply.contains("2 files could not be included"),
            "{}",
            some.reply
        );
        assert!(
            some.link.is_none() && some.reply.contains("under your exports"),
            "no link made: {}",
            some.reply
        );
        assert!(!some.reply.contains("http"), "{}", some.reply);
    }

    #[tokio::test]
    async fn managed_users_and_team_members_get_their_guidance_and_no_code() {
        let w = World::at("2026-11-24T10:00:00Z");
        let enterprise = w.directory.add_account(AccountType::Enterprise, false);
        let team = w.directory.add_account(AccountType::Team, false);
        let managed = w.directory.add_user(&enterprise, true);
        let member = w.directory.add_user(&team, false);
        let a = assistant(&w);
        for (user, says) in [(&managed, "IT administrator"), (&member, "remove you from the Team")] {
            let reply = a.answer(user, "Get my attachments").await.unwrap();
            assert!(reply.contains(says) && !reply.contains("Get my attachments "), "{reply}");
        }
        let off = Assistant { starter: Starter { self_service: false, ..w.starter(WEEK) } };
        let reply = off.answer(&UserId::random(), "Get my attachments").await.unwrap();
        assert!(reply.contains("turned off"), "{reply}");
        assert_eq!(a.answer(&managed, "help").await.unwrap(), HELP);
        assert_eq!(a.answer(&managed, "what?").await.unwrap(), UNKNOWN);
        assert!(w.workflow.started.lock().unwrap().is_empty());
    }
}
