//! Exact decimals for grades: parsed from JSON numbers, shown as JSON numbers, rounded
//! half-up only when stored.

use std::str::FromStr;

pub use bigdecimal::BigDecimal;
use bigdecimal::{RoundingMode, ToPrimitive};
use serde::Serializer;

/// A JSON number (at most `scale` decimals) as an exact decimal.
pub fn from_json_number(value: f64, scale: i64) -> Result<BigDecimal, String> {
    if !value.is_finite() {
        return Err("Nombre invalide.".into());
    }
    // `{}` prints the shortest representation that reads back as the same f64: 12.35 → "12.35".
    let d = BigDecimal::from_str(&format!("{value}")).map_err(|e| e.to_string())?;
    if d.fractional_digit_count() > scale {
        return Err(format!("Au plus {scale} décimales."));
    }
    Ok(d.with_scale(scale))
}

/// Rounds half-up (`12.345` → `12.35`).
pub fn round_half_up(d: &BigDecimal, scale: i64) -> BigDecimal {
    d.with_scale_round(scale, RoundingMode::HalfUp)
}

/// Serialises a decimal as a JSON number.
pub fn serialize_number<S: Serializer>(d: &BigDecimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.to_f64().unwrap_or(f64::NAN))
}

/// Serialises an optional decimal as a JSON number or `null`.
pub fn serialize_option_number<S: Serializer>(
    d: &Option<BigDecimal>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => serialize_number(d, s),
        None => s.serialize_none(),
    }
}

/// `fr` format with two decimals: `12,50`.
pub fn format_fr(d: &BigDecimal) -> String {
    use bigdecimal::num_bigint::Sign;
    let (cents, _) = round_half_up(d, 2).with_scale(2).as_bigint_and_exponent();
    let sign = if cents.sign() == Sign::Minus { "-" } else { "" };
    let cents = cents.magnitude();
    let hundred = bigdecimal::num_bigint::BigUint::from(100u32);
    format!("{sign}{},{:02}", cents / &hundred, cents % &hundred)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_round() {
        assert_eq!(from_json_number(15.5, 2).unwrap().to_string(), "15.50");
        assert_eq!(from_json_number(12.35, 2).unwrap().to_string(), "12.35");
        assert!(from_json_number(12.345, 2).is_err());
        assert_eq!(
            round_half_up(&BigDecimal::from_str("12.345").unwrap(), 2).to_string(),
            "12.35"
        );
        assert_eq!(
            round_half_up(&BigDecimal::from_str("12.344999").unwrap(), 2).to_string(),
            "12.34"
        );
        assert_eq!(format_fr(&BigDecimal::from_str("12.5").unwrap()), "12,50");
        assert_eq!(format_fr(&BigDecimal::from(0)), "0,00");
        assert_eq!(format_fr(&BigDecimal::from_str("-3.456").unwrap()), "-3,46");
        assert_eq!(format_fr(&BigDecimal::from_str("0.05").unwrap()), "0,05");
    }
}
