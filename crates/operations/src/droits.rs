//! The application's least-privilege role (`DATABASE_APP_USER`). `ecole migrate` and
//! `ecole restore` run as the owner of the tables; the API, the worker and the beat connect as
//! this role, which can read and write rows but owns nothing, cannot truncate, and can only
//! add to the audit log (so it can neither rewrite it nor disable its trigger).
//!
//! Every statement is built by the server's `format()` from bound parameters (`%I` for
//! identifiers, `%L` for the password): no user input is pasted into SQL.

use diesel::QueryableByName;
use diesel::sql_types::{Bool, Nullable, Text};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;

use crate::{OpsError, OpsResult};

/// Grants of the role, in order; `%1$I` is the role, `%2$I` the database. Idempotent.
const DROITS: &[&str] = &[
    "GRANT CONNECT ON DATABASE %2$I TO %1$I",
    "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
    "REVOKE CREATE ON SCHEMA public FROM %1$I",
    "GRANT USAGE ON SCHEMA public TO %1$I",
    "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO %1$I",
    "REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM %1$I",
    // Append-only: the trigger refuses too, but the role is refused first.
    "REVOKE UPDATE, DELETE, TRUNCATE ON public.audit_log FROM %1$I",
    // `ecole check` reads which migrations are applied; only the owner applies them.
    "REVOKE INSERT, UPDATE, DELETE ON public.__diesel_schema_migrations FROM %1$I",
    "GRANT SELECT ON public.__diesel_schema_migrations TO %1$I",
    "GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO %1$I",
    // Tables and sequences of later migrations (created by this same owner).
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO %1$I",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE TRUNCATE, REFERENCES, TRIGGER ON TABLES FROM %1$I",
    "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO %1$I",
];

/// What [`appliquer_droits`] did.
#[derive(Debug, Clone, Serialize)]
pub struct BilanDroits {
    pub role: String,
    /// The role did not exist and was created.
    pub cree: bool,
    /// Attributes removed from an existing role (`SUPERUSER`, `CREATEDB`…).
    pub attributs_retires: Vec<String>,
    /// Its password was set.
    pub mot_de_passe: bool,
}

#[derive(QueryableByName)]
struct Sql {
    #[diesel(sql_type = Text)]
    sql: String,
}

#[derive(QueryableByName)]
struct Contexte {
    #[diesel(sql_type = Text)]
    utilisateur: String,
    #[diesel(sql_type = Text)]
    base: String,
}

#[derive(QueryableByName)]
struct Attributs {
    #[diesel(sql_type = Bool)]
    rolsuper: bool,
    #[diesel(sql_type = Bool)]
    rolcreatedb: bool,
    #[diesel(sql_type = Bool)]
    rolcreaterole: bool,
    #[diesel(sql_type = Bool)]
    rolreplication: bool,
    #[diesel(sql_type = Bool)]
    rolbypassrls: bool,
    #[diesel(sql_type = Bool)]
    rolcanlogin: bool,
}

/// Runs `modele` after the server's `format()` with the role, the database and the password.
async fn executer(
    conn: &mut AsyncPgConnection,
    modele: &str,
    role: &str,
    base: &str,
    mot_de_passe: Option<&str>,
) -> diesel::QueryResult<()> {
    let sql: Sql = diesel::sql_query("SELECT format($1, $2, $3, $4) AS sql")
        .bind::<Text, _>(modele)
        .bind::<Text, _>(role)
        .bind::<Text, _>(base)
        .bind::<Nullable<Text>, _>(mot_de_passe)
        .get_result(conn)
        .await?;
    diesel::sql_query(sql.sql).execute(conn).await?;
    Ok(())
}

