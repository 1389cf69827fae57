//! The worker and beat processes as library functions: the standalone binaries
//! (`ecole-worker`, `ecole-beat`) and the multi-call `ecole worker` / `ecole beat` run these.

use std::sync::Arc;

use chrono::Utc;
use clap::Args;
use ecole_config::Settings;

use crate::payloads::{Debug, JobPayload};
use crate::runner::Registry;
use crate::schedule::{Entry, default_schedule, run_beat};
use crate::signals;
use crate::worker::{WorkerOptions, run_worker};

/// What `ecole-worker` runs: settings from the environment, logs, then `registry`'s jobs
/// until SIGINT/SIGTERM (the running ones finish first).
pub async fn worker_process(registry: Registry) -> anyhow::Result<()> {
    let settings = Arc::new(Settings::from_env()?);
    settings.ensure_fit_to_serve()?;
    let _telemetry = ecole_telemetry::init_as(&settings, "ecole-worker");
    let pool = ecole_db::build_pool(
        &settings.database_url,
        settings.database_pool_size,
        settings.database_timeout,
    )?;
    let shutdown = signals::shutdown_on_signals();
    let options = WorkerOptions::from_settings(&settings);
    run_worker(settings, pool, registry, options, shutdown).await?;
    Ok(())
}

/// Options of the beat (`ecole-beat`, `ecole beat`).
#[derive(Args, Debug, Clone, Default)]
pub struct BeatArgs {
    /// Affiche le planning et les trois prochaines exécutions de chaque entrée, puis quitte.
    #[arg(long)]
    pub list: bool,
    /// Remplace le planning par cette entrée NOM=CRON (secondes en premier) ; répétable.
    #[arg(long = "entry", value_name = "NOM=CRON")]
    pub entries: Vec<String>,
}

impl BeatArgs {
    /// The `--entry` lines, or the default schedule.
    pub fn schedule(&self) -> anyhow::Result<Vec<Entry>> {
        if self.entries.is_empty() {
            return Ok(default_schedule());
        }
        self.entries
            .iter()
            .map(|spec| Entry::parse(spec).map_err(anyhow::Error::msg))
            .collect()
    }
}

/// What `ecole-beat` runs: `--list` prints the schedule; otherwise fires it until
/// SIGINT/SIGTERM.
pub async fn beat_process(args: BeatArgs) -> anyhow::Result<()> {
    let entries = args.schedule()?;
    if args.list {
        let now = Utc::now();
        for entry in &entries {
            println!("{}  [{}]  {}", entry.name, entry.cron, entry.description);
            for t in entry.upcoming(now, 3) {
                println!("    {}", t.format("%d/%m/%Y %H:%M:%S (%Z)"));
            }
        }
        return Ok(());
    }
    let settings = Settings::from_env()?;
    settings.ensure_fit_to_serve()?;
    if settings.app_env.is_production() && entries.iter().any(|e| e.name == Debug::NAME) {
        anyhow::bail!(
            "l'entrée {} est refusée en production (APP_ENV=production)",
            Debug::NAME
        );
    }
    let _telemetry = ecole_telemetry::init_as(&settings, "ecole-beat");
    let pool = ecole_db::build_pool(&settings.database_url, 2, settings.database_timeout)?;
    let shutdown = signals::shutdown_on_signals();
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let name = format!(
        "beat-{host}-{}-{}",
        std::process::id(),
        suffix.get(..6).unwrap_or(&suffix)
    );
    run_beat(
        pool,
        entries,
        settings.beat_catchup,
        name,
        settings.heartbeat_dir.clone(),
        shutdown,
    )
    .await;
    Ok(())
}
