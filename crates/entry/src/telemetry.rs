//! Tracing: JSON on Lambda (CloudWatch Logs Insights can query the fields), readable text locally.
//! `RUST_LOG` filters as usual (default `info`).

use tracing_subscriber::EnvFilter;

use export_core::config::LogFormat;

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
