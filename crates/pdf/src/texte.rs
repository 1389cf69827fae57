//! Text made printable with the PDF standard fonts (Windows-1252 / WinAnsi).
//!
//! genpdf refuses to render a string holding a character its built-in fonts cannot encode (the
//! whole document fails). Every string this crate prints goes through [`to_winansi`] first.

use std::borrow::Cow;

/// True when the standard fonts can print `c` (what lopdf's WinAnsi encoder accepts: Windows-1252
/// without the control characters, U+007F, the no-break space and the soft hyphen).
pub fn is_winansi(c: char) -> bool {
    matches!(c,
        '\u{20}'..='\u{7e}'
        | '\u{a1}'..='\u{ac}'
        | '\u{ae}'..='\u{ff}'
        | 'Œ' | 'œ' | 'Š' | 'š' | 'Ÿ' | 'Ž' | 'ž' | 'ƒ' | 'ˆ' | '˜'
        | '–' | '—' | '‘' | '’' | '‚' | '“' | '”' | '„' | '†' | '‡' | '•' | '…' | '‰' | '‹' | '›'
        | '€' | '™')
}

/// `s` rewritten so that the standard fonts can print all of it: French text passes unchanged;
/// decomposed accents are composed (`e` + U+0301 → `é`); letters outside Windows-1252 lose their
/// diacritic (`č` → `c`) or take a close spelling (Pular/Maninka `ɓ ɗ ŋ ƴ ɲ ɛ ɔ` → `b d ng y ny e o`);
/// no-break and thin spaces become spaces, control characters spaces, invisible characters
/// nothing, and anything else `?`.
pub fn to_winansi(s: &str) -> Cow<'_, str> {
    if s.chars().all(is_winansi) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if is_winansi(c) {
            out.push(c);
            continue;
        }
        if ('\u{300}'..='\u{36f}').contains(&c) {
            // A combining mark: compose it with the letter just written, or drop it.
            if let Some(base) = out.pop() {
                match composer(base, c) {
                    Some(composed) => out.push(composed),
                    None => out.push(base),
                }
            }
            continue;
        }
        match c {
            '\u{a0}' | '\u{2000}'..='\u{200a}' | '\u{202f}' | '\u{205f}' | '\u{3000}' => {
                out.push(' ')
            }
            '\u{ad}' | '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}' => {}
            '\t' | '\n' | '\r' | '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' => out.push(' '),
            '\u{2010}' | '\u{2011}' | '\u{2212}' => out.push('-'),
            '\u{2012}' => out.push('–'),
            '\u{2015}' => out.push('—'),
            '\u{2032}' | '\u{2035}' => out.push('\''),
            '\u{2033}' => out.push('"'),
            '\u{2bc}' => out.push('’'),
            '\u{2bb}' => out.push('‘'),
            '\u{2264}' => out.push_str("<="),
            '\u{2265}' => out.push_str(">="),
            _ => match translitterer(c) {
                Some(r) => out.push_str(r),
                None => out.push('?'),
            },
        }
    }
    Cow::Owned(out)
}

