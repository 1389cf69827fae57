//! `?search=` over the catalogue: every word must appear (in any order) in the title, the
//! author or the ISBN, accents and case ignored. The comparison runs on `livres.recherche`,
//! a column the database computes with `biblio_pli` and indexes with trigrams (pg_trgm), so
//! a search is an index lookup whatever the size of the catalogue. The words are folded here
//! by [`plier`], the same folding as `biblio_pli` (a test holds them together): a bound
//! pattern costs nothing per row, a SQL call on it would run for every row rechecked.

use crate::isbn;

diesel::define_sql_function! {
    /// The migration's folding of searched text: lower case, accents folded.
    fn biblio_pli(t: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// The migration's `biblio_pli`: ligatures spelt out, accents dropped, typographic
/// apostrophes made plain, lower case.
pub fn plier(texte: &str) -> String {
    let mut out = String::with_capacity(texte.len());
    for c in texte.chars() {
        match c {
            'œ' | 'Œ' => out.push_str("oe"),
            'æ' | 'Æ' => out.push_str("ae"),
            'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' | 'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => {
                out.push('a')
            }
            'Ç' | 'ç' => out.push('c'),
            'È' | 'É' | 'Ê' | 'Ë' | 'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'Ì' | 'Í' | 'Î' | 'Ï' | 'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'Ñ' | 'ñ' => out.push('n'),
            'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'ò' | 'ó' | 'ô' | 'õ' | 'ö' => out.push('o'),
            'Ù' | 'Ú' | 'Û' | 'Ü' | 'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'Ý' | 'ý' | 'ÿ' => out.push('y'),
            '’' | '‘' => out.push('\''),
            c => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// At most this many words count; the rest of the query is ignored.
const MAX_MOTS: usize = 5;

/// One word of a search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terme {
    /// A whole valid ISBN (10 or 13, hyphens or not): the book with this ISBN-13, looked up
    /// by the unique index (an ISBN's trigrams are in nearly every row: slow to intersect).
    Isbn(String),
    /// A `LIKE` pattern, folded, matched against `livres.recherche`.
    Motif(String),
}

/// The terms of a search query. Words of one or two letters are dropped when a longer word
/// is present: they cannot use the trigram index and barely narrow the result. A piece of
/// an ISBN is searched as its digits.
pub fn termes(query: &str) -> Vec<Terme> {
    motifs(query)
        .into_iter()
        .map(|m| {
            let digits = m.trim_matches('%');
            if digits.len() == 13
                && digits.chars().all(|c| c.is_ascii_digit())
                && let Ok(isbn) = isbn::normaliser(digits)
            {
                return Terme::Isbn(isbn);
            }
            Terme::Motif(m)
        })
        .collect()
}

/// The `LIKE` patterns, folded, of a search query (see [`termes`]); an ISBN becomes the
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
        let motif = ecole_core::contains_pattern(&plier(&mot));
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
        assert_eq!(motifs("  Les   Misérables "), ["%les%", "%miserables%"]);
        assert_eq!(motifs("le petit prince"), ["%petit%", "%prince%"]);
        assert_eq!(motifs("Le"), ["%le%"]);
        assert_eq!(motifs("L’ŒUVRE"), ["%l'oeuvre%"]);
        assert_eq!(motifs("978-2-07-036822-8"), ["%9782070368228%"]);
        assert_eq!(motifs("2-07-036822-X"), ["%9782070368228%"]);
        assert_eq!(motifs("100%"), ["%100\\%%"]);
        assert_eq!(motifs("« Hugo », hugo"), ["%hugo%"]);
        assert!(motifs("   ").is_empty());
        assert_eq!(motifs("a b c d e f g h").len(), 5);
        assert_eq!(
            termes("2-07-036822-X hugo 040922"),
            [
                Terme::Isbn("9782070368228".into()),
                Terme::Motif("%hugo%".into()),
                Terme::Motif("%040922%".into()),
            ]
        );
    }
}
