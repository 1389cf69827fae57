//! `ecole-bench bibliotheque`: a catalogue of N books (default 20,000) with one to three
//! copies each and a loan on one copy in ten, inserted set-based (multi-row INSERTs, then
//! `INSERT … SELECT`), and a wrk Lua script that cycles through a realistic mix of
//! `livres/?search=` requests: title words, authors' names, two-word queries, typed without
//! accents, ISBNs with hyphens, a category filter.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, bail};
use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_bibliotheque::isbn;
use ecole_bibliotheque::livres::{self as catalogue, LivreData, LivreFilter};
use ecole_core::PageRequest;
use ecole_db::schema::{livres, users};

#[rustfmt::skip]
const DEBUTS: &[&str] = &[
    "Le", "La", "Les", "Un", "Une", "Mon", "Notre", "Au-delà du", "Chroniques de la", "Le dernier",
    "La petite", "Le grand", "Sur la", "Dans la", "Lettres du", "Contes de la",
];
#[rustfmt::skip]
const NOMS: &[&str] = &[
    "Enfant", "Soleil", "Fleuve", "Histoire", "Voyage", "Maison", "Mémoire", "Nuit", "Chemin",
    "Secret", "Royaume", "Lettre", "Terre", "Village", "Étoile", "Forêt", "Marché", "Griot",
    "Tambour", "Saison", "Prince", "Fille", "Roi", "Mer", "Montagne", "Cœur", "Ombre", "Parole",
    "Lumière", "Route", "Pluie", "Récolte", "Caravane", "Case", "Sagesse", "Exil", "Retour",
    "Promesse", "Baobab", "Pirogue", "Lion", "Hyène", "Lièvre", "Calebasse", "Kora", "Balafon",
    "Djembé", "Rizière", "Plantation", "Mine", "Port", "Gare", "École", "Maître", "Élève",
    "Cahier", "Médecin", "Sorcier", "Chasseur", "Pêcheur", "Tisserand", "Forgeron", "Reine",
    "Princesse", "Guerrier", "Étranger", "Voisin", "Frère", "Sœur", "Mère", "Père", "Grand-mère",
    "Orphelin", "Mariage", "Fête", "Danse", "Chanson", "Prière", "Rêve", "Colère", "Silence",
    "Espoir", "Liberté", "Révolte", "Indépendance", "Frontière", "Désert", "Oasis", "Colline",
    "Cascade", "Source", "Puits", "Jardin", "Manguier", "Palmier", "Cola", "Arachide", "Café",
    "Bauxite", "Or", "Diamant", "Sel", "Cauris", "Masque", "Statue", "Amulette", "Miroir",
    "Horloge", "Bicyclette", "Taxi-brousse", "Radio", "Journal",
];
#[rustfmt::skip]
const SUITES: &[&str] = &[
    "noir", "de Conakry", "du Fouta-Djalon", "des indépendances", "de la savane", "sans retour",
    "du Niger", "d'Afrique", "perdu", "éternel", "de Kankan", "du griot", "des ancêtres",
    "de Labé", "de Boké", "en exil", "du matin", "des femmes", "de Nzérékoré", "oublié",
    "de l'harmattan", "de Kindia", "des îles de Loos", "du Mandingue", "de Siguiri", "de Faranah",
    "de Macenta", "de Guéckédou", "de Kissidougou", "de Mamou", "de Dalaba", "de Pita",
    "de Télimélé", "de Dubréka", "de Coyah", "de Fria", "de Kamsar", "de Beyla", "de Dabola",
    "de Kouroussa", "du Sahel", "de Tombouctou", "de Dakar", "de Bamako", "d'Abidjan",
    "de Freetown", "du Konkouré", "du Bafing", "de la Basse-Côte", "de la Guinée forestière",
    "du Nimba", "des rizières", "des collines", "du village", "de mon père", "de ma mère",
    "d'hier", "de demain", "des enfants", "du roi", "de la reine", "interdit", "retrouvé", "brisé",
    "sacré", "rebelle", "silencieux", "lointain", "fidèle",
];
#[rustfmt::skip]
const MANUELS: &[&str] = &[
    "Mathématiques", "Physique-Chimie", "Grammaire française", "Histoire-Géographie",
    "Sciences de la vie et de la Terre", "Lecture", "Anglais", "Philosophie", "Éducation civique",
    "Calcul", "Conjugaison", "Orthographe", "Géométrie", "Algèbre", "Économie", "Informatique",
    "Arabe", "Espagnol", "Dessin", "Musique",
];
#[rustfmt::skip]
const NIVEAUX: &[&str] = &[
    "CP1", "CP2", "CE1", "CE2", "CM1", "CM2", "7e année", "8e année", "9e année", "10e année",
    "11e année", "12e année", "Terminale SM", "Terminale SS", "Terminale SE",
];
#[rustfmt::skip]
const PRENOMS: &[&str] = &[
    "Camara", "Tierno", "Aminata", "Djibril Tamsir", "Williams", "Mariama", "Alpha", "Fatoumata",
    "Sékou", "Kadiatou", "Ousmane", "Hampâté", "Mongo", "Ahmadou", "Véronique", "Boubacar",
    "Aïssatou", "Mamadou", "Ibrahima", "Hawa", "Mohamed", "Fodé", "Sayon", "Nènè", "Koumba",
    "Lansana", "Moussa", "Oumou", "Siaka", "Yaya", "Mariam", "Saliou", "Binta", "Aboubacar",
    "Famoro", "Kémoko", "Salifou", "Néné", "Adama", "Thierno Monénembo",
];
#[rustfmt::skip]
const NOMS_AUTEURS: &[&str] = &[
    "Laye", "Monénembo", "Niane", "Sassine", "Bâ", "Diallo", "Barry", "Sow", "Condé", "Touré",
    "Keita", "Sylla", "Kouyaté", "Soumah", "Baldé", "Fofana", "Kaba", "Cissé", "Traoré", "Beti",
    "Kourouma", "Tadjo", "Diop", "Dadié", "Bangoura", "Camara", "Doumbouya", "Kanté", "Kourouma",
    "Sacko", "Sangaré", "Fadiga", "Guilavogui", "Haba", "Kolié", "Loua", "Millimono", "Onivogui",
    "Tounkara", "Yansané", "Béavogui", "Cherif", "Dioubaté", "Kamano", "Kpoghomou", "Lamah",
    "Mara", "Nabé", "Oularé", "Samoura", "Tolno", "Zoumanigui", "Bah", "Balde", "Kalivogui",
    "Koivogui", "Sakho", "Diakité", "Magassouba", "Conté",
];
#[rustfmt::skip]
const EDITEURS: &[&str] = &[
    "Éditions Ganndal", "L'Harmattan Guinée", "Présence africaine", "Gallimard", "Hatier",
    "Nathan", "NEI-CEDA", "Éditions du Seuil", "Éditions Tabala", "Belin", "Hachette",
];
#[rustfmt::skip]
const CATEGORIES: &[&str] = &[
    "Roman", "Poésie", "Théâtre", "Contes", "Histoire", "Géographie", "Sciences", "Jeunesse",
    "Bande dessinée", "Dictionnaire", "Philosophie", "Santé", "Agriculture", "Biographie",
    "Manuel scolaire",
];

