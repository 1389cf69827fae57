//! `ecole-beat`: fires the schedule (docs/SPEC.md §5), once per occurrence whatever the number of beats.

use clap::{ArgAction, Parser};
use ecole_jobs::process::{BeatArgs, beat_process};

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
    #[command(flatten)]
    beat: BeatArgs,
    #[arg(short = 'h', long = "help", action = ArgAction::Help, help = "Afficher l'aide")]
    help: Option<bool>,
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse();
    if let Err(e) = beat_process(cli.beat).await {
        eprintln!("Erreur : {e:#}");
        std::process::exit(1);
    }
}
