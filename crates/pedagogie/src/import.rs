//! `eleves/import/`: pupils (and their parents) from a CSV or XLSX file with French headers.
//! Rows are keyed by `matricule`: importing the same file twice changes nothing. A dry run
//! reports every bad row and writes nothing; a real import is one transaction, all or nothing.
//! Imported accounts have no usable password until an administrator sets one.
//! An existing parent is linked only when both their phone number and their name match the
//! row: phones are neither unique nor verified, so a number alone would hand a family's child
//! to whoever registered it. Otherwise a new parent is created and the import reports the
//! other parents with that number (`homonymes`) for management to check. Links are audited.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::audit::{self, AuditAction, AuditEntry};
use ecole_core::phone::normalize_phone;
use ecole_core::{Actor, DomainError, DomainResult, Role};
use ecole_db::enums::{Lien, Sexe};
use ecole_db::schema::{annees_scolaires, classes, eleve_parents, eleves, parents, users};
use ecole_users::service::{PreparedUser, insert_users_in_tx, update_profile_user_in_tx};
use serde::Serialize;

use crate::MANAGEMENT;

pub const MAX_BYTES: usize = 5 * 1024 * 1024;
pub const MAX_ROWS: usize = 5000;
/// Never matches a password: the account waits for an administrator to set one.
const UNUSABLE_PASSWORD: &str = "!import";

/// The columns, as documented in the README (accents and case are ignored).
pub const COLUMNS: &[(&str, bool, &str)] = &[
    (
        "matricule",
        true,
        "identifiant unique de l'élève, ex. 2026/0001",
    ),
    ("nom", true, "nom de famille"),
    ("prenom", true, "prénom(s)"),
    ("sexe", true, "M ou F"),
    ("date_naissance", false, "JJ/MM/AAAA ou AAAA-MM-JJ"),
    ("lieu_naissance", false, ""),
    (
        "classe",
        false,
        "nom d'une classe de l'année active, ex. 6ème A",
    ),
    ("adresse", false, ""),
    (
        "date_admission",
        false,
        "JJ/MM/AAAA ou AAAA-MM-JJ (aujourd'hui par défaut)",
    ),
    ("contact_urgence_nom", false, ""),
    ("contact_urgence_telephone", false, ""),
    ("contact_urgence_relation", false, ""),
    (
        "parent_nom",
        false,
        "nom du parent (avec parent_telephone : parent créé ou retrouvé)",
    ),
    ("parent_prenom", false, ""),
    (
        "parent_telephone",
        false,
        "avec le nom et le prénom, identifie le parent : même numéro et même nom, même parent",
    ),
    ("parent_email", false, ""),
    ("parent_lien", false, "PERE, MERE, TUTEUR ou AUTRE"),
];

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RowError {
    /// Line in the file (the header is line 1).
    pub ligne: usize,
    pub champ: String,
    pub message: String,
}

/// A row whose parent's phone number is already registered under another name: a new
/// parent was created for the row; management checks and merges if it is the same person.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Homonyme {
    /// Line in the file.
    pub ligne: usize,
    pub telephone: String,
    /// The parents registered with this number under another name (not linked).
    pub parents_existants: Vec<i64>,
}

#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct ImportReport {
    pub dry_run: bool,
    pub lignes: usize,
    pub crees: usize,
    pub modifies: usize,
    pub inchanges: usize,
    pub parents_crees: usize,
    pub liens_crees: usize,
    /// Parents created although their number was known under another name.
    pub homonymes: Vec<Homonyme>,
    pub erreurs: Vec<RowError>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// From a content type or a file name; XLSX files are recognised by content (ZIP).
    pub fn detect(content_type: &str, bytes: &[u8]) -> Option<Format> {
        if bytes.starts_with(b"PK\x03\x04") {
            return Some(Format::Xlsx);
        }
        let ct = content_type.to_ascii_lowercase();
        if ct.contains("csv")
            || ct.starts_with("text/")
            || ct.is_empty()
            || ct.contains("octet-stream")
        {
            Some(Format::Csv)
        } else {
            None
        }
    }
}

/// A header or name as compared: trimmed, lower case, French accents folded, spaces and
/// hyphens as `_` (`Prénom` → `prenom`, `6ème A` → `6eme_a`). Shared with other imports.
pub fn fold(s: &str) -> String {
    s.trim()
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'à' | 'â' => 'a',
            'î' | 'ï' => 'i',
            'ô' => 'o',
            'ù' | 'û' => 'u',
            'ç' => 'c',
            ' ' | '-' => '_',
            c => c,
        })
        .collect()
}