/// A small deterministic generator (the bench is reproducible without a crate).
struct Hasard(u64);

impl Hasard {
    fn suivant(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn choix<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.suivant() % items.len() as u64) as usize]
    }
}

/// The ISBN-13 `978 2 <8 digits> <check>`, distinct for each `i` below 10⁸.
fn isbn_de(i: u64) -> anyhow::Result<String> {
    let corps = format!("9782{:08}", i.wrapping_mul(7_919) % 100_000_000);
    (0..10)
        .find_map(|c| isbn::normaliser(&format!("{corps}{c}")).ok())
        .context("ISBN")
}

fn livre(h: &mut Hasard, i: u64) -> anyhow::Result<LivreData> {
    let (titre, categorie) = match h.suivant() % 10 {
        0 | 1 => (
            format!("{} {}", h.choix(MANUELS), h.choix(NIVEAUX)),
            "Manuel scolaire",
        ),
        2 => (
            format!(
                "{} et {} {}",
                h.choix(NOMS),
                h.choix(NOMS).to_lowercase(),
                h.choix(SUITES)
            ),
            h.choix(CATEGORIES),
        ),
        3 => (
            format!("{} {}", h.choix(NOMS), h.choix(SUITES)),
            h.choix(CATEGORIES),
        ),
        _ => (
            format!(
                "{} {} {}",
                h.choix(DEBUTS),
                h.choix(NOMS).to_lowercase(),
                h.choix(SUITES)
            ),
            h.choix(CATEGORIES),
        ),
    };
    Ok(LivreData {
        isbn: if h.suivant().is_multiple_of(10) {
            None
        } else {
            Some(isbn_de(i)?)
        },
        titre,
        auteur: format!("{} {}", h.choix(PRENOMS), h.choix(NOMS_AUTEURS)),
        editeur: h.choix(EDITEURS).to_string(),
        annee_publication: Some(1950 + (h.suivant() % 76) as i32),
        categorie: categorie.to_string(),
        cote: format!("{:03}", h.suivant() % 1000),
    })
}

