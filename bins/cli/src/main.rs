//! `ecole`: the administration command (the seed's `manage.py`).

use std::ffi::OsString;
use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{ArgAction, Args, Parser, Subcommand};
use diesel_async::{AsyncConnection, AsyncPgConnection};
use ecole_config::Settings;
use ecole_core::Role;
use ecole_jobs::process::{BeatArgs, beat_process};
use ecole_users::NewUserInput;

mod sante;

const HELP_TEMPLATE: &str = "\
{before-help}{about-with-newline}
Utilisation : {usage}

{all-args}{after-help}";

#[derive(Parser)]
#[command(
    name = "ecole",
    version,
    about = "École : l'API, le worker, le planificateur et l'administration (base de données, comptes, vérifications).",
    help_template = HELP_TEMPLATE,
    subcommand_help_heading = "Commandes",
    subcommand_value_name = "COMMANDE",
    next_help_heading = "Options",
    disable_help_flag = true,
    disable_help_subcommand = true,
    disable_version_flag = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[arg(short = 'h', long = "help", action = ArgAction::Help, global = true, help = "Afficher l'aide")]
    help: Option<bool>,
    #[arg(short = 'V', long = "version", action = ArgAction::Version, help = "Afficher la version")]
    version: Option<bool>,
}

#[derive(Subcommand)]
enum Command {
    /// Lance l'API HTTP jusqu'à SIGTERM (comme ecole-api).
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Api,
    /// Lance un worker : exécute les jobs et relaie la file d'attente vers Redis (comme ecole-worker).
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Worker,
    /// Lance le planificateur des jobs périodiques, à l'heure de Conakry (comme ecole-beat).
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Beat(BeatArgs),
    /// Vérifie la santé d'un processus de ce conteneur (HEALTHCHECK de Docker) : code 0 s'il va bien, 1 sinon avec la raison.
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Health {
        /// api (GET /health/ready sur le port de HTTP_BIND : 200 en 3 s), worker ou beat
        /// (fichier de battement de ECOLE_HEARTBEAT_DIR de moins de 30 s).
        #[arg(value_enum, hide_possible_values = true)]
        cible: sante::Cible,
    },
    /// Applique les migrations en attente (crée la base si elle n'existe pas).
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Migrate,
    /// Crée un compte administrateur (interactif, ou par options / variables d'environnement).
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Createsuperuser(SuperuserArgs),
    /// Prépare un poste de développement : base, migrations, administrateur de démonstration (refusé en production).
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Bootstrap,
    /// Vérifie la configuration et la connexion à PostgreSQL et Redis (--deploy : la liste complète avant la production).
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Check {
        /// Liste de contrôle avant la mise en production : secret, APP_ENV, CORS, services,
        /// SMTP, SMS, dossiers, dernière sauvegarde, migrations, workers, planificateur.
        /// Code de sortie non nul à la moindre ERREUR.
        #[arg(long)]
        deploy: bool,
    },
    /// Sauvegarde la base (pg_dump) dans BACKUP_DIR, avec sa somme SHA-256, la copie sur S3 si configuré et le nettoyage des anciennes copies.
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Backup,
    /// Restaure une sauvegarde (fichier .dump accompagné de son .sha256), puis applique les migrations en attente.
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Restore {
        /// Fichier de sauvegarde (ecole_AAAAmmjj_HHMMSS.dump).
        fichier: std::path::PathBuf,
        /// Remplace une base qui contient déjà des tables (toutes ses données sont perdues).
        #[arg(long)]
        force: bool,
        /// Base cible (par défaut : DATABASE_URL).
        #[arg(long, value_name = "URL")]
        base: Option<String>,
    },
    /// Crée des données de démonstration réalistes (base sans élèves uniquement ; refusé en production).
    #[command(help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    Seed {
        /// Nombre d'élèves (≈ un élève sur 38 donne une classe).
        #[arg(long, default_value_t = 300)]
        eleves: usize,
        /// Graine : la même graine donne les mêmes données.
        #[arg(long, default_value_t = 2026)]
        seed: u64,
        /// Sans barre de progression.
        #[arg(long)]
        quiet: bool,
    },
    /// Demande l'exécution d'un job (ex. : ecole enqueue-job core.debug '{"message": "test"}').
    #[command(name = "enqueue-job", help_template = HELP_TEMPLATE, next_help_heading = "Options")]
    EnqueueJob {
        /// Nom de la tâche (core.debug, core.backup_database, finances.envoyer_rappels_paiement, …).
        name: String,
        /// Arguments en JSON (objet ; {} par défaut).
        #[arg(default_value = "{}")]
        payload: String,
    },
}

