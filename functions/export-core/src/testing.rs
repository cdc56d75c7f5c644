//! In-memory implementations of the ports, for fast unit tests of the rules and handlers. They
//! keep the adapters' contracts (conditions included; `crate::contracts` runs the same suites on
//! both) but talk to nothing. Compiled into every build rather than behind a feature, so the
//! functions and their tests share one build of this crate; the linker drops them from the
//! Lambda binaries.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::ids::{AccountId, ExportId, RoomId, UserId};
use crate::model::{
    Account, AccountType, Attachment, ExportRecord, ExportStatus, Room, Throttle, ThrottleWindow, User,
};
use crate::payloads::ExportJob;
use crate::ports::{
    Admission, AttachmentCatalog, Clock, Directory, ExecutionState, ExportStore, Page, StatusChange, Workflow,
};
use crate::time::Timestamp;

#[derive(Default)]
pub struct FakeCatalog {
    pub accounts: Mutex<BTreeMap<String, Account>>,
    pub users: Mutex<HashMap<AccountId, Vec<User>>>,
    pub rooms: Mutex<HashMap<AccountId, Vec<Room>>>,
    pub attachments: Mutex<HashMap<AccountId, Vec<Attachment>>>,
    /// Items that cannot be read as attachments, served among the others in sort-key order.
    pub unreadable: Mutex<HashMap<AccountId, Vec<crate::model::UnreadableAttachment>>>,
    /// Accounts whose look-up fails (a broken account for the sweep).
    pub broken: Mutex<Vec<AccountId>>,
}

impl FakeCatalog {
    pub fn add_account(&self, account_type: AccountType, scheduled_exports: bool) -> AccountId {
        self.insert_account(AccountId::random(), account_type, scheduled_exports)
    }

    /// An account with a given id (the one in a sample event).
    pub fn insert_account(
        &self,
        id: AccountId,
        account_type: AccountType,
        scheduled_exports: bool,
    ) -> AccountId {
        let account = Account {
            account_id: Some(id.clone()),
            account_type,
            name: "Example".into(),
            domains: vec!["example.com".into()],
            scheduled_exports,
            scheduled_exports_incremental: false,
        };
        self.accounts.lock().unwrap().insert(id.to_string(), account);
        id
    }

    pub fn add_user(&self, account: &AccountId, managed: bool) -> UserId {
        let id = UserId::random();
        let user = User {
            user_id: Some(id.clone()),
            email: format!("{id}@example.com"),
            display_name: "U".into(),
            managed,
        };
        self.users.lock().unwrap().entry(account.clone()).or_default().push(user);
        id
    }

    pub fn add_room(&self, account: &AccountId, created_by: &UserId) -> RoomId {
        let id = RoomId::random();
        let room = Room { room_id: Some(id.clone()), name: "R".into(), created_by: created_by.clone() };
        self.rooms.lock().unwrap().entry(account.clone()).or_default().push(room);
        id
    }
}

impl Directory for FakeCatalog {
    async fn account(&self, account: &AccountId) -> Result<Option<Account>> {
        if self.broken.lock().unwrap().contains(account) {
            return Err(Error::Internal(format!("account {account} is broken")));
        }
        Ok(self.accounts.lock().unwrap().get(account.as_str()).cloned())
    }

    async fn users(&self, account: &AccountId) -> Result<Vec<User>> {
        Ok(self.users.lock().unwrap().get(account).cloned().unwrap_or_default())
    }

    async fn rooms(&self, account: &AccountId) -> Result<Vec<Room>> {
        Ok(self.rooms.lock().unwrap().get(account).cloned().unwrap_or_default())
    }

    async fn accounts(&self, after: Option<&str>, limit: u32) -> Result<Page<AccountId>> {
        // At most two accounts a page, so the sweep's paging is exercised.
        let take = limit.min(2) as usize;
        let accounts = self.accounts.lock().unwrap();
        let items: Vec<AccountId> = accounts
            .keys()
            .filter(|k| after.is_none_or(|a| k.as_str() > a))
            .take(take)
            .map(|k| AccountId::parse(k).unwrap())
            .collect();
        let next = (items.len() == take).then(|| items[take - 1].to_string());
        Ok(Page { items, next })
    }
}

