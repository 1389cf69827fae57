//! `pedagogie.generer_bulletin_pdf`: renders one report card with `ecole-pdf` and stores it
//! under the media root by id and version (`bulletins/<année>/<id>.pdf`, then
//! `<id>-v<version>.pdf` for the corrections of a published one), atomically, with its
//! SHA-256. A render that finishes after the bulletin was recomputed is dropped (the newer job
//! renders the new figures), so a re-run, a crash or two workers always leave one correct
//! file. The first render of a corrected published bulletin tells the families.

use std::path::Path;
use std::sync::{Mutex, OnceLock};

use bigdecimal::BigDecimal;
use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::case_when;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Integer, Nullable, Numeric, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::decimal::format_fr;
use ecole_core::{DomainError, media, time};
use ecole_db::enums::{CodePeriode, Sexe, StatutBulletin};
use ecole_db::schema::bulletins;
use ecole_jobs::payloads::GenererBulletinPdf;
use ecole_jobs::{JobContext, JobError};
use ecole_pdf::{
    AnnuelPdf, BulletinPdf, ConseilPdf, Entete, LigneBulletinPdf, Logo, render_bulletin,
};
use serde_json::{Value, json};

use super::consultation;
use crate::calcul::rang_imprime;

/// The school header, built once per change of the `etablissement` row (its logo decoded
/// and encoded once for every PDF this process renders).
static ENTETE: OnceLock<Mutex<Option<EnteteCache>>> = OnceLock::new();

/// The header and the `etablissement.updated_at` it was built from.
type EnteteCache = (DateTime<Utc>, Entete);

/// The cached header when it was built from the `etablissement` row of `version` (read by
/// the caller with its own query), without a query of its own.
fn entete_en_cache(version: DateTime<Utc>) -> Option<Entete> {
    let guard = ENTETE.get()?.lock().ok()?;
    match guard.as_ref() {
        Some((v, entete)) if *v == version => Some(entete.clone()),
        _ => None,
    }
}

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

/// What the PDF needs, in one query: the bulletin row, its pupil, class, year, the class's
/// head teacher and the school row's version.
#[derive(QueryableByName)]
struct Source {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = BigInt)]
    eleve: i64,
    #[diesel(sql_type = BigInt)]
    annee: i64,
    #[diesel(sql_type = Text)]
    periode: CodePeriode,
    #[diesel(sql_type = Nullable<Numeric>)]
    moyenne_generale: Option<BigDecimal>,
    #[diesel(sql_type = Nullable<Integer>)]
    rang: Option<i32>,
    #[diesel(sql_type = Bool)]
    ex_aequo: bool,
    #[diesel(sql_type = Integer)]
    effectif: i32,
    #[diesel(sql_type = Nullable<Numeric>)]
    moyenne_classe: Option<BigDecimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    moyenne_max: Option<BigDecimal>,
    #[diesel(sql_type = Nullable<Numeric>)]
    moyenne_min: Option<BigDecimal>,
    #[diesel(sql_type = Nullable<Text>)]
    mention: Option<String>,
    #[diesel(sql_type = Bool)]
    tableau_honneur: bool,
    #[diesel(sql_type = Integer)]
    absences: i32,
    #[diesel(sql_type = Integer)]
    absences_justifiees: i32,
    #[diesel(sql_type = Integer)]
    retards: i32,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    genere_le: Option<DateTime<Utc>>,
    #[diesel(sql_type = Integer)]
    version: i32,
    #[diesel(sql_type = Text)]
    matricule: String,
    #[diesel(sql_type = Text)]
    sexe: Sexe,
    #[diesel(sql_type = Nullable<Date>)]
    date_naissance: Option<NaiveDate>,
    #[diesel(sql_type = Text)]
    lieu_naissance: String,
    #[diesel(sql_type = Text)]
    first_name: String,
    #[diesel(sql_type = Text)]
    last_name: String,
    #[diesel(sql_type = Text)]
    classe_nom: String,
    #[diesel(sql_type = Integer)]
    bareme: i32,
    #[diesel(sql_type = Nullable<Text>)]
    professeur_principal: Option<String>,
    #[diesel(sql_type = Text)]
    annee_nom: String,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    etablissement_version: Option<DateTime<Utc>>,
}

