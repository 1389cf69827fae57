//! Demo data of a Guinean school at a chosen scale, deterministic for a given seed: the
//! active year and its trimesters, ≈ N/38 classes across levels, 12 subjects with their
//! coefficients, teachers assigned to every (class, subject), one or two parents per pupil
//! (siblings share them), 30 grades per pupil per started period, 60 school days of
//! attendance. Every account shares one demo password (hashed once).

use std::str::FromStr;

use bigdecimal::BigDecimal;
use chrono::{Datelike, NaiveDate, Weekday};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_db::schema::{
    annees_scolaires, classes, eleve_parents, eleves, enseignants, enseignements, matieres, notes,
    parents, periodes, presences, users,
};
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

pub const DEMO_PASSWORD: &str = "Ecole-demo-2026";

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("base de données : {0}")]
    Db(#[from] diesel::result::Error),
    #[error("{0}")]
    Other(String),
}

#[derive(Debug, Clone)]
pub struct SeedOptions {
    pub eleves: usize,
    pub seed: u64,
    /// Today, in Conakry (the year and the attendance days follow from it).
    pub today: NaiveDate,
    pub progress: bool,
}

#[derive(Debug, Clone, Default)]
pub struct SeedReport {
    pub annee_scolaire: String,
    pub classes: usize,
    pub enseignants: usize,
    pub eleves: usize,
    pub parents: usize,
    pub notes: usize,
    pub presences: usize,
}

const PRENOMS_M: &[&str] = &[
    "Mamadou",
    "Alpha",
    "Ibrahima",
    "Ousmane",
    "Amadou",
    "Souleymane",
    "Abdoulaye",
    "Mohamed",
    "Sékou",
    "Lansana",
    "Moussa",
    "Boubacar",
    "Thierno",
    "Elhadj",
    "Fodé",
    "Sidiki",
    "Karamo",
    "Aboubacar",
    "Mamady",
    "Saliou",
];
const PRENOMS_F: &[&str] = &[
    "Fatoumata",
    "Mariama",
    "Aïssatou",
    "Kadiatou",
    "Hawa",
    "Fanta",
    "Aminata",
    "Binta",
    "Mariam",
    "Djénabou",
    "Néné",
    "Oumou",
    "Safiatou",
    "Adama",
    "Kadidiatou",
    "Makoura",
    "Salématou",
    "Rouguiatou",
    "Hadja",
    "Tiguidanké",
];
const NOMS: &[&str] = &[
    "Diallo",
    "Bah",
    "Barry",
    "Sow",
    "Camara",
    "Condé",
    "Keïta",
    "Touré",
    "Sylla",
    "Cissé",
    "Soumah",
    "Bangoura",
    "Kourouma",
    "Kaba",
    "Baldé",
    "Fofana",
    "Traoré",
    "Doumbouya",
    "Konaté",
    "Kanté",
    "Sacko",
    "Yattara",
    "Millimono",
    "Guilavogui",
    "Loua",
    "Haba",
    "Béavogui",
    "Kamano",
    "Onivogui",
    "Tounkara",
];
const LIEUX: &[&str] = &[
    "Conakry",
    "Kindia",
    "Labé",
    "Kankan",
    "Nzérékoré",
    "Boké",
    "Mamou",
    "Faranah",
    "Siguiri",
    "Kissidougou",
];
const QUARTIERS: &[&str] = &[
    "Kaloum",
    "Dixinn",
    "Matam",
    "Ratoma",
    "Matoto",
    "Kipé",
    "Lambanyi",
    "Sonfonia",
    "Kagbélén",
    "Cosa",
];
const PROFESSIONS: &[&str] = &[
    "Commerçant(e)",
    "Enseignant(e)",
    "Fonctionnaire",
    "Infirmier(ère)",
    "Chauffeur",
    "Couturière",
    "Agriculteur",
    "Mécanicien",
    "Comptable",
    "Ménagère",
];
const MATIERES: &[(&str, &str, i32)] = &[
    ("MATH", "Mathématiques", 4),
    ("FRANCAIS", "Français", 4),
    ("ANGLAIS", "Anglais", 2),
    ("PC", "Physique-Chimie", 3),
    ("SVT", "Sciences de la vie et de la Terre", 3),
    ("HG", "Histoire-Géographie", 2),
    ("ECM", "Éducation civique et morale", 1),
    ("EPS", "Éducation physique et sportive", 1),
    ("ARABE", "Arabe", 1),
    ("INFO", "Informatique", 1),
    ("PHILO", "Philosophie", 2),
    ("ECO", "Économie", 2),
];
/// Levels with their share of the classes (collège and lycée first, some primary).
const NIVEAUX: &[(&str, &str)] = &[
    ("SEPTIEME", "7ème"),
    ("HUITIEME", "8ème"),
    ("NEUVIEME", "9ème"),
    ("DIXIEME", "10ème"),
    ("ONZIEME", "11ème"),
    ("DOUZIEME", "12ème"),
    ("TERMINALE", "Terminale"),
    ("CM1", "CM1"),
    ("CM2", "CM2"),
    ("SIXIEME", "6ème"),
];