impl AttachmentCatalog for FakeCatalog {
    async fn attachments(
        &self,
        account: &AccountId,
        cutoff: Timestamp,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Page<crate::model::CatalogRow>> {
        use crate::model::{CatalogRow, catalog_row_sort_key};
        let mut all: Vec<CatalogRow> = self
            .attachments
            .lock()
            .unwrap()
            .get(account)
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .map(Ok)
            .collect();
        all.extend(
            self.unreadable
                .lock()
                .unwrap()
                .get(account)
                .cloned()
                .unwrap_or_default()
                .into_iter()
                .map(|u| Err(Box::new(u))),
        );
        all.sort_by_key(catalog_row_sort_key);
        // The sort key starts with the upload time, as in the table's key condition.
        let upper = format!("{cutoff}#~");
        let items: Vec<CatalogRow> = all
            .into_iter()
            .filter(|r| catalog_row_sort_key(r) <= upper)
            .filter(|r| after.is_none_or(|after| catalog_row_sort_key(r).as_str() > after))
            .take(limit.map_or(usize::MAX, |l| l as usize))
            .collect();
        let next = match limit {
            Some(l) if items.len() == l as usize => items.last().map(catalog_row_sort_key),
            _ => None,
        };
        Ok(Page { items, next })
    }
}

/// The sweep's record in memory, with the ledger's version check.
#[derive(Default)]
pub struct FakeSweepLedger {
    record: Mutex<Option<crate::sweep::SweepRecord>>,
}

impl crate::ports::SweepLedger for FakeSweepLedger {
    async fn load(&self) -> Result<Option<crate::sweep::SweepRecord>> {
        Ok(self.record.lock().unwrap().clone())
    }

    async fn save(&self, record: &crate::sweep::SweepRecord, expected_version: Option<u64>) -> Result<bool> {
        let mut stored = self.record.lock().unwrap();
        if stored.as_ref().map(|r| r.version) != expected_version {
            return Ok(false);
        }
        *stored = Some(record.clone());
        Ok(true)
    }
}

/// The adapter's status condition, with its message.
fn require_status(record: &ExportRecord, allowed: &[ExportStatus], what: &str) -> Result<()> {
    if allowed.contains(&record.status) {
        Ok(())
    } else {
        Err(Error::StatusConflict(format!("export {} is {}; cannot {what}", record.export_id, record.status)))
    }
}

#[derive(Default)]
pub struct FakeStore {
    state: Mutex<StoreState>,
}

#[derive(Default)]
struct StoreState {
    records: HashMap<(AccountId, ExportId), ExportRecord>,
    throttles: HashMap<AccountId, Throttle>,
}

impl FakeStore {
    /// Runs `change` on a stored record (`Error::NotFound` if there is none), under the lock.
    fn update<T>(
        &self,
        account: &AccountId,
        export: &ExportId,
        change: impl FnOnce(&mut ExportRecord) -> Result<T>,
    ) -> Result<T> {
        let mut state = self.state.lock().unwrap();
        let record = state
            .records
            .get_mut(&(account.clone(), *export))
            .ok_or_else(|| Error::NotFound(format!("export {export} not found")))?;
        change(record)
    }

    pub fn record(&self, account: &AccountId, export: &ExportId) -> Option<ExportRecord> {
        self.state.lock().unwrap().records.get(&(account.clone(), *export)).cloned()
    }

    pub fn records(&self, account: &AccountId) -> Vec<ExportRecord> {
        let state = self.state.lock().unwrap();
        state.records.values().filter(|r| &r.account_id == account).cloned().collect()
    }

    /// A record as it would stand after some steps (handler tests use the sample events' ids).
    pub fn insert(&self, record: ExportRecord) {
        self.state.lock().unwrap().records.insert((record.account_id.clone(), record.export_id), record);
    }

    pub fn put_throttle(&self, account: &AccountId, throttle: Throttle) {
        self.state.lock().unwrap().throttles.insert(account.clone(), throttle);
    }
}

impl ExportStore for FakeStore {
    async fn admit(&self, record: &ExportRecord, window: Duration) -> Result<Admission> {
        let mut state = self.state.lock().unwrap();
        let account = record.account_id.clone();
        let seen = state.throttles.get(&account).cloned();
        if let Some(t) = &seen
            && !t.is_open_at(record.requested_at)
        {
            return Ok(Admission::WindowClosed { throttle: t.clone() });
        }
        let throttle = Throttle {
            current: ThrottleWindow {
                last_export_id: record.export_id,
                last_requested_at: record.requested_at,
                next_allowed_at: record.requested_at.plus(window),
            },
            previous: seen.map(|t| t.current),
        };
        state.throttles.insert(account.clone(), throttle.clone());
        state.records.insert((account, record.export_id), record.clone());
        Ok(Admission::Accepted { throttle })
    }

