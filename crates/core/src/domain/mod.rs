//! What an export is, free of any service: ids, times, the records and their statuses, the
//! state machine's payloads, the files an export delivers (manifest, reports, statement), and the
//! errors with their stable codes.

pub mod assembly;
pub mod content_disposition;
pub mod downloads;
pub mod error;
pub mod hex;
pub mod ids;
pub mod key_layout;
pub mod link_token;
pub mod manifest;
pub mod manifest_link;
pub mod model;
pub mod owner;
pub mod payloads;
pub mod reports;
pub mod statement;
pub mod time;
