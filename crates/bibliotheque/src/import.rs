//! `livres/import/`: the catalogue from a CSV (or XLSX) file with French headers, with the
//! pupils' import behaviour: `?dry_run=true` checks everything (against the database too)
//! and writes nothing; with any error nothing is written (one transaction); importing the
//! same file twice changes nothing.
//!
//! A row is keyed by its ISBN, or by title and author when it has none. A book found is
//! updated from the file's columns (a column absent from the file leaves its field alone).
//! `exemplaires` is the number of copies the library owns: missing copies are created
//! (barcodes `BIB-<livre>-<n>`), none is ever removed.

use std::collections::{HashMap, HashSet};

use diesel::prelude::*;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use ecole_core::{Actor, DomainError, DomainResult, FieldErrors};
use ecole_db::schema::livres;
use ecole_pedagogie::import::{Format, MAX_BYTES, MAX_ROWS, RowError, TxError, fold, issue};
use ecole_pedagogie::tableur::{self, Table};
use serde::Serialize;

use crate::exemplaires::{ajouter_generes, compter_tous};
use crate::exiger_bibliothecaire;
use crate::livres::{LivreBrut, LivreData, LivreRow};

/// Copies per row at most.
pub const MAX_EXEMPLAIRES: usize = 200;

/// The columns, as documented in the README: (name, other accepted names, required, content).
pub const COLUMNS: &[(&str, &[&str], bool, &str)] = &[
    ("titre", &["title"], true, "titre du livre"),
    ("auteur", &["auteurs", "author"], false, "auteur(s)"),
    (
        "isbn",
        &[],
        false,
        "ISBN-10 ou ISBN-13, tirets permis : clé de l'import",
    ),
    ("editeur", &["publisher"], false, "maison d'édition"),
    (
        "annee_publication",
        &["annee", "annee_de_publication"],
        false,
        "année, ex. 1953",
    ),
    ("categorie", &["category"], false, "ex. Roman, Sciences"),
    (
        "exemplaires",
        &["nombre_exemplaires", "nombre_d'exemplaires", "copies"],
        false,
        "nombre d'exemplaires possédés (1 par défaut)",
    ),
    ("cote", &[], false, "cote de rangement"),
];

/// What an import did (or would do, in a dry run).
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
#[schema(as = ImportCatalogueReport)]
pub struct ImportReport {
    pub dry_run: bool,
    pub lignes: usize,
    pub crees: usize,
    pub modifies: usize,
    pub inchanges: usize,
    pub exemplaires_crees: usize,
    pub erreurs: Vec<RowError>,
}

#[derive(Debug, Clone)]
struct Ligne {
    data: LivreData,
    exemplaires: usize,
}

/// How a row finds its book: the ISBN, else title and author folded.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Cle {
    Isbn(String),
    TitreAuteur(String, String),
}

fn cle(data: &LivreData) -> Cle {
    match &data.isbn {
        Some(i) => Cle::Isbn(i.clone()),
        None => Cle::TitreAuteur(fold(&data.titre), fold(&data.auteur)),
    }
}

/// The columns the file has.
type Presentes = HashSet<&'static str>;

