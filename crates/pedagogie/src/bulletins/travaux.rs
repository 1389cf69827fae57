//! The report-card jobs: `pedagogie.generer_bulletins_periode` (a class or a whole year's
//! classes, with progress; without arguments — the beat's monthly entry — every ended period
//! of the active year that has no bulletins yet, and the classes whose unpublished bulletins
//! need recomputing) and the request that asks for it.

use std::str::FromStr;

use chrono::Utc;
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors, Role, time};
use ecole_db::enums::{CodePeriode, StatutBulletin};
use ecole_db::schema::{annees_scolaires, bulletins, classes, periodes};
use ecole_jobs::payloads::GenererBulletinsPeriode;
use ecole_jobs::{JobContext, JobError, NewJob, enqueue};
use serde::Deserialize;
use serde_json::{Value, json};

use super::generation::generer;

/// `bulletins/generer/`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GenererBulletinsInput)]
pub struct GenererInput {
    pub annee_scolaire: i64,
    pub periode: CodePeriode,
    /// One class; without it, every class of the year.
    #[serde(default)]
    pub classe: Option<i64>,
    /// Recompute published bulletins too: they stay published, get a new version (the previous
    /// PDF is kept) and the families are told of the correction.
    #[serde(default)]
    pub force: bool,
}

/// Adds a `classe` error unless `classe` exists and belongs to `annee`.
pub(super) async fn check_classe_de_l_annee(
    conn: &mut AsyncPgConnection,
    classe: i64,
    annee: i64,
    errors: &mut FieldErrors,
) -> DomainResult<()> {
    let annee_classe: Option<i64> = classes::table
        .find(classe)
        .select(classes::annee_scolaire_id)
        .first(conn)
        .await
        .optional()?;
    match annee_classe {
        None => errors.add("classe", "Classe introuvable."),
        Some(a) if a != annee => errors.add(
            "classe",
            "Cette classe n'appartient pas à cette année scolaire.",
        ),
        Some(_) => {}
    }
    Ok(())
}

/// Checks the request and asks for the job (ADMIN, DIRECTION). Returns the job id.
pub async fn demander_generation(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &GenererInput,
) -> DomainResult<i64> {
    actor.require(&[Role::Admin, Role::Direction])?;
    let mut errors = FieldErrors::new();
    let annee: Option<i64> = annees_scolaires::table
        .find(input.annee_scolaire)
        .select(annees_scolaires::id)
        .first(conn)
        .await
        .optional()?;
    if annee.is_none() {
        errors.add("annee_scolaire", "Année scolaire introuvable.");
    } else {
        let periode: Option<i64> = periodes::table
            .filter(periodes::annee_scolaire_id.eq(input.annee_scolaire))
            .filter(periodes::code.eq(input.periode))
            .select(periodes::id)
            .first(conn)
            .await
            .optional()?;
        if periode.is_none() {
            errors.add(
                "periode",
                format!(
                    "Le {} n'est pas défini pour cette année scolaire.",
                    input.periode.libelle()
                ),
            );
        }
        if let Some(classe) = input.classe {
            check_classe_de_l_annee(conn, classe, input.annee_scolaire, &mut errors).await?;
        }
    }
    errors.into_result()?;
    let job = NewJob::of(&GenererBulletinsPeriode {
        periode: Some(input.periode.as_str().to_string()),
        annee_scolaire_id: Some(input.annee_scolaire),
        classe_id: input.classe,
        force: input.force,
    })?
    .requested_by(Some(actor.user_id));
    enqueue(conn, job).await
}

/// One unit of work: classes of one year for a period.
struct Cible {
    periode: CodePeriode,
    classes: Vec<i64>,
}

async fn classes_of(conn: &mut AsyncPgConnection, annee: i64) -> Result<Vec<i64>, JobError> {
    Ok(classes::table
        .filter(classes::annee_scolaire_id.eq(annee))
        .select(classes::id)
        .order(classes::id)
        .load(conn)
        .await?)
}

