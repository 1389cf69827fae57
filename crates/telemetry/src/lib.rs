//! Logging and tracing set-up shared by the binaries, filtered by `RUST_LOG` (default `info`):
//!
//! - the console: readable in development, JSON in production (`LOG_JSON`);
//! - with `LOG_DIR`: also `<LOG_DIR>/<binary>.log`, rotated by size (`LOG_MAX_BYTES`, 15 MB)
//!   keeping `LOG_MAX_FILES` (10) old files, as the seed's `RotatingFileHandler`;
//! - with `OTEL_EXPORTER_OTLP_ENDPOINT`: spans exported over OTLP/HTTP by the blocking
//!   client (the async one panics without a reactor in the batch exporter's thread);
//! - with `SENTRY_DSN`: error events to Sentry; no personal data unless
//!   `SENTRY_SEND_DEFAULT_PII=true`, and never a request body.
//!
//! [`init`] returns a [`Telemetry`] guard: keep it alive for the whole process; dropping it
//! flushes the file, the span exporter and Sentry.

use std::path::Path;
use std::time::Duration;

use ecole_config::Settings;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use rolling_file::{BasicRollingFileAppender, RollingConditionBasic};
use secrecy::ExposeSecret;
use tracing::Subscriber;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// A layer of the subscriber, boxed so that optional and differently typed layers combine.
type Couche = Box<dyn Layer<Registry> + Send + Sync>;

const DEFAULT_FILTER: &str = "info,actix_server=warn,actix_web=warn,h2=warn,hyper=warn,rustls=warn,opentelemetry=warn,reqwest=warn";

/// Keeps the background writers alive; dropping it flushes them.
#[must_use = "gardez-le jusqu'à la fin du processus : le lâcher coupe le fichier, OTLP et Sentry"]
#[derive(Default)]
pub struct Telemetry {
    file: Option<tracing_appender::non_blocking::WorkerGuard>,
    tracer: Option<SdkTracerProvider>,
    sentry: Option<sentry::ClientInitGuard>,
    /// Where the log file is written, when it is.
    pub log_file: Option<std::path::PathBuf>,
}

impl Telemetry {
    /// True when errors go to Sentry (the API adds its actix middleware then).
    pub fn sentry_enabled(&self) -> bool {
        self.sentry.as_ref().is_some_and(|g| g.is_enabled())
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.tracer.take() {
            // The exporter's blocking HTTP client must not be dropped on a runtime thread.
            let _ = std::thread::spawn(move || {
                if let Err(e) = provider.shutdown() {
                    eprintln!("export OTLP : arrêt incomplet : {e}");
                }
            })
            .join();
        }
        if let Some(sentry) = self.sentry.take() {
            sentry.flush(Some(Duration::from_secs(2)));
        }
    }
}

/// The name of the running binary (`ecole-api`, `ecole-worker`…): log file and service name.
pub fn service_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .map(Path::new)
        .and_then(Path::file_stem)
        .map(|s| s.to_string_lossy().into_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "ecole".into())
}

/// A size-rotated log file: `dir/name`, then `name.1` … `name.<max_files>`. The folder is
/// created; an error says why the file cannot be written.
pub fn rotating_file(
    dir: &Path,
    name: &str,
    max_bytes: u64,
    max_files: usize,
) -> std::io::Result<BasicRollingFileAppender> {
    std::fs::create_dir_all(dir)?;
    BasicRollingFileAppender::new(
        dir.join(name),
        RollingConditionBasic::new().max_size(max_bytes.max(1)),
        max_files.max(1),
    )
}

fn console(settings: &Settings) -> Couche {
    if settings.log_format_json {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        tracing_subscriber::fmt::layer().with_target(false).boxed()
    }
}