/// `table`: the file as read by [`tableur`], or why it could not be.
fn parse_rows(table: Result<Table, String>, report: &mut ImportReport) -> (Vec<Ligne>, Presentes) {
    let mut erreur = |ligne: usize, champ: &str, message: String| {
        report.erreurs.push(RowError {
            ligne,
            champ: champ.to_string(),
            message,
        })
    };
    let table = match table {
        Ok(t) => t,
        Err(m) => {
            erreur(1, "fichier", m);
            return Default::default();
        }
    };
    let Some((header, data)) = table.split_first() else {
        erreur(1, "fichier", "Le fichier est vide.".into());
        return Default::default();
    };
    let folded: Vec<String> = header.iter().map(|h| fold(h)).collect();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (name, aliases, required, _) in COLUMNS {
        let found = folded
            .iter()
            .position(|h| h == name || aliases.contains(&h.as_str()));
        match found {
            Some(i) => {
                index.insert(name, i);
            }
            None if *required => {
                erreur(1, name, format!("Colonne obligatoire « {name} » absente."))
            }
            None => {}
        }
    }
    if data.len() > MAX_ROWS {
        erreur(
            1,
            "fichier",
            format!("Au plus {MAX_ROWS} lignes par import."),
        );
    }
    if !report.erreurs.is_empty() {
        return Default::default();
    }
    let presentes: Presentes = index.keys().copied().collect();
    let mut lignes = Vec::new();
    let mut vues: HashMap<Cle, usize> = HashMap::new();
    for (i, cells) in data.iter().enumerate() {
        let ligne = i + 2;
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |name: &str| {
            index
                .get(name)
                .and_then(|i| cells.get(*i))
                .map(|s| s.trim())
                .unwrap_or("")
        };
        let mut errors = FieldErrors::new();
        let annee = match get("annee_publication") {
            "" => None,
            raw => match raw.parse::<i32>() {
                Ok(a) => Some(a),
                Err(_) => {
                    errors.add(
                        "annee_publication",
                        format!("« {raw} » n'est pas une année."),
                    );
                    None
                }
            },
        };
        let exemplaires = match get("exemplaires") {
            "" => 1,
            raw => match raw.parse::<usize>() {
                Ok(n) if n <= MAX_EXEMPLAIRES => n,
                _ => {
                    errors.add(
                        "exemplaires",
                        format!("« {raw} » : un nombre entre 0 et {MAX_EXEMPLAIRES} attendu."),
                    );
                    0
                }
            },
        };
        let isbn = get("isbn");
        let data = LivreData::verifier(
            LivreBrut {
                isbn: Some(isbn),
                titre: get("titre"),
                auteur: get("auteur"),
                editeur: get("editeur"),
                annee_publication: annee,
                categorie: get("categorie"),
                cote: get("cote"),
            },
            &mut errors,
        );
        if errors.is_empty()
            && let Some(premiere) = vues.insert(cle(&data), ligne)
        {
            let champ = if data.isbn.is_some() { "isbn" } else { "titre" };
            errors.add(champ, format!("Livre déjà présent à la ligne {premiere}."));
        }
        if errors.is_empty() {
            lignes.push(Ligne { data, exemplaires });
        } else {
            for (champ, messages) in errors.0 {
                for message in messages {
                    report.erreurs.push(RowError {
                        ligne,
                        champ: champ.clone(),
                        message,
                    });
                }
            }
        }
    }
    (lignes, presentes)
}

/// Imports (or, with `dry_run`, checks) a catalogue file. With errors nothing is written.
pub async fn import(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    format: Format,
    bytes: &[u8],
    dry_run: bool,
) -> DomainResult<ImportReport> {
    exiger_bibliothecaire(actor)?;
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
    let table = tableur::lire_hors_requete(format, bytes).await;
    let (lignes, presentes) = parse_rows(table, &mut report);
    report.lignes = lignes.len()
        + report
            .erreurs
            .iter()
            .map(|e| e.ligne)
            .filter(|l| *l > 1)
            .collect::<HashSet<_>>()
            .len();
    if !report.erreurs.is_empty() {
        return Ok(report);
    }
    let outcome = conn
        .transaction::<_, TxError<ImportReport>, _>(async move |conn| {
            apply(conn, &lignes, &presentes, &mut report).await?;
            if report.dry_run {
                // Everything was checked against the database; nothing is kept.
                return Err(TxError::DryRun(Box::new(report)));
            }
            Ok(report)
        })
        .await;
    issue(outcome)
}

/// The book as the file wants it: the file's value for each column it has, the stored one
/// for the others.
fn fusion(row: &LivreRow, data: &LivreData, presentes: &Presentes) -> LivreData {
    let de = |col: &str| presentes.contains(col);
    LivreData {
        isbn: if de("isbn") {
            data.isbn.clone()
        } else {
            row.isbn.clone()
        },
        titre: data.titre.clone(),
        auteur: if de("auteur") {
            data.auteur.clone()
        } else {
            row.auteur.clone()
        },
        editeur: if de("editeur") {
            data.editeur.clone()
        } else {
            row.editeur.clone()
        },
        annee_publication: if de("annee_publication") {
            data.annee_publication
        } else {
            row.annee_publication
        },
        categorie: if de("categorie") {
            data.categorie.clone()
        } else {
            row.categorie.clone()
        },
        cote: if de("cote") {
            data.cote.clone()
        } else {
            row.cote.clone()
        },
    }
}

fn meme_livre(row: &LivreRow, data: &LivreData) -> bool {
    row.isbn == data.isbn
        && row.titre == data.titre
        && row.auteur == data.auteur
        && row.editeur == data.editeur
        && row.annee_publication == data.annee_publication
        && row.categorie == data.categorie
        && row.cote == data.cote
}

