//! `?search=` over the catalogue: every word must appear (in any order) in the title, the
//! author or the ISBN, accents and case ignored. The comparison runs on `livres.recherche`,
//! a column the database computes with `biblio_pli` and indexes with trigrams (pg_trgm), so
//! a search is an index lookup whatever the size of the catalogue.

use crate::isbn;

diesel::define_sql_function! {
    /// The migration's folding of searched text: lower case, accents folded.
    fn biblio_pli(t: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// At most this many words count; the rest of the query is ignored.
const MAX_MOTS: usize = 5;

/// The `LIKE` patterns (not yet folded: the database folds them) of a search query. Words
/// of one or two letters are dropped when a longer word is present: they cannot use the
/// trigram index and barely narrow the result. An ISBN (with or without hyphens) becomes the
/// ISBN-13 digits the catalogue stores.
pub fn motifs(query: &str) -> Vec<String> {
    let mots: Vec<String> = query
        .split_whitespace()
        .map(|mot| {
            isbn::terme_recherche(mot).unwrap_or_else(|| {
                mot.trim_matches(|c: char| matches!(c, ',' | ';' | '.' | ':' | '"' | '«' | '»'))
                    .to_string()
            })
        })
        .filter(|mot| !mot.is_empty())
        .collect();
    let longs = mots.iter().any(|m| m.chars().count() >= 3);
    let mut out: Vec<String> = Vec::new();
    for mot in mots {
        if longs && mot.chars().count() < 3 {
            continue;
        }
        let motif = ecole_core::contains_pattern(&mot);
        if !out.contains(&motif) {
            out.push(motif);
        }
        if out.len() == MAX_MOTS {
            break;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_isbns_and_short_words() {
        assert_eq!(motifs("  Les   Misérables "), ["%Les%", "%Misérables%"]);
        assert_eq!(motifs("le petit prince"), ["%petit%", "%prince%"]);
        assert_eq!(motifs("Le"), ["%Le%"]);
        assert_eq!(motifs("978-2-07-036822-8"), ["%9782070368228%"]);
        assert_eq!(motifs("2-07-036822-X"), ["%9782070368228%"]);
        assert_eq!(motifs("100%"), ["%100\\%%"]);
        assert_eq!(motifs("« Hugo », hugo"), ["%Hugo%", "%hugo%"]);
        assert!(motifs("   ").is_empty());
        assert_eq!(motifs("a b c d e f g h").len(), 5);
    }
}