/// `?search=` values typed as people type them.
fn recherches(isbns: &[String]) -> Vec<String> {
    let mut out: Vec<String> = [
        "enfant noir",
        "soleil",
        "memoire",
        "étoile",
        "fleuve niger",
        "kora",
        "bauxite",
        "forgeron",
        "taxi-brousse",
        "manguier",
        "siguiri",
        "griot",
        "conakry",
        "Monénembo",
        "monenembo",
        "camara laye",
        "kourouma",
        "niane",
        "baobab",
        "pirogue",
        "mathematiques terminale",
        "grammaire",
        "physique chimie",
        "histoire géographie 10e",
        "harmattan",
        "caravane",
        "foret",
        "sagesse ancetres",
        "Lecture CP1",
        "prince",
        "tambour",
        "djibril tamsir",
        "guilavogui",
        "oumou sangaré",
        "conjugaison CM1",
        "Kindia",
        "exil",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for isbn in isbns.iter().take(8) {
        // As printed on the back cover: 978-2-12-345678-9.
        out.push(format!(
            "{}-{}-{}-{}-{}",
            &isbn[..3],
            &isbn[3..4],
            &isbn[4..6],
            &isbn[6..12],
            &isbn[12..]
        ));
    }
    out
}

fn url_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Seeds the catalogue and writes the wrk script; prints one summary line.
pub async fn run(url: &str, total: usize, lua: &Path) -> anyhow::Result<()> {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .context("connexion")?;
    let deja: i64 = livres::table.count().get_result(&mut conn).await?;
    if deja > 0 {
        bail!("le catalogue n'est pas vide ({deja} livres)");
    }
    let emprunteur: i64 = users::table
        .select(users::id)
        .order(users::id)
        .first(&mut conn)
        .await
        .context("un compte (createsuperuser) est attendu pour les emprunts")?;
    let started = std::time::Instant::now();
    let mut h = Hasard(0x2026_1126_dead_beef);
    let rows = (0..total as u64)
        .map(|i| livre(&mut h, i))
        .collect::<anyhow::Result<Vec<_>>>()?;
    for chunk in rows.chunks(2_000) {
        diesel::insert_into(livres::table)
            .values(chunk)
            .execute(&mut conn)
            .await?;
    }
    // One to three copies per book, then a loan on one copy in ten (set-based).
    diesel::sql_query(
        "INSERT INTO exemplaires (livre_id, code_barre, etat)
         SELECT l.id, 'BIB-' || lpad(l.id::text, 6, '0') || '-' || lpad(g::text, 2, '0'),
                CASE WHEN (l.id + g) % 25 = 0 THEN 'ABIME' ELSE 'BON' END
         FROM livres l, generate_series(1, 1 + (l.id % 3)::int) AS g",
    )
    .execute(&mut conn)
    .await?;
    diesel::sql_query(
        "INSERT INTO emprunts (exemplaire_id, emprunteur_id, date_emprunt, date_retour_prevue)
         SELECT e.id, $1, current_date - 10, current_date + 4 FROM exemplaires e WHERE e.id % 10 = 0",
    )
    .bind::<diesel::sql_types::BigInt, _>(emprunteur)
    .execute(&mut conn)
    .await?;
    diesel::sql_query("ANALYZE livres, exemplaires, emprunts")
        .execute(&mut conn)
        .await?;
    let seeded = started.elapsed();
    let isbns: Vec<String> = livres::table
        .filter(livres::isbn.is_not_null())
        .select(livres::isbn.assume_not_null())
        .order(livres::id)
        .limit(200)
        .load::<String>(&mut conn)
        .await?
        .into_iter()
        .step_by(25)
        .collect();
    let queries = recherches(&isbns);
    // How many books each search finds, through the service the API calls.
    let mut trouves = Vec::with_capacity(queries.len());
    for q in &queries {
        let filter = LivreFilter {
            search: Some(q.clone()),
            ..Default::default()
        };
        let page = catalogue::list(&mut conn, &filter, PageRequest::default()).await?;
        trouves.push(page.count);
    }
    trouves.sort_unstable();
    let mut paths: Vec<String> = queries
        .iter()
        .map(|q| format!("/api/v1/livres/?search={}", url_encode(q)))
        .collect();
    paths.push("/api/v1/livres/?search=histoire&categorie=Roman".into());
    paths.push("/api/v1/livres/?search=soleil&page=2".into());
    let mut script =
        String::from("-- ecole-bench bibliotheque : recherches du catalogue\npaths = {\n");
    for p in &paths {
        let _ = writeln!(script, "  \"{p}\",");
    }
    script.push_str(
        "}\ncounter = 0\nrequest = function()\n  counter = counter + 1\n  return wrk.format(\"GET\", paths[(counter % #paths) + 1])\nend\n",
    );
    std::fs::write(lua, script).with_context(|| format!("écriture de {}", lua.display()))?;
    let copies: i64 = ecole_db::schema::exemplaires::table
        .count()
        .get_result(&mut conn)
        .await?;
    let prets: i64 = ecole_db::schema::emprunts::table
        .count()
        .get_result(&mut conn)
        .await?;
    println!(
        "{total} livres, {copies} exemplaires, {prets} emprunts en cours, insérés en {:.1} s ; \
         {} requêtes différentes, livres trouvés par recherche : médiane {}, max {}",
        seeded.as_secs_f64(),
        paths.len(),
        trouves.get(trouves.len() / 2).copied().unwrap_or(0),
        trouves.last().copied().unwrap_or(0),
    );
    Ok(())
}