    async fn get(&self, account: &AccountId, export: &ExportId) -> Result<Option<ExportRecord>> {
        Ok(self.record(account, export))
    }

    async fn unfinished(&self, after: Option<&str>, _limit: u32) -> Result<Page<ExportRecord>> {
        // One record per page, so callers' paging is exercised; the cursor is the last export id.
        let state = self.state.lock().unwrap();
        let mut open: Vec<&ExportRecord> = state.records.values().filter(|r| !r.status.is_final()).collect();
        open.sort_by_key(|r| r.export_id);
        let next_record =
            open.into_iter().find(|r| after.is_none_or(|a| r.export_id.to_string().as_str() > a));
        Ok(match next_record {
            Some(r) => Page { items: vec![r.clone()], next: Some(r.export_id.to_string()) },
            None => Page { items: vec![], next: None },
        })
    }

    async fn list(
        &self,
        account: &AccountId,
        limit: u32,
        after: Option<&ExportId>,
    ) -> Result<Page<ExportRecord>> {
        let mut all = self.records(account);
        all.sort_by_key(|r| std::cmp::Reverse(r.export_id));
        let items: Vec<ExportRecord> =
            all.into_iter().filter(|r| after.is_none_or(|a| r.export_id < *a)).take(limit as usize).collect();
        // The same cursor as the adapter: the last listed export's id.
        let next = (items.len() == limit as usize).then(|| items.last().unwrap().export_id.to_string());
        Ok(Page { items, next })
    }

    async fn throttle(&self, account: &AccountId) -> Result<Option<Throttle>> {
        Ok(self.state.lock().unwrap().throttles.get(account).cloned())
    }

    async fn change_status(
        &self,
        account: &AccountId,
        export: &ExportId,
        change: StatusChange,
    ) -> Result<()> {
        self.update(account, export, |record| {
            let to = match &change {
                StatusChange::Running { .. } => ExportStatus::Running,
                StatusChange::Succeeded { result, .. } => result.status(),
                StatusChange::Failed { .. } => ExportStatus::Failed,
            };
            if !record.status.can_move_to(to) {
                return Err(Error::StatusConflict(format!("export {export} is {}", record.status)));
            }
            record.status = to;
            match change {
                StatusChange::Running { started_at } => {
                    record.started_at.get_or_insert(started_at);
                }
                StatusChange::Succeeded { completed_at, result } => {
                    record.completed_at = Some(completed_at);
                    record.result = Some(*result);
                }
                StatusChange::Failed { completed_at, error } => {
                    record.completed_at = Some(completed_at);
                    record.error = Some(error);
                }
            }
            Ok(())
        })
    }

    async fn set_execution_arn(
        &self,
        account: &AccountId,
        export: &ExportId,
        execution_arn: &str,
    ) -> Result<()> {
        self.update(account, export, |record| {
            record.execution_arn = Some(execution_arn.to_owned());
            Ok(())
        })
    }

    async fn set_listed(&self, account: &AccountId, export: &ExportId, listed: u64) -> Result<()> {
        self.update(account, export, |record| {
            // As the adapter's condition: progress moves only while the export is unfinished.
            require_status(record, &[ExportStatus::Queued, ExportStatus::Running], "record progress")?;
            record.progress.attachments_listed = listed;
            Ok(())
        })
    }

    async fn mark_part_written(&self, account: &AccountId, export: &ExportId, part: u32) -> Result<()> {
        self.update(account, export, |record| {
            require_status(record, &[ExportStatus::Running], "record a written part")?;
            if !record.parts_done.contains(&part) {
                record.parts_done.push(part);
            }
            record.progress.parts_written = record.parts_done.len() as u64;
            Ok(())
        })
    }

    async fn record_retrieval(
        &self,
        account: &AccountId,
        export: &ExportId,
        principal: &str,
        at: Timestamp,
    ) -> Result<()> {
        self.update(account, export, |record| {
            if !record.status.is_delivered() {
                return Err(Error::StatusConflict(format!("export {export} is {}", record.status)));
            }
            record.retrievals += 1;
            record.last_retrieved_at = Some(at);
            record.last_retrieved_by = Some(principal.to_owned());
            Ok(())
        })
    }

