//! `ecole-worker`: runs jobs (and relays the outbox to Redis).

use std::sync::Arc;

use ecole_handlers::registry;
use ecole_jobs::signals;
use ecole_jobs::worker::{WorkerOptions, run_worker};

async fn run() -> anyhow::Result<()> {
    let settings = Arc::new(ecole_config::Settings::from_env()?);
    let _telemetry = ecole_telemetry::init(&settings);
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
