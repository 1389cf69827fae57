//! The report-card rules of SPEC §3, as pure functions over exact rationals: nothing is
//! rounded until a value is stored (half-up, 2 decimals), ranks are computed on the stored
//! (rounded) averages with competition ranking (1, 2, 2, 4).
//!
//! The caller loads a class's grades in a constant number of queries and hands them here.

use std::collections::{BTreeMap, HashMap};

use bigdecimal::BigDecimal;
use num_bigint::BigInt;
use num_rational::BigRational;
use num_traits::{One, Signed, Zero};

use ecole_db::enums::{Sexe, TypeNote};

/// The school's rules (defaults of SPEC §3, editable by ADMIN).
#[derive(Debug, Clone, PartialEq)]
pub struct Regles {
    pub poids_cours: u32,
    pub poids_composition: u32,
    /// `(threshold, mention)`, highest first; below the last: `mention_defaut`.
    pub mentions: Vec<(BigDecimal, String)>,
    pub mention_defaut: String,
    pub tableau_honneur: BigDecimal,
    pub seuil_admission: BigDecimal,
}

fn dec(s: &str) -> BigDecimal {
    s.parse().unwrap_or_default()
}

impl Default for Regles {
    fn default() -> Self {
        Regles {
            poids_cours: 1,
            poids_composition: 2,
            mentions: vec![
                (dec("18"), "Excellent".into()),
                (dec("16"), "Très bien".into()),
                (dec("14"), "Bien".into()),
                (dec("12"), "Assez bien".into()),
                (dec("10"), "Passable".into()),
                (dec("8"), "Insuffisant".into()),
            ],
            mention_defaut: "Faible".into(),
            tableau_honneur: dec("12"),
            seuil_admission: dec("10"),
        }
    }
}

impl Regles {
    pub fn mention(&self, moyenne: &BigDecimal) -> String {
        self.mentions
            .iter()
            .find(|(seuil, _)| moyenne >= seuil)
            .map(|(_, m)| m.clone())
            .unwrap_or_else(|| self.mention_defaut.clone())
    }
}

/// One grade: its type and its value on its scale.
#[derive(Debug, Clone)]
pub struct NoteBrute {
    pub matiere: i64,
    pub type_note: TypeNote,
    pub valeur: BigDecimal,
    pub sur: BigDecimal,
}

