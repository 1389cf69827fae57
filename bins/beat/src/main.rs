//! `ecole-beat`: fires the schedule (SPEC §5), once per occurrence whatever the number of beats.

use chrono::Utc;
use clap::{ArgAction, Parser};
use ecole_jobs::schedule::{Entry, default_schedule, run_beat};
use ecole_jobs::signals;

const HELP_TEMPLATE: &str = "\
{before-help}{about-with-newline}
Utilisation : {usage}

{all-args}{after-help}";

#[derive(Parser)]
#[command(
    name = "ecole-beat",
    about = "Planificateur d'École : crée les jobs périodiques à l'heure de Conakry.",
    help_template = HELP_TEMPLATE,
    next_help_heading = "Options",
    disable_help_flag = true,
    disable_version_flag = true
)]
struct Cli {
    /// Affiche le planning et les trois prochaines exécutions de chaque entrée, puis quitte.
    #[arg(long)]
    list: bool,
    /// Remplace le planning par cette entrée NOM=CRON (secondes en premier) ; répétable.
    #[arg(long = "entry", value_name = "NOM=CRON")]
    entries: Vec<String>,
    #[arg(short = 'h', long = "help", action = ArgAction::Help, help = "Afficher l'aide")]
    help: Option<bool>,
}

fn entries(cli: &Cli) -> anyhow::Result<Vec<Entry>> {
    if cli.entries.is_empty() {
        return Ok(default_schedule());
    }
    cli.entries
        .iter()
        .map(|spec| Entry::parse(spec).map_err(anyhow::Error::msg))
        .collect()
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let entries = entries(&cli)?;
    if cli.list {
        let now = Utc::now();
        for entry in &entries {
            println!("{}  [{}]  {}", entry.name, entry.cron, entry.description);
            for t in entry.upcoming(now, 3) {
                println!("    {}", t.format("%d/%m/%Y %H:%M:%S (%Z)"));
            }
        }
        return Ok(());
    }
    let settings = ecole_config::Settings::from_env()?;
    let _telemetry = ecole_telemetry::init(&settings);
    let pool = ecole_db::build_pool(&settings.database_url, 2, settings.database_timeout)?;
    let shutdown = signals::shutdown_on_signals();
    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = format!(
        "beat-{host}-{}-{}",
        std::process::id(),
        &uuid::Uuid::new_v4().simple().to_string()[..6]
    );
    run_beat(pool, entries, settings.beat_catchup, name, shutdown).await;
    Ok(())
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = run(cli).await {
        eprintln!("Erreur : {e:#}");
        std::process::exit(1);
    }
}
