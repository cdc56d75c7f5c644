//! In-memory implementations of the ports, for fast unit tests of the rules and handlers. They
//! keep the adapters' contracts (conditions included; `crate::contracts` runs the same suites on
//! both) but talk to nothing. Compiled into every build rather than behind a feature, so the
//! functions and their tests share one build of this crate; the linker drops them from the
//! Lambda binaries.

mod attachments;
mod clock;
mod directory;
mod ledger;
mod link_keys;
mod notifier;
mod objects;
mod people;
mod signing;
mod store;
mod workflow;

pub use attachments::FakeAttachmentObjects;
pub use clock::FixedClock;
pub use directory::FakeDirectory;
pub use ledger::FakeSweepLedger;
pub use link_keys::FakeLinkKeys;
pub use notifier::FakeNotifier;
pub use objects::FakeObjectStore;
pub use people::FakePeople;
pub use signing::FakeStatementSigner;

/// The download function's URL in the fakes' world: the base of every manifest link.
pub const FAKE_DOWNLOAD_URL: &str = "https://dl.invalid";
pub use store::FakeStore;
pub use workflow::FakeWorkflow;

use std::time::Duration;

use crate::backend::Backend;
use crate::domain::key_layout::KeyLayout;
use crate::domain::model::ExportRecord;
use crate::rules::download::Downloader;
use crate::rules::pipeline::{Enumerator, Finisher, PartWriter};
use crate::rules::retrieve::Retriever;
use crate::rules::start::Starter;
use crate::rules::sweep::Sweeper;

/// The in-memory backend: every port a fake.
pub struct InMemory;

impl Backend for InMemory {
    type Directory = FakeDirectory;
    type Catalog = FakeDirectory;
    type Store = FakeStore;
    type Ledger = FakeSweepLedger;
    type Objects = FakeObjectStore;
    type Attachments = FakeAttachmentObjects;
    type StatementKey = FakeStatementSigner;
    type Notifier = FakeNotifier;
    type Workflow = FakeWorkflow;
    type People = FakePeople;
    type LinkKeys = FakeLinkKeys;
    type Clock = FixedClock;
}

/// One of each fake, shared: every rule built from one world sees the same tables, buckets, clock
/// and signer, as the functions of a stack share its services (each fake is a handle on shared
/// state, so a clone is the same fake). The one place tests wire rules to fakes.
#[derive(Clone)]
pub struct World {
    pub directory: FakeDirectory,
    pub store: FakeStore,
    pub ledger: FakeSweepLedger,
    pub objects: FakeObjectStore,
    pub attachments: FakeAttachmentObjects,
    pub notifier: FakeNotifier,
    pub workflow: FakeWorkflow,
    pub people: FakePeople,
    pub link_keys: FakeLinkKeys,
    pub statement_key: FakeStatementSigner,
    pub clock: FixedClock,
}

impl World {
    /// Empty services, the clock at `now` (RFC 3339).
    pub fn at(now: &str) -> Self {
        Self {
            directory: FakeDirectory::default(),
            store: FakeStore::default(),
            ledger: FakeSweepLedger::default(),
            objects: FakeObjectStore::default(),
            attachments: FakeAttachmentObjects::default(),
            notifier: FakeNotifier::default(),
            workflow: FakeWorkflow::default(),
            people: FakePeople::default(),
            link_keys: FakeLinkKeys::default(),
            statement_key: FakeStatementSigner::default(),
            clock: FixedClock::at(now),
        }
    }

    pub fn starter(&self, window: Duration) -> Starter<InMemory> {
        Starter {
            directory: self.directory.clone(),
            store: self.store.clone(),
            workflow: self.workflow.clone(),
            clock: self.clock.clone(),
            window,
            // As the local stack: the path without object checks is tested too.
            allow_unchecked: true,
            self_service: true,
        }
    }

    pub fn retriever(&self, manifest_link: Duration, window: Duration) -> Retriever<InMemory> {
        Retriever {
            directory: self.directory.clone(),
            store: self.store.clone(),
            objects: self.objects.clone(),
            clock: self.clock.clone(),
            manifest_link,
            window,
            self_service: true,
        }
    }

