//! attachment-export's core, in layers (DESIGN §3): `domain` (what an export is: ids, times,
//! records, payloads, file formats, errors), `rules` (what the product does, written against the
//! `ports` only), `backend` (the one seam: a type naming an implementation of every port), `aws`
//! (the adapters), `memory` (in-memory fakes) and `contracts` (one suite per port, run on both);
//! `scale` is the model of what an export of N attachments asks of AWS.
//! Nothing in this crate knows a Lambda event type; the entry glue is the `entry` crate's.

pub mod aws;
pub mod backend;
pub mod config;
pub mod contracts;
pub mod domain;
pub mod memory;
pub mod ports;
pub mod rules;
pub mod scale;
pub mod testing;

pub use backend::Backend;
pub use config::Config;
pub use domain::error::{Error, Result};
pub use domain::time::Timestamp;
