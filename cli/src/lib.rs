//! The `attachment-export` command's library: seeding, the API client and the downloader, so tests
//! can drive them directly as well as through the binary.

pub mod api;
pub mod download;
pub mod safe_fs;
pub mod safety;
pub mod seed;
pub mod verify;

#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Http(String),
    #[error("{0}")]
    Aws(String),
    #[error(transparent)]
    Core(#[from] export_core::Error),
}