    async fn release_window(&self, account: &AccountId, export: &ExportId) -> Result<bool> {
        let mut state = self.state.lock().unwrap();
        let Some(current) = state.throttles.get(account).cloned() else {
            return Ok(false);
        };
        if current.current.last_export_id != *export {
            return Ok(false);
        }
        match current.previous {
            Some(previous) => {
                state.throttles.insert(account.clone(), Throttle { current: previous, previous: None });
            }
            None => {
                state.throttles.remove(account);
            }
        }
        Ok(true)
    }
}

#[derive(Default)]
pub struct FakeWorkflow {
    pub fail: AtomicBool,
    pub started: Mutex<Vec<ExportJob>>,
    /// Executions that ended, with their Step Functions status; started ones are otherwise RUNNING.
    pub ended: Mutex<HashMap<ExportId, String>>,
}

impl FakeWorkflow {
    pub fn failing() -> Self {
        let w = Self::default();
        w.fail.store(true, Ordering::SeqCst);
        w
    }
}

impl Workflow for FakeWorkflow {
    async fn start(&self, job: &ExportJob) -> Result<String> {
        if self.fail.load(Ordering::SeqCst) {
            return Err(Error::Transient("StartExecution: service unavailable".into()));
        }
        self.started.lock().unwrap().push(job.clone());
        Ok(format!("arn:aws:states:us-east-1:000000000000:execution:ExportStateMachine:{}", job.export_id))
    }

    async fn state(&self, export: &ExportId) -> Result<ExecutionState> {
        if let Some(status) = self.ended.lock().unwrap().get(export) {
            return Ok(ExecutionState::Ended(status.clone()));
        }
        let started = self.started.lock().unwrap().iter().any(|job| job.export_id == *export);
        Ok(if started { ExecutionState::Running } else { ExecutionState::NotStarted })
    }
}

/// A clock the test moves by hand.
pub struct FixedClock(Mutex<Timestamp>);

impl FixedClock {
    pub fn at(t: &str) -> Self {
        Self(Mutex::new(Timestamp::parse(t).unwrap()))
    }

    pub fn advance(&self, d: Duration) {
        let mut t = self.0.lock().unwrap();
        *t = t.plus(d);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap()
    }
}

/// In-memory attachment buckets: objects by (bucket, key), each with its size and, if it was
/// uploaded with one, its SHA-256. Counts the HEADs asked.
#[derive(Default)]
pub struct FakeAttachmentObjects {
    pub objects: Mutex<HashMap<(String, String), crate::ports::AttachmentHead>>,
    pub heads: std::sync::atomic::AtomicUsize,
}

impl FakeAttachmentObjects {
    /// Stores `body` under `bucket`/`key`, with its SHA-256 as S3 would keep it if `checksum`.
    pub fn put(&self, bucket: &str, key: &str, body: &[u8], checksum: bool) {
        use sha2::Digest;
        let sha256 = checksum.then(|| crate::hex::encode(&sha2::Sha256::digest(body)));
        let head = crate::ports::AttachmentHead { size: body.len() as u64, sha256 };
        self.objects.lock().unwrap().insert((bucket.to_owned(), key.to_owned()), head);
    }

    /// Stores an object that claims `sha256` whatever its body.
    pub fn put_head(&self, bucket: &str, key: &str, size: u64, sha256: Option<&str>) {
        let head = crate::ports::AttachmentHead { size, sha256: sha256.map(str::to_owned) };
        self.objects.lock().unwrap().insert((bucket.to_owned(), key.to_owned()), head);
    }
}

impl crate::ports::AttachmentObjects for FakeAttachmentObjects {
    async fn head(&self, bucket: &str, key: &str) -> Result<Option<crate::ports::AttachmentHead>> {
        self.heads.fetch_add(1, Ordering::SeqCst);
        Ok(self.objects.lock().unwrap().get(&(bucket.to_owned(), key.to_owned())).cloned())
    }
}

type UploadParts = BTreeMap<i32, Vec<u8>>;

/// An in-memory bucket. Its "pre-signed" links are recognisably fake and carry the lifetime.
#[derive(Default)]
pub struct FakeObjectStore {
    pub objects: Mutex<BTreeMap<String, Vec<u8>>>,
    pub metadata: Mutex<HashMap<String, HashMap<String, String>>>,
    /// Parts of open multipart uploads, by upload id.
    uploads: Mutex<HashMap<String, UploadParts>>,
    /// The metadata each open upload's object will have.
    upload_metadata: Mutex<HashMap<String, HashMap<String, String>>>,
}

impl FakeObjectStore {
    fn object(&self, key: &str) -> Result<Vec<u8>> {
        self.objects
            .lock()
            .unwrap()
            .get(key)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("object {key} not found")))
    }
}