/// What the job's arguments ask for: the classes, and the periods whose generation is
/// complete once they are done (whole-year runs only).
async fn cibles(
    conn: &mut AsyncPgConnection,
    args: &GenererBulletinsPeriode,
) -> Result<(Vec<Cible>, Vec<(i64, CodePeriode)>), JobError> {
    match (&args.periode, args.annee_scolaire_id) {
        (Some(code), Some(annee)) => {
            let periode = CodePeriode::from_str(code)
                .map_err(|_| JobError::fatal(format!("période inconnue : {code}")))?;
            match args.classe_id {
                Some(classe) => Ok((
                    vec![Cible {
                        periode,
                        classes: vec![classe],
                    }],
                    Vec::new(),
                )),
                None => Ok((
                    vec![Cible {
                        periode,
                        classes: classes_of(conn, annee).await?,
                    }],
                    vec![(annee, periode)],
                )),
            }
        }
        (None, None) => {
            // The beat: ended periods of the active year with no bulletins yet…
            let today = time::today();
            let ended: Vec<(i64, CodePeriode)> = periodes::table
                .inner_join(annees_scolaires::table)
                .filter(annees_scolaires::est_active.eq(true))
                .filter(periodes::date_fin.lt(today))
                .filter(periodes::bulletins_generes_le.is_null())
                .filter(diesel::dsl::not(diesel::dsl::exists(
                    bulletins::table
                        .filter(bulletins::annee_scolaire_id.eq(periodes::annee_scolaire_id))
                        .filter(bulletins::periode.eq(periodes::code)),
                )))
                .select((periodes::annee_scolaire_id, periodes::code))
                .order(periodes::date_fin)
                .load(conn)
                .await?;
            let mut out = Vec::new();
            for (annee, periode) in &ended {
                out.push(Cible {
                    periode: *periode,
                    classes: classes_of(conn, *annee).await?,
                });
            }
            // … and the classes with unpublished bulletins that need recomputing (a class
            // with published bulletins is left to a forced generation).
            let stale: Vec<(CodePeriode, i64)> = bulletins::table
                .inner_join(annees_scolaires::table)
                .filter(annees_scolaires::est_active.eq(true))
                .filter(bulletins::a_recalculer.eq(true))
                .filter(bulletins::statut.ne(StatutBulletin::Publie))
                .select((bulletins::periode, bulletins::classe_id))
                .distinct()
                .order((bulletins::periode, bulletins::classe_id))
                .load(conn)
                .await?;
            for (periode, classe) in stale {
                match out.iter_mut().find(|c| c.periode == periode) {
                    Some(c) if c.classes.contains(&classe) => {}
                    Some(c) => c.classes.push(classe),
                    None => out.push(Cible {
                        periode,
                        classes: vec![classe],
                    }),
                }
            }
            Ok((out, ended))
        }
        _ => Err(JobError::fatal(
            "arguments invalides : « periode » et « annee_scolaire_id » vont ensemble",
        )),
    }
}

/// Classes computed and stored together: each batch is one transaction and one progress step
/// (a whole school of 40 classes takes 4 steps).
pub const CLASSES_PAR_LOT: usize = 10;

/// `pedagogie.generer_bulletins_periode`: classes in batches of [`CLASSES_PAR_LOT`], each
/// batch in its own transaction (its bulletins, lines and PDF jobs commit together); progress
/// is the number of classes done.
pub async fn generer_bulletins_periode(ctx: JobContext) -> Result<Value, JobError> {
    let args: GenererBulletinsPeriode = ctx.payload()?;
    let mut conn = ctx.pool.get().await?;
    let (cibles, periodes_completes) = cibles(&mut conn, &args).await?;
    let total: usize = cibles.iter().map(|c| c.classes.len()).sum();
    ctx.progress(0, Some(total as i32)).await?;
    let (mut done, mut bulletins_count, mut ignores) = (0usize, 0usize, 0usize);
    let (mut classes_ignorees, mut versions) = (Vec::new(), 0usize);
    for cible in &cibles {
        for lot in cible.classes.chunks(CLASSES_PAR_LOT) {
            let generation = match generer(&mut conn, lot, cible.periode, args.force).await {
                Ok(g) => g,
                Err(DomainError::NotFound) => {
                    return Err(JobError::fatal(format!("classe introuvable parmi {lot:?}")));
                }
                Err(e) => return Err(e.into()),
            };
            bulletins_count += generation.bulletins.len();
            ignores += generation.publies_ignores;
            versions += generation.nouvelles_versions;
            classes_ignorees.extend(generation.classes_ignorees);
            done += lot.len();
            ctx.progress(done as i32, Some(total as i32)).await?;
        }
    }
    let now = Utc::now();
    for (annee, periode) in &periodes_completes {
        diesel::update(
            periodes::table
                .filter(periodes::annee_scolaire_id.eq(annee))
                .filter(periodes::code.eq(periode)),
        )
        .set(periodes::bulletins_generes_le.eq(now))
        .execute(&mut conn)
        .await?;
    }
    Ok(json!({
        "classes": total,
        "bulletins": bulletins_count,
        "publies_ignores": ignores,
        "classes_ignorees": classes_ignorees,
        "nouvelles_versions": versions,
        "periodes": periodes_completes
            .iter()
            .map(|(annee, periode)| json!({"annee_scolaire": annee, "periode": periode}))
            .collect::<Vec<_>>(),
    }))
}
