//! `ecole restore <fichier>`: checksum, a readable archive, a refusal to overwrite a
//! non-empty database without `force`, `pg_restore` in one transaction, pending migrations,
//! a new instance id (the jobs' Redis namespace), per-table row counts.

use std::ffi::OsString;
use std::path::Path;

use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_config::Settings;
use serde::Serialize;
use tokio_util::sync::CancellationToken;

use crate::outils::{Connexion, executer, opt};
use crate::sauvegarde::verifier_somme;
use crate::statistiques::{Table, comptes};
use crate::{OpsError, OpsResult};

/// What a restore did.
#[derive(Debug, Clone, Serialize)]
pub struct BilanRestauration {
    pub base: String,
    pub sha256: String,
    /// Tables dropped first (`force` on a non-empty database).
    pub tables_remplacees: i64,
    /// Migrations applied after the restore (the backup was older than this version).
    pub migrations: Vec<String>,
    /// Grants of `DATABASE_APP_USER`, applied again after the restore.
    pub droits: Option<crate::droits::BilanDroits>,
    /// The new instance id: the jobs use a Redis namespace nothing was left in.
    pub instance: String,
    /// The instance id the backup carried.
    pub instance_sauvegardee: Option<String>,
    pub tables: Vec<Table>,
}

#[derive(QueryableByName)]
struct Nombre {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

async fn connecter(url: &str) -> OpsResult<AsyncPgConnection> {
    match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        AsyncPgConnection::establish(url),
    )
    .await
    {
        Ok(conn) => Ok(conn?),
        Err(_) => Err(OpsError::Base("connexion : délai dépassé".into())),
    }
}

/// Tables (and partitioned tables) of the `public` schema.
pub async fn nombre_de_tables(conn: &mut AsyncPgConnection) -> OpsResult<i64> {
    let row: Nombre = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')",
    )
    .get_result(conn)
    .await?;
    Ok(row.n)
}

/// Restores `fichier` into `database_url` (created if missing).
pub async fn restaurer(
    settings: &Settings,
    fichier: &Path,
    database_url: &str,
    force: bool,
    annulation: &CancellationToken,
) -> OpsResult<BilanRestauration> {
    let sha256 = verifier_somme(fichier).await?;
    let connexion = Connexion::depuis_url(database_url)?;
    let env = connexion.environnement();
    // A readable archive before anything is dropped.
    executer(
        &settings.backup.pg_restore,
        &["--list".into(), fichier.as_os_str().to_os_string()],
        &env,
        settings.backup.timeout,
        annulation,
    )
    .await
    .map_err(|e| OpsError::Refus(format!("archive illisible, rien n'a été modifié : {e}")))?;

    // Created when missing; a user without access to the `postgres` database can still
    // restore into an existing one.
    if let Err(e) = ecole_db::ensure_database(database_url).await {
        tracing::debug!(error.cause = %e, "création de la base cible ignorée");
    }
    let mut conn = connecter(database_url).await?;
    let (base, encodage) = ecole_db::database_encoding(&mut conn).await?;
    if let Some(probleme) = ecole_db::encoding_problem(&base, &encodage) {
        return Err(OpsError::Refus(format!(
            "{probleme} ; rien n'a été modifié."
        )));
    }
    let existantes = nombre_de_tables(&mut conn).await?;
    if existantes > 0 && !force {
        return Err(OpsError::Refus(format!(
            "la base « {} » n'est pas vide ({existantes} tables) : rien n'a été modifié. \
             Relancez avec --force pour la remplacer par la sauvegarde.",
            connexion.base
        )));
    }
    if existantes > 0 {
        tracing::warn!(base = %connexion.base, tables = existantes, "restauration forcée : le schéma public est remplacé");
        diesel::sql_query("DROP SCHEMA public CASCADE")
            .execute(&mut conn)
            .await?;
        diesel::sql_query("CREATE SCHEMA public")
            .execute(&mut conn)
            .await?;
        diesel::sql_query("GRANT USAGE ON SCHEMA public TO PUBLIC")
            .execute(&mut conn)
            .await?;
    }
    drop(conn);

    let args: Vec<OsString> = vec![
        "--no-password".into(),
        "--no-owner".into(),
        "--no-privileges".into(),
        "--exit-on-error".into(),
        "--single-transaction".into(),
        opt("--dbname", &connexion.uri),
        fichier.as_os_str().to_os_string(),
    ];
    executer(
        &settings.backup.pg_restore,
        &args,
        &env,
        settings.backup.timeout,
        annulation,
    )
    .await?;
    let migrations = ecole_db::run_migrations(database_url).await?;
    // The id sequence went back: under the backup's instance id, new jobs would take task ids
    // that Redis still holds from before the restore, and wait as duplicates.
    let (sauvegardee, instance) = {
        let mut conn = connecter(database_url).await?;
        ecole_jobs::instance::renew(&mut conn).await?
    };
    // pg_restore ran with --no-privileges: the application role gets its grants again.
    let droits = match &settings.database_app_user {
        Some(role) => Some(
            crate::droits::appliquer_droits(
                database_url,
                role,
                settings.database_app_password.as_ref(),
            )
            .await?,
        ),
        None => None,
    };
    let mut conn = connecter(database_url).await?;
    let tables = comptes(&mut conn).await?;
    Ok(BilanRestauration {
        base: connexion.base,
        sha256,
        tables_remplacees: existantes,
        migrations,
        droits,
        instance: instance.to_string(),
        instance_sauvegardee: sauvegardee.map(|u| u.to_string()),
        tables,
    })
}