/// Creates `role` if missing (LOGIN, no other attribute), sets its password when given and
/// grants it what the application needs in the database of `database_url`, in one transaction.
/// Run as the owner of the tables, after the migrations.
pub async fn appliquer_droits(
    database_url: &str,
    role: &str,
    mot_de_passe: Option<&SecretString>,
) -> OpsResult<BilanDroits> {
    let mut conn = match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        AsyncPgConnection::establish(database_url),
    )
    .await
    {
        Ok(conn) => conn?,
        Err(_) => return Err(OpsError::Base("connexion : délai dépassé".into())),
    };
    let contexte: Contexte = diesel::sql_query(
        "SELECT current_user::text AS utilisateur, current_database()::text AS base",
    )
    .get_result(&mut conn)
    .await?;
    if contexte.utilisateur == role {
        return Err(OpsError::Refus(format!(
            "DATABASE_APP_USER={role} est le rôle de DATABASE_URL, propriétaire des tables : \
             choisissez un autre rôle pour l'application (ex. ecole_app)"
        )));
    }
    let base = contexte.base;
    let mot_de_passe = mot_de_passe.map(|m| m.expose_secret().to_string());
    let role_owned = role.to_string();
    let bilan = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            {
                let role = role_owned.as_str();
                let existant: Option<Attributs> = diesel::sql_query(
                    "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, \
                     rolcanlogin FROM pg_roles WHERE rolname = $1",
                )
                .bind::<Text, _>(role)
                .get_result(conn)
                .await
                .map(Some)
                .or_else(|e| match e {
                    diesel::result::Error::NotFound => Ok(None),
                    e => Err(e),
                })?;
                let mut attributs_retires = Vec::new();
                let cree = existant.is_none();
                match existant {
                    None => {
                        executer(
                            conn,
                            "CREATE ROLE %1$I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE \
                             NOREPLICATION NOBYPASSRLS",
                            role,
                            &base,
                            None,
                        )
                        .await?
                    }
                    Some(a) => {
                        // Only what differs: changing SUPERUSER at all needs a superuser.
                        let mut changes = Vec::new();
                        for (present, attribut) in [
                            (a.rolsuper, "SUPERUSER"),
                            (a.rolcreatedb, "CREATEDB"),
                            (a.rolcreaterole, "CREATEROLE"),
                            (a.rolreplication, "REPLICATION"),
                            (a.rolbypassrls, "BYPASSRLS"),
                        ] {
                            if present {
                                changes.push(format!("NO{attribut}"));
                                attributs_retires.push(attribut.to_string());
                            }
                        }
                        if !a.rolcanlogin {
                            changes.push("LOGIN".into());
                        }
                        if !changes.is_empty() {
                            // Keywords from the fixed list above; the role through %1$I.
                            let modele = format!("ALTER ROLE %1$I {}", changes.join(" "));
                            executer(conn, &modele, role, &base, None).await?;
                        }
                    }
                }
                if let Some(mdp) = mot_de_passe.as_deref() {
                    executer(
                        conn,
                        "ALTER ROLE %1$I PASSWORD %3$L",
                        role,
                        &base,
                        Some(mdp),
                    )
                    .await?;
                }
                for modele in DROITS {
                    executer(conn, modele, role, &base, None).await?;
                }
                Ok(BilanDroits {
                    role: role.to_string(),
                    cree,
                    attributs_retires,
                    mot_de_passe: mot_de_passe.is_some(),
                })
            }
        })
        .await
        .map_err(|e| OpsError::Base(format!("droits du rôle applicatif « {role} » : {e}")))?;
    Ok(bilan)
}

impl BilanDroits {
    /// One line for the operator.
    pub fn resume(&self) -> String {
        let mut parties = vec![format!(
            "Rôle applicatif « {} » {}",
            self.role,
            if self.cree { "créé" } else { "existant" }
        )];
        if !self.attributs_retires.is_empty() {
            parties.push(format!(
                "attributs retirés : {}",
                self.attributs_retires.join(", ")
            ));
        }
        if self.mot_de_passe {
            parties.push("mot de passe défini".into());
        }
        parties.push(
            "droits accordés : lecture et écriture des lignes, journal d'audit en ajout seul, \
             aucune table possédée"
                .into(),
        );
        let ligne = format!("{}.", parties.join(" ; "));
        ligne
    }
}