/// Replacement of a character that Windows-1252 lacks, by its base letter(s).
fn translitterer(c: char) -> Option<&'static str> {
    Some(match c {
        'ŉ' => "'n",
        'Ā' | 'Ă' | 'Ą' | 'Ǎ' | 'Ǟ' | 'Ǡ' | 'Ǻ' | 'Ȁ' | 'Ȃ' | 'Ȧ' => "A",
        'Ɓ' => "B",
        'Ć' | 'Ĉ' | 'Ċ' | 'Č' => "C",
        'Ď' | 'Đ' | 'Ɗ' => "D",
        'Ē' | 'Ĕ' | 'Ė' | 'Ę' | 'Ě' | 'Ȅ' | 'Ȇ' | 'Ȩ' | 'Ɛ' | 'Ǝ' => "E",
        'Ĝ' | 'Ğ' | 'Ġ' | 'Ģ' | 'Ǧ' | 'Ǵ' => "G",
        'Ĥ' | 'Ȟ' | 'Ħ' => "H",
        'Ĩ' | 'Ī' | 'Ĭ' | 'Į' | 'İ' | 'Ǐ' | 'Ȉ' | 'Ȋ' => "I",
        'Ĳ' => "IJ",
        'Ĵ' => "J",
        'Ķ' | 'Ǩ' | 'Ƙ' => "K",
        'Ĺ' | 'Ļ' | 'Ľ' | 'Ŀ' | 'Ł' => "L",
        'Ń' | 'Ņ' | 'Ň' | 'Ǹ' => "N",
        'Ŋ' => "Ng",
        'Ɲ' => "Ny",
        'Ō' | 'Ŏ' | 'Ő' | 'Ơ' | 'Ǒ' | 'Ǫ' | 'Ǭ' | 'Ȍ' | 'Ȏ' | 'Ȫ' | 'Ȭ' | 'Ȯ' | 'Ȱ' | 'Ɔ' => {
            "O"
        }
        'Ŕ' | 'Ŗ' | 'Ř' | 'Ȑ' | 'Ȓ' => "R",
        'Ś' | 'Ŝ' | 'Ş' | 'Ș' => "S",
        'Ţ' | 'Ť' | 'Ț' | 'Ŧ' => "T",
        'Ũ' | 'Ū' | 'Ŭ' | 'Ů' | 'Ű' | 'Ų' | 'Ư' | 'Ǔ' | 'Ǖ' | 'Ǘ' | 'Ǚ' | 'Ǜ' | 'Ȕ' | 'Ȗ' => {
            "U"
        }
        'Ŵ' => "W",
        'Ŷ' | 'Ȳ' | 'Ƴ' => "Y",
        'Ź' | 'Ż' => "Z",
        'ā' | 'ă' | 'ą' | 'ǎ' | 'ǟ' | 'ǡ' | 'ǻ' | 'ȁ' | 'ȃ' | 'ȧ' => "a",
        'ɓ' => "b",
        'ć' | 'ĉ' | 'ċ' | 'č' => "c",
        'ď' | 'đ' | 'ɗ' => "d",
        'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' | 'ȅ' | 'ȇ' | 'ȩ' | 'ɛ' | 'ǝ' => "e",
        'ĝ' | 'ğ' | 'ġ' | 'ģ' | 'ǧ' | 'ǵ' => "g",
        'ĥ' | 'ȟ' | 'ħ' => "h",
        'ĩ' | 'ī' | 'ĭ' | 'į' | 'ǐ' | 'ȉ' | 'ȋ' | 'ı' => "i",
        'ĳ' => "ij",
        'ĵ' | 'ǰ' => "j",
        'ķ' | 'ǩ' | 'ĸ' | 'ƙ' => "k",
        'ĺ' | 'ļ' | 'ľ' | 'ŀ' | 'ł' => "l",
        'ń' | 'ņ' | 'ň' | 'ǹ' => "n",
        'ŋ' => "ng",
        'ɲ' => "ny",
        'ō' | 'ŏ' | 'ő' | 'ơ' | 'ǒ' | 'ǫ' | 'ǭ' | 'ȍ' | 'ȏ' | 'ȫ' | 'ȭ' | 'ȯ' | 'ȱ' | 'ɔ' => {
            "o"
        }
        'ŕ' | 'ŗ' | 'ř' | 'ȑ' | 'ȓ' => "r",
        'ś' | 'ŝ' | 'ş' | 'ș' | 'ſ' => "s",
        'ţ' | 'ť' | 'ț' | 'ŧ' => "t",
        'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' | 'ư' | 'ǔ' | 'ǖ' | 'ǘ' | 'ǚ' | 'ǜ' | 'ȕ' | 'ȗ' => {
            "u"
        }
        'ŵ' => "w",
        'ŷ' | 'ȳ' | 'ƴ' => "y",
        'ź' | 'ż' => "z",
        _ => return None,
    })
}

/// A base letter followed by a combining mark, composed when Windows-1252 has the result.
fn composer(base: char, marque: char) -> Option<char> {
    Some(match (base, marque) {
        ('A', '\u{0300}') => 'À',
        ('A', '\u{0301}') => 'Á',
        ('A', '\u{0302}') => 'Â',
        ('A', '\u{0303}') => 'Ã',
        ('A', '\u{0308}') => 'Ä',
        ('A', '\u{030a}') => 'Å',
        ('C', '\u{0327}') => 'Ç',
        ('E', '\u{0300}') => 'È',
        ('E', '\u{0301}') => 'É',
        ('E', '\u{0302}') => 'Ê',
        ('E', '\u{0308}') => 'Ë',
        ('I', '\u{0300}') => 'Ì',
        ('I', '\u{0301}') => 'Í',
        ('I', '\u{0302}') => 'Î',
        ('I', '\u{0308}') => 'Ï',
        ('N', '\u{0303}') => 'Ñ',
        ('O', '\u{0300}') => 'Ò',
        ('O', '\u{0301}') => 'Ó',
        ('O', '\u{0302}') => 'Ô',
        ('O', '\u{0303}') => 'Õ',
        ('O', '\u{0308}') => 'Ö',
        ('U', '\u{0300}') => 'Ù',
        ('U', '\u{0301}') => 'Ú',
        ('U', '\u{0302}') => 'Û',
        ('U', '\u{0308}') => 'Ü',
        ('Y', '\u{0301}') => 'Ý',
        ('a', '\u{0300}') => 'à',
        ('a', '\u{0301}') => 'á',
        ('a', '\u{0302}') => 'â',
        ('a', '\u{0303}') => 'ã',
        ('a', '\u{0308}') => 'ä',
        ('a', '\u{030a}') => 'å',
        ('c', '\u{0327}') => 'ç',
        ('e', '\u{0300}') => 'è',
        ('e', '\u{0301}') => 'é',
        ('e', '\u{0302}') => 'ê',
        ('e', '\u{0308}') => 'ë',
        ('i', '\u{0300}') => 'ì',
        ('i', '\u{0301}') => 'í',
        ('i', '\u{0302}') => 'î',
        ('i', '\u{0308}') => 'ï',
        ('n', '\u{0303}') => 'ñ',
        ('o', '\u{0300}') => 'ò',
        ('o', '\u{0301}') => 'ó',
        ('o', '\u{0302}') => 'ô',
        ('o', '\u{0303}') => 'õ',
        ('o', '\u{0308}') => 'ö',
        ('u', '\u{0300}') => 'ù',
        ('u', '\u{0301}') => 'ú',
        ('u', '\u{0302}') => 'û',
        ('u', '\u{0308}') => 'ü',
        ('y', '\u{0301}') => 'ý',
        ('y', '\u{0308}') => 'ÿ',
        ('S', '\u{030c}') => 'Š',
        ('s', '\u{030c}') => 'š',
        ('Y', '\u{0308}') => 'Ÿ',
        ('Z', '\u{030c}') => 'Ž',
        ('z', '\u{030c}') => 'ž',
        _ => return None,
    })
}

