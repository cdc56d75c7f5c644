//! `attachment-export seed`: a realistic Enterprise account (and a Team account) written as the chat
//! service stores it (DESIGN §4): managed and unmanaged users, 1:1, group and room conversations,
//! rooms created by managed and by unmanaged users, deleted attachments, and file names that stress a
//! manifest. Messages carry at most 25 attachments of at most 10 MiB, at most 96.4 MiB in all.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};
use export_core::Timestamp;
use export_core::aws::dynamo::{self, Item};
use export_core::domain::ids::{AccountId, AttachmentId, ConversationId, MessageId, RoomId, UserId};
use export_core::domain::model::{Account, AccountType, Attachment, ConversationType, Room, User};
use export_core::rules::scope::Scope;
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::CliError;

pub const MAX_ATTACHMENTS_PER_MESSAGE: usize = 25;
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;
/// 96.4 MiB.
pub const MAX_MESSAGE_BYTES: u64 = 101_082_726;

/// File names that break naive manifests and file systems.
const HOSTILE_NAMES: &[&str] = &[
    "budget, final.xlsx",
    "\"quoted\" report.pdf",
    "line one\nline two.txt",
    "=HYPERLINK(\"http://evil.example\").csv",
    "+1 555 0100 contacts.vcf",
    "-rf notes.txt",
    "@mention list.txt",
    "ünïcödé résumé 履歴書.docx",
    "spaces   in   name .png",
    "../../../etc/passwd",
    "..",
    "CON.txt",
    "tab\tseparated.tsv",
    "emoji 🙂 party.gif",
];

const PLAIN_NAMES: &[&str] = &[
    "IMG_{n}.jpg",
    "Screenshot {n}.png",
    "contract-v{n}.pdf",
    "meeting notes {n}.docx",
    "q{n} forecast.xlsx",
    "logo-{n}.svg",
    "recording {n}.m4a",
    "diagram {n}.drawio",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SizeProfile {
    /// Sizes like real chat uploads: log-normal around 150 KB, up to 10 MiB.
    Realistic,
    /// 100 B to 8 KB: quick local demos.
    Small,
}

#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub attachments: u64,
    pub users: usize,
    pub rooms: usize,
    pub sizes: SizeProfile,
    /// Upload each attachment's bytes (off: catalog only, for very large benchmarks).
    pub upload_objects: bool,
    pub seed: u64,
    pub concurrency: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedReport {
    pub account_id: AccountId,
    pub team_account_id: AccountId,
    pub users: usize,
    pub managed_users: usize,
    pub rooms: usize,
    pub messages: u64,
    pub attachments: u64,
    pub attachment_bytes: u64,
    pub deleted: u64,
    /// How many attachments an export requested now must list (the scope rule applied here).
    pub expected_in_export: u64,
    pub expected_bytes: u64,
    /// The self-service users (DESIGN §15): one whom no account manages, and a Team member.
    pub self_service: SelfServiceSeed,
}

/// The self-service users `seed` writes, and what each one's own export must list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SelfServiceSeed {
    /// No account manages them: uploads in 1:1s of Example Corp and groups of Partner Ltd (which
    /// lists them as a guest), a room they created in Example Corp where others uploaded, and an
    /// upload to someone else's room (not theirs to export).
    pub user_id: UserId,
    /// The other account their uploads are in.
    pub partner_account_id: AccountId,
    /// What their export requested now must list (own uploads and their room's files).
    pub expected_in_export: u64,
    pub expected_bytes: u64,
    /// A member of the Team account, refused until the Team's administrator removes them.
    pub team_member_id: UserId,
    /// What the Team member's export must list once they are removed from the Team.
    pub team_member_expected_in_export: u64,
}

/// Where seeding writes.
pub struct SeedTarget {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub accounts_table: String,
    pub attachments_table: String,
    pub attachment_bucket: String,
}