fn parse_date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%d/%m/%Y")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
        .ok()
}

/// One checked row.
#[derive(Debug, Clone)]
struct Row {
    ligne: usize,
    matricule: String,
    nom: String,
    prenom: String,
    sexe: Sexe,
    date_naissance: Option<NaiveDate>,
    lieu_naissance: String,
    classe: Option<i64>,
    adresse: String,
    date_admission: NaiveDate,
    contact_nom: String,
    contact_tel: String,
    contact_relation: String,
    parent: Option<ParentRow>,
}

#[derive(Debug, Clone)]
struct ParentRow {
    nom: String,
    prenom: String,
    telephone: String,
    email: Option<String>,
    lien: Lien,
}

fn username_base(prenom: &str, nom: &str) -> String {
    let clean = |s: &str| {
        fold(s)
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect::<String>()
    };
    format!("{}.{}", clean(prenom), clean(nom))
        .chars()
        .take(60)
        .collect()
}

/// Parses and checks the file against the database (classes of the active year, phones).
async fn parse_rows(
    conn: &mut AsyncPgConnection,
    format: Format,
    bytes: &[u8],
    report: &mut ImportReport,
) -> DomainResult<Vec<Row>> {
    let mut error = |ligne: usize, champ: &str, message: String| {
        report.erreurs.push(RowError {
            ligne,
            champ: champ.to_string(),
            message,
        });
    };
    let table = match crate::tableur::lire_hors_requete(format, bytes).await {
        Ok(t) => t,
        Err(m) => {
            error(1, "fichier", m);
            return Ok(Vec::new());
        }
    };
    let Some((header, data)) = table.split_first() else {
        error(1, "fichier", "Le fichier est vide.".into());
        return Ok(Vec::new());
    };
    let index: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, h)| (fold(h), i))
        .collect();
    for (name, required, _) in COLUMNS {
        if *required && !index.contains_key(*name) {
            error(1, name, format!("Colonne obligatoire « {name} » absente."));
        }
    }
    if data.len() > MAX_ROWS {
        error(
            1,
            "fichier",
            format!("Au plus {MAX_ROWS} lignes par import."),
        );
    }
    if !report.erreurs.is_empty() {
        return Ok(Vec::new());
    }
    let active: Option<i64> = annees_scolaires::table
        .filter(annees_scolaires::est_active.eq(true))
        .select(annees_scolaires::id)
        .first(conn)
        .await
        .optional()?;
    let class_by_name: HashMap<String, i64> = match active {
        Some(a) => classes::table
            .filter(classes::annee_scolaire_id.eq(a))
            .select((classes::nom, classes::id))
            .load::<(String, i64)>(conn)
            .await?
            .into_iter()
            .map(|(n, id)| (fold(&n), id))
            .collect(),
        None => HashMap::new(),
    };
    let today = ecole_core::time::today();
    let mut rows = Vec::new();
    let mut seen = HashMap::new();
    for (i, cells) in data.iter().enumerate() {
        let ligne = i + 2;
        let get = |name: &str| {
            index
                .get(name)
                .and_then(|i| cells.get(*i))
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let before = report.erreurs.len();
        let mut err = |champ: &str, message: String| {
            report.erreurs.push(RowError {
                ligne,
                champ: champ.to_string(),
                message,
            })
        };
        let matricule = get("matricule");
        if matricule.is_empty() || matricule.chars().count() > 30 {
            err(
                "matricule",
                "Matricule obligatoire (30 caractères au plus).".into(),
            );
        } else if let Some(first) = seen.insert(matricule.clone(), ligne) {
            err(
                "matricule",
                format!("Matricule déjà présent à la ligne {first}."),
            );
        }
        let (nom, prenom) = (get("nom"), get("prenom"));
        if nom.is_empty() {
            err("nom", "Nom obligatoire.".into());
        }
        if prenom.is_empty() {
            err("prenom", "Prénom obligatoire.".into());
        }
        let sexe = match get("sexe").to_uppercase().as_str() {
            "M" | "G" | "MASCULIN" | "GARCON" | "GARÇON" => Some(Sexe::M),
            "F" | "FEMININ" | "FÉMININ" | "FILLE" => Some(Sexe::F),
            other => {
                err("sexe", format!("« {other} » : M ou F attendu."));
                None
            }
        };
        let mut date = |name: &str| -> Option<NaiveDate> {
            let raw = get(name);
            if raw.is_empty() {
                return None;
            }
            let parsed = parse_date(&raw);
            if parsed.is_none() {
                err(name, format!("« {raw} » n'est pas une date (JJ/MM/AAAA)."));
            }
            parsed
        };
        let date_naissance = date("date_naissance");
        let date_admission = date("date_admission").unwrap_or(today);
        let classe_name = get("classe");
        let classe = if classe_name.is_empty() {
            None
        } else {
            let found = class_by_name.get(&fold(&classe_name)).copied();
            if found.is_none() {
                err(
                    "classe",
                    format!("Classe « {classe_name} » inconnue pour l'année active."),
                );
            }
            found
        };
        let mut phone = |name: &str| -> String {
            let raw = get(name);
            if raw.is_empty() {
                return raw;
            }
            normalize_phone(&raw).unwrap_or_else(|m| {
                err(name, m);
                String::new()
            })
        };
        let contact_tel = phone("contact_urgence_telephone");
        let parent_tel = phone("parent_telephone");
        let parent = if parent_tel.is_empty() && get("parent_nom").is_empty() {
            None
        } else {
            let lien = match get("parent_lien").to_uppercase().as_str() {
                "" => Lien::Autre,
                raw => raw.parse::<Lien>().unwrap_or_else(|m| {
                    err("parent_lien", m);
                    Lien::Autre
                }),
            };
            if parent_tel.is_empty() {
                err(
                    "parent_telephone",
                    "Le téléphone du parent l'identifie : il est obligatoire.".into(),
                );
            }
            if get("parent_nom").is_empty() {
                err("parent_nom", "Nom du parent obligatoire.".into());
            }
            let email = Some(get("parent_email")).filter(|e| !e.is_empty());
            Some(ParentRow {
                nom: get("parent_nom"),
                prenom: get("parent_prenom"),
                telephone: parent_tel,
                email,
                lien,
            })
        };
        if report.erreurs.len() == before
            && let Some(sexe) = sexe
        {
            rows.push(Row {
                ligne,
                matricule,
                nom,
                prenom,
                sexe,
                date_naissance,
                lieu_naissance: get("lieu_naissance"),
                classe,
                adresse: get("adresse"),
                date_admission,
                contact_nom: get("contact_urgence_nom"),
                contact_tel,
                contact_relation: get("contact_urgence_relation"),
                parent,
            });
        }
    }
    Ok(rows)
}

