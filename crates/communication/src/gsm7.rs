//! SMS text: the GSM-7 alphabet (3GPP TS 23.038), transliteration of what it lacks, and the
//! one-segment limit (160 septets). Guinea's networks do not join segments, so a text that
//! does not fit is shortened with care: the link goes first, then the school's name, and
//! only then is the message cut at a word.

/// Longest SMS that goes out as one segment, in septets.
pub const SMS_MAX: usize = 160;

/// The basic GSM-7 table: one septet each.
const BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

/// The extension table: an escape and the character, two septets each.
const EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// Septets one character takes, `None` when it is outside GSM-7.
fn septets(c: char) -> Option<usize> {
    if BASIC.contains(c) {
        Some(1)
    } else if EXTENSION.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The GSM-7 spelling of a character outside the alphabet (French and common punctuation),
/// `?` when there is none.
fn transliterate_char(c: char) -> &'static str {
    match c {
        'â' | 'á' | 'ã' | 'ā' => "a",
        'À' | 'Â' | 'Á' | 'Ã' | 'Ā' => "A",
        'ç' | 'ć' | 'č' => "c",
        'Ć' | 'Č' => "C",
        'ê' | 'ë' | 'ē' | 'ę' | 'ě' => "e",
        'È' | 'Ê' | 'Ë' | 'Ē' | 'Ę' | 'Ě' => "E",
        'î' | 'ï' | 'í' | 'ī' => "i",
        'Ì' | 'Î' | 'Ï' | 'Í' | 'Ī' => "I",
        'ô' | 'ó' | 'õ' | 'ō' | 'ő' => "o",
        'Ò' | 'Ô' | 'Ó' | 'Õ' | 'Ō' | 'Ő' => "O",
        'û' | 'ú' | 'ū' | 'ű' => "u",
        'Ù' | 'Û' | 'Ú' | 'Ū' | 'Ű' => "U",
        'ÿ' | 'ý' => "y",
        'Ÿ' | 'Ý' => "Y",
        'œ' => "oe",
        'Œ' => "OE",
        'ŋ' => "n",
        'Ŋ' => "N",
        'ɓ' => "b",
        'Ɓ' => "B",
        'ɗ' => "d",
        'Ɗ' => "D",
        'ƴ' => "y",
        'Ƴ' => "Y",
        '’' | '‘' | 'ʼ' | '´' | '`' | '′' => "'",
        '“' | '”' | '«' | '»' | '„' | '″' => "\"",
        '–' | '—' | '‐' | '‑' | '−' | '•' | '·' => "-",
        '…' => "...",
        '\u{a0}' | '\u{202f}' | '\u{2009}' | '\t' => " ",
        '°' | 'º' => "o",
        'ª' => "a",
        '²' => "2",
        '³' => "3",
        '×' => "x",
        _ => "?",
    }
}

/// The text in the GSM-7 alphabet: every character outside it transliterated.
pub fn transliterate(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if septets(c).is_some() {
            out.push(c);
        } else {
            out.push_str(transliterate_char(c));
        }
    }
    out
}

/// Septets of a text already in GSM-7 (characters outside count as their transliteration).
pub fn length(text: &str) -> usize {
    text.chars()
        .map(|c| septets(c).unwrap_or_else(|| transliterate(&c.to_string()).chars().count()))
        .sum()
}

/// True when the text, transliterated, fits one segment.
pub fn fits(text: &str) -> bool {
    length(&transliterate(text)) <= SMS_MAX
}

/// Septets of the SMS `"<école> : <message>"` would take, before any shortening.
pub fn signed_length(school: &str, message: &str) -> usize {
    length(&one_line(&transliterate(&format!("{school} : {message}"))))
}

/// Septets of a message sent alone.
pub fn message_length(message: &str) -> usize {
    length(&one_line(&transliterate(message)))
}

