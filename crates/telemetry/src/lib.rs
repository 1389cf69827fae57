//! Logging set-up shared by the binaries: readable in development, JSON in production,
//! filtered by `RUST_LOG` (default `info`).

use ecole_config::Settings;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// Installs the global subscriber. Safe to call once per process.
pub fn init(settings: &Settings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        EnvFilter::new("info,actix_server=warn,actix_web=warn,h2=warn,hyper=warn,rustls=warn")
    });
    let registry = tracing_subscriber::registry().with(filter);
    let result = if settings.log_format_json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_target(false))
            .try_init()
    };
    if let Err(e) = result {
        eprintln!("journalisation déjà initialisée : {e}");
    }
}
