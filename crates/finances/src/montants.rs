//! Amounts in GNF as a person reads them: `1 500 000 GNF` (plain spaces between thousands) and
//! in words, `un million cinq cent mille francs guinéens` (traditional French spelling:
//! `vingt et un`, `quatre-vingts`, `deux cents` but `deux cent mille`, `mille` invariable,
//! `deux millions`, `un million de francs`).

/// The largest amount the application accepts anywhere (10¹⁵ GNF): totals never overflow.
pub const MONTANT_MAX: i64 = 1_000_000_000_000_000;

/// `1 500 000` (a plain space between groups of three digits; `-` for a negative amount).
pub fn format_nombre(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// `1 500 000 GNF`.
pub fn format_gnf(n: i64) -> String {
    format!("{} GNF", format_nombre(n))
}

const UNITES: [&str; 17] = [
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze",
    "douze", "treize", "quatorze", "quinze", "seize",
];
const DIZAINES: [&str; 7] = [
    "",
    "dix",
    "vingt",
    "trente",
    "quarante",
    "cinquante",
    "soixante",
];
/// 10³ⁿ for n ≥ 2, in the long scale French uses (a `billion` is 10¹²).
const GRANDS: [&str; 5] = ["million", "milliard", "billion", "billiard", "trillion"];

/// 1..=99. `final_` tells whether nothing follows but a noun (then `quatre-vingts`).
fn dizaines(n: u64, final_: bool) -> String {
    debug_assert!((1..100).contains(&n));
    let (d, u) = (n / 10, n % 10);
    match n {
        0..=16 => UNITES[n as usize].to_string(),
        17..=19 => format!("dix-{}", UNITES[u as usize]),
        20..=69 => match u {
            0 => DIZAINES[d as usize].to_string(),
            1 => format!("{} et un", DIZAINES[d as usize]),
            _ => format!("{}-{}", DIZAINES[d as usize], UNITES[u as usize]),
        },
        // 70–79: soixante-dix, soixante et onze, soixante-douze…
        70..=79 => match u {
            1 => "soixante et onze".to_string(),
            _ => format!("soixante-{}", dizaines(n - 60, false)),
        },
        80 if final_ => "quatre-vingts".to_string(),
        80 => "quatre-vingt".to_string(),
        // 81–99: quatre-vingt-un (no « et »), quatre-vingt-dix, quatre-vingt-onze…
        _ => format!("quatre-vingt-{}", dizaines(n - 80, false)),
    }
}

/// 1..=999. `final_`: nothing follows but a noun (`deux cents millions`, `quatre-vingts`);
/// false before `mille`, which is an adjective (`deux cent mille`, `quatre-vingt mille`).
fn centaines(n: u64, final_: bool) -> String {
    debug_assert!((1..1000).contains(&n));
    let (c, reste) = (n / 100, n % 100);
    let mut out = String::new();
    match c {
        0 => {}
        1 => out.push_str("cent"),
        _ => {
            out.push_str(UNITES[c as usize]);
            out.push_str(if reste == 0 && final_ {
                " cents"
            } else {
                " cent"
            });
        }
    }
    if reste > 0 {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&dizaines(reste, final_));
    }
    out
}

/// A whole number in French words: `zéro`, `vingt et un`, `deux cent mille`,
/// `un million cinq cent mille`, `moins trois`.
pub fn en_lettres(n: i64) -> String {
    if n == 0 {
        return UNITES[0].to_string();
    }
    let mut abs = n.unsigned_abs();
    // Groups of three digits, lowest first.
    let mut groupes = Vec::with_capacity(7);
    while abs > 0 {
        groupes.push(abs % 1000);
        abs /= 1000;
    }
    let mut mots: Vec<String> = Vec::new();
    if n < 0 {
        mots.push("moins".to_string());
    }
    for (rang, &g) in groupes.iter().enumerate().rev() {
        if g == 0 {
            continue;
        }
        match rang {
            0 => mots.push(centaines(g, true)),
            1 if g == 1 => mots.push("mille".to_string()),
            1 => mots.push(format!("{} mille", centaines(g, false))),
            _ => {
                let nom = GRANDS[rang - 2];
                let pluriel = if g > 1 { "s" } else { "" };
                mots.push(format!("{} {nom}{pluriel}", centaines(g, true)));
            }
        }
    }
    mots.join(" ")
}

