//! What the product does, written against the ports (`crate::ports`) through one
//! [`crate::Backend`]: accept a request (`start`), show and hand out exports (`retrieve`), revoke their links (`revoke`), sweep
//! accounts on a schedule (`sweep`), decide what is in scope (`scope`), and the export pipeline's
//! steps (`pipeline`) with the manifest's links (`links`), and the answer of a download link
//! (`download`).

pub mod download;
pub mod links;
pub mod pipeline;
pub mod retrieve;
pub mod revoke;
pub mod scope;
pub mod start;
pub mod sweep;
