//! `ecole-worker`: runs jobs (and relays the outbox to Redis).

use std::sync::Arc;

use ecole_handlers::registry;
use ecole_jobs::signals;
use ecole_jobs::worker::{WorkerOptions, run_worker};

/// mimalloc rather than glibc malloc: argon2 asks for 19 MiB aligned to 64 bytes per password
/// hash; glibc served each from a fresh heap extension (an aligned request never fits the freed
/// block exactly), so the API grew by 19 MiB per login, up to ≈ 120 MiB per arena (measured).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
