//! The seam (DESIGN §3): one type that names an implementation of every port. Rules and handler
//! dependencies take one `B: Backend` instead of a type parameter per port, so a new port is one
//! associated type here and one line in each implementation: [`crate::aws::Aws`] (the deployed
//! functions) and [`crate::memory::InMemory`] (unit tests).
//!
//! A backend is a type, not a value: a function builds only the adapters it needs (each function
//! is configured with only the resources it reads), and tests build only the fakes they use.

use crate::ports::{
    AttachmentCatalog, AttachmentObjects, Clock, Directory, ExportStore, LinkKeys, Notifier, ObjectStore,
    People, StatementSigner, SweepLedger, Workflow,
};

pub trait Backend: 'static {
    /// Accounts, users and rooms (AccountsTable).
    type Directory: Directory;
    /// The directory with the attachments beside it (AccountsTable + AttachmentsTable).
    type Catalog: AttachmentCatalog;
    /// Export records and the per-account window (ExportsTable).
    type Store: ExportStore;
    /// The sweep's progress (ExportsTable).
    type Ledger: SweepLedger;
    /// The export bucket.
    type Objects: ObjectStore;
    /// The chat service's attachment buckets, HEAD only.
    type Attachments: AttachmentObjects;
    /// Signs statements: the stack's KMS key (DESIGN §14).
    type StatementKey: StatementSigner;
    /// Publishes state changes (EventBridge).
    type Notifier: Notifier;
    /// The state machine.
    type Workflow: Workflow;
    /// The console's users (the user pool), to name people.
    type People: People;
    /// The keys of download links (KMS HMAC keys; DESIGN §8).
    type LinkKeys: LinkKeys;
    type Clock: Clock;
}
