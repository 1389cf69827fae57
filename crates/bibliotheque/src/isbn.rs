//! ISBN-10 and ISBN-13: checked by their check digit, stored as ISBN-13 digits.
//!
//! Hyphens and spaces are accepted (`978-2-07-036822-8`, `2 07 036822 X`); an ISBN-10 becomes
//! the ISBN-13 of the same book (`978` + its first nine digits + a new check digit).

/// Why a text is not an ISBN, in French.
pub type IsbnError = &'static str;

/// The digits (and a final `X`) of `raw`, without hyphens and spaces; `None` when another
/// character is present.
fn compact(raw: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(13);
    for c in raw.trim().chars() {
        match c {
            '0'..='9' => out.push(c as u8 - b'0'),
            'X' | 'x' => out.push(10),
            '-' | ' ' | '\u{2010}' | '\u{2011}' => {}
            _ => return None,
        }
    }
    Some(out)
}

/// The check digit (0–9) of the first twelve digits of an ISBN-13.
fn check13(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .take(12)
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether ten digits (the last may be 10, `X`) make a valid ISBN-10.
fn valid10(digits: &[u8]) -> bool {
    digits.len() == 10
        && digits[..9].iter().all(|d| *d <= 9)
        && digits
            .iter()
            .enumerate()
            .map(|(i, d)| (10 - i as u32) * u32::from(*d))
            .sum::<u32>()
            % 11
            == 0
}

fn to_text(digits: &[u8]) -> String {
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// The ISBN-13 (13 digits, no hyphen) of an ISBN-10 or ISBN-13, or why it is not one.
pub fn normaliser(raw: &str) -> Result<String, IsbnError> {
    let digits = compact(raw)
        .ok_or("ISBN invalide : seuls des chiffres, des tirets et un X final sont permis.")?;
    match digits.len() {
        10 => {
            if !valid10(&digits) {
                return Err("ISBN-10 invalide : la clé de contrôle ne correspond pas.");
            }
            let mut isbn13 = vec![9, 7, 8];
            isbn13.extend_from_slice(&digits[..9]);
            isbn13.push(check13(&isbn13));
            Ok(to_text(&isbn13))
        }
        13 => {
            if digits.iter().any(|d| *d > 9) {
                return Err("ISBN-13 invalide : treize chiffres attendus.");
            }
            if digits[..3] != [9, 7, 8] && digits[..3] != [9, 7, 9] {
                return Err("ISBN-13 invalide : il commence par 978 ou 979.");
            }
            if check13(&digits) != digits[12] {
                return Err("ISBN-13 invalide : la clé de contrôle ne correspond pas.");
            }
            Ok(to_text(&digits))
        }
        _ => Err("ISBN invalide : 10 ou 13 chiffres attendus (tirets permis)."),
    }
}

/// For a search term: the ISBN-13 when `term` is a valid ISBN, else its digits when it looks
/// like a piece of one (digits and hyphens only), else `None`.
pub fn terme_recherche(term: &str) -> Option<String> {
    if !term.chars().any(|c| c.is_ascii_digit())
        || !term
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | 'X' | 'x'))
    {
        return None;
    }
    if let Ok(isbn) = normaliser(term) {
        return Some(isbn);
    }
    let digits: String = term.chars().filter(char::is_ascii_digit).collect();
    Some(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isbn13_valid_with_or_without_hyphens() {
        assert_eq!(normaliser("9782070368228").as_deref(), Ok("9782070368228"));
        assert_eq!(
            normaliser("978-2-07-036822-8").as_deref(),
            Ok("9782070368228")
        );
        assert_eq!(
            normaliser(" 978 2 07 036822 8 ").as_deref(),
            Ok("9782070368228")
        );
        assert_eq!(
            normaliser("979-10-90636-07-1").as_deref(),
            Ok("9791090636071")
        );
    }

    #[test]
    fn isbn10_valid_becomes_isbn13() {
        assert_eq!(normaliser("2-266-16118-0").as_deref(), Ok("9782266161183"));
        // A check digit X; the same book as 978-2-07-036822-8.
        assert_eq!(normaliser("2-07-036822-X").as_deref(), Ok("9782070368228"));
        assert_eq!(normaliser("0-8044-2957-X").as_deref(), Ok("9780804429573"));
        assert_eq!(normaliser("080442957x").as_deref(), Ok("9780804429573"));
    }

    #[test]
    fn invalid_isbns_are_refused_with_a_reason() {
        assert!(normaliser("978-2-07-036822-9").unwrap_err().contains("clé"));
        assert!(normaliser("2-266-16118-6").unwrap_err().contains("clé"));
        assert!(normaliser("977-2-07-036822-8").unwrap_err().contains("978"));
        assert!(normaliser("12345").unwrap_err().contains("10 ou 13"));
        assert!(
            normaliser("97820703682281")
                .unwrap_err()
                .contains("10 ou 13")
        );
        assert!(normaliser("ISBN 978-2-07-036822-8").is_err());
        assert!(normaliser("978207036822X").is_err());
        assert!(normaliser("X-266-16118-6").is_err());
        assert!(normaliser("").is_err());
    }

    #[test]
    fn search_terms() {
        assert_eq!(
            terme_recherche("2-266-16118-0").as_deref(),
            Some("9782266161183")
        );
        assert_eq!(terme_recherche("978-2-266").as_deref(), Some("9782266"));
        assert_eq!(terme_recherche("hugo"), None);
        assert_eq!(terme_recherche("1984").as_deref(), Some("1984"));
        assert_eq!(terme_recherche("---"), None);
    }
}