/// A small deterministic generator (xorshift64*): the same `--seed` gives the same account.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A size in bytes for the profile.
    fn size(&mut self, profile: SizeProfile) -> u64 {
        match profile {
            SizeProfile::Small => 100 + self.below(8 * 1024),
            SizeProfile::Realistic => {
                // Box–Muller normal → log-normal with median 150 KB and a long tail.
                let (u1, u2) = (self.unit().max(1e-12), self.unit());
                let normal = (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos();
                let bytes = (150_000f64.ln() + 1.4 * normal).exp();
                (bytes as u64).clamp(1, MAX_ATTACHMENT_BYTES)
            }
        }
    }

    /// Attachments in a message: mostly one, sometimes a batch, never more than 25.
    fn batch(&mut self) -> usize {
        match self.below(100) {
            0..=69 => 1,
            70..=89 => 2 + self.below(3) as usize,
            _ => 5 + self.below(MAX_ATTACHMENTS_PER_MESSAGE as u64 - 4) as usize,
        }
    }

    fn bytes(&mut self, len: u64) -> Vec<u8> {
        let mut out = Vec::with_capacity(len as usize);
        while (out.len() as u64) < len {
            out.extend_from_slice(&self.next_u64().to_le_bytes());
        }
        out.truncate(len as usize);
        out
    }
}

struct Directory {
    users: Vec<(UserId, User)>,
    rooms: Vec<(RoomId, Room)>,
}

fn directory(rng: &mut Rng, users: usize, rooms: usize) -> Directory {
    let users: Vec<(UserId, User)> = (0..users.max(2))
        .map(|i| {
            // About 70% managed (the company's domain), the rest outside collaborators; the first
            // two are one of each so every case exists even in tiny accounts.
            let managed = i == 0 || (i != 1 && rng.below(10) < 7);
            let email = if managed {
                format!("user{i}@example.com")
            } else {
                format!("guest{i}@partner.example.org")
            };
            (UserId::random(), User { user_id: None, display_name: format!("User {i}"), email, managed })
        })
        .collect();
    let rooms = (0..rooms.max(2))
        .map(|i| {
            // Room 0 is created by a managed user, room 1 by an unmanaged one, the rest at random.
            let creator = match i {
                0 => 0,
                1 => 1,
                _ => rng.below(users.len() as u64) as usize,
            };
            let room =
                Room { room_id: None, name: format!("Room {i}"), created_by: users[creator].0.clone() };
            (RoomId::random(), room)
        })
        .collect();
    Directory { users, rooms }
}

fn file_name(rng: &mut Rng, n: u64) -> String {
    if rng.below(10) == 0 {
        HOSTILE_NAMES[rng.below(HOSTILE_NAMES.len() as u64) as usize].to_owned()
    } else {
        PLAIN_NAMES[rng.below(PLAIN_NAMES.len() as u64) as usize].replace("{n}", &n.to_string())
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "jpg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "csv" => "text/csv",
        "txt" | "tsv" => "text/plain",
        _ => "application/octet-stream",
    }
}