#[derive(Queryable)]
struct Existing {
    id: i64,
    user_id: i64,
    first_name: String,
    last_name: String,
    sexe: Sexe,
    date_naissance: Option<NaiveDate>,
    lieu_naissance: String,
    classe: Option<i64>,
    adresse: String,
    contact_nom: String,
    contact_tel: String,
    contact_relation: String,
}

/// Imports (or, with `dry_run`, checks) a file. With errors nothing is written.
pub async fn import(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    format: Format,
    bytes: &[u8],
    dry_run: bool,
) -> DomainResult<ImportReport> {
    actor.require(MANAGEMENT)?;
    let mut report = ImportReport {
        dry_run,
        ..Default::default()
    };
    if bytes.len() > MAX_BYTES {
        report.erreurs.push(RowError {
            ligne: 0,
            champ: "fichier".into(),
            message: "Fichier de 5 Mo au plus.".into(),
        });
        return Ok(report);
    }
    let rows = parse_rows(conn, format, bytes, &mut report).await?;
    report.lignes = rows.len()
        + report
            .erreurs
            .iter()
            .map(|e| e.ligne)
            .collect::<HashSet<_>>()
            .len();
    if !report.erreurs.is_empty() {
        return Ok(report);
    }
    let actor = *actor;
    let outcome = conn
        .transaction::<_, TxError<ImportReport>, _>(async move |conn| {
            apply(conn, &actor, &rows, &mut report).await?;
            if report.dry_run {
                // Everything was checked against the database; nothing is kept.
                return Err(TxError::DryRun(Box::new(report)));
            }
            Ok(report)
        })
        .await;
    issue(outcome)
}

/// Ends an import's transaction: an error, or the dry run's report (rolled back on purpose).
/// Shared by every import with a dry run (pupils, library catalogue).
pub enum TxError<R> {
    Domain(DomainError),
    DryRun(Box<R>),
}