/// An ASCII rendering of `s` (accents dropped, `—` → `-`), for the PDF metadata: printpdf writes the
/// document title as raw UTF-8, which viewers would read as Latin-1 (`Ã©`).
pub fn to_ascii(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in to_winansi(s).chars() {
        if c.is_ascii() {
            out.push(c);
        } else if let Some(r) = ascii(c) {
            out.push_str(r);
        }
    }
    out
}

/// An ASCII spelling of a Windows-1252 character, for PDF metadata.
fn ascii(c: char) -> Option<&'static str> {
    Some(match c {
        '“' | '”' | '„' | '«' | '»' => "\"",
        '‘' | '’' => "'",
        '‚' => ",",
        '–' | '—' | '•' => "-",
        '·' => ".",
        '…' => "...",
        'À' | 'Á' | 'Â' | 'Ã' | 'Ä' | 'Å' => "A",
        'Æ' => "AE",
        'Ç' => "C",
        'Ð' => "D",
        'È' | 'É' | 'Ê' | 'Ë' => "E",
        '€' => "EUR",
        'Ì' | 'Í' | 'Î' | 'Ï' => "I",
        'Ñ' => "N",
        'Ò' | 'Ó' | 'Ô' | 'Õ' | 'Ö' | 'Ø' => "O",
        'Œ' => "OE",
        'Š' => "S",
        'Þ' => "Th",
        'Ù' | 'Ú' | 'Û' | 'Ü' => "U",
        'Ý' | 'Ÿ' => "Y",
        'Ž' => "Z",
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => "a",
        'æ' => "ae",
        'ç' => "c",
        'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' => "e",
        'ì' | 'í' | 'î' | 'ï' => "i",
        'ñ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | '°' => "o",
        'œ' => "oe",
        'š' => "s",
        'ß' => "ss",
        'þ' => "th",
        'ù' | 'ú' | 'û' | 'ü' => "u",
        'ý' | 'ÿ' => "y",
        'ž' => "z",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn french_text_is_untouched() {
        let s = "Aïssatou Bah, née le 12 mars — « Très bien », cœur, 1er, 2ème ex, 12,50 €";
        assert!(matches!(to_winansi(s), Cow::Borrowed(_)));
    }

    #[test]
    fn guinean_letters_and_spaces_are_replaced() {
        assert_eq!(to_winansi("Ɓoɓo Ɗiallo"), "Bobo Diallo");
        assert_eq!(
            to_winansi("Ŋaaŋa Ɲuma Kɛita Sɔw"),
            "Ngaanga Nyuma Keita Sow"
        );
        assert_eq!(to_winansi("1\u{202f}250\u{a0}000 GNF"), "1 250 000 GNF");
        assert_eq!(to_winansi("Ame\u{301}lie Cha\u{302}teau"), "Amélie Château");
        assert_eq!(to_winansi("Dvořák\u{ad}\n"), "Dvorák ");
        assert_eq!(to_winansi("ߒߞߏ"), "???");
    }

    #[test]
    fn ascii_for_metadata() {
        assert_eq!(
            to_ascii("Bulletin de notes — Trimestre 1 — Aïssatou Bah, Œuvre"),
            "Bulletin de notes - Trimestre 1 - Aissatou Bah, OEuvre"
        );
    }

    #[test]
    fn output_is_always_printable() {
        for c in (0u32..0x3_0000).filter_map(char::from_u32) {
            let s = c.to_string();
            let out = to_winansi(&s);
            assert!(
                out.chars().all(is_winansi),
                "U+{:04X} gives {out:?}",
                c as u32
            );
        }
    }
}
