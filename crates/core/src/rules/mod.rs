//! What the product does, written against the ports (`crate::ports`) through one
//! [`crate::Backend`]: accept a request (`start`), show and hand out exports (`retrieve`), sweep
//! accounts on a schedule (`sweep`), decide what is in scope (`scope`), and the export pipeline's
//! steps (`pipeline`); and, not yet deployed, the answer of a revocable download link (`download`,
//! docs/proposals/revocable-links.md).

pub mod download;
pub mod pipeline;
pub mod retrieve;
pub mod scope;
pub mod start;
pub mod sweep;