/// Collapses runs of whitespace (line breaks included) into single spaces.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Cuts a GSM-7 text to `max` septets at a word boundary, ending with `...`.
fn cut(text: &str, max: usize) -> String {
    if length(text) <= max {
        return text.to_string();
    }
    let budget = max.saturating_sub(3);
    let mut used = 0;
    let mut end = 0;
    let mut last_space = None;
    for (i, c) in text.char_indices() {
        let n = septets(c).unwrap_or(1);
        if used + n > budget {
            break;
        }
        used += n;
        end = i + c.len_utf8();
        if c == ' ' {
            last_space = Some(i);
        }
    }
    let stop = match last_space {
        // Keep at least two thirds of the room rather than cut too early.
        Some(i) if i * 3 >= budget * 2 => i,
        _ => end,
    };
    let kept = text[..stop].trim_end_matches([' ', ',', ';', ':', '.', '-']);
    format!("{kept}...")
}

/// The SMS for a notification: `"<école> : <message> <lien>"` in GSM-7, one segment.
/// Shortened in this order: the link is dropped, then the school's name, then the message
/// is cut at a word (templates put names first, so they are kept).
pub fn sms_text(school: &str, message: &str, link: Option<&str>) -> String {
    let school = one_line(&transliterate(school));
    let message = one_line(&transliterate(message));
    let link = link.map(|l| one_line(&transliterate(l)));
    let prefixed = if school.is_empty() {
        message.clone()
    } else {
        format!("{school} : {message}")
    };
    let mut candidates = Vec::with_capacity(3);
    if let Some(link) = &link {
        candidates.push(format!("{prefixed} {link}"));
    }
    candidates.push(prefixed);
    candidates.push(message.clone());
    candidates
        .into_iter()
        .find(|c| length(c) <= SMS_MAX)
        .unwrap_or_else(|| cut(&message, SMS_MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alphabet_tables_are_complete() {
        assert_eq!(BASIC.chars().count(), 127); // 128 minus the escape
        assert_eq!(length("€[]"), 6);
        assert_eq!(length("é è à ù"), 7);
    }

    #[test]
    fn french_accents_outside_gsm7_are_transliterated() {
        assert_eq!(
            transliterate("Fête à l'école : âge, île, hôte, sûr, garçon, cœur, Œuvre"),
            "Fete à l'école : age, ile, hote, sur, garcon, coeur, OEuvre"
        );
        assert_eq!(
            transliterate("« Très bien » — N° 3…"),
            "\" Très bien \" - No 3..."
        );
        assert_eq!(transliterate("Kouyaté Bâ N’Famara"), "Kouyaté Ba N'Famara");
        assert_eq!(transliterate("日本"), "??");
        let out = transliterate("ÀÂÊÎÔÛÇçœ");
        assert!(out.chars().all(|c| septets(c).is_some()), "{out}");
    }

    #[test]
    fn link_then_school_then_words_are_dropped() {
        let short = sms_text(
            "École Sainte-Marie",
            "Bulletin disponible.",
            Some("https://e.gn/b/1"),
        );
        assert_eq!(
            short,
            "École Sainte-Marie : Bulletin disponible. https://e.gn/b/1"
        );
        let long_message =
            "Mamadou Saliou Diallo (Terminale SM) : absent le 26/11/2026. ".repeat(2);
        let text = sms_text(
            "École Sainte-Marie de Dixinn",
            long_message.trim(),
            Some("https://e.gn/x"),
        );
        assert!(length(&text) <= SMS_MAX);
        assert!(!text.contains("https"), "{text}");
        assert!(
            text.starts_with("École Sainte-Marie de Dixinn : Mamadou Saliou Diallo"),
            "{text}"
        );
        let very_long = "Thierno Mamadou Saliou Diallo ".repeat(8);
        let text = sms_text("École", &very_long, None);
        assert!(length(&text) <= SMS_MAX, "{}", length(&text));
        assert!(text.ends_with("..."));
        assert!(text.starts_with("Thierno Mamadou"));
    }
}