#[derive(Args)]
struct SuperuserArgs {
    /// Nom d'utilisateur.
    #[arg(long, env = "ECOLE_SUPERUSER_USERNAME")]
    username: Option<String>,
    /// Adresse e-mail.
    #[arg(long, env = "ECOLE_SUPERUSER_EMAIL")]
    email: Option<String>,
    /// Mot de passe (préférez la variable ECOLE_SUPERUSER_PASSWORD : une option reste dans l'historique).
    #[arg(long, env = "ECOLE_SUPERUSER_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// Ne rien demander : échouer si une valeur manque.
    #[arg(long)]
    no_input: bool,
}

fn prompt(label: &str) -> anyhow::Result<String> {
    print!("{label} : ");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_string())
}

async fn connect(settings: &Settings) -> anyhow::Result<AsyncPgConnection> {
    let fut = AsyncPgConnection::establish(&settings.database_url);
    match tokio::time::timeout(Duration::from_secs(10), fut).await {
        Ok(conn) => conn.context("connexion à PostgreSQL impossible (DATABASE_URL)"),
        Err(_) => bail!("connexion à PostgreSQL : délai dépassé (DATABASE_URL)"),
    }
}

async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    if ecole_db::ensure_database(&settings.database_url)
        .await
        .context("création de la base")?
    {
        println!("Base de données créée.");
    }
    let applied = ecole_db::run_migrations(&settings.database_url).await?;
    if applied.is_empty() {
        println!("Aucune migration en attente.");
    } else {
        for name in &applied {
            println!("  appliquée : {name}");
        }
        println!("{} migration(s) appliquée(s).", applied.len());
    }
    if let Some(role) = &settings.database_app_user {
        let bilan = ecole_operations::droits::appliquer_droits(
            &settings.database_url,
            role,
            settings.database_app_password.as_ref(),
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!("{}", bilan.resume());
    }
    Ok(())
}