impl<R> From<DomainError> for TxError<R> {
    fn from(e: DomainError) -> Self {
        TxError::Domain(e)
    }
}

impl<R> From<diesel::result::Error> for TxError<R> {
    fn from(e: diesel::result::Error) -> Self {
        TxError::Domain(e.into())
    }
}

/// The report of an import's transaction, whether it committed or was a dry run.
pub fn issue<R>(outcome: Result<R, TxError<R>>) -> DomainResult<R> {
    match outcome {
        Ok(report) => Ok(report),
        Err(TxError::DryRun(report)) => Ok(*report),
        Err(TxError::Domain(e)) => Err(e),
    }
}

/// An imported account: no usable password until an administrator sets one.
fn imported_user(
    username: String,
    email: Option<String>,
    first_name: &str,
    last_name: &str,
    role: Role,
    telephone: Option<String>,
) -> PreparedUser {
    PreparedUser {
        username,
        email,
        password_hash: UNUSABLE_PASSWORD.to_string(),
        first_name: first_name.to_string(),
        last_name: last_name.to_string(),
        role,
        telephone,
        is_active: true,
    }
}

/// The lower-case usernames already taken that could collide with `bases` or their numbered
/// forms (`base`, `base1`, `base2`, …), in one query: a name matches when it equals a base once
/// trailing digits are stripped from both.
async fn taken_usernames(
    conn: &mut AsyncPgConnection,
    bases: &HashSet<String>,
) -> DomainResult<HashSet<String>> {
    if bases.is_empty() {
        return Ok(HashSet::new());
    }
    let keys: Vec<String> = bases
        .iter()
        .map(|b| b.trim_end_matches(|c: char| c.is_ascii_digit()).to_string())
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let taken: Vec<String> = users::table
        .filter(
            diesel::dsl::sql::<diesel::sql_types::Text>(
                "rtrim(lower(users.username), '0123456789')",
            )
            .eq_any(&keys),
        )
        .select(ecole_db::lower(users::username))
        .load(conn)
        .await?;
    Ok(taken.into_iter().collect())
}

/// Usernames for new accounts, picked in file order from what is free: `base`, then `base1`,
/// `base2`, … (a thousand « Mamadou Diallo » must import).
struct Usernames {
    taken: HashSet<String>,
}

impl Usernames {
    fn next(&mut self, base: &str) -> String {
        let base = username_key(base);
        let candidate = std::iter::once(base.clone())
            .chain((1u32..).map(|n| format!("{base}{n}")))
            .find(|c| !self.taken.contains(c))
            .unwrap_or_default();
        self.taken.insert(candidate.clone());
        candidate
    }
}

/// A username base as stored and compared (lower case, at least 3 characters).
fn username_key(base: &str) -> String {
    if base.len() < 3 {
        format!("eleve.{base}")
    } else {
        base.to_string()
    }
    .to_lowercase()
}

/// A row's parent: one already in the database, or the n-th created by this import.
#[derive(Clone, Copy)]
enum ParentRef {
    Known(i64),
    New(usize),
}

