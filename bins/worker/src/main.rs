//! `ecole-worker`: runs jobs (and relays the outbox to Redis).

use std::sync::Arc;

use ecole_jobs::payloads::Debug;
use ecole_jobs::runner::debug_handler;
use ecole_jobs::worker::{WorkerOptions, run_worker};
use ecole_jobs::{Registry, signals};

/// Every job this version can run; the others end in ECHEC "non implémentée".
fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register::<Debug, _, _>(debug_handler());
    registry
}

async fn run() -> anyhow::Result<()> {
    let settings = Arc::new(ecole_config::Settings::from_env()?);
    ecole_telemetry::init(&settings);
    let pool = ecole_db::build_pool(
        &settings.database_url,
        settings.database_pool_size,
        settings.database_timeout,
    )?;
    let shutdown = signals::shutdown_on_signals();
    let options = WorkerOptions::from_settings(&settings);
    run_worker(settings, pool, registry(), options, shutdown).await;
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("Erreur : {e:#}");
        std::process::exit(1);
    }
}