async fn create_admin(
    settings: &Settings,
    username: &str,
    email: Option<String>,
    password: &str,
) -> anyhow::Result<()> {
    let mut conn = connect(settings).await?;
    let input = NewUserInput {
        username: username.to_string(),
        email,
        password: password.to_string(),
        first_name: String::new(),
        last_name: String::new(),
        role: Role::Admin,
        telephone: None,
        is_active: Some(true),
    };
    match ecole_users::service::create_user(&mut conn, None, &input).await {
        Ok(user) => {
            println!(
                "Administrateur « {} » créé (id {}).",
                user.username, user.id
            );
            Ok(())
        }
        Err(ecole_core::DomainError::Validation(errors)) => {
            for (field, messages) in errors.0 {
                for m in messages {
                    eprintln!("  {field} : {m}");
                }
            }
            bail!("compte non créé")
        }
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

async fn createsuperuser(settings: &Settings, args: SuperuserArgs) -> anyhow::Result<()> {
    let interactive = !args.no_input && std::io::stdin().is_terminal();
    let username = match args.username {
        Some(u) => u,
        None if interactive => prompt("Nom d'utilisateur")?,
        None => bail!("--username (ou ECOLE_SUPERUSER_USERNAME) est requis sans terminal"),
    };
    let email = match args.email {
        Some(e) => Some(e),
        None if interactive => {
            Some(prompt("Adresse e-mail (facultative)")?).filter(|e| !e.is_empty())
        }
        None => None,
    };
    let password = match args.password {
        Some(p) => p,
        None if interactive => {
            let first = rpassword::prompt_password("Mot de passe : ")?;
            let again = rpassword::prompt_password("Mot de passe (confirmation) : ")?;
            if first != again {
                bail!("les deux mots de passe diffèrent");
            }
            first
        }
        None => bail!("--password (ou ECOLE_SUPERUSER_PASSWORD) est requis sans terminal"),
    };
    create_admin(settings, &username, email, &password).await
}

/// Demo data and demo accounts (a password printed or public) never reach production.
fn refuse_demo_in_production(settings: &Settings, command: &str) -> anyhow::Result<()> {
    if settings.app_env.is_production() {
        bail!(
            "« ecole {command} » est refusé en production (APP_ENV=production) : il crée des \
             données et des comptes de démonstration au mot de passe connu. Pour une vraie école : \
             « ecole migrate », puis « ecole createsuperuser »."
        );
    }
    Ok(())
}

/// Migrations, then a demo administrator when there is no user at all.
async fn bootstrap(settings: &Settings) -> anyhow::Result<()> {
    refuse_demo_in_production(settings, "bootstrap")?;
    migrate(settings).await?;
    let mut conn = connect(settings).await?;
    let count = ecole_users::repo::count(&mut conn)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    if count > 0 {
        println!("{count} compte(s) existant(s) : aucun compte de démonstration créé.");
        return Ok(());
    }
    // A first start: a small school, so that a new user sees real data.
    seed_demo(settings, 150, 2026, false).await?;
    let bytes: [u8; 9] = rand::random();
    let password = format!("Demo-{}", hex_string(&bytes));
    create_admin(
        settings,
        "admin",
        Some("admin@ecole.local".into()),
        &password,
    )
    .await?;
    println!();
    println!("  Compte de démonstration (affiché une seule fois) :");
    println!("    utilisateur  : admin");
    println!("    mot de passe : {password}");
    println!();
    Ok(())
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn check(settings: &Settings) -> anyhow::Result<()> {
    let mut errors = 0;
    println!("Environnement : {}", settings.app_env.as_str());
    println!("Écoute HTTP   : {}", settings.http_bind);
    match connect(settings).await {
        Ok(_) => println!("OK      PostgreSQL joignable"),
        Err(e) => {
            errors += 1;
            println!("ERREUR  PostgreSQL : {e:#}");
        }
    }
    match ecole_db::pending_migrations(&settings.database_url).await {
        Ok(p) if p.is_empty() => println!("OK      migrations à jour"),
        Ok(p) => {
            errors += 1;
            println!(
                "ERREUR  {} migration(s) en attente : lancez `ecole migrate`",
                p.len()
            );
        }
        Err(e) => {
            errors += 1;
            println!("ERREUR  migrations : {e}");
        }
    }
    let redis = async {
        let client = redis::Client::open(settings.redis_url.as_str())?;
        let mut conn = client.get_multiplexed_async_connection().await?;
        redis::cmd("PING").query_async::<String>(&mut conn).await
    };
    match tokio::time::timeout(Duration::from_secs(3), redis).await {
        Ok(Ok(_)) => println!("OK      Redis joignable"),
        Ok(Err(e)) => {
            errors += 1;
            println!("ERREUR  Redis : {e}");
        }
        Err(_) => {
            errors += 1;
            println!("ERREUR  Redis : délai dépassé");
        }
    }
    if settings.cors_allowed_origins.is_empty() {
        println!(
            "ATTENTION  CORS_ALLOWED_ORIGINS est vide : aucun navigateur d'une autre origine ne pourra appeler l'API"
        );
    }
    if errors > 0 {
        bail!("{errors} erreur(s)");
    }
    Ok(())
}

/// Cancelled on Ctrl-C / SIGTERM: a running pg_dump or pg_restore is killed with its group.
fn annulation_sur_signal() -> tokio_util::sync::CancellationToken {
    ecole_jobs::signals::shutdown_on_signals()
}

fn taille_lisible(octets: u64) -> String {
    const MO: f64 = 1024.0 * 1024.0;
    if octets as f64 >= MO {
        format!("{:.1} Mo", octets as f64 / MO).replace('.', ",")
    } else {
        format!("{:.1} Ko", octets as f64 / 1024.0).replace('.', ",")
    }
}

async fn backup(settings: &Settings) -> anyhow::Result<()> {
    let annulation = annulation_sur_signal();
    let bilan = ecole_operations::sauvegarde::sauvegarder(settings, &annulation)
        .await
        .map_err(|e| anyhow::anyhow!("sauvegarde impossible : {e}"))?;
    println!(
        "Sauvegarde écrite : {} ({}, sha256 {})",
        bilan.fichier,
        taille_lisible(bilan.taille),
        bilan.sha256
    );
    if let Some(cle) = &bilan.s3 {
        println!("Copie sur S3 : {cle}");
    }
    if !bilan.supprimees_locales.is_empty() || !bilan.supprimees_s3.is_empty() {
        println!(
            "Anciennes sauvegardes supprimées : {} locale(s), {} sur S3 (plus de {} jours ; les 3 dernières sont toujours gardées).",
            bilan.supprimees_locales.len(),
            bilan.supprimees_s3.len(),
            settings.backup.retention_days
        );
    }
    println!(
        "Durée : {} s",
        format!("{:.1}", bilan.duree_ms as f64 / 1000.0).replace('.', ",")
    );
    Ok(())
}

async fn restore(
    settings: &Settings,
    fichier: &std::path::Path,
    force: bool,
    base: Option<String>,
) -> anyhow::Result<()> {
    let annulation = annulation_sur_signal();
    let url = base.unwrap_or_else(|| settings.database_url.clone());
    let bilan =
        ecole_operations::restauration::restaurer(settings, fichier, &url, force, &annulation)
            .await
            .map_err(|e| anyhow::anyhow!("restauration impossible : {e}"))?;
    println!("Somme de contrôle vérifiée (sha256 {}).", bilan.sha256);
    if bilan.tables_remplacees > 0 {
        println!(
            "Base « {} » : {} table(s) existante(s) remplacée(s) (--force).",
            bilan.base, bilan.tables_remplacees
        );
    }
    if bilan.migrations.is_empty() {
        println!("Aucune migration en attente après la restauration.");
    } else {
        for name in &bilan.migrations {
            println!("  migration appliquée : {name}");
        }
    }
    if let Some(droits) = &bilan.droits {
        println!("{}", droits.resume());
    }
    println!(
        "Nouvel identifiant d'instance : {} (sauvegarde : {}) ; les jobs prennent un espace Redis neuf.",
        bilan.instance,
        bilan.instance_sauvegardee.as_deref().unwrap_or("aucun")
    );
    println!("Lignes par table dans « {} » :", bilan.base);
    let width = bilan.tables.iter().map(|t| t.nom.len()).max().unwrap_or(10);
    let mut total = 0i64;
    for t in &bilan.tables {
        println!("  {:<width$}  {:>10}", t.nom, t.lignes);
        total += t.lignes;
    }
    println!(
        "Restauration terminée : {total} ligne(s) dans {} table(s).",
        bilan.tables.len()
    );
    Ok(())
}

async fn check_deploy(settings: &Settings) -> anyhow::Result<()> {
    use ecole_operations::verification::{Contexte, en_erreur, verifier_deploiement};
    let contexte = Contexte {
        rust_log: std::env::var("RUST_LOG").ok(),
    };
    println!(
        "Vérification avant mise en production (APP_ENV={}) :",
        settings.app_env.as_str()
    );
    let constats = verifier_deploiement(settings, &contexte).await;
    for c in &constats {
        println!("{c}");
    }
    let erreurs = en_erreur(&constats);
    if erreurs > 0 {
        bail!("{erreurs} erreur(s) : l'installation n'est pas prête pour la production");
    }
    println!("Prêt pour la production.");
    Ok(())
}

async fn seed_demo(
    settings: &Settings,
    eleves: usize,
    seed: u64,
    progress: bool,
) -> anyhow::Result<()> {
    refuse_demo_in_production(settings, "seed")?;
    let mut conn = connect(settings).await?;
    let started = std::time::Instant::now();
    let options = ecole_seed::SeedOptions {
        eleves,
        seed,
        today: ecole_core::time::today(),
        progress,
    };
    let report = ecole_seed::seed(&mut conn, &options)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Année {} : {} classes, {} enseignants, {} élèves, {} parents, {} notes, {} présences ({:.1} s).",
        report.annee_scolaire,
        report.classes,
        report.enseignants,
        report.eleves,
        report.parents,
        report.notes,
        report.presences,
        started.elapsed().as_secs_f64()
    );
    println!(
        "Mot de passe commun des comptes de démonstration : {}",
        ecole_seed::DEMO_PASSWORD
    );
    Ok(())
}

async fn enqueue_job(settings: &Settings, name: &str, payload: &str) -> anyhow::Result<()> {
    let payload: serde_json::Value = serde_json::from_str(payload)
        .map_err(|e| anyhow::anyhow!("arguments JSON invalides : {e}"))?;
    let mut conn = connect(settings).await?;
    match ecole_jobs::service::request_job(&mut conn, None, settings.app_env, name, payload).await {
        Ok(id) => {
            println!("Job {id} demandé ({name}). Suivi : GET /api/v1/jobs/{id}/");
            Ok(())
        }
        Err(ecole_core::DomainError::Validation(errors)) => {
            for (field, messages) in errors.0 {
                for m in messages {
                    eprintln!("  {field} : {m}");
                }
            }
            bail!("job non demandé")
        }
        Err(ecole_core::DomainError::Throttled { message, .. }) => bail!("{message}"),
        Err(e) => Err(anyhow::anyhow!("{e}")),
    }
}

/// Names under which this program behaves as one of its commands (a symbolic link
/// `ecole-api -> ecole` in the image runs `ecole api`).
const MULTI_CALL: [(&str, &str); 3] = [
    ("ecole-api", "api"),
    ("ecole-worker", "worker"),
    ("ecole-beat", "beat"),
];

/// The command line, with the command implied by the program's name put in.
fn arguments(mut args: Vec<OsString>) -> Vec<OsString> {
    let invoked = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .and_then(|n| MULTI_CALL.iter().find(|(name, _)| *name == n))
        .map(|(_, command)| *command);
    if let Some(command) = invoked {
        args.splice(0..1.min(args.len()), ["ecole".into(), command.into()]);
    }
    args
}

/// Ends the process with the status of a long-running command.
fn finish(result: anyhow::Result<()>) {
    if let Err(e) = result {
        eprintln!("Erreur : {e:#}");
        std::process::exit(1);
    }
}

/// `ecole health`: one line on stdout when healthy, the reason on stderr and status 1 when not
/// (an invalid configuration included: the process could not run with it either).
async fn health(cible: sante::Cible) {
    let settings = match Settings::from_env_for_audit() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("configuration invalide : {e}");
            std::process::exit(1);
        }
    };
    match sante::verifier(&settings, cible).await {
        Ok(etat) => println!("{etat}"),
        Err(raison) => {
            eprintln!("{raison}");
            std::process::exit(1);
        }
    }
}

