//! Times are stored in UTC and shown in `Africa/Conakry`.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

pub const CONAKRY: Tz = chrono_tz::Africa::Conakry;

pub fn now() -> DateTime<Utc> {
    Utc::now()
}

/// Today's date in Conakry.
pub fn today() -> NaiveDate {
    Utc::now().with_timezone(&CONAKRY).date_naive()
}

/// RFC 3339 with Conakry's offset, as the API shows datetimes.
pub fn to_conakry(dt: DateTime<Utc>) -> DateTime<Tz> {
    dt.with_timezone(&CONAKRY)
}

/// `26/11/2026 à 14:05`, as a person in Conakry reads it.
pub fn format_fr(dt: DateTime<Utc>) -> String {
    to_conakry(dt).format("%d/%m/%Y à %H:%M").to_string()
}

/// `1er mars 2012`, `26 novembre 2026`: a date in words, as printed on documents.
pub fn date_longue(d: NaiveDate) -> String {
    use chrono::Datelike;
    const MOIS: [&str; 12] = [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ];
    let jour = match d.day() {
        1 => "1er".to_string(),
        n => n.to_string(),
    };
    format!("{jour} {} {}", MOIS[d.month0() as usize], d.year())
}

/// Serde helpers: datetimes out in Conakry time (RFC 3339 with offset).
pub mod serde_conakry {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    pub fn serialize<S: Serializer>(dt: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::to_conakry(*dt).to_rfc3339_opts(SecondsFormat::Secs, false))
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            dt: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match dt {
                Some(dt) => super::serialize(dt, s),
                None => s.serialize_none(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn conakry_is_utc_without_dst() {
        let dt = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(to_conakry(dt).to_rfc3339(), "2026-07-01T12:00:00+00:00");
        assert_eq!(format_fr(dt), "01/07/2026 à 12:00");
    }

    #[test]
    fn dates_in_words() {
        let d = |y, m, j| NaiveDate::from_ymd_opt(y, m, j).unwrap_or_default();
        assert_eq!(date_longue(d(2012, 3, 1)), "1er mars 2012");
        assert_eq!(date_longue(d(2026, 11, 26)), "26 novembre 2026");
        assert_eq!(date_longue(d(2026, 8, 15)), "15 août 2026");
    }
}