fn pick<'a>(rng: &mut ChaCha8Rng, list: &'a [&'a str]) -> &'a str {
    list[rng.random_range(0..list.len())]
}

fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'É' => 'e',
            'ï' | 'î' => 'i',
            'à' | 'â' => 'a',
            'ô' => 'o',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

/// The school year containing `today` (September to July).
pub fn school_year(today: NaiveDate) -> (i32, NaiveDate, NaiveDate) {
    let start_year = if today.month() >= 8 {
        today.year()
    } else {
        today.year() - 1
    };
    let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap_or(today);
    (start_year, d(start_year, 9, 1), d(start_year + 1, 7, 15))
}

fn bar(total: u64, label: &str, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(total);
    if let Ok(style) = ProgressStyle::with_template("{msg:>12} [{bar:40}] {pos}/{len} ({elapsed})")
    {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.set_message(label.to_string());
    pb
}

struct NewUser {
    username: String,
    email: Option<String>,
    first: String,
    last: String,
    role: &'static str,
    telephone: Option<String>,
}

async fn insert_users(
    conn: &mut AsyncPgConnection,
    hash: &str,
    rows: &[NewUser],
) -> Result<Vec<i64>, SeedError> {
    let mut ids = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(5000) {
        let values: Vec<_> = chunk
            .iter()
            .map(|u| {
                (
                    users::username.eq(&u.username),
                    users::email.eq(u.email.as_deref()),
                    users::password_hash.eq(hash),
                    users::first_name.eq(&u.first),
                    users::last_name.eq(&u.last),
                    users::role.eq(u.role),
                    users::telephone.eq(u.telephone.as_deref()),
                )
            })
            .collect();
        let mut got: Vec<i64> = diesel::insert_into(users::table)
            .values(&values)
            .returning(users::id)
            .get_results(conn)
            .await?;
        ids.append(&mut got);
    }
    Ok(ids)
}

/// Seeds the database (in one transaction). Refuses when pupils already exist.
pub async fn seed(
    conn: &mut AsyncPgConnection,
    opts: &SeedOptions,
) -> Result<SeedReport, SeedError> {
    let existing: i64 = eleves::table.count().get_result(conn).await?;
    if existing > 0 {
        return Err(SeedError::Other(format!(
            "la base contient déjà {existing} élève(s) : les données de démonstration ne sont créées que dans une base vide"
        )));
    }
    let hash = ecole_users::password::hash_password(DEMO_PASSWORD)
        .await
        .map_err(|e| SeedError::Other(e.to_string()))?;
    let opts = opts.clone();
    conn.transaction::<_, SeedError, _>(async move |conn| seed_in_tx(conn, &opts, &hash).await)
        .await
}

async fn seed_in_tx(
    conn: &mut AsyncPgConnection,
    opts: &SeedOptions,
    hash: &str,
) -> Result<SeedReport, SeedError> {
    let mut rng = ChaCha8Rng::seed_from_u64(opts.seed);
    let mut report = SeedReport::default();
    let (y, debut, fin) = school_year(opts.today);
    let nom = format!("{y}-{}", y + 1);
    diesel::update(annees_scolaires::table)
        .set(annees_scolaires::est_active.eq(false))
        .execute(conn)
        .await?;
    let annee: i64 = diesel::insert_into(annees_scolaires::table)
        .values((
            annees_scolaires::nom.eq(&nom),
            annees_scolaires::date_debut.eq(debut),
            annees_scolaires::date_fin.eq(fin),
            annees_scolaires::est_active.eq(true),
        ))
        .on_conflict(annees_scolaires::nom)
        .do_update()
        .set(annees_scolaires::est_active.eq(true))
        .returning(annees_scolaires::id)
        .get_result(conn)
        .await?;
    report.annee_scolaire = nom;
    let d = |yy: i32, m: u32, dd: u32| NaiveDate::from_ymd_opt(yy, m, dd).unwrap_or(debut);
    let trimestres = [
        ("TRIMESTRE_1", debut, d(y, 12, 20)),
        ("TRIMESTRE_2", d(y + 1, 1, 5), d(y + 1, 3, 31)),
        ("TRIMESTRE_3", d(y + 1, 4, 6), fin),
    ];
    for (code, a, b) in trimestres {
        diesel::insert_into(periodes::table)
            .values((
                periodes::annee_scolaire_id.eq(annee),
                periodes::code.eq(code),
                periodes::date_debut.eq(a),
                periodes::date_fin.eq(b),
            ))
            .on_conflict_do_nothing()
            .execute(conn)
            .await?;
    }

    // Subjects.
    let mut matiere_ids = Vec::new();
    for (code, nom, coef) in MATIERES {
        let id: i64 = diesel::insert_into(matieres::table)
            .values((
                matieres::code.eq(code),
                matieres::nom.eq(nom),
                matieres::coefficient.eq(coef),
            ))
            .on_conflict(matieres::code)
            .do_update()
            .set(matieres::nom.eq(nom))
            .returning(matieres::id)
            .get_result(conn)
            .await?;
        matiere_ids.push(id);
    }

    // Classes.
    let n_classes = opts.eleves.div_ceil(38).max(1);
    let mut class_rows = Vec::new();
    for i in 0..n_classes {
        let (niveau, libelle) = NIVEAUX[i % NIVEAUX.len()];
        let section = (b'A' + (i / NIVEAUX.len()) as u8 % 26) as char;
        let serie = (niveau == "TERMINALE").then(|| ["SM", "SE", "SS"][(i / NIVEAUX.len()) % 3]);
        let bareme = if matches!(niveau, "CM1" | "CM2") {
            10
        } else {
            20
        };
        class_rows.push((niveau, serie, format!("{libelle} {section}"), bareme));
    }
    let values: Vec<_> = class_rows
        .iter()
        .map(|(niveau, serie, nom, bareme)| {
            (
                classes::niveau.eq(*niveau),
                classes::serie.eq(*serie),
                classes::nom.eq(nom),
                classes::annee_scolaire_id.eq(annee),
                classes::bareme.eq(*bareme),
                classes::capacite.eq(60),
            )
        })
        .collect();
    let class_ids: Vec<i64> = diesel::insert_into(classes::table)
        .values(&values)
        .returning(classes::id)
        .get_results(conn)
        .await?;
    report.classes = class_ids.len();

    // Teachers: one per subject per group of three classes, at least one per subject.
    let per_subject = n_classes.div_ceil(3).max(1);
    let mut teacher_users = Vec::new();
    for (s, (code, _, _)) in MATIERES.iter().enumerate() {
        for k in 0..per_subject {
            let female = rng.random_bool(0.4);
            let first = pick(&mut rng, if female { PRENOMS_F } else { PRENOMS_M }).to_string();
            let last = pick(&mut rng, NOMS).to_string();
            let username = format!("prof.{}.{}{}", ascii(code), ascii(&last), s * 100 + k);
            teacher_users.push(NewUser {
                email: Some(format!("{username}@ecole.gn")),
                username,
                first,
                last,
                role: "ENSEIGNANT",
                telephone: Some(format!("+22462{:07}", rng.random_range(0..10_000_000))),
            });
        }
    }
    let teacher_user_ids = insert_users(conn, hash, &teacher_users).await?;
    let values: Vec<_> = teacher_user_ids
        .iter()
        .enumerate()
        .map(|(i, uid)| {
            (
                enseignants::user_id.eq(*uid),
                enseignants::matricule.eq(format!("ENS-{:04}", i + 1)),
                enseignants::specialite.eq(MATIERES[i / per_subject].1),
                enseignants::date_embauche.eq(d(y - 1 - (i % 8) as i32, 9, 1)),
            )
        })
        .collect();
    let teacher_ids: Vec<i64> = diesel::insert_into(enseignants::table)
        .values(&values)
        .returning(enseignants::id)
        .get_results(conn)
        .await?;
    report.enseignants = teacher_ids.len();
    let mut assignments = Vec::new();
    for (c, classe) in class_ids.iter().enumerate() {
        for (s, matiere) in matiere_ids.iter().enumerate() {
            let teacher = teacher_ids[s * per_subject + (c / 3) % per_subject];
            assignments.push((
                enseignements::classe_id.eq(*classe),
                enseignements::matiere_id.eq(*matiere),
                enseignements::enseignant_id.eq(Some(teacher)),
            ));
        }
    }
    for chunk in assignments.chunks(5000) {
        diesel::insert_into(enseignements::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }
    // Principal teachers: the MATH teacher of the class.
    for (c, classe) in class_ids.iter().enumerate() {
        diesel::update(classes::table.find(classe))
            .set(classes::professeur_principal_id.eq(teacher_ids[(c / 3) % per_subject]))
            .execute(conn)
            .await?;
    }

    // Pupils and families.
    let pb = bar(opts.eleves as u64, "élèves", opts.progress);
    let mut pupil_users = Vec::new();
    let mut families: Vec<(String, Vec<usize>)> = Vec::new();
    let mut pupil_meta = Vec::new();
    let mut i = 0;
    while i < opts.eleves {
        let last = pick(&mut rng, NOMS).to_string();
        let siblings = if rng.random_bool(0.2) {
            rng.random_range(2..=3)
        } else {
            1
        };
        let mut members = Vec::new();
        for _ in 0..siblings {
            if i >= opts.eleves {
                break;
            }
            let female = rng.random_bool(0.5);
            let first = pick(&mut rng, if female { PRENOMS_F } else { PRENOMS_M }).to_string();
            let username = format!("eleve{}.{}", i + 1, ascii(&last));
            pupil_users.push(NewUser {
                username,
                email: None,
                first,
                last: last.clone(),
                role: "ELEVE",
                telephone: None,
            });
            pupil_meta.push((female, class_ids[i % class_ids.len()]));
            members.push(i);
            i += 1;
        }
        families.push((last, members));
    }
    let pupil_user_ids = insert_users(conn, hash, &pupil_users).await?;
    let mut pupil_values = Vec::with_capacity(opts.eleves);
    for (k, uid) in pupil_user_ids.iter().enumerate() {
        let (female, classe) = pupil_meta[k];
        let age = rng.random_range(10..19);
        let naissance = d(y - age, rng.random_range(1..=12), rng.random_range(1..=28));
        pupil_values.push((
            eleves::user_id.eq(*uid),
            eleves::matricule.eq(format!("{}/{:04}", y + 1, k + 1)),
            eleves::classe_actuelle_id.eq(Some(classe)),
            eleves::date_naissance.eq(Some(naissance)),
            eleves::lieu_naissance.eq(pick(&mut rng, LIEUX)),
            eleves::sexe.eq(if female { "F" } else { "M" }),
            eleves::adresse.eq(format!("{}, Conakry", pick(&mut rng, QUARTIERS))),
            eleves::date_admission.eq(d(y - rng.random_range(0..4), 9, 1)),
        ));
    }
    let mut pupil_ids = Vec::with_capacity(opts.eleves);
    for chunk in pupil_values.chunks(4000) {
        let mut got: Vec<i64> = diesel::insert_into(eleves::table)
            .values(chunk)
            .returning(eleves::id)
            .get_results(conn)
            .await?;
        pupil_ids.append(&mut got);
        pb.inc(chunk.len() as u64);
    }
    pb.finish();
    report.eleves = pupil_ids.len();

    let mut parent_users = Vec::new();
    let mut parent_links: Vec<(usize, &'static str, Vec<usize>)> = Vec::new();
    for (f, (last, members)) in families.iter().enumerate() {
        let both = rng.random_bool(0.5);
        for (lien, female) in
            [("PERE", false), ("MERE", true)]
                .into_iter()
                .take(if both { 2 } else { 1 })
        {
            let first = pick(&mut rng, if female { PRENOMS_F } else { PRENOMS_M }).to_string();
            let username = format!(
                "parent{}{}.{}",
                f + 1,
                if female { "m" } else { "p" },
                ascii(last)
            );
            parent_users.push(NewUser {
                email: rng
                    .random_bool(0.6)
                    .then(|| format!("{username}@exemple.gn")),
                username,
                first,
                last: if female {
                    pick(&mut rng, NOMS).to_string()
                } else {
                    last.clone()
                },
                role: "PARENT",
                telephone: Some(format!(
                    "+2246{}{:07}",
                    rng.random_range(2..=6),
                    rng.random_range(0..10_000_000)
                )),
            });
            parent_links.push((parent_users.len() - 1, lien, members.clone()));
        }
    }
    let parent_user_ids = insert_users(conn, hash, &parent_users).await?;
    let values: Vec<_> = parent_user_ids
        .iter()
        .map(|uid| {
            (
                parents::user_id.eq(*uid),
                parents::profession.eq(pick(&mut rng, PROFESSIONS)),
                parents::adresse.eq(pick(&mut rng, QUARTIERS)),
            )
        })
        .collect();
    let mut parent_ids = Vec::new();
    for chunk in values.chunks(5000) {
        let mut got: Vec<i64> = diesel::insert_into(parents::table)
            .values(chunk)
            .returning(parents::id)
            .get_results(conn)
            .await?;
        parent_ids.append(&mut got);
    }
    report.parents = parent_ids.len();
    let links: Vec<_> = parent_links
        .iter()
        .flat_map(|(p, lien, members)| {
            members.iter().map(|m| {
                (
                    eleve_parents::eleve_id.eq(pupil_ids[*m]),
                    eleve_parents::parent_id.eq(parent_ids[*p]),
                    eleve_parents::lien.eq(*lien),
                )
            })
        })
        .collect();
    for chunk in links.chunks(5000) {
        diesel::insert_into(eleve_parents::table)
            .values(chunk)
            .execute(conn)
            .await?;
    }

    // Grades: 30 per pupil per started period, spread over the subjects and the period.
    let started: Vec<_> = trimestres
        .iter()
        .filter(|(_, a, _)| *a <= opts.today)
        .collect();
    let pb = bar(
        (started.len() * pupil_ids.len()) as u64,
        "notes",
        opts.progress,
    );
    let mut grade_rows = Vec::new();
    for (code, a, b) in &started {
        let last_day = (*b).min(opts.today);
        let span = (last_day - *a).num_days().max(1);
        for (k, eleve) in pupil_ids.iter().enumerate() {
            let classe = pupil_meta[k].1;
            let ability: f64 = rng.random_range(6.0..17.0);
            for g in 0..30 {
                let matiere = matiere_ids[g % matiere_ids.len()];
                let type_note = match g % 5 {
                    0 | 1 => "INTERROGATION",
                    2 | 3 => "DEVOIR",
                    _ => "COMPOSITION",
                };
                let sur = if g % 7 == 0 { 10.0 } else { 20.0 };
                let raw: f64 =
                    (ability + rng.random_range(-4.0..4.0)).clamp(0.0, 20.0) * sur / 20.0;
                let valeur = (raw * 4.0).round() / 4.0;
                let date = *a + chrono::Duration::days(rng.random_range(0..=span));
                let date = if date.weekday() == Weekday::Sun {
                    date - chrono::Duration::days(1)
                } else {
                    date
                };
                grade_rows.push((
                    notes::eleve_id.eq(*eleve),
                    notes::matiere_id.eq(matiere),
                    notes::classe_id.eq(classe),
                    notes::annee_scolaire_id.eq(annee),
                    notes::periode.eq(*code),
                    notes::type_note.eq(type_note),
                    notes::valeur
                        .eq(BigDecimal::from_str(&format!("{valeur:.2}")).unwrap_or_default()),
                    notes::sur.eq(BigDecimal::from_str(&format!("{sur:.2}")).unwrap_or_default()),
                    notes::date_evaluation.eq(date),
                ));
            }
            if grade_rows.len() >= 5000 {
                diesel::insert_into(notes::table)
                    .values(&grade_rows)
                    .execute(conn)
                    .await?;
                report.notes += grade_rows.len();
                grade_rows.clear();
            }
            pb.inc(1);
        }
    }
    if !grade_rows.is_empty() {
        diesel::insert_into(notes::table)
            .values(&grade_rows)
            .execute(conn)
            .await?;
        report.notes += grade_rows.len();
    }
    pb.finish();

    // Attendance: the last 60 school days (Monday to Saturday) of the year so far.
    let mut days = Vec::new();
    let mut day = opts.today.min(fin);
    while days.len() < 60 && day >= debut {
        if day.weekday() != Weekday::Sun && day < opts.today {
            days.push(day);
        }
        day -= chrono::Duration::days(1);
    }
    let pb = bar(days.len() as u64, "présences", opts.progress);
    for day in &days {
        let rows: Vec<_> = pupil_ids
            .iter()
            .enumerate()
            .map(|(k, eleve)| {
                let r: f64 = rng.random();
                let statut = if r < 0.04 {
                    "ABSENT"
                } else if r < 0.07 {
                    "RETARD"
                } else if r < 0.08 {
                    "EXCUSE"
                } else {
                    "PRESENT"
                };
                (
                    presences::eleve_id.eq(*eleve),
                    presences::classe_id.eq(pupil_meta[k].1),
                    presences::date.eq(*day),
                    presences::statut.eq(statut),
                    presences::notification_envoyee.eq(statut == "ABSENT" || statut == "RETARD"),
                )
            })
            .collect();
        for chunk in rows.chunks(5000) {
            diesel::insert_into(presences::table)
                .values(chunk)
                .execute(conn)
                .await?;
        }
        report.presences += rows.len();
        pb.inc(1);
    }
    pb.finish();
    Ok(report)
}
