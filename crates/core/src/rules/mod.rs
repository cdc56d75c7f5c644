//! What the product does, written against the ports (`crate::ports`) through one
//! [`crate::Backend`]: accept a request (`start`), show and hand out exports (`retrieve`), revoke their links (`revoke`), sweep
//! accounts on a schedule (`sweep`), decide what is in scope (`scope`; for a self-service user,
//! who may ask and which files, `self_service`), and the export pipeline's
//! steps (`pipeline`) with the manifest's links (`links`), and the answer of a download link
//! (`download`).

pub mod assistant;
pub mod download;
pub mod links;
pub mod pipeline;
pub mod retrieve;
pub mod revoke;
pub mod scope;
pub mod self_service;
pub mod start;
pub mod sweep;
