//! A function's cold start, the same for all of them: typed configuration first (failing fast with
//! the bad variable's name), then tracing in the configured format, then one SDK configuration from
//! which the function builds its clients.

use crate::telemetry::init_tracing;
use export_core::config::{ConfigError, LogFormat};

/// What every function does first at cold start: read the typed config (failing fast with the bad
/// variable's name), start tracing in the configured format, and load one SDK configuration from
/// which the function builds its clients.
pub async fn cold_start() -> Result<(export_core::Config, aws_config::SdkConfig), ConfigError> {
    let config = match export_core::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            init_tracing(LogFormat::Json);
            tracing::error!(variable = e.variable, "{e}");
            return Err(e);
        }
    };
    init_tracing(config.log_format);
    Ok((config, export_core::aws::sdk_config().await))
}
