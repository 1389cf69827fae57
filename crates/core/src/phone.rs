//! Phone numbers, stored in E.164 (`+224621000000`).

/// Normalises a phone number to E.164. Accepts spaces, dots, dashes and parentheses, the
/// `00` international prefix, and Guinea's local 9-digit mobile form (`621 00 00 00`).
pub fn normalize_phone(raw: &str) -> Result<String, String> {
    let cleaned: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')' | '\u{a0}'))
        .collect();
    let candidate = if let Some(rest) = cleaned.strip_prefix("00") {
        format!("+{rest}")
    } else if cleaned.len() == 9
        && cleaned.starts_with(['6', '3'])
        && cleaned.chars().all(|c| c.is_ascii_digit())
    {
        format!("+224{cleaned}")
    } else {
        cleaned
    };
    let digits = candidate.strip_prefix('+').unwrap_or("");
    let valid = !digits.is_empty()
        && digits.chars().all(|c| c.is_ascii_digit())
        && !digits.starts_with('0')
        && (8..=15).contains(&digits.len());
    if !valid {
        return Err(format!(
            "« {raw} » n'est pas un numéro de téléphone valide (format international attendu, ex. +224621000000)."
        ));
    }
    if digits.starts_with("224") && digits.len() != 12 {
        return Err(format!(
            "« {raw} » : un numéro guinéen compte 9 chiffres après +224."
        ));
    }
    Ok(candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_forms() {
        assert_eq!(normalize_phone("+224621000000").unwrap(), "+224621000000");
        assert_eq!(normalize_phone("621 00 00 00").unwrap(), "+224621000000");
        assert_eq!(
            normalize_phone("00224 621-00-00-00").unwrap(),
            "+224621000000"
        );
        assert_eq!(
            normalize_phone("+33 6 12 34 56 78").unwrap(),
            "+33612345678"
        );
    }

    #[test]
    fn refused_forms() {
        for bad in [
            "",
            "abc",
            "+0123456789",
            "12345",
            "+22462100000",
            "+2246210000000",
            "+1234567890123456",
        ] {
            assert!(normalize_phone(bad).is_err(), "{bad}");
        }
    }
}
