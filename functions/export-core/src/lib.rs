//! attachment-export's core: domain types, the rules, the ports they are written against, and the AWS
//! adapters that implement those ports. Handlers (one crate per Lambda) only parse events, call in
//! here and shape replies. Nothing in this crate knows a Lambda event type.

pub mod adapters;
pub mod api;
pub mod config;
pub mod contracts;
pub mod error;
pub mod hex;
pub mod ids;
pub mod manifest;
pub mod model;
pub mod payloads;
pub mod pipeline;
pub mod ports;
pub mod reports;
pub mod retrieve;
pub mod scope;
pub mod signer;
pub mod start;
pub mod startup;
pub mod statement;
pub mod sweep;
pub mod telemetry;
pub mod testing;

pub mod time;

pub use config::Config;
pub use error::{Error, Result};
pub use time::Timestamp;
