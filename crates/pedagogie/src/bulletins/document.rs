//! `pedagogie.generer_bulletin_pdf`: renders one report card with `ecole-pdf` and stores it
//! under the media root by id (`bulletins/<année>/<id>.pdf`), atomically. A render that
//! finishes after the bulletin was recomputed is dropped (the newer job renders the new
//! figures), so a re-run, a crash or two workers always leave one correct file.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::decimal::format_fr;
use ecole_core::{DomainError, media, time};
use ecole_db::enums::{CodePeriode, Sexe, StatutBulletin};
use ecole_db::schema::{annees_scolaires, bulletins, classes, eleves, enseignants, users};
use ecole_jobs::payloads::GenererBulletinPdf;
use ecole_jobs::{JobContext, JobError};
use ecole_pdf::{BulletinPdf, Entete, LigneBulletinPdf, Logo, render_bulletin};
use serde_json::{Value, json};

use super::consultation;
use crate::calcul::{rang_imprime, sur_bareme};

/// The school header, built once per change of the `etablissement` row (its logo decoded
/// and encoded once for every PDF this process renders).
static ENTETE: OnceLock<Mutex<Option<EnteteCache>>> = OnceLock::new();

/// The header and the `etablissement.updated_at` it was built from.
type EnteteCache = (DateTime<Utc>, Entete);

pub async fn entete(conn: &mut AsyncPgConnection, media_root: &Path) -> Result<Entete, JobError> {
    let school = ecole_administration::etablissement::get(conn).await?;
    let cache = ENTETE.get_or_init(|| Mutex::new(None));
    if let Ok(guard) = cache.lock()
        && let Some((version, entete)) = guard.as_ref()
        && *version == school.updated_at
    {
        return Ok(entete.clone());
    }
    let logo = match school
        .logo
        .as_deref()
        .and_then(|rel| media::resolve(media_root, rel))
    {
        Some(path) => match tokio::fs::read(&path).await {
            Ok(bytes) => Some(Logo::new(bytes)),
            Err(e) => {
                tracing::warn!(fichier = %path.display(), error.cause = %e, "logo illisible : PDF sans logo");
                None
            }
        },
        None => None,
    };
    let entete = Entete {
        nom: school.nom,
        adresse: school.adresse,
        telephone: school.telephone,
        email: school.email,
        devise: school.devise,
        ville: school.ville,
        directeur: school.directeur,
        logo,
    };
    if let Ok(mut guard) = cache.lock() {
        *guard = Some((school.updated_at, entete.clone()));
    }
    Ok(entete)
}

/// What the PDF needs from the bulletin row and its pupil, class and year.
#[derive(Queryable)]
struct Source {
    id: i64,
    eleve: i64,
    annee: i64,
    periode: CodePeriode,
    moyenne_generale: Option<BigDecimal>,
    rang: Option<i32>,
    ex_aequo: bool,
    effectif: i32,
    moyenne_classe: Option<BigDecimal>,
    moyenne_max: Option<BigDecimal>,
    moyenne_min: Option<BigDecimal>,
    mention: Option<String>,
    tableau_honneur: bool,
    absences: i32,
    retards: i32,
    genere_le: Option<DateTime<Utc>>,
    matricule: String,
    sexe: Sexe,
    date_naissance: Option<NaiveDate>,
    lieu_naissance: String,
    first_name: String,
    last_name: String,
    classe_nom: String,
    bareme: i32,
    professeur_principal: Option<i64>,
    annee_nom: String,
}

async fn source(conn: &mut AsyncPgConnection, id: i64) -> Result<Option<Source>, JobError> {
    Ok(bulletins::table
        .inner_join(eleves::table.inner_join(users::table))
        .inner_join(classes::table)
        .inner_join(annees_scolaires::table)
        .filter(bulletins::id.eq(id))
        .select((
            bulletins::id,
            bulletins::eleve_id,
            bulletins::annee_scolaire_id,
            bulletins::periode,
            bulletins::moyenne_generale,
            bulletins::rang,
            bulletins::ex_aequo,
            bulletins::effectif,
            bulletins::moyenne_classe,
            bulletins::moyenne_max,
            bulletins::moyenne_min,
            bulletins::mention,
            bulletins::tableau_honneur,
            bulletins::absences,
            bulletins::retards,
            bulletins::genere_le,
            eleves::matricule,
            eleves::sexe,
            eleves::date_naissance,
            eleves::lieu_naissance,
            users::first_name,
            users::last_name,
            classes::nom,
            classes::bareme,
            classes::professeur_principal_id,
            annees_scolaires::nom,
        ))
        .first(conn)
        .await
        .optional()?)
}