/// An amount in words with its currency: `un million cinq cent mille francs guinéens`,
/// `un franc guinéen`, `deux millions de francs guinéens`.
pub fn gnf_en_lettres(n: i64) -> String {
    let nombre = en_lettres(n);
    let abs = n.unsigned_abs();
    let devise = if abs >= 2 {
        "francs guinéens"
    } else {
        "franc guinéen"
    };
    // « un million de francs », but « un million cinq cent mille francs ».
    if abs >= 1_000_000 && abs.is_multiple_of(1_000_000) {
        format!("{nombre} de {devise}")
    } else {
        format!("{nombre} {devise}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nombres_formates() {
        assert_eq!(format_gnf(1_500_000), "1 500 000 GNF");
        assert_eq!(format_gnf(0), "0 GNF");
        assert_eq!(format_gnf(999), "999 GNF");
        assert_eq!(format_gnf(1000), "1 000 GNF");
        assert_eq!(format_nombre(-12_345), "-12 345");
        assert_eq!(format_nombre(i64::MIN), "-9 223 372 036 854 775 808");
    }

    #[test]
    fn regles_du_francais() {
        for (n, attendu) in [
            (0, "zéro"),
            (1, "un"),
            (16, "seize"),
            (17, "dix-sept"),
            (21, "vingt et un"),
            (22, "vingt-deux"),
            (30, "trente"),
            (61, "soixante et un"),
            (70, "soixante-dix"),
            (71, "soixante et onze"),
            (72, "soixante-douze"),
            (77, "soixante-dix-sept"),
            (80, "quatre-vingts"),
            (81, "quatre-vingt-un"),
            (90, "quatre-vingt-dix"),
            (91, "quatre-vingt-onze"),
            (99, "quatre-vingt-dix-neuf"),
            (100, "cent"),
            (101, "cent un"),
            (180, "cent quatre-vingts"),
            (200, "deux cents"),
            (201, "deux cent un"),
            (280, "deux cent quatre-vingts"),
            (1000, "mille"),
            (1001, "mille un"),
            (2000, "deux mille"),
            (21_000, "vingt et un mille"),
            (80_000, "quatre-vingt mille"),
            (81_000, "quatre-vingt-un mille"),
            (100_000, "cent mille"),
            (200_000, "deux cent mille"),
            (280_000, "deux cent quatre-vingt mille"),
            (1_000_000, "un million"),
            (1_500_000, "un million cinq cent mille"),
            (2_000_000, "deux millions"),
            (80_000_000, "quatre-vingts millions"),
            (200_000_000, "deux cents millions"),
            (1_000_000_000, "un milliard"),
            (3_000_000_001, "trois milliards un"),
            (1_000_000_000_000, "un billion"),
            (-3, "moins trois"),
        ] {
            assert_eq!(en_lettres(n), attendu, "{n}");
        }
        assert_eq!(
            en_lettres(i64::MAX),
            "neuf trillions deux cent vingt-trois billiards trois cent soixante-douze billions \
             trente-six milliards huit cent cinquante-quatre millions sept cent soixante-quinze \
             mille huit cent sept"
        );
        assert!(en_lettres(i64::MIN).starts_with("moins neuf trillions"));
    }

    #[test]
    fn montants_en_gnf() {
        assert_eq!(
            gnf_en_lettres(1_500_000),
            "un million cinq cent mille francs guinéens"
        );
        assert_eq!(gnf_en_lettres(1), "un franc guinéen");
        assert_eq!(gnf_en_lettres(0), "zéro franc guinéen");
        assert_eq!(gnf_en_lettres(2), "deux francs guinéens");
        assert_eq!(gnf_en_lettres(1_000_000), "un million de francs guinéens");
        assert_eq!(
            gnf_en_lettres(3_000_000_000),
            "trois milliards de francs guinéens"
        );
        assert_eq!(
            gnf_en_lettres(250_000),
            "deux cent cinquante mille francs guinéens"
        );
    }

    /// Every number up to 12 000, every thousand up to 2 000 000 and random ones up to 10¹⁵
    /// read as num2words (an independent implementation, traditional spelling) reads them.
    #[test]
    fn comme_num2words() {
        use num2words::{Lang, Num2Words};
        use rand::{Rng, SeedableRng};
        let reference = |n: i64| {
            Num2Words::new(n)
                .lang(Lang::French)
                .to_words()
                .unwrap_or_default()
        };
        let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
        let aleatoires: Vec<i64> = (0..8_000)
            .map(|i| rng.random_range(0..10_i64.pow(4 + (i % 12))))
            .collect();
        let milliers = (0..=2_000).map(|k| k * 1000);
        for n in (0..=12_000).chain(milliers).chain(aleatoires) {
            assert_eq!(en_lettres(n), reference(n), "{n}");
        }
    }
}