impl crate::ports::ObjectStore for FakeObjectStore {
    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<()> {
        self.objects.lock().unwrap().insert(key.to_owned(), body);
        let metadata = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.metadata.lock().unwrap().insert(key.to_owned(), metadata);
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>> {
        self.object(key)
    }

    async fn head(&self, key: &str) -> Result<Option<crate::ports::ObjectHead>> {
        let size = self.objects.lock().unwrap().get(key).map(|o| o.len() as u64);
        Ok(size.map(|size| crate::ports::ObjectHead {
            size,
            metadata: self.metadata.lock().unwrap().get(key).cloned().unwrap_or_default(),
        }))
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>> {
        Ok(self.objects.lock().unwrap().keys().filter(|k| k.starts_with(prefix)).cloned().collect())
    }

    async fn delete(&self, keys: &[String]) -> Result<()> {
        let mut objects = self.objects.lock().unwrap();
        for k in keys {
            objects.remove(k);
        }
        Ok(())
    }

    async fn start_multipart(
        &self,
        _key: &str,
        _content_type: &str,
        metadata: &[(&str, &str)],
    ) -> Result<String> {
        let id = ulid::Ulid::new().to_string();
        self.uploads.lock().unwrap().insert(id.clone(), BTreeMap::new());
        let metadata = metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        self.upload_metadata.lock().unwrap().insert(id.clone(), metadata);
        Ok(id)
    }

    async fn upload_part(
        &self,
        _key: &str,
        upload_id: &str,
        part_number: i32,
        body: Vec<u8>,
    ) -> Result<crate::ports::UploadedPart> {
        let mut uploads = self.uploads.lock().unwrap();
        let upload = uploads.get_mut(upload_id).ok_or_else(|| Error::NotFound("no such upload".into()))?;
        upload.insert(part_number, body);
        Ok(crate::ports::UploadedPart { part_number, etag: format!("\"etag-{part_number}\"") })
    }

    async fn upload_part_copy(
        &self,
        key: &str,
        upload_id: &str,
        part_number: i32,
        source_key: &str,
    ) -> Result<crate::ports::UploadedPart> {
        let body = self.object(source_key)?;
        crate::ports::ObjectStore::upload_part(self, key, upload_id, part_number, body).await
    }

    async fn complete_multipart(
        &self,
        key: &str,
        upload_id: &str,
        parts: Vec<crate::ports::UploadedPart>,
    ) -> Result<()> {
        let stored = self
            .uploads
            .lock()
            .unwrap()
            .remove(upload_id)
            .ok_or_else(|| Error::NotFound("no such upload".into()))?;
        let mut body = Vec::new();
        for p in parts {
            body.extend_from_slice(
                stored.get(&p.part_number).ok_or_else(|| Error::Internal("missing part".into()))?,
            );
        }
        self.objects.lock().unwrap().insert(key.to_owned(), body);
        let metadata = self.upload_metadata.lock().unwrap().remove(upload_id).unwrap_or_default();
        self.metadata.lock().unwrap().insert(key.to_owned(), metadata);
        Ok(())
    }

    async fn abort_multipart(&self, _key: &str, upload_id: &str) -> Result<()> {
        self.uploads.lock().unwrap().remove(upload_id);
        self.upload_metadata.lock().unwrap().remove(upload_id);
        Ok(())
    }

    async fn presign_get(&self, key: &str, expires_in: Duration) -> Result<String> {
        Ok(format!(
            "https://fake-s3.invalid/{key}?X-Amz-Expires={}&X-Amz-Signature=fake",
            expires_in.as_secs()
        ))
    }
}

/// Records what was published.
#[derive(Default)]
pub struct FakeNotifier {
    pub published: Mutex<Vec<crate::ports::StateChange>>,
}

impl crate::ports::Notifier for FakeNotifier {
    async fn publish(&self, change: &crate::ports::StateChange) -> Result<()> {
        self.published.lock().unwrap().push(change.clone());
        Ok(())
    }
}

/// A signer whose URLs name what they sign, valid until a fixed time.
pub struct FakeSigner {
    pub expires_at: Timestamp,
}

impl crate::ports::UrlSigner for FakeSigner {
    fn sign_get(&mut self, bucket: &str, key: &str, out: &mut String) {
        out.clear();
        out.push_str("https://signed.invalid/");
        out.push_str(bucket);
        out.push('/');
        out.push_str(key);
    }

    fn urls_expire_at(&self) -> Timestamp {
        self.expires_at
    }
}

/// Makes [`FakeSigner`]s valid six days from the signing time.
pub struct FakeSignerFactory;

impl crate::ports::SignerFactory for FakeSignerFactory {
    type Signer = FakeSigner;

    async fn signer(&self, signed_at: Timestamp) -> Result<FakeSigner> {
        Ok(FakeSigner { expires_at: signed_at.plus(Duration::from_secs(518_400)) })
    }
}

/// Signs statements with a P-256 key derived from a seed (RFC 6979 deterministic signatures), as
/// KMS does with its key: same contract (`crate::contracts::a_statement_signature_verifies_with_its_public_key`).
pub struct FakeStatementSigner {
    key: p256::ecdsa::SigningKey,
    key_id: String,
    /// When set, signing fails as KMS would when unreachable.
    pub unavailable: AtomicBool,
}

impl FakeStatementSigner {
    pub fn with_seed(seed: u8) -> Self {
        let mut secret = [0x5au8; 32];
        secret[31] = seed.max(1);
        let key = p256::ecdsa::SigningKey::from_slice(&secret).expect("a valid P-256 scalar");
        Self { key, key_id: format!("fake-statement-key-{seed}"), unavailable: AtomicBool::new(false) }
    }
}

impl Default for FakeStatementSigner {
    fn default() -> Self {
        Self::with_seed(1)
    }
}

impl crate::ports::StatementSigner for FakeStatementSigner {
    fn key_id(&self) -> &str {
        &self.key_id
    }

    async fn sign(&self, message: &[u8]) -> Result<crate::ports::StatementSignature> {
        if self.unavailable.load(Ordering::SeqCst) {
            return Err(Error::Transient("statement signer unavailable".into()));
        }
        if message.len() > crate::statement::MAX_STATEMENT_BYTES {
            return Err(Error::Internal("a RAW message to sign is at most 4096 bytes".into()));
        }
        let signature: p256::ecdsa::Signature = p256::ecdsa::signature::Signer::sign(&self.key, message);
        Ok(crate::ports::StatementSignature {
            der: signature.to_der().as_bytes().to_vec(),
            key_id: self.key_id.clone(),
        })
    }

    async fn public_key_der(&self) -> Result<Vec<u8>> {
        let der = p256::pkcs8::EncodePublicKey::to_public_key_der(self.key.verifying_key())
            .map_err(|e| Error::Internal(format!("fake signer: {e}")))?;
        Ok(der.as_bytes().to_vec())
    }
}

/// The sample events of one function, read from `events/<function>/` (they are real events, usable
/// with `cargo lambda invoke --data-file`), each with its expected outcome from `expected`. A file
/// without an entry in the table, or an entry without a file, fails: a new sample event is tested
/// as soon as it exists. Names and texts are leaked, so fuzz strategies can take them as `'static`.
pub fn sample_events<E: Copy + std::fmt::Debug>(
    manifest_dir: &str,
    function: &str,
    expected: &[(&str, E)],
) -> Vec<(&'static str, &'static str, E)> {
    let dir = std::path::Path::new(manifest_dir).join("../../events").join(function);
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".json"))
        .collect();
    files.sort();
    for (name, _) in expected {
        assert!(files.iter().any(|f| f == name), "the table expects events/{function}/{name}, which is gone");
    }
    files
        .into_iter()
        .map(|name| {
            let outcome = expected
                .iter()
                .find(|(n, _)| *n == name)
                .unwrap_or_else(|| panic!("events/{function}/{name} has no expected outcome in the table"))
                .1;
            let text = std::fs::read_to_string(dir.join(&name)).unwrap();
            (&*Box::leak(name.into_boxed_str()), &*Box::leak(text.into_boxed_str()), outcome)
        })
        .collect()
}

/// One sample event of a function, parsed.
pub fn sample_event(manifest_dir: &str, function: &str, name: &str) -> serde_json::Value {
    let path = std::path::Path::new(manifest_dir).join("../../events").join(function).join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The records of a CSV file (a manifest or a report) as strings, the header row left out when
/// `has_headers`; for tests that read what the encoders wrote.
pub fn csv_records(bytes: &[u8], has_headers: bool) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(has_headers)
        .from_reader(bytes)
        .records()
        .map(|r| r.expect("a CSV record").iter().map(str::to_owned).collect())
        .collect()
}
