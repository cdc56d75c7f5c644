//! Tracing: JSON on Lambda (CloudWatch Logs Insights can query the fields), readable text locally.
//! `RUST_LOG` filters as usual (default `info`).

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    // try_init: a second init (tests, a warm container) must not panic.
    let _ = match format {
        LogFormat::Json => {
            builder.json().flatten_event(true).with_current_span(false).with_span_list(false).try_init()
        }
        LogFormat::Text => builder.with_ansi(false).try_init(),
    };
}

/// What every function does first at cold start: read the typed config (failing fast with the bad
/// variable's name), start tracing in the configured format, and load one SDK configuration from
/// which the function builds its clients.
pub async fn cold_start() -> Result<(crate::Config, aws_config::SdkConfig), crate::config::ConfigError> {
    let config = match crate::Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            init_tracing(LogFormat::Json);
            tracing::error!(variable = e.variable, "{e}");
            return Err(e);
        }
    };
    init_tracing(config.log_format);
    Ok((config, crate::adapters::sdk_config().await))
}
