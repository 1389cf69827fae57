//! Field rules of a user, with French messages.

use ecole_core::FieldErrors;
use ecole_core::phone::normalize_phone;
use validator::ValidateEmail;

pub const PASSWORD_MIN_LEN: usize = 10;
pub const PASSWORD_MAX_LEN: usize = 256;

/// Django's username rule: letters, digits and `@ . + - _`, at most 150 characters.
pub fn check_username(username: &str, errors: &mut FieldErrors) {
    let u = username.trim();
    if u.is_empty() {
        errors.add("username", "Ce champ ne peut pas être vide.");
    } else if u.chars().count() > 150 {
        errors.add("username", "Au plus 150 caractères.");
    } else if !u
        .chars()
        .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
    {
        errors.add(
            "username",
            "Le nom d'utilisateur ne peut contenir que des lettres, des chiffres et les caractères @ . + - _.",
        );
    }
}

/// Trims and checks an email; `Ok(None)` for an empty one.
pub fn clean_email(raw: Option<&str>, errors: &mut FieldErrors) -> Option<String> {
    let email = raw.map(str::trim).filter(|e| !e.is_empty())?;
    if email.len() > 254 || !email.validate_email() {
        errors.add("email", "Saisissez une adresse e-mail valide.");
        return None;
    }
    Some(email.to_string())
}

pub fn clean_phone(raw: Option<&str>, errors: &mut FieldErrors) -> Option<String> {
    let phone = raw.map(str::trim).filter(|p| !p.is_empty())?;
    match normalize_phone(phone) {
        Ok(p) => Some(p),
        Err(message) => {
            errors.add("telephone", message);
            None
        }
    }
}

pub fn check_name(field: &str, value: &str, errors: &mut FieldErrors) {
    if value.chars().count() > 150 {
        errors.add(field, "Au plus 150 caractères.");
    }
}

/// The password policy: at least 10 characters, not the username, not only digits.
pub fn check_password(field: &str, password: &str, username: &str, errors: &mut FieldErrors) {
    let len = password.chars().count();
    if len < PASSWORD_MIN_LEN {
        errors.add(
            field,
            format!("Ce mot de passe est trop court. Il doit contenir au moins {PASSWORD_MIN_LEN} caractères."),
        );
    }
    if len > PASSWORD_MAX_LEN {
        errors.add(field, format!("Au plus {PASSWORD_MAX_LEN} caractères."));
    }
    if !username.is_empty() && password.trim().eq_ignore_ascii_case(username.trim()) {
        errors.add(field, "Le mot de passe est identique au nom d'utilisateur.");
    }
    if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
        errors.add(field, "Ce mot de passe est entièrement numérique.");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy() {
        let mut e = FieldErrors::new();
        check_password("password", "court", "u", &mut e);
        assert!(!e.is_empty());
        let mut e = FieldErrors::new();
        check_password("password", "mamadou.diallo", "Mamadou.Diallo", &mut e);
        assert!(!e.is_empty());
        let mut e = FieldErrors::new();
        check_password("password", "12345678901", "u", &mut e);
        assert!(!e.is_empty());
        let mut e = FieldErrors::new();
        check_password("password", "Kindia-2026-ok", "u", &mut e);
        assert!(e.is_empty());
    }

    #[test]
    fn usernames_and_emails() {
        let mut e = FieldErrors::new();
        check_username("mamadou.diallo", &mut e);
        check_username("fatoumata_camara2", &mut e);
        assert!(e.is_empty());
        check_username("avec espace", &mut e);
        assert!(!e.is_empty());
        let mut e = FieldErrors::new();
        assert_eq!(
            clean_email(Some(" a@b.gn "), &mut e).as_deref(),
            Some("a@b.gn")
        );
        assert_eq!(clean_email(Some(""), &mut e), None);
        assert!(e.is_empty());
        clean_email(Some("pas-une-adresse"), &mut e);
        assert!(!e.is_empty());
    }
}