/// Writes a checked file, set-based: one statement per kind of row, whatever the file's size,
/// except updates of changed pupils (one each).
async fn apply(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    rows: &[Row],
    report: &mut ImportReport,
) -> DomainResult<()> {
    let matricules: Vec<&str> = rows.iter().map(|r| r.matricule.as_str()).collect();
    let existing: HashMap<String, Existing> = eleves::table
        .inner_join(users::table)
        .filter(eleves::matricule.eq_any(&matricules))
        .select((
            eleves::matricule,
            (
                eleves::id,
                eleves::user_id,
                users::first_name,
                users::last_name,
                eleves::sexe,
                eleves::date_naissance,
                eleves::lieu_naissance,
                eleves::classe_actuelle_id,
                eleves::adresse,
                eleves::contact_urgence_nom,
                eleves::contact_urgence_phone,
                eleves::contact_urgence_relation,
            ),
        ))
        .load::<(String, Existing)>(conn)
        .await?
        .into_iter()
        .collect();
    let phones: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.parent.as_ref())
        .map(|p| p.telephone.as_str())
        .collect();
    // Every parent with one of these numbers, oldest first, with their name; parents this
    // import creates join them as they come, so a later row can find them.
    let mut parents_by_phone: HashMap<String, Vec<(ParentRef, String)>> = HashMap::new();
    let known: Vec<(Option<String>, i64, String, String)> = parents::table
        .inner_join(users::table)
        .filter(users::telephone.eq_any(&phones))
        .select((
            users::telephone,
            parents::id,
            users::first_name,
            users::last_name,
        ))
        .order(parents::id.asc())
        .load(conn)
        .await?;
    for (telephone, id, first, last) in known {
        if let Some(t) = telephone {
            parents_by_phone
                .entry(t)
                .or_default()
                .push((ParentRef::Known(id), name_key(&first, &last)));
        }
    }

    // What to write, decided in file order.
    let mut new_pupils: Vec<&Row> = Vec::new();
    let mut new_parents: Vec<(&Row, &ParentRow)> = Vec::new();
    // (row, parent) for every row with a parent; homonyms with the parents they collide with.
    let mut row_parents: Vec<(&Row, ParentRef, Lien)> = Vec::new();
    let mut homonyms: Vec<(&Row, &str, Vec<ParentRef>)> = Vec::new();
    let mut bases = HashSet::new();
    for row in rows {
        match existing.get(&row.matricule) {
            Some(e) => {
                let same = e.first_name == row.prenom
                    && e.last_name == row.nom
                    && e.sexe == row.sexe
                    && e.date_naissance == row.date_naissance
                    && e.lieu_naissance == row.lieu_naissance
                    && (row.classe.is_none() || e.classe == row.classe)
                    && e.adresse == row.adresse
                    && e.contact_nom == row.contact_nom
                    && e.contact_tel == row.contact_tel
                    && e.contact_relation == row.contact_relation;
                if same {
                    report.inchanges += 1;
                } else {
                    let names = ecole_users::UserUpdate {
                        first_name: Some(row.prenom.clone()),
                        last_name: Some(row.nom.clone()),
                        ..Default::default()
                    };
                    update_profile_user_in_tx(conn, actor, e.user_id, &names).await?;
                    diesel::update(eleves::table.find(e.id))
                        .set((
                            eleves::sexe.eq(row.sexe),
                            eleves::date_naissance.eq(row.date_naissance),
                            eleves::lieu_naissance.eq(&row.lieu_naissance),
                            eleves::classe_actuelle_id.eq(row.classe.or(e.classe)),
                            eleves::adresse.eq(&row.adresse),
                            eleves::contact_urgence_nom.eq(&row.contact_nom),
                            eleves::contact_urgence_phone.eq(&row.contact_tel),
                            eleves::contact_urgence_relation.eq(&row.contact_relation),
                        ))
                        .execute(conn)
                        .await?;
                    report.modifies += 1;
                }
            }
            None => {
                bases.insert(username_key(&username_base(&row.prenom, &row.nom)));
                new_pupils.push(row);
            }
        }
        if let Some(p) = &row.parent {
            let key = name_key(&p.prenom, &p.nom);
            let same_phone = parents_by_phone.entry(p.telephone.clone()).or_default();
            let parent = match same_phone.iter().find(|(_, k)| *k == key) {
                Some((parent, _)) => *parent,
                None => {
                    if !same_phone.is_empty() {
                        homonyms.push((
                            row,
                            p.telephone.as_str(),
                            same_phone.iter().map(|(parent, _)| *parent).collect(),
                        ));
                    }
                    let parent = ParentRef::New(new_parents.len());
                    same_phone.push((parent, key));
                    bases.insert(username_key(&username_base(&p.prenom, &p.nom)));
                    new_parents.push((row, p));
                    parent
                }
            };
            row_parents.push((row, parent, p.lien));
        }
    }
    check_parent_emails(conn, &new_parents).await?;

    // Accounts, named in file order (a row's pupil, then its parent).
    let mut names = Usernames {
        taken: taken_usernames(conn, &bases).await?,
    };
    let mut accounts = Vec::with_capacity(new_pupils.len() + new_parents.len());
    let mut pupils = new_pupils.iter().peekable();
    let mut parents_new = new_parents.iter().peekable();
    for row in rows {
        if let Some(pupil) = pupils.next_if(|r| std::ptr::eq(**r, row)) {
            accounts.push(imported_user(
                names.next(&username_base(&pupil.prenom, &pupil.nom)),
                None,
                &pupil.prenom,
                &pupil.nom,
                Role::Eleve,
                None,
            ));
        }
        if let Some((_, p)) = parents_new.next_if(|(r, _)| std::ptr::eq(*r, row)) {
            accounts.push(imported_user(
                names.next(&username_base(&p.prenom, &p.nom)),
                p.email.clone(),
                &p.prenom,
                &p.nom,
                Role::Parent,
                Some(p.telephone.clone()),
            ));
        }
    }
    // In the order of `accounts`.
    let created = insert_users_in_tx(conn, Some(actor), &accounts).await?;
    let users_of = |role: Role| -> Vec<i64> {
        accounts
            .iter()
            .zip(&created)
            .filter(|(a, _)| a.role == role)
            .map(|(_, u)| u.id)
            .collect()
    };
    let (pupil_users, parent_users) = (users_of(Role::Eleve), users_of(Role::Parent));

    // Pupils.
    let mut eleve_ids: HashMap<&str, i64> =
        existing.iter().map(|(m, e)| (m.as_str(), e.id)).collect();
    let values: Vec<_> = new_pupils
        .iter()
        .zip(&pupil_users)
        .map(|(row, user_id)| {
            (
                eleves::user_id.eq(*user_id),
                eleves::matricule.eq(&row.matricule),
                eleves::classe_actuelle_id.eq(row.classe),
                eleves::date_naissance.eq(row.date_naissance),
                eleves::lieu_naissance.eq(&row.lieu_naissance),
                eleves::sexe.eq(row.sexe),
                eleves::adresse.eq(&row.adresse),
                eleves::contact_urgence_nom.eq(&row.contact_nom),
                eleves::contact_urgence_phone.eq(&row.contact_tel),
                eleves::contact_urgence_relation.eq(&row.contact_relation),
                eleves::date_admission.eq(row.date_admission),
            )
        })
        .collect();
    let by_matricule: HashMap<&str, &Row> = new_pupils
        .iter()
        .map(|r| (r.matricule.as_str(), *r))
        .collect();
    let mut audits = Vec::with_capacity(new_pupils.len());
    // 11 parameters a row.
    for chunk in values.chunks(1_000) {
        let inserted: Vec<(i64, String)> = diesel::insert_into(eleves::table)
            .values(chunk)
            .returning((eleves::id, eleves::matricule))
            .get_results(conn)
            .await?;
        for (id, matricule) in inserted {
            if let Some(row) = by_matricule.get(matricule.as_str()) {
                audits.push(AuditEntry {
                    actor: Some(actor),
                    action: AuditAction::Create,
                    table: "eleves",
                    row_id: Some(id),
                    before: None,
                    after: Some(
                        serde_json::json!({"matricule": row.matricule, "import_ligne": row.ligne}),
                    ),
                });
                eleve_ids.insert(row.matricule.as_str(), id);
            }
        }
    }
    report.crees = new_pupils.len();
    audit::record_many(conn, audits).await?;

    // Parents, then links.
    let mut parent_ids = Vec::with_capacity(parent_users.len());
    for chunk in parent_users.chunks(10_000) {
        let values: Vec<_> = chunk.iter().map(|u| parents::user_id.eq(*u)).collect();
        let inserted: Vec<(i64, i64)> = diesel::insert_into(parents::table)
            .values(&values)
            .returning((parents::user_id, parents::id))
            .get_results(conn)
            .await?;
        let by_user: HashMap<i64, i64> = inserted.into_iter().collect();
        parent_ids.extend(chunk.iter().filter_map(|u| by_user.get(u).copied()));
    }
    if parent_ids.len() != new_parents.len() {
        return Err(DomainError::internal(
            "insertion groupée des parents incomplète",
        ));
    }
    report.parents_crees = parent_ids.len();
    let resolve = |p: ParentRef| match p {
        ParentRef::Known(id) => id,
        ParentRef::New(n) => parent_ids[n],
    };
    report.homonymes = homonyms
        .into_iter()
        .map(|(row, telephone, others)| Homonyme {
            ligne: row.ligne,
            telephone: telephone.to_string(),
            parents_existants: others.into_iter().map(resolve).collect(),
        })
        .collect();
    let wanted: Vec<(i64, i64, Lien)> = row_parents
        .iter()
        .filter_map(|(row, parent, lien)| {
            eleve_ids
                .get(row.matricule.as_str())
                .map(|e| (*e, resolve(*parent), *lien))
        })
        .collect();
    let mut links = Vec::new();
    // 3 parameters a row.
    for chunk in wanted.chunks(10_000) {
        let values: Vec<_> = chunk
            .iter()
            .map(|(e, p, lien)| {
                (
                    eleve_parents::eleve_id.eq(*e),
                    eleve_parents::parent_id.eq(*p),
                    eleve_parents::lien.eq(*lien),
                )
            })
            .collect();
        let inserted: Vec<(i64, i64, i64, Lien)> = diesel::insert_into(eleve_parents::table)
            .values(&values)
            .on_conflict_do_nothing()
            .returning(crate::parents::LINK_COLUMNS)
            .get_results(conn)
            .await?;
        for (id, eleve, parent, lien) in inserted {
            links.push(crate::parents::link_entry(actor, id, eleve, parent, lien));
        }
    }
    report.liens_crees = links.len();
    audit::record_many(conn, links).await
}