    /// A delivered export of `account` requested now, moved by the store's own rules (admitted,
    /// running, succeeded) with `attachment_count` files; its result names files under its prefix
    /// (not written) and links valid six days.
    pub async fn deliver(
        &self,
        owner: &crate::domain::owner::ExportOwner,
        attachment_count: u64,
    ) -> ExportRecord {
        use crate::domain::model::{ExportFormat, ExportResult, RequestedBy, Via};
        use crate::ports::{ExportStore, StatusChange};
        let now = crate::ports::Clock::now(&self.clock);
        let record = ExportRecord::new_request(
            owner.clone(),
            ExportFormat::Csv,
            RequestedBy::new("arn:aws:iam::1:user/it", Via::Api),
            None,
            now,
        );
        let export = record.export_id;
        self.store.admit(&record, Duration::from_secs(604_800)).await.expect("the window is open");
        let running = StatusChange::Running { started_at: now };
        self.store.change_status(owner, &export, running).await.expect("QUEUED -> RUNNING");
        let prefix = crate::domain::payloads::ExportJob::from(&record).prefix();
        let result = ExportResult {
            attachment_count,
            total_bytes: 10 * attachment_count,
            by_conversation_type: Default::default(),
            manifest_key: format!("{prefix}attachments.csv"),
            manifest_bytes: 1,
            manifest_sha256: "ab".repeat(32),
            summary_key: format!("{prefix}summary.json"),
            urls_expire_at: now.plus(Duration::from_secs(518_400)),
            error_count: 0,
            errors: None,
            coverage_key: None,
            statement: None,
        };
        let done = StatusChange::Succeeded { completed_at: now, result: Box::new(result) };
        self.store.change_status(owner, &export, done).await.expect("RUNNING -> SUCCEEDED");
        self.store.record(owner, &export).expect("just written")
    }

    pub fn revoker(&self) -> crate::rules::revoke::Revoker<InMemory> {
        crate::rules::revoke::Revoker {
            store: self.store.clone(),
            objects: self.objects.clone(),
            notifier: self.notifier.clone(),
            clock: self.clock.clone(),
        }
    }

    pub fn sweeper(&self, window: Duration, start_exports: bool) -> Sweeper<InMemory> {
        Sweeper {
            starter: self.starter(window),
            ledger: self.ledger.clone(),
            start_exports,
            max_running: None,
        }
    }

    pub fn enumerator(&self, part_items: usize) -> Enumerator<InMemory> {
        Enumerator {
            catalog: self.directory.clone(),
            store: self.store.clone(),
            objects: self.objects.clone(),
            clock: self.clock.clone(),
            part_items,
            segments: 4,
            max_read_rate: 0,
            group_parts: 2,
            export_bucket: "exports-test".into(),
        }
    }

    /// The part writer, signing objects of `buckets` only.
    pub fn part_writer(&self, buckets: &[&str]) -> PartWriter<InMemory> {
        PartWriter {
            store: self.store.clone(),
            objects: self.objects.clone(),
            attachments: self.attachments.clone(),
            buckets: buckets.iter().map(|b| b.to_string()).collect(),
            // The layout the local stack's seed writes, and the template's default.
            key_layout: KeyLayout::parse("{accountId}/").expect("a valid layout"),
            links: crate::rules::links::ManifestLinks {
                keys: self.link_keys.clone(),
                base_url: FAKE_DOWNLOAD_URL.into(),
                lifetime: Duration::from_secs(518_400),
            },
            max_check_rate: 0,
        }
    }

    pub fn downloader(&self, buckets: &[&str]) -> Downloader<InMemory> {
        Downloader {
            store: self.store.clone(),
            objects: self.objects.clone(),
            catalog: self.directory.clone(),
            files: self.attachments.clone(),
            link_keys: self.link_keys.clone(),
            clock: self.clock.clone(),
            buckets: buckets.iter().map(|b| b.to_string()).collect(),
            key_layout: KeyLayout::parse("{accountId}/").expect("a valid layout"),
            redirect: crate::rules::download::DEFAULT_REDIRECT,
            record_cache: crate::rules::download::DEFAULT_RECORD_CACHE,
            caches: Default::default(),
        }
    }

    pub fn finisher(&self) -> Finisher<InMemory> {
        Finisher {
            store: self.store.clone(),
            objects: self.objects.clone(),
            notifier: self.notifier.clone(),
            clock: self.clock.clone(),
            statement_key: self.statement_key.clone(),
            workflow: self.workflow.clone(),
            pass_bytes: None,
            reply_links: crate::rules::assistant::ReplyLinks {
                keys: self.link_keys.clone(),
                base_url: FAKE_DOWNLOAD_URL.into(),
            },
        }
    }
}

/// A rule or function under test with the world it was built on: the test drives `function` and
/// reads or changes the fakes it shares through the world (`harness.store`, `harness.clock`).
pub struct Harness<F> {
    pub world: World,
    pub function: F,
}

impl<F> std::ops::Deref for Harness<F> {
    type Target = World;

    fn deref(&self) -> &World {
        &self.world
    }
}