#[tokio::main]
async fn main() {
    let cli = Cli::parse_from(arguments(std::env::args_os().collect()));
    // The processes of the image: they load their settings and logs themselves.
    match cli.command {
        Command::Api => return finish(ecole_api::run().await),
        Command::Worker => return finish(ecole_handlers::run_worker().await),
        Command::Beat(args) => return finish(beat_process(args).await),
        Command::Health { cible } => return health(cible).await,
        _ => {}
    }
    // `check --deploy` reports a weak SECRET_KEY among its findings instead of refusing it.
    let audit = matches!(cli.command, Command::Check { deploy: true });
    let loaded = if audit {
        Settings::from_env_for_audit()
    } else {
        Settings::from_env()
    };
    let settings = match loaded {
        Ok(s) => s,
        Err(e) => {
            if audit {
                println!("ERREUR     configuration invalide : {e}");
            }
            eprintln!("Configuration invalide : {e}");
            std::process::exit(2);
        }
    };
    // Logs of the admin command only on demand (`RUST_LOG=info ecole backup`).
    let _telemetry = std::env::var_os("RUST_LOG")
        .filter(|_| !audit)
        .map(|_| ecole_telemetry::init(&settings));
    let result = match cli.command {
        Command::Migrate => migrate(&settings).await,
        Command::Createsuperuser(args) => createsuperuser(&settings, args).await,
        Command::Bootstrap => bootstrap(&settings).await,
        Command::Check { deploy: false } => check(&settings).await,
        Command::Check { deploy: true } => check_deploy(&settings).await,
        Command::Backup => backup(&settings).await,
        Command::Restore {
            fichier,
            force,
            base,
        } => restore(&settings, &fichier, force, base).await,
        Command::EnqueueJob { name, payload } => enqueue_job(&settings, &name, &payload).await,
        Command::Seed {
            eleves,
            seed,
            quiet,
        } => seed_demo(&settings, eleves, seed, !quiet).await,
        Command::Api | Command::Worker | Command::Beat(_) | Command::Health { .. } => Ok(()),
    };
    if let Err(e) = result {
        eprintln!("Erreur : {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn the_program_name_selects_the_command() {
        assert_eq!(
            arguments(args(&["/usr/local/bin/ecole-beat", "--list"])),
            args(&["ecole", "beat", "--list"])
        );
        assert_eq!(arguments(args(&["ecole-api"])), args(&["ecole", "api"]));
        assert_eq!(
            arguments(args(&["./ecole-worker"])),
            args(&["ecole", "worker"])
        );
        assert_eq!(
            arguments(args(&["/usr/bin/ecole", "migrate"])),
            args(&["/usr/bin/ecole", "migrate"])
        );
        assert_eq!(arguments(args(&[])), args(&[]));
        assert!(
            Cli::try_parse_from(arguments(args(&["ecole-beat", "--entry", "a=0 0 * * * *"])))
                .is_ok()
        );
    }
}