/// A constant number of statements, plus one per book changed.
async fn apply(
    conn: &mut AsyncPgConnection,
    lignes: &[Ligne],
    presentes: &Presentes,
    report: &mut ImportReport,
) -> DomainResult<()> {
    let isbns: Vec<&str> = lignes
        .iter()
        .filter_map(|l| l.data.isbn.as_deref())
        .collect();
    let titres: Vec<String> = lignes
        .iter()
        .filter(|l| l.data.isbn.is_none())
        .map(|l| l.data.titre.to_lowercase())
        .collect();
    let existants: Vec<LivreRow> = livres::table
        .filter(
            livres::isbn.eq_any(&isbns).or(livres::isbn
                .is_null()
                .and(ecole_db::lower(livres::titre).eq_any(&titres))),
        )
        .select(LivreRow::as_select())
        .order(livres::id)
        .load(conn)
        .await?;
    let mut par_cle: HashMap<Cle, LivreRow> = HashMap::new();
    for row in existants {
        let key = match &row.isbn {
            Some(i) => Cle::Isbn(i.clone()),
            None => Cle::TitreAuteur(fold(&row.titre), fold(&row.auteur)),
        };
        par_cle.entry(key).or_insert(row);
    }
    let mut nouveaux: Vec<&Ligne> = Vec::new();
    let mut livre_de: Vec<(i64, usize)> = Vec::new();
    for ligne in lignes {
        let Some(row) = par_cle.get(&cle(&ligne.data)) else {
            nouveaux.push(ligne);
            continue;
        };
        let voulu = fusion(row, &ligne.data, presentes);
        if meme_livre(row, &voulu) {
            report.inchanges += 1;
        } else {
            diesel::update(livres::table.find(row.id))
                .set(&voulu)
                .execute(conn)
                .await?;
            report.modifies += 1;
        }
        livre_de.push((row.id, ligne.exemplaires));
    }
    for chunk in nouveaux.chunks(1_000) {
        let values: Vec<&LivreData> = chunk.iter().map(|l| &l.data).collect();
        let ids: Vec<i64> = diesel::insert_into(livres::table)
            .values(values)
            .returning(livres::id)
            .get_results(conn)
            .await
            .map_err(|e| {
                if ecole_core::error::unique_violation(&e).is_some() {
                    DomainError::validation(
                        "isbn",
                        "Un ISBN du fichier vient d'être ajouté au catalogue : relancez l'import.",
                    )
                } else {
                    e.into()
                }
            })?;
        // PostgreSQL returns the rows of a multi-row VALUES in order.
        for (id, ligne) in ids.into_iter().zip(chunk) {
            livre_de.push((id, ligne.exemplaires));
        }
        report.crees += chunk.len();
    }
    let ids: Vec<i64> = livre_de.iter().map(|(id, _)| *id).collect();
    let possedes = compter_tous(conn, &ids).await?;
    let manquants: Vec<(i64, usize)> = livre_de
        .iter()
        .map(|(id, voulus)| {
            let ont = possedes.get(id).copied().unwrap_or(0) as usize;
            (*id, voulus.saturating_sub(ont))
        })
        .collect();
    report.exemplaires_crees = ajouter_generes(conn, &manquants).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_checked_and_keyed() {
        let csv = "Titre;Auteur;ISBN;Éditeur;Année;Catégorie;Exemplaires\n\
                   L'Enfant noir;Camara Laye;2-07-036822-X;Plon;1953;Roman;3\n\
                   Sans ISBN;Anonyme;;;;;\n\
                   Doublon;X;978-2-07-036822-8;;;;\n\
                   ;Personne;123;;abc;;-1\n";
        let mut report = ImportReport::default();
        let (lignes, presentes) =
            parse_rows(tableur::lire(Format::Csv, csv.as_bytes()), &mut report);
        assert!(presentes.contains("annee_publication") && !presentes.contains("cote"));
        assert_eq!(lignes.len(), 2);
        assert_eq!(lignes[0].data.isbn.as_deref(), Some("9782070368228"));
        assert_eq!(lignes[0].data.annee_publication, Some(1953));
        assert_eq!(lignes[0].exemplaires, 3);
        assert_eq!(lignes[1].exemplaires, 1);
        let champs: Vec<(usize, &str)> = report
            .erreurs
            .iter()
            .map(|e| (e.ligne, e.champ.as_str()))
            .collect();
        assert!(champs.contains(&(4, "isbn")), "{champs:?}");
        assert!(champs.contains(&(5, "titre")), "{champs:?}");
        assert!(champs.contains(&(5, "isbn")), "{champs:?}");
        assert!(champs.contains(&(5, "annee_publication")), "{champs:?}");
        assert!(champs.contains(&(5, "exemplaires")), "{champs:?}");
    }

    #[test]
    fn a_missing_title_column_is_reported_once() {
        let mut report = ImportReport::default();
        let (lignes, _) = parse_rows(
            tableur::lire(Format::Csv, b"auteur,isbn\nX,\n"),
            &mut report,
        );
        assert!(lignes.is_empty());
        assert_eq!(report.erreurs.len(), 1);
        assert_eq!(report.erreurs[0].champ, "titre");
    }
}