fn fichier(
    settings: &Settings,
    dir: &Path,
    service: &str,
    telemetry: &mut Telemetry,
) -> Option<Couche> {
    let name = format!("{service}.log");
    let appender = match rotating_file(dir, &name, settings.log_max_bytes, settings.log_max_files) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "LOG_DIR : impossible d'écrire {} ({e}) : journaux sur la console seulement",
                dir.join(&name).display()
            );
            return None;
        }
    };
    let (writer, guard) = tracing_appender::non_blocking(appender);
    telemetry.file = Some(guard);
    telemetry.log_file = Some(dir.join(name));
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(writer)
        .with_ansi(false);
    Some(if settings.log_format_json {
        layer
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .boxed()
    } else {
        layer.boxed()
    })
}

fn otlp(endpoint: &str, service: &str, telemetry: &mut Telemetry) -> Option<Couche> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .with_timeout(Duration::from_secs(5))
        .build();
    let exporter = match exporter {
        Ok(e) => e,
        Err(e) => {
            eprintln!(
                "OTEL_EXPORTER_OTLP_ENDPOINT : exportateur OTLP impossible ({e}) : traces désactivées"
            );
            return None;
        }
    };
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_string())
                .build(),
        )
        .build();
    let tracer = provider.tracer(service.to_string());
    telemetry.tracer = Some(provider);
    Some(tracing_opentelemetry::layer().with_tracer(tracer).boxed())
}

fn sentry_layers(settings: &Settings, dsn: &str, telemetry: &mut Telemetry) -> Vec<Couche> {
    use sentry::integrations::tracing::{BreadcrumbLayer, ErrorLayer};
    use tracing_subscriber::filter::{LevelFilter, filter_fn};
    let dsn = match dsn.parse::<sentry::types::Dsn>() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("SENTRY_DSN invalide ({e}) : Sentry désactivé");
            return Vec::new();
        }
    };
    let pii = settings.sentry_send_default_pii;
    let mut options = sentry::ClientOptions::new()
        .release(format!("ecole@{}", env!("CARGO_PKG_VERSION")))
        .environment(settings.app_env.as_str())
        .send_default_pii(pii)
        // Request bodies carry passwords and pupils' data: never sent.
        .max_request_body_size(sentry::MaxRequestBodySize::None)
        .traces_sample_rate(settings.sentry_traces_sample_rate)
        .attach_stacktrace(true);
    options.dsn = Some(dsn);
    let guard = sentry::init(options);
    telemetry.sentry = Some(guard);
    let mut layers = vec![ErrorLayer::new().with_filter(LevelFilter::ERROR).boxed()];
    // Breadcrumbs are the info and warning lines before an error: they name pupils, parents
    // and addresses, so they go only with explicit consent to personal data.
    if pii {
        layers.push(
            BreadcrumbLayer::new()
                .with_filter(filter_fn(|m| {
                    matches!(*m.level(), tracing::Level::WARN | tracing::Level::INFO)
                }))
                .boxed(),
        );
    }
    layers
}

/// The subscriber every binary installs, and its guard.
pub fn subscriber(
    settings: &Settings,
    service: &str,
) -> (impl Subscriber + Send + Sync + 'static, Telemetry) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let mut telemetry = Telemetry::default();
    let mut layers: Vec<Couche> = vec![console(settings)];
    if let Some(dir) = &settings.log_dir
        && let Some(layer) = fichier(settings, dir, service, &mut telemetry)
    {
        layers.push(layer);
    }
    if let Some(endpoint) = &settings.otel_exporter_otlp_endpoint
        && let Some(layer) = otlp(endpoint, service, &mut telemetry)
    {
        layers.push(layer);
    }
    if let Some(dsn) = &settings.sentry_dsn {
        layers.extend(sentry_layers(settings, dsn.expose_secret(), &mut telemetry));
    }
    (Registry::default().with(layers).with(filter), telemetry)
}

/// Installs the global subscriber for this binary. Call once per process; keep the guard.
pub fn init(settings: &Settings) -> Telemetry {
    init_as(settings, &service_name())
}

/// Like [`init`], under an explicit service name: `ecole api` logs as `ecole-api`.
pub fn init_as(settings: &Settings, service: &str) -> Telemetry {
    let (subscriber, telemetry) = subscriber(settings, service);
    if let Err(e) = subscriber.try_init() {
        eprintln!("journalisation déjà initialisée : {e}");
    }
    telemetry
}