#[derive(Debug, Clone)]
pub struct EleveNotes {
    pub eleve: i64,
    pub sexe: Sexe,
    pub notes: Vec<NoteBrute>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LigneCalculee {
    pub matiere: i64,
    pub coefficient: i32,
    /// /20, stored value; `None`: no grade (non classé).
    pub moyenne: Option<BigDecimal>,
    pub points: Option<BigDecimal>,
    pub rang: Option<u32>,
    pub ex_aequo: bool,
    pub moyenne_classe: Option<BigDecimal>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BulletinCalcule {
    pub eleve: i64,
    pub moyenne_generale: Option<BigDecimal>,
    pub rang: Option<u32>,
    pub ex_aequo: bool,
    pub mention: Option<String>,
    pub tableau_honneur: bool,
    pub lignes: Vec<LigneCalculee>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResultatClasse {
    pub bulletins: Vec<BulletinCalcule>,
    /// Pupils ranked (with at least one grade).
    pub effectif: u32,
    pub moyenne_classe: Option<BigDecimal>,
    pub moyenne_max: Option<BigDecimal>,
    pub moyenne_min: Option<BigDecimal>,
}

pub fn to_rational(d: &BigDecimal) -> BigRational {
    let (int, scale) = d.as_bigint_and_exponent();
    if scale >= 0 {
        BigRational::new(int, BigInt::from(10).pow(scale as u32))
    } else {
        BigRational::from_integer(int * BigInt::from(10).pow((-scale) as u32))
    }
}

/// Rounds half-up (away from zero at .5) to 2 decimals, exactly.
pub fn round2(r: &BigRational) -> BigDecimal {
    let hundred = BigRational::from_integer(BigInt::from(100));
    let scaled = r * &hundred;
    let half = BigRational::new(BigInt::one(), BigInt::from(2));
    let rounded = if scaled.is_negative() {
        (scaled - half).ceil()
    } else {
        (scaled + half).floor()
    };
    BigDecimal::new(rounded.to_integer(), 2)
}

fn mean(values: &[BigRational]) -> Option<BigRational> {
    if values.is_empty() {
        return None;
    }
    let sum: BigRational = values.iter().fold(BigRational::zero(), |a, b| a + b);
    Some(sum / BigRational::from_integer(BigInt::from(values.len())))
}

/// A rank and whether it is shared.
pub type Rang = (Option<u32>, bool);

/// Competition ranks (1, 2, 2, 4) of `values` (higher is better); `None` values are unranked.
/// Returns (rank, ex aequo) per index.
pub fn competition_ranks(values: &[Option<BigDecimal>]) -> Vec<Rang> {
    let mut counts: BTreeMap<&BigDecimal, u32> = BTreeMap::new();
    for v in values.iter().flatten() {
        *counts.entry(v).or_default() += 1;
    }
    values
        .iter()
        .map(|v| match v {
            None => (None, false),
            Some(v) => {
                let better: u32 = counts
                    .range::<&BigDecimal, _>((
                        std::ops::Bound::Excluded(v),
                        std::ops::Bound::Unbounded,
                    ))
                    .map(|(_, c)| *c)
                    .sum();
                (Some(better + 1), counts.get(v).copied().unwrap_or(0) > 1)
            }
        })
        .collect()
}

/// The subject average (exact), per SPEC §3.1–2.
fn moyenne_matiere(regles: &Regles, notes: &[&NoteBrute]) -> Option<BigRational> {
    let twenty = BigRational::from_integer(BigInt::from(20));
    let sur20 = |n: &&NoteBrute| to_rational(&n.valeur) * &twenty / to_rational(&n.sur);
    let cours: Vec<BigRational> = notes
        .iter()
        .filter(|n| n.type_note != TypeNote::Composition)
        .map(sur20)
        .collect();
    let compo: Vec<BigRational> = notes
        .iter()
        .filter(|n| n.type_note == TypeNote::Composition)
        .map(sur20)
        .collect();
    match (mean(&cours), mean(&compo)) {
        (Some(c), Some(k)) => {
            let (wc, wk) = (
                BigInt::from(regles.poids_cours),
                BigInt::from(regles.poids_composition),
            );
            Some(
                (c * BigRational::from_integer(wc.clone())
                    + k * BigRational::from_integer(wk.clone()))
                    / BigRational::from_integer(wc + wk),
            )
        }
        (Some(c), None) => Some(c),
        (None, Some(k)) => Some(k),
        (None, None) => None,
    }
}

/// Computes a whole class: `matieres` are the class's subjects with their coefficient (the
/// class's override already applied).
pub fn calculer_classe(
    regles: &Regles,
    matieres: &[(i64, i32)],
    eleves: &[EleveNotes],
) -> ResultatClasse {
    // Exact subject averages, then stored (rounded) values.
    let mut exact: Vec<HashMap<i64, BigRational>> = Vec::with_capacity(eleves.len());
    for e in eleves {
        let mut by_subject: HashMap<i64, Vec<&NoteBrute>> = HashMap::new();
        for n in &e.notes {
            by_subject.entry(n.matiere).or_default().push(n);
        }
        exact.push(
            matieres
                .iter()
                .filter_map(|(m, _)| {
                    by_subject
                        .get(m)
                        .and_then(|ns| moyenne_matiere(regles, ns))
                        .map(|avg| (*m, avg))
                })
                .collect(),
        );
    }
    // General averages from exact subject averages.
    let generales: Vec<Option<BigDecimal>> = exact
        .iter()
        .map(|avgs| {
            let mut num = BigRational::zero();
            let mut den = BigInt::zero();
            for (m, coef) in matieres {
                if let Some(avg) = avgs.get(m) {
                    num += avg * BigRational::from_integer(BigInt::from(*coef));
                    den += BigInt::from(*coef);
                }
            }
            (!den.is_zero()).then(|| round2(&(num / BigRational::from_integer(den))))
        })
        .collect();
    let ranks = competition_ranks(&generales);
    // Subject ranks and class subject averages on stored values.
    let mut subject_stats: HashMap<i64, (Vec<Rang>, Option<BigDecimal>)> = HashMap::new();
    for (m, _) in matieres {
        let stored: Vec<Option<BigDecimal>> = exact.iter().map(|a| a.get(m).map(round2)).collect();
        let present: Vec<BigRational> = stored.iter().flatten().map(to_rational).collect();
        subject_stats.insert(
            *m,
            (
                competition_ranks(&stored),
                mean(&present).map(|r| round2(&r)),
            ),
        );
    }
    let ranked: Vec<BigRational> = generales.iter().flatten().map(to_rational).collect();
    let bulletins = eleves
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let lignes = matieres
                .iter()
                .map(|(m, coef)| {
                    let moyenne = exact[i].get(m).map(round2);
                    let (ranks, classe) = &subject_stats[m];
                    LigneCalculee {
                        matiere: *m,
                        coefficient: *coef,
                        points: moyenne.as_ref().map(|avg| avg * BigDecimal::from(*coef)),
                        moyenne,
                        rang: ranks[i].0,
                        ex_aequo: ranks[i].1,
                        moyenne_classe: classe.clone(),
                    }
                })
                .collect();
            let moyenne = generales[i].clone();
            BulletinCalcule {
                eleve: e.eleve,
                mention: moyenne.as_ref().map(|m| regles.mention(m)),
                tableau_honneur: moyenne
                    .as_ref()
                    .is_some_and(|m| m >= &regles.tableau_honneur),
                moyenne_generale: moyenne,
                rang: ranks[i].0,
                ex_aequo: ranks[i].1,
                lignes,
            }
        })
        .collect();
    ResultatClasse {
        bulletins,
        effectif: ranked.len() as u32,
        moyenne_classe: mean(&ranked).map(|r| round2(&r)),
        moyenne_max: generales.iter().flatten().max().cloned(),
        moyenne_min: generales.iter().flatten().min().cloned(),
    }
}

/// `1er`/`1ère`, `2ème`, `2ème ex` as printed on the report card.
pub fn rang_imprime(rang: u32, ex_aequo: bool, sexe: Sexe) -> String {
    let base = match (rang, sexe) {
        (1, Sexe::F) => "1ère".to_string(),
        (1, Sexe::M) => "1er".to_string(),
        (n, _) => format!("{n}ème"),
    };
    if ex_aequo { format!("{base} ex") } else { base }
}

/// The annual average (mean of the period averages, exact then rounded) and the decision.
pub fn annuel(regles: &Regles, periodes: &[BigDecimal]) -> Option<(BigDecimal, &'static str)> {
    let values: Vec<BigRational> = periodes.iter().map(to_rational).collect();
    let avg = round2(&mean(&values)?);
    let decision = if avg >= regles.seuil_admission {
        "Admis(e)"
    } else {
        "Redouble"
    };
    Some((avg, decision))
}

/// A stored /20 average shown on a class's scale (10 in primary).
pub fn sur_bareme(moyenne: &BigDecimal, bareme: i32) -> BigDecimal {
    round2(
        &(to_rational(moyenne) * BigRational::from_integer(BigInt::from(bareme))
            / BigRational::from_integer(BigInt::from(20))),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(matiere: i64, t: TypeNote, v: &str, sur: &str) -> NoteBrute {
        NoteBrute {
            matiere,
            type_note: t,
            valeur: dec(v),
            sur: dec(sur),
        }
    }

    fn pupil(id: i64, notes: Vec<NoteBrute>) -> EleveNotes {
        EleveNotes {
            eleve: id,
            sexe: if id % 2 == 0 { Sexe::F } else { Sexe::M },
            notes,
        }
    }

    #[test]
    fn course_and_composition_weights_and_missing_sides() {
        let r = Regles::default();
        // cours = (12 + 14) / 2 = 13 ; composition 10 ; (13 + 2×10) / 3 = 11
        let res = calculer_classe(
            &r,
            &[(1, 1)],
            &[pupil(
                1,
                vec![
                    n(1, TypeNote::Interrogation, "12", "20"),
                    n(1, TypeNote::Devoir, "14", "20"),
                    n(1, TypeNote::Composition, "10", "20"),
                ],
            )],
        );
        assert_eq!(res.bulletins[0].lignes[0].moyenne, Some(dec("11.00")));
        // Only composition.
        let res = calculer_classe(
            &r,
            &[(1, 1)],
            &[pupil(1, vec![n(1, TypeNote::Composition, "15", "20")])],
        );
        assert_eq!(res.bulletins[0].moyenne_generale, Some(dec("15.00")));
    }

    #[test]
    fn non_classe_subjects_are_left_out_and_coefficients_weigh() {
        let r = Regles::default();
        let res = calculer_classe(
            &r,
            &[(1, 4), (2, 2), (3, 1)],
            &[pupil(
                1,
                vec![
                    n(1, TypeNote::Devoir, "16", "20"),
                    n(2, TypeNote::Devoir, "10", "20"),
                ],
            )],
        );
        let b = &res.bulletins[0];
        // (16×4 + 10×2) / 6 = 14
        assert_eq!(b.moyenne_generale, Some(dec("14.00")));
        assert_eq!(b.lignes[2].moyenne, None);
        assert_eq!(b.lignes[2].rang, None);
        assert_eq!(b.lignes[0].points, Some(dec("64.00")));
        assert_eq!(b.mention.as_deref(), Some("Bien"));
        assert!(b.tableau_honneur);
    }

    #[test]
    fn competition_ranking_with_ex_aequo_on_rounded_averages() {
        let r = Regles::default();
        // 15, 13.333… → 13.33, 13.331 → 13.33 (tie after rounding), 12
        let res = calculer_classe(
            &r,
            &[(1, 1)],
            &[
                pupil(1, vec![n(1, TypeNote::Devoir, "15", "20")]),
                pupil(2, vec![n(1, TypeNote::Devoir, "40", "60")]),
                pupil(3, vec![n(1, TypeNote::Devoir, "13.331", "20")]),
                pupil(4, vec![n(1, TypeNote::Devoir, "12", "20")]),
                pupil(5, vec![]),
            ],
        );
        let ranks: Vec<(Option<u32>, bool)> =
            res.bulletins.iter().map(|b| (b.rang, b.ex_aequo)).collect();
        assert_eq!(
            ranks,
            [
                (Some(1), false),
                (Some(2), true),
                (Some(2), true),
                (Some(4), false),
                (None, false)
            ]
        );
        assert_eq!(res.effectif, 4);
        assert_eq!(res.moyenne_max, Some(dec("15.00")));
        assert_eq!(res.moyenne_min, Some(dec("12.00")));
        // (15 + 13.33 + 13.33 + 12) / 4 = 13.415 → 13.42 (half-up)
        assert_eq!(res.moyenne_classe, Some(dec("13.42")));
        assert_eq!(rang_imprime(2, true, Sexe::F), "2ème ex");
        assert_eq!(rang_imprime(1, false, Sexe::F), "1ère");
        assert_eq!(rang_imprime(1, false, Sexe::M), "1er");
    }

    #[test]
    fn half_up_at_xx5_and_no_intermediate_rounding() {
        assert_eq!(round2(&to_rational(&dec("12.345"))), dec("12.35"));
        assert_eq!(round2(&to_rational(&dec("12.344999"))), dec("12.34"));
        // 7/30 ×20 = 4.6666… ; 2/3 of the way: no rounding before the end.
        let r = Regles::default();
        let res = calculer_classe(
            &r,
            &[(1, 1)],
            &[pupil(
                1,
                vec![
                    n(1, TypeNote::Devoir, "7", "30"),
                    n(1, TypeNote::Devoir, "8", "10"),
                ],
            )],
        );
        // (4.6666… + 16) / 2 = 10.3333… → 10.33
        assert_eq!(res.bulletins[0].moyenne_generale, Some(dec("10.33")));
    }

    #[test]
    fn annual_average_decision_and_scale() {
        let r = Regles::default();
        assert_eq!(
            annuel(&r, &[dec("9.50"), dec("10.25"), dec("10.26")]),
            Some((dec("10.00"), "Admis(e)"))
        );
        assert_eq!(annuel(&r, &[dec("9.99")]), Some((dec("9.99"), "Redouble")));
        assert_eq!(annuel(&r, &[]), None);
        assert_eq!(sur_bareme(&dec("15.50"), 10), dec("7.75"));
        assert_eq!(sur_bareme(&dec("15.55"), 10), dec("7.78"));
        assert_eq!(r.mention(&dec("7.99")), "Faible");
        assert_eq!(r.mention(&dec("18")), "Excellent");
    }
}