/// Seeds the account; `progress` is told about each attachment written.
pub async fn seed(
    target: &SeedTarget,
    options: &SeedOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<SeedReport, CliError> {
    let mut rng = Rng::new(options.seed);
    let account_id = AccountId::random();
    let team_account_id = AccountId::random();
    let dir = directory(&mut rng, options.users, options.rooms);

    let mut directory_items: Vec<Item> = vec![
        dynamo::items::account(
            &account_id,
            &Account {
                account_id: None,
                account_type: AccountType::Enterprise,
                name: "Example Corp".into(),
                domains: vec!["example.com".into()],
                scheduled_exports: false,
                scheduled_exports_incremental: false,
            },
        )?,
        dynamo::items::account(
            &team_account_id,
            &Account {
                account_id: None,
                account_type: AccountType::Team,
                name: "Example Team".into(),
                domains: vec![],
                scheduled_exports: false,
                scheduled_exports_incremental: false,
            },
        )?,
    ];
    for (id, user) in &dir.users {
        directory_items.push(dynamo::items::user(&account_id, id, user)?);
    }
    for (id, room) in &dir.rooms {
        directory_items.push(dynamo::items::room(&account_id, id, room)?);
    }
    write_items(&target.dynamodb, &target.accounts_table, directory_items, options.concurrency).await?;

    // Conversations: a few 1:1s and groups; rooms are their own conversations.
    let directs: Vec<ConversationId> =
        (0..dir.users.len().max(4)).map(|_| ConversationId::random()).collect();
    let groups: Vec<ConversationId> =
        (0..(dir.users.len() / 3).max(2)).map(|_| ConversationId::random()).collect();
    let now = Timestamp::now();
    let ninety_days_ms = 90 * 86_400_000u64;
    let step_ms = (ninety_days_ms / options.attachments.max(1)).max(1);
    let mut start_ms = now.unix_millis() - ninety_days_ms as i64 - 60_000;

    let users: Vec<User> =
        dir.users.iter().map(|(id, u)| User { user_id: Some(id.clone()), ..u.clone() }).collect();
    let rooms: Vec<Room> =
        dir.rooms.iter().map(|(id, r)| Room { room_id: Some(id.clone()), ..r.clone() }).collect();
    let scope = Scope::new(now, &users, &rooms);
    // The self-service users' files are the account's catalog too: the rows they add to
    // Example Corp count for its export by the account's own rule.
    let (self_rows, self_service) =
        self_service_users(target, options, &account_id, &team_account_id, &dir, now).await?;
    let theirs: Vec<&Attachment> = self_rows.iter().filter(|a| scope.includes(a)).collect();

    let mut report = SeedReport {
        account_id: account_id.clone(),
        team_account_id,
        users: users.len(),
        managed_users: users.iter().filter(|u| u.managed).count(),
        rooms: rooms.len(),
        messages: 0,
        attachments: 0,
        attachment_bytes: 0,
        deleted: 0,
        expected_in_export: theirs.len() as u64,
        expected_bytes: theirs.iter().map(|a| a.size_bytes).sum(),
        self_service,
    };

    // Generate messages in batches and write each batch (catalog + objects) in parallel.
    const BATCH: usize = 2_000;
    let mut pending: Vec<(Attachment, Option<u64>)> = Vec::with_capacity(BATCH + MAX_ATTACHMENTS_PER_MESSAGE);
    while report.attachments < options.attachments {
        let message = MessageId::random();
        report.messages += 1;
        let kind = match rng.below(4) {
            0 | 1 => ConversationType::Direct,
            2 => ConversationType::Group,
            _ => ConversationType::Room,
        };
        let conversation = match kind {
            ConversationType::Direct => directs[rng.below(directs.len() as u64) as usize].clone(),
            ConversationType::Group => groups[rng.below(groups.len() as u64) as usize].clone(),
            ConversationType::Room => {
                ConversationId::parse(dir.rooms[rng.below(dir.rooms.len() as u64) as usize].0.as_str())?
            }
        };
        // Rooms also get uploads from people outside the directory.
        let uploader = if kind == ConversationType::Room && rng.below(5) == 0 {
            UserId::random()
        } else {
            dir.users[rng.below(dir.users.len() as u64) as usize].0.clone()
        };
        let count = rng.batch().min((options.attachments - report.attachments) as usize);
        let mut message_bytes = 0u64;
        start_ms += step_ms as i64;
        let uploaded_at = Timestamp::from_unix_millis(start_ms).expect("valid time");
        for _ in 0..count {
            let size = rng.size(options.sizes).min(MAX_MESSAGE_BYTES - message_bytes);
            if size == 0 {
                break;
            }
            message_bytes += size;
            let id = AttachmentId::random();
            let name = file_name(&mut rng, report.attachments);
            let attachment = Attachment {
                account_id: account_id.clone(),
                attachment_id: id.clone(),
                message_id: message.clone(),
                conversation_id: conversation.clone(),
                conversation_type: kind,
                uploader_id: uploader.clone(),
                content_type: content_type(&name).into(),
                // Chat services key objects by id; the name lives in the catalog.
                object_key: format!("{account_id}/{conversation}/{id}"),
                file_name: name,
                size_bytes: size,
                sha256: String::new(),
                bucket: target.attachment_bucket.clone(),
                uploaded_at,
                deleted: rng.below(20) == 0,
            };
            report.attachments += 1;
            report.attachment_bytes += size;
            report.deleted += u64::from(attachment.deleted);
            let content_seed = options.upload_objects.then(|| rng.next_u64());
            pending.push((attachment, content_seed));
        }
        if pending.len() >= BATCH || report.attachments >= options.attachments {
            let batch = std::mem::take(&mut pending);
            for a in write_attachments(target, batch, options, progress).await? {
                if scope.includes(&a) {
                    report.expected_in_export += 1;
                    report.expected_bytes += a.size_bytes;
                }
            }
        }
    }
    Ok(report)
}

/// Writes the self-service users (DESIGN §15) and their files: a user no account manages, with
/// uploads in two accounts, a room they created where others uploaded (and a deleted upload, and
/// one to another's room, neither theirs to export); and a member of the Team account with
/// uploads there. Returns every row written and what each user's export must list.
async fn self_service_users(
    target: &SeedTarget,
    options: &SeedOptions,
    account_id: &AccountId,
    team_account_id: &AccountId,
    dir: &Directory,
    now: Timestamp,
) -> Result<(Vec<Attachment>, SelfServiceSeed), CliError> {
    use export_core::rules::self_service::{SelfDecision, SelfScope};
    let (user, team_member) = (UserId::random(), UserId::random());
    let partner = AccountId::random();
    let own_room = RoomId::random();
    let items = vec![
        dynamo::items::account(
            &partner,
            &Account {
                account_id: None,
                account_type: AccountType::Enterprise,
                name: "Partner Ltd".into(),
                domains: vec!["partner.example.org".into()],
                scheduled_exports: false,
                scheduled_exports_incremental: false,
            },
        )?,
        // A guest of Partner Ltd (not managed): that does not stop them asking.
        dynamo::items::user(
            &partner,
            &user,
            &User {
                user_id: None,
                email: "sam@people.example".into(),
                display_name: "Sam".into(),
                managed: false,
            },
        )?,
        dynamo::items::room(
            account_id,
            &own_room,
            &Room { room_id: None, name: "Sam's book swap".into(), created_by: user.clone() },
        )?,
        dynamo::items::user(
            team_account_id,
            &team_member,
            &User {
                user_id: None,
                email: "tea@example.net".into(),
                display_name: "Tea".into(),
                managed: false,
            },
        )?,
    ];
    write_items(&target.dynamodb, &target.accounts_table, items, options.concurrency).await?;

    let someone = dir.users[0].0.clone();
    let managed_room = ConversationId::parse(dir.rooms[0].0.as_str())?;
    let own_room_conversation = ConversationId::parse(own_room.as_str())?;
    let (direct, group) = (ConversationId::random(), ConversationId::random());
    let team_direct = ConversationId::random();
    // (account, uploader, kind, conversation, deleted)
    let plan: Vec<(&AccountId, &UserId, ConversationType, &ConversationId, bool)> = vec![
        (account_id, &user, ConversationType::Direct, &direct, false),
        (account_id, &user, ConversationType::Direct, &direct, false),
        (&partner, &user, ConversationType::Group, &group, false),
        (&partner, &user, ConversationType::Group, &group, false),
        (account_id, &someone, ConversationType::Room, &own_room_conversation, false),
        (account_id, &user, ConversationType::Room, &own_room_conversation, false),
        (account_id, &someone, ConversationType::Room, &own_room_conversation, false),
        (account_id, &user, ConversationType::Group, &group, true),
        (account_id, &user, ConversationType::Room, &managed_room, false),
        (team_account_id, &team_member, ConversationType::Direct, &team_direct, false),
        (team_account_id, &team_member, ConversationType::Direct, &team_direct, false),
        (team_account_id, &team_member, ConversationType::Group, &group, false),
    ];
    let first = now.unix_millis() - 30 * 86_400_000;
    let batch = plan
        .into_iter()
        .enumerate()
        .map(|(i, (account, uploader, kind, conversation, deleted))| {
            let id = AttachmentId::random();
            let name = format!("self-service-{i}.txt");
            let attachment = Attachment {
                account_id: account.clone(),
                attachment_id: id.clone(),
                message_id: MessageId::random(),
                conversation_id: conversation.clone(),
                conversation_type: kind,
                uploader_id: uploader.clone(),
                content_type: content_type(&name).into(),
                object_key: format!("{account}/{conversation}/{id}"),
                file_name: name,
                size_bytes: 100 + i as u64,
                sha256: String::new(),
                bucket: target.attachment_bucket.clone(),
                uploaded_at: Timestamp::from_unix_millis(first + 3_600_000 * i as i64).expect("a time"),
                deleted,
            };
            (attachment, options.upload_objects.then_some(0x5e1f + i as u64))
        })
        .collect();
    let rows = write_attachments(target, batch, options, &|_| {}).await?;
    let count = |scope: &SelfScope| {
        rows.iter()
            .filter(|a| matches!(scope.decide(a), SelfDecision::InScope(_)))
            .fold((0u64, 0u64), |(n, b), a| (n + 1, b + a.size_bytes))
    };
    let (expected_in_export, expected_bytes) = count(&SelfScope::new(user.clone(), now, [own_room]));
    let (team_member_expected_in_export, _) = count(&SelfScope::new(team_member.clone(), now, []));
    let seeded = SelfServiceSeed {
        user_id: user,
        partner_account_id: partner,
        expected_in_export,
        expected_bytes,
        team_member_id: team_member,
        team_member_expected_in_export,
    };
    Ok((rows, seeded))
}

/// Uploads the objects (bounded concurrency), then writes the catalog entries with their SHA-256.
async fn write_attachments(
    target: &SeedTarget,
    batch: Vec<(Attachment, Option<u64>)>,
    options: &SeedOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<Attachment>, CliError> {
    let done = Arc::new(AtomicU64::new(0));
    let attachments: Vec<Attachment> = futures::stream::iter(batch)
        .map(|(mut a, content_seed)| {
            let s3 = target.s3.clone();
            let done = done.clone();
            async move {
                let body = match content_seed {
                    Some(seed) => Rng::new(seed).bytes(a.size_bytes),
                    None => format!("{}", a.attachment_id).into_bytes(),
                };
                a.sha256 = Sha256::digest(&body).iter().map(|b| format!("{b:02x}")).collect();
                if content_seed.is_some() {
                    s3.put_object()
                        .bucket(&a.bucket)
                        .key(&a.object_key)
                        .content_type(&a.content_type)
                        .body(body.into())
                        .send()
                        .await
                        .map_err(|e| {
                            CliError::Aws(format!(
                                "uploading {}: {}",
                                a.object_key,
                                aws_sdk_s3::error::DisplayErrorContext(e)
                            ))
                        })?;
                }
                done.fetch_add(1, Ordering::Relaxed);
                Ok::<_, CliError>(a)
            }
        })
        .buffer_unordered(options.concurrency)
        .try_collect()
        .await?;
    let items = attachments.iter().map(dynamo::items::attachment).collect::<Result<Vec<_>, _>>()?;
    write_items(&target.dynamodb, &target.attachments_table, items, options.concurrency).await?;
    progress(done.load(Ordering::Relaxed));
    Ok(attachments)
}

/// BatchWriteItem, 25 at a time, `concurrency` requests in flight, retrying unprocessed items.
pub async fn write_items(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
    items: Vec<Item>,
    concurrency: usize,
) -> Result<(), CliError> {
    let chunks: Vec<Vec<Item>> = items.chunks(25).map(<[Item]>::to_vec).collect();
    futures::stream::iter(chunks)
        .map(|chunk| async move {
            let mut requests: Vec<WriteRequest> = chunk
                .into_iter()
                .map(|item| {
                    WriteRequest::builder()
                        .put_request(PutRequest::builder().set_item(Some(item)).build().expect("item set"))
                        .build()
                })
                .collect();
            for attempt in 0u32.. {
                let out =
                    client.batch_write_item().request_items(table, requests.clone()).send().await.map_err(
                        |e| {
                            CliError::Aws(format!(
                                "BatchWriteItem {table}: {}",
                                aws_sdk_dynamodb::error::DisplayErrorContext(e)
                            ))
                        },
                    )?;
                requests = out.unprocessed_items.and_then(|mut m| m.remove(table)).unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                if attempt > 10 {
                    return Err(CliError::Aws(format!("BatchWriteItem {table}: items stayed unprocessed")));
                }
                tokio::time::sleep(Duration::from_millis(50 << attempt.min(6))).await;
            }
            Ok::<_, CliError>(())
        })
        .buffer_unordered(concurrency)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_batches_respect_the_limits() {
        let mut rng = Rng::new(7);
        for _ in 0..50_000 {
            let s = rng.size(SizeProfile::Realistic);
            assert!((1..=MAX_ATTACHMENT_BYTES).contains(&s));
            assert!((1..=MAX_ATTACHMENTS_PER_MESSAGE).contains(&rng.batch()));
        }
        let median = {
            let mut v: Vec<u64> = (0..10_001).map(|_| rng.size(SizeProfile::Realistic)).collect();
            v.sort();
            v[5_000]
        };
        assert!((100_000..220_000).contains(&median), "median {median}");
    }

    #[test]
    fn the_same_seed_gives_the_same_account() {
        let a: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..10).map(|_| r.next_u64()).collect()
        };
        let b: Vec<u64> = {
            let mut r = Rng::new(42);
            (0..10).map(|_| r.next_u64()).collect()
        };
        assert_eq!(a, b);
        assert_eq!(Rng::new(1).bytes(13).len(), 13);
    }
}