async fn source(conn: &mut AsyncPgConnection, id: i64) -> Result<Option<Source>, JobError> {
    Ok(diesel::sql_query(
        "SELECT b.id, b.eleve_id AS eleve, b.annee_scolaire_id AS annee, b.periode, \
           b.moyenne_generale, b.rang, b.ex_aequo, b.effectif, b.moyenne_classe, \
           b.moyenne_max, b.moyenne_min, b.mention, b.tableau_honneur, b.absences, \
           b.absences_justifiees, b.retards, \
           b.genere_le, b.version, e.matricule, e.sexe, e.date_naissance, e.lieu_naissance, \
           u.first_name, u.last_name, c.nom AS classe_nom, b.bareme, a.nom AS annee_nom, \
           NULLIF(trim(pu.first_name || ' ' || pu.last_name), '') AS professeur_principal, \
           (SELECT updated_at FROM etablissement ORDER BY id LIMIT 1) AS etablissement_version \
         FROM bulletins b \
         JOIN eleves e ON e.id = b.eleve_id \
         JOIN users u ON u.id = e.user_id \
         JOIN classes c ON c.id = b.classe_id \
         JOIN annees_scolaires a ON a.id = b.annee_scolaire_id \
         LEFT JOIN enseignants pe ON pe.id = c.professeur_principal_id \
         LEFT JOIN users pu ON pu.id = pe.user_id \
         WHERE b.id = $1",
    )
    .bind::<BigInt, _>(id)
    .get_result(conn)
    .await
    .optional()?)
}

/// The report card's printable content: 2 queries (3 on the year's last period) whatever the
/// number of subjects. Appreciations and council come from the bulletin's own copy, so a
/// re-render of the same computation gives the same document.
async fn contenu(
    conn: &mut AsyncPgConnection,
    s: &Source,
    entete: Entete,
) -> Result<BulletinPdf, JobError> {
    let lignes = consultation::lignes(conn, s.id).await?;
    // The document families receive: the annual result from published periods only.
    let (conseil, annuel) =
        consultation::conseil_et_annuel(conn, s.id, s.eleve, s.annee, s.periode, true).await?;
    // The council block is printed only when the council recorded something.
    let conseil = if conseil.appreciation.is_empty() && conseil.distinction_libelle.is_none() {
        None
    } else {
        Some(ConseilPdf {
            appreciation: conseil.appreciation,
            distinction: conseil.distinction_libelle,
        })
    };
    let professeur_principal = s.professeur_principal.clone();
    // Every value is stored on the bulletin's bareme, as printed.
    let bareme = s.bareme;
    let mut total_coefficients = 0;
    let mut total_points = BigDecimal::from(0);
    let lignes: Vec<LigneBulletinPdf> = lignes
        .into_iter()
        .map(|l| {
            let moyenne = l.moyenne;
            let points = l.points;
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
                moyenne_classe: l.moyenne_classe_matiere.as_ref().map(format_fr),
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
        moyenne_generale: s.moyenne_generale.as_ref().map(format_fr),
        rang: s
            .rang
            .map(|r| rang_imprime(r.max(0) as u32, s.ex_aequo, s.sexe)),
        effectif: s.effectif,
        mention: s.mention.clone(),
        tableau_honneur: s.tableau_honneur,
        absences: s.absences,
        absences_justifiees: s.absences_justifiees,
        retards: s.retards,
        moyenne_classe: s.moyenne_classe.as_ref().map(format_fr),
        moyenne_max: s.moyenne_max.as_ref().map(format_fr),
        moyenne_min: s.moyenne_min.as_ref().map(format_fr),
        annuel: annuel.map(|a| AnnuelPdf {
            moyenne: a.moyenne_annuelle.as_ref().map(format_fr),
            decision_du_conseil: a.decision_conseil.is_some(),
            decision: a.decision,
        }),
        conseil,
        professeur_principal,
        fait_a,
        fait_le: time::date_longue(time::today()),
    })
}