/// Refuses, naming the line, a new parent whose e-mail is already an account's or another
/// new parent's (the unique index would refuse the whole file without saying where).
async fn check_parent_emails(
    conn: &mut AsyncPgConnection,
    new_parents: &[(&Row, &ParentRow)],
) -> DomainResult<()> {
    let emails: Vec<String> = new_parents
        .iter()
        .filter_map(|(_, p)| p.email.as_deref())
        .map(str::to_lowercase)
        .collect();
    if emails.is_empty() {
        return Ok(());
    }
    let used: HashSet<String> = users::table
        .filter(ecole_db::lower_nullable(users::email).eq_any(&emails))
        .select(ecole_db::lower_nullable(users::email))
        .load::<Option<String>>(conn)
        .await?
        .into_iter()
        .flatten()
        .collect();
    let mut seen = HashSet::new();
    for (row, p) in new_parents {
        if let Some(email) = &p.email {
            let email = email.to_lowercase();
            if used.contains(&email) || !seen.insert(email) {
                return Err(DomainError::validation(
                    "non_field_errors",
                    format!(
                        "Ligne {} : l'e-mail du parent est déjà utilisé par un autre compte.",
                        row.ligne
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// A person's name as compared between a file and the database: accents, case and spacing
/// ignored (`Ibrahima  Soumah` = `ibrahima soumah`).
fn name_key(first: &str, last: &str) -> String {
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("{}|{}", fold(&words(first)), fold(&words(last)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_semicolons_bom_and_french_headers() {
        let bytes = "\u{feff}Matricule;Nom;Prénom;Sexe\n2026/001;Diallo;Mamadou;M\n".as_bytes();
        let t = crate::tableur::lire(Format::Csv, bytes).unwrap();
        assert_eq!(fold(&t[0][2]), "prenom");
        assert_eq!(t[1], ["2026/001", "Diallo", "Mamadou", "M"]);
        assert_eq!(Format::detect("text/csv", bytes), Some(Format::Csv));
        assert_eq!(Format::detect("", b"PK\x03\x04rest"), Some(Format::Xlsx));
        assert_eq!(Format::detect("image/png", b"\x89PNG"), None);
        assert_eq!(
            parse_date("02/04/2013"),
            NaiveDate::from_ymd_opt(2013, 4, 2)
        );
        assert_eq!(username_base("Aïssatou", "Condé"), "aissatou.conde");
    }

    /// Issue #16, item 1: a 1.5 KB workbook whose only cells are A1 and XFD1048576 took the
    /// API to 23.7 GB (calamine sized a range of 1,048,576 × 16,384 cells). Run in a child
    /// capped at 2 GB of address space: before the fix the child dies of a failed allocation.
    #[test]
    fn import_xlsx_a1_and_xfd1048576_is_refused_in_bounded_memory() {
        use crate::tableur::essais::*;
        const NAME: &str =
            "import::tests::import_xlsx_a1_and_xfd1048576_is_refused_in_bounded_memory";
        if !est_enfant() {
            return dans_un_enfant(NAME, 2_000_000);
        }
        let sheet = feuille(
            "A1:XFD1048576",
            r#"<row r="1"><c r="A1" t="inlineStr"><is><t>matricule</t></is></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row>"#,
        );
        let bytes = classeur(&sheet, &[]);
        assert!(bytes.len() < 2048, "{} bytes", bytes.len());
        let refused = crate::tableur::lire(Format::Xlsx, &bytes).unwrap_err();
        assert!(refused.contains("5000"), "{refused}");
        let peak = pic_rss_mib();
        println!("peak RSS {peak} MiB");
        assert!(peak < 200, "peak RSS {peak} MiB");
    }
}