/// The report card's printable content: 5–7 queries whatever the number of subjects.
async fn contenu(
    conn: &mut AsyncPgConnection,
    s: &Source,
    entete: Entete,
) -> Result<BulletinPdf, JobError> {
    let lignes = consultation::lignes(conn, s.id).await?;
    let annuel = consultation::annuel(conn, s.eleve, s.annee, s.periode).await?;
    let professeur_principal = match s.professeur_principal {
        Some(id) => enseignants::table
            .inner_join(users::table)
            .filter(enseignants::id.eq(id))
            .select((users::first_name, users::last_name))
            .first::<(String, String)>(conn)
            .await
            .optional()?
            .map(|(f, l)| format!("{f} {l}").trim().to_string()),
        None => None,
    };
    let bareme = s.bareme;
    let on_scale = |m: &BigDecimal| sur_bareme(m, bareme);
    let mut total_coefficients = 0;
    let mut total_points = BigDecimal::from(0);
    let lignes: Vec<LigneBulletinPdf> = lignes
        .into_iter()
        .map(|l| {
            let moyenne = l.moyenne.as_ref().map(on_scale);
            // Points as printed: the printed average times the coefficient.
            let points = moyenne
                .as_ref()
                .map(|m| m * BigDecimal::from(l.coefficient));
            if let Some(p) = &points {
                total_coefficients += l.coefficient;
                total_points += p;
            }
            LigneBulletinPdf {
                matiere: l.matiere_nom,
                coefficient: l.coefficient,
                moyenne: moyenne.as_ref().map(format_fr),
                points: points.as_ref().map(format_fr),
                rang: l
                    .rang_matiere
                    .map(|r| rang_imprime(r.max(0) as u32, l.ex_aequo, s.sexe)),
                moyenne_classe: l
                    .moyenne_classe_matiere
                    .as_ref()
                    .map(|m| format_fr(&on_scale(m))),
                appreciation: l.appreciation,
                enseignant: l.enseignant,
            }
        })
        .collect();
    let ne = if s.sexe == Sexe::F { "Née" } else { "Né" };
    let ne_le = s.date_naissance.map(|d| {
        let lieu = s.lieu_naissance.trim();
        if lieu.is_empty() {
            format!("{ne} le {}", time::date_longue(d))
        } else {
            format!("{ne} le {} à {lieu}", time::date_longue(d))
        }
    });
    let fait_a = if entete.ville.trim().is_empty() {
        "Conakry".to_string()
    } else {
        entete.ville.clone()
    };
    Ok(BulletinPdf {
        entete,
        titre: format!("Bulletin de notes — {}", s.periode.libelle()),
        annee_scolaire: s.annee_nom.clone(),
        eleve_nom: format!("{} {}", s.first_name, s.last_name)
            .trim()
            .to_string(),
        matricule: s.matricule.clone(),
        classe: s.classe_nom.clone(),
        ne_le,
        bareme,
        lignes,
        total_coefficients,
        total_points: format_fr(&total_points),
        moyenne_generale: s.moyenne_generale.as_ref().map(|m| format_fr(&on_scale(m))),
        rang: s
            .rang
            .map(|r| rang_imprime(r.max(0) as u32, s.ex_aequo, s.sexe)),
        effectif: s.effectif,
        mention: s.mention.clone(),
        tableau_honneur: s.tableau_honneur,
        absences: s.absences,
        retards: s.retards,
        moyenne_classe: s.moyenne_classe.as_ref().map(|m| format_fr(&on_scale(m))),
        moyenne_max: s.moyenne_max.as_ref().map(|m| format_fr(&on_scale(m))),
        moyenne_min: s.moyenne_min.as_ref().map(|m| format_fr(&on_scale(m))),
        annuel: annuel.map(|a| (format_fr(&on_scale(&a.moyenne_annuelle)), a.decision)),
        professeur_principal,
        fait_a,
        fait_le: time::date_longue(time::today()),
    })
}

/// `bulletins/<année>/<id>.pdf` under the media root.
pub fn chemin(annee: i64, id: i64) -> String {
    format!("bulletins/{annee}/{id}.pdf")
}

pub async fn generer_bulletin_pdf(ctx: JobContext) -> Result<Value, JobError> {
    let args: GenererBulletinPdf = ctx.payload()?;
    let mut conn = ctx.pool.get().await?;
    let Some(source) = source(&mut conn, args.bulletin_id).await? else {
        // Deleted since: nothing to render.
        return Ok(json!({"bulletin": args.bulletin_id, "ignore": "bulletin introuvable"}));
    };
    let media_root = ctx.settings.media_root.clone();
    let entete = entete(&mut conn, &media_root).await?;
    let document = contenu(&mut conn, &source, entete).await?;
    let bytes = tokio::task::spawn_blocking(move || render_bulletin(&document))
        .await
        .map_err(|e| JobError::retry(format!("rendu interrompu : {e}")))?
        .map_err(|e| JobError::retry(e.to_string()))?;
    let relative = chemin(source.annee, source.id);
    let path = media::resolve(&media_root, &relative)
        .ok_or_else(|| JobError::fatal("chemin du PDF refusé"))?;
    let tmp =
        media::temporary(&path).map_err(|e| JobError::retry(format!("dossier des PDF : {e}")))?;
    media::write_synced(&tmp, &bytes)
        .await
        .map_err(|e| JobError::retry(format!("écriture du PDF : {e}")))?;
    let version = source.genere_le;
    let id = source.id;
    let size = bytes.len();
    let tmp_left = tmp.clone();
    // The row lock orders concurrent renders of one bulletin; only the render of the
    // current computation replaces the file.
    let outcome = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            let current: Option<Option<DateTime<Utc>>> = bulletins::table
                .find(id)
                .select(bulletins::genere_le)
                .for_update()
                .first(conn)
                .await
                .optional()?;
            if current != Some(version) {
                return Ok(false);
            }
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| DomainError::internal(format!("PDF : {e}")))?;
            diesel::update(bulletins::table.find(id))
                .set(bulletins::fichier_pdf.eq(&relative))
                .execute(conn)
                .await?;
            // A published card stays published (its file is refreshed).
            diesel::update(
                bulletins::table
                    .find(id)
                    .filter(bulletins::statut.eq(StatutBulletin::Calcule)),
            )
            .set(bulletins::statut.eq(StatutBulletin::PdfGenere))
            .execute(conn)
            .await?;
            Ok(true)
        })
        .await;
    match outcome {
        Ok(true) => Ok(json!({"bulletin": id, "octets": size})),
        Ok(false) => {
            let _ = tokio::fs::remove_file(&tmp_left).await;
            Ok(json!({"bulletin": id, "ignore": "recalculé entre-temps"}))
        }
        Err(e) => {
            let _ = tokio::fs::remove_file(&tmp_left).await;
            Err(e.into())
        }
    }
}