/// `bulletins/<année>/<id>.pdf` under the media root; `<id>-v<version>.pdf` from version 2
/// (a published bulletin's earlier PDFs stay where they are).
pub fn chemin(annee: i64, id: i64, version: i32) -> String {
    if version <= 1 {
        format!("bulletins/{annee}/{id}.pdf")
    } else {
        format!("bulletins/{annee}/{id}-v{version}.pdf")
    }
}

pub async fn generer_bulletin_pdf(ctx: JobContext) -> Result<Value, JobError> {
    let args: GenererBulletinPdf = ctx.payload()?;
    let mut conn = ctx.pool.get().await?;
    let Some(source) = source(&mut conn, args.bulletin_id).await? else {
        // Deleted since: nothing to render.
        return Ok(json!({"bulletin": args.bulletin_id, "ignore": "bulletin introuvable"}));
    };
    let media_root = ctx.settings.media_root.clone();
    let entete = match source.etablissement_version.and_then(entete_en_cache) {
        Some(cached) => cached,
        None => entete(&mut conn, &media_root).await?,
    };
    let document = contenu(&mut conn, &source, entete).await?;
    let bytes = tokio::task::spawn_blocking(move || render_bulletin(&document))
        .await
        .map_err(|e| JobError::retry(format!("rendu interrompu : {e}")))?
        .map_err(|e| JobError::retry(e.to_string()))?;
    let relative = chemin(source.annee, source.id, source.version);
    let sha256 = {
        use sha2::{Digest, Sha256};
        hex::encode(Sha256::digest(&bytes))
    };
    let path = media::resolve(&media_root, &relative)
        .ok_or_else(|| JobError::fatal("chemin du PDF refusé"))?;
    let tmp =
        media::temporary(&path).map_err(|e| JobError::retry(format!("dossier des PDF : {e}")))?;
    media::write_synced(&tmp, &bytes)
        .await
        .map_err(|e| JobError::retry(format!("écriture du PDF : {e}")))?;
    let version = source.genere_le;
    let (id, eleve) = (source.id, source.eleve);
    let size = bytes.len();
    let tmp_left = tmp.clone();
    // The row lock orders concurrent renders of one bulletin; only the render of the
    // current computation replaces the file.
    let outcome = conn
        .transaction::<_, DomainError, _>(async move |conn| {
            // Locks the row if it still holds the computation this render is of.
            let current: Option<(StatutBulletin, i32)> = diesel::update(
                bulletins::table
                    .find(id)
                    .filter(bulletins::genere_le.is_not_distinct_from(version)),
            )
            .set((
                bulletins::fichier_pdf.eq(&relative),
                bulletins::pdf_sha256.eq(&sha256),
                // A published card stays published (its file is refreshed).
                bulletins::statut.eq(case_when(
                    bulletins::statut.eq(StatutBulletin::Calcule),
                    StatutBulletin::PdfGenere.into_sql::<Text>(),
                )
                .otherwise(bulletins::statut)),
            ))
            .returning((bulletins::statut, bulletins::version))
            .get_result(conn)
            .await
            .optional()?;
            let Some((statut, numero)) = current else {
                return Ok(false);
            };
            if statut == StatutBulletin::Publie && numero > 1 {
                // A correction of a published bulletin: the families are told (once).
                super::notification::bulletin_corrige(conn, (id, eleve), numero).await?;
            }
            // Renamed under the row lock: a recomputation waits for it, and its own render
            // replaces this file afterwards.
            tokio::fs::rename(&tmp, &path)
                .await
                .map_err(|e| DomainError::internal(format!("PDF : {e}")))?;
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
