//! The report-card rules of docs/SPEC.md §3, as pure functions over exact rationals: nothing is
//! rounded until a value is stored (half-up, 2 decimals), ranks are computed on the stored
//! (rounded) averages with competition ranking (1, 2, 2, 4).
//!
//! A class graded on 10 (primary): averages are computed exactly on /20, the exact fraction is
//! brought to /10 and rounded once. That /10 value is the value of record: ranks, mentions and
//! honour roll (thresholds scaled to the bareme), class statistics, points. The /20 value is
//! kept beside it (rounded from the same exact fraction).
//!
//! Grades are `NUMERIC(5, 2)`: they arrive here as exact hundredths ("cents" of a point).
//! Each pupil's averages are computed as exact fractions of `i128` (checked: no silent
//! overflow) and, should a fraction ever outgrow it, again with arbitrary-precision integers —
//! one algorithm, two integer types, the same result. Everything after rounding (ranks,
//! class averages, points) is integer arithmetic on hundredths.
//!
//! The caller loads the grades in a constant number of queries and hands them here.

use bigdecimal::BigDecimal;
use num_bigint::BigInt;
use num_integer::Integer;
use num_rational::{BigRational, Ratio};
use num_traits::{CheckedAdd, CheckedDiv, CheckedMul, One, Signed, ToPrimitive, Zero};

use ecole_db::enums::{Sexe, TypeNote};

/// The school's rules (defaults of docs/SPEC.md §3, editable by ADMIN).
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

    /// The thresholds (given on /20) brought to `bareme`, in hundredths, for comparisons with
    /// stored averages on that bareme.
    pub fn seuils(&self, bareme: i32) -> Seuils<'_> {
        Seuils {
            mentions: self
                .mentions
                .iter()
                .map(|(seuil, m)| (plancher_centimes(seuil, bareme), m.as_str()))
                .collect(),
            defaut: &self.mention_defaut,
            tableau_honneur: plancher_centimes(&self.tableau_honneur, bareme),
        }
    }

    /// The admission threshold on `bareme`, in hundredths.
    pub fn seuil_admission(&self, bareme: i32) -> i64 {
        plancher_centimes(&self.seuil_admission, bareme)
    }
}

/// A threshold given on /20, brought exactly to `bareme`, as the least number of hundredths
/// that reaches it.
fn plancher_centimes(seuil: &BigDecimal, bareme: i32) -> i64 {
    let scaled = to_rational(seuil) * BigRational::from_integer(BigInt::from(100 * bareme))
        / BigRational::from_integer(BigInt::from(20));
    scaled.ceil().to_integer().to_i64().unwrap_or(i64::MAX)
}

/// [`Regles`]' thresholds in hundredths.
pub struct Seuils<'a> {
    mentions: Vec<(i64, &'a str)>,
    defaut: &'a str,
    tableau_honneur: i64,
}

impl Seuils<'_> {
    pub fn mention(&self, centimes: i64) -> &str {
        self.mentions
            .iter()
            .find(|(seuil, _)| centimes >= *seuil)
            .map(|(_, m)| *m)
            .unwrap_or(self.defaut)
    }

    pub fn tableau_honneur(&self, centimes: i64) -> bool {
        centimes >= self.tableau_honneur
    }
}

/// A stored value in hundredths as a decimal with 2 places (`1250` → `12.50`).
pub fn decimal(centimes: i64) -> BigDecimal {
    BigDecimal::new(BigInt::from(centimes), 2)
}

/// One grade: its subject, its type and its value on its scale, both in hundredths.
#[derive(Debug, Clone, Copy)]
pub struct NoteBrute {
    pub matiere: i64,
    pub type_note: TypeNote,
    pub valeur: i64,
    pub sur: i64,
}

#[derive(Debug, Clone)]
pub struct EleveNotes {
    pub eleve: i64,
    pub sexe: Sexe,
    pub notes: Vec<NoteBrute>,
    /// Excluded or transferred: averages computed, but no rank (general or per subject), no
    /// honour roll, and not counted in the class's effectif and statistics.
    pub hors_classement: bool,
}

/// A subject line; averages and points in hundredths (`1250` is 12.50), on the class's
/// bareme unless said otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct LigneCalculee {
    pub matiere: i64,
    pub coefficient: i32,
    /// The value of record; `None`: no grade (non classé).
    pub moyenne: Option<i64>,
    /// The same average on /20 (equal to `moyenne` on a class graded on 20).
    pub moyenne_sur_20: Option<i64>,
    pub points: Option<i64>,
    pub rang: Option<u32>,
    pub ex_aequo: bool,
    pub moyenne_classe: Option<i64>,
}

/// A pupil's bulletin; averages in hundredths, on the class's bareme.
#[derive(Debug, Clone, PartialEq)]
pub struct BulletinCalcule {
    pub eleve: i64,
    pub moyenne_generale: Option<i64>,
    /// The same average on /20.
    pub moyenne_generale_sur_20: Option<i64>,
    pub rang: Option<u32>,
    pub ex_aequo: bool,
    pub mention: Option<String>,
    pub tableau_honneur: bool,
    pub lignes: Vec<LigneCalculee>,
}

/// A class's bulletins and statistics; averages in hundredths, on `bareme`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultatClasse {
    pub bareme: i32,
    pub bulletins: Vec<BulletinCalcule>,
    /// Pupils ranked (with at least one grade, not excluded nor transferred).
    pub effectif: u32,
    pub moyenne_classe: Option<i64>,
    pub moyenne_max: Option<i64>,
    pub moyenne_min: Option<i64>,
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
pub fn competition_ranks(values: &[Option<i64>]) -> Vec<Rang> {
    let mut sorted: Vec<i64> = values.iter().flatten().copied().collect();
    sorted.sort_unstable();
    values
        .iter()
        .map(|v| match v {
            None => (None, false),
            Some(v) => {
                let below_or_equal = sorted.partition_point(|x| x <= v);
                let below = sorted.partition_point(|x| x < v);
                let better = sorted.len() - below_or_equal;
                (Some(better as u32 + 1), below_or_equal - below > 1)
            }
        })
        .collect()
}

/// The mean of stored values (hundredths), rounded half-up to a hundredth.
fn moyenne_centimes(values: impl Iterator<Item = i64>) -> Option<i64> {
    let (sum, n) = values.fold((0i128, 0i128), |(s, n), v| (s + v as i128, n + 1));
    // floor(sum / n + 1/2) for sum >= 0
    (n > 0).then(|| ((2 * sum + n).div_euclid(2 * n)) as i64)
}

/// Integers an exact average can be computed with: `i128` (checked) or `BigInt`.
trait Entier: Clone + Integer + CheckedAdd + CheckedMul + From<i64> + ToPrimitive {}
impl<T: Clone + Integer + CheckedAdd + CheckedMul + From<i64> + ToPrimitive> Entier for T {}

/// Grades of one side (course or composition) of a subject: per scale, sum and count.
#[derive(Default)]
struct Cote {
    /// `(sur, sum of valeur, count)`, hundredths.
    par_bareme: Vec<(i64, i64, i64)>,
    n: i64,
}

impl Cote {
    fn add(&mut self, valeur: i64, sur: i64) {
        self.n += 1;
        match self.par_bareme.iter_mut().find(|(s, _, _)| *s == sur) {
            Some(entry) => {
                entry.1 += valeur;
                entry.2 += 1;
            }
            None => self.par_bareme.push((sur, valeur, 1)),
        }
    }

    /// Mean of the grades brought to /20: Σ(20·valeur/sur) / n, exactly; `Some(None)`: no grade.
    fn moyenne<T: Entier>(&self) -> Option<Option<Ratio<T>>> {
        if self.n == 0 {
            return Some(None);
        }
        let mut sum = Ratio::<T>::zero();
        for (sur, total, _) in &self.par_bareme {
            let term = Ratio::new(T::from(20).checked_mul(&T::from(*total))?, T::from(*sur));
            sum = sum.checked_add(&term)?;
        }
        Some(Some(
            sum.checked_div(&Ratio::from_integer(T::from(self.n)))?,
        ))
    }
}

/// Half-up rounding of a non-negative fraction to hundredths: floor((200p + q) / 2q).
fn centimes<T: Entier>(r: &Ratio<T>) -> Option<i64> {
    let two = T::from(2);
    let num = T::from(200)
        .checked_mul(r.numer())?
        .checked_add(r.denom())?;
    let den = two.checked_mul(r.denom())?;
    num.div_floor(&den).to_i64()
}

/// A stored value: `(on the bareme, on /20)`, in hundredths.
type Arrondis = (i64, i64);

/// The exact /20 fraction `r` rounded once on `bareme` and once on /20.
fn arrondis<T: Entier>(r: &Ratio<T>, bareme: i32) -> Option<Arrondis> {
    let sur_20 = centimes(r)?;
    if bareme == 20 {
        return Some((sur_20, sur_20));
    }
    let converted = r
        .checked_mul(&Ratio::from_integer(T::from(i64::from(bareme))))?
        .checked_div(&Ratio::from_integer(T::from(20)))?;
    Some((centimes(&converted)?, sur_20))
}

/// One pupil's stored subject averages (aligned on `matieres`) and general average, from the
/// exact fractions; `None` when an `i128` fraction would overflow.
fn moyennes_eleve<T: Entier>(
    regles: &Regles,
    bareme: i32,
    matieres: &[(i64, i32)],
    cotes: &[(Cote, Cote)],
) -> Option<(Vec<Option<Arrondis>>, Option<Arrondis>)> {
    let (wc, wk) = (
        Ratio::from_integer(T::from(i64::from(regles.poids_cours))),
        Ratio::from_integer(T::from(i64::from(regles.poids_composition))),
    );
    let wsum = wc.checked_add(&wk)?;
    let mut stored = Vec::with_capacity(matieres.len());
    let mut num = Ratio::<T>::zero();
    let mut den: i64 = 0;
    for ((_, coef), (cours, compo)) in matieres.iter().zip(cotes) {
        let avg = match (cours.moyenne::<T>()?, compo.moyenne::<T>()?) {
            (Some(c), Some(k)) if !wsum.is_zero() => Some(
                c.checked_mul(&wc)?
                    .checked_add(&k.checked_mul(&wk)?)?
                    .checked_div(&wsum)?,
            ),
            (Some(c), Some(_)) => Some(c),
            (Some(c), None) => Some(c),
            (None, Some(k)) => Some(k),
            (None, None) => None,
        };
        match avg {
            Some(avg) => {
                stored.push(Some(arrondis(&avg, bareme)?));
                num = num.checked_add(
                    &avg.checked_mul(&Ratio::from_integer(T::from(i64::from(*coef))))?,
                )?;
                den += i64::from(*coef);
            }
            None => stored.push(None),
        }
    }
    let generale = if den > 0 {
        Some(arrondis(
            &num.checked_div(&Ratio::from_integer(T::from(den)))?,
            bareme,
        )?)
    } else {
        None
    };
    Some((stored, generale))
}

/// Computes a whole class graded on `bareme` (20, or 10): `matieres` are the class's subjects
/// with their coefficient (the class's override already applied).
pub fn calculer_classe(
    regles: &Regles,
    bareme: i32,
    matieres: &[(i64, i32)],
    eleves: &[EleveNotes],
) -> ResultatClasse {
    let seuils = regles.seuils(bareme);
    // Exact averages, stored (rounded) values.
    let mut subject_avgs: Vec<Vec<Option<Arrondis>>> = Vec::with_capacity(eleves.len());
    let mut generales_both: Vec<Option<Arrondis>> = Vec::with_capacity(eleves.len());
    for e in eleves {
        let mut cotes: Vec<(Cote, Cote)> = matieres.iter().map(|_| Default::default()).collect();
        for n in &e.notes {
            if n.sur <= 0 {
                continue; // impossible: CHECK (sur > 0)
            }
            if let Some(i) = matieres.iter().position(|(m, _)| *m == n.matiere) {
                let (cours, compo) = &mut cotes[i];
                match n.type_note {
                    TypeNote::Composition => compo.add(n.valeur, n.sur),
                    _ => cours.add(n.valeur, n.sur),
                }
            }
        }
        let (stored, generale) = moyennes_eleve::<i128>(regles, bareme, matieres, &cotes)
            .or_else(|| moyennes_eleve::<BigInt>(regles, bareme, matieres, &cotes))
            .unwrap_or_else(|| (vec![None; matieres.len()], None));
        subject_avgs.push(stored);
        generales_both.push(generale);
    }
    let generales: Vec<Option<i64>> = generales_both.iter().map(|g| g.map(|g| g.0)).collect();
    // What is ranked and counted: the averages of the pupils not excluded nor transferred.
    let ranked = |i: usize, v: Option<i64>| v.filter(|_| !eleves[i].hors_classement);
    let classees: Vec<Option<i64>> = (0..eleves.len()).map(|i| ranked(i, generales[i])).collect();
    let ranks = competition_ranks(&classees);
    // Subject ranks and class subject averages on stored values.
    let subject_stats: Vec<(Vec<Rang>, Option<i64>)> = (0..matieres.len())
        .map(|j| {
            let stored: Vec<Option<i64>> = subject_avgs
                .iter()
                .enumerate()
                .map(|(i, a)| ranked(i, a[j].map(|v| v.0)))
                .collect();
            let classe = moyenne_centimes(stored.iter().flatten().copied());
            (competition_ranks(&stored), classe)
        })
        .collect();
    let bulletins = eleves
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let lignes = matieres
                .iter()
                .enumerate()
                .map(|(j, (m, coef))| {
                    let moyenne = subject_avgs[i][j].map(|v| v.0);
                    let (ranks, classe) = &subject_stats[j];
                    LigneCalculee {
                        matiere: *m,
                        coefficient: *coef,
                        points: moyenne.map(|avg| avg * i64::from(*coef)),
                        moyenne,
                        moyenne_sur_20: subject_avgs[i][j].map(|v| v.1),
                        rang: ranks[i].0,
                        ex_aequo: ranks[i].1,
                        moyenne_classe: *classe,
                    }
                })
                .collect();
            let moyenne = generales[i];
            BulletinCalcule {
                eleve: e.eleve,
                mention: moyenne.map(|m| seuils.mention(m).to_string()),
                tableau_honneur: !e.hors_classement
                    && moyenne.is_some_and(|m| seuils.tableau_honneur(m)),
                moyenne_generale: moyenne,
                moyenne_generale_sur_20: generales_both[i].map(|g| g.1),
                rang: ranks[i].0,
                ex_aequo: ranks[i].1,
                lignes,
            }
        })
        .collect();
    ResultatClasse {
        bareme,
        bulletins,
        effectif: classees.iter().flatten().count() as u32,
        moyenne_classe: moyenne_centimes(classees.iter().flatten().copied()),
        moyenne_max: classees.iter().flatten().max().copied(),
        moyenne_min: classees.iter().flatten().min().copied(),
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

/// The annual average on `bareme`, in hundredths, from every period's stored average
/// `(hundredths, bareme of that bulletin)`: each brought exactly to `bareme`, their mean
/// rounded once; and whether it reaches the admission threshold (brought to the bareme).
pub fn annuel(regles: &Regles, bareme: i32, periodes: &[(i64, i32)]) -> Option<(i64, bool)> {
    if periodes.is_empty() || periodes.iter().any(|(_, b)| *b <= 0) {
        return None;
    }
    let values: Vec<BigRational> = periodes
        .iter()
        .map(|(v, b)| BigRational::new(BigInt::from(*v) * BigInt::from(bareme), BigInt::from(*b)))
        .collect();
    let avg = mean(&values)?;
    // Half-up: floor(avg + 1/2) for a non-negative average of hundredths.
    let centimes = (avg + BigRational::new(BigInt::one(), BigInt::from(2)))
        .floor()
        .to_integer()
        .to_i64()?;
    Some((centimes, centimes >= regles.seuil_admission(bareme)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(matiere: i64, t: TypeNote, v: &str, sur: &str) -> NoteBrute {
        NoteBrute {
            matiere,
            type_note: t,
            valeur: cents(v),
            sur: cents(sur),
        }
    }

    fn cents(s: &str) -> i64 {
        plancher_centimes(&dec(s), 20)
    }

    fn pupil(id: i64, notes: Vec<NoteBrute>) -> EleveNotes {
        EleveNotes {
            eleve: id,
            sexe: if id % 2 == 0 { Sexe::F } else { Sexe::M },
            notes,
            hors_classement: false,
        }
    }

    #[test]
    fn course_and_composition_weights_and_missing_sides() {
        let r = Regles::default();
        // cours = (12 + 14) / 2 = 13 ; composition 10 ; (13 + 2×10) / 3 = 11
        let res = calculer_classe(
            &r,
            20,
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
        assert_eq!(res.bulletins[0].lignes[0].moyenne, Some(1100));
        // Only composition.
        let res = calculer_classe(
            &r,
            20,
            &[(1, 1)],
            &[pupil(1, vec![n(1, TypeNote::Composition, "15", "20")])],
        );
        assert_eq!(res.bulletins[0].moyenne_generale, Some(1500));
    }

    #[test]
    fn non_classe_subjects_are_left_out_and_coefficients_weigh() {
        let r = Regles::default();
        let res = calculer_classe(
            &r,
            20,
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
        assert_eq!(b.moyenne_generale, Some(1400));
        assert_eq!(b.lignes[2].moyenne, None);
        assert_eq!(b.lignes[2].rang, None);
        assert_eq!(b.lignes[0].points, Some(6400));
        assert_eq!(b.mention.as_deref(), Some("Bien"));
        assert!(b.tableau_honneur);
    }

    #[test]
    fn competition_ranking_with_ex_aequo_on_rounded_averages() {
        let r = Regles::default();
        // 15, 13.333… → 13.33, 13.3333… → 13.33 (tie after rounding), 12
        let res = calculer_classe(
            &r,
            20,
            &[(1, 1)],
            &[
                pupil(1, vec![n(1, TypeNote::Devoir, "15", "20")]),
                pupil(2, vec![n(1, TypeNote::Devoir, "40", "60")]),
                pupil(
                    3,
                    vec![
                        n(1, TypeNote::Devoir, "13.33", "20"),
                        n(1, TypeNote::Devoir, "13.33", "20"),
                        n(1, TypeNote::Devoir, "13.34", "20"),
                    ],
                ),
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
        assert_eq!(res.moyenne_max, Some(1500));
        assert_eq!(res.moyenne_min, Some(1200));
        // (15 + 13.33 + 13.33 + 12) / 4 = 13.415 → 13.42 (half-up)
        assert_eq!(res.moyenne_classe, Some(1342));
        assert_eq!(rang_imprime(2, true, Sexe::F), "2ème ex");
        assert_eq!(rang_imprime(1, false, Sexe::F), "1ère");
        assert_eq!(rang_imprime(1, false, Sexe::M), "1er");
    }

    #[test]
    fn excluded_pupils_are_computed_but_neither_ranked_nor_counted() {
        let r = Regles::default();
        let mut exclu = pupil(2, vec![n(1, TypeNote::Devoir, "18", "20")]);
        exclu.hors_classement = true;
        let res = calculer_classe(
            &r,
            20,
            &[(1, 1)],
            &[
                pupil(1, vec![n(1, TypeNote::Devoir, "12", "20")]),
                exclu,
                pupil(3, vec![n(1, TypeNote::Devoir, "10", "20")]),
            ],
        );
        let b = &res.bulletins;
        assert_eq!(
            (b[1].moyenne_generale, b[1].rang, b[1].tableau_honneur),
            (Some(1800), None, false)
        );
        assert_eq!(b[1].mention.as_deref(), Some("Excellent"));
        assert_eq!(
            (b[1].lignes[0].rang, b[1].lignes[0].ex_aequo),
            (None, false)
        );
        assert_eq!((b[0].rang, b[2].rang), (Some(1), Some(2)));
        assert_eq!(res.effectif, 2);
        assert_eq!(
            (res.moyenne_max, res.moyenne_min, res.moyenne_classe),
            (Some(1200), Some(1000), Some(1100))
        );
        assert_eq!(b[0].lignes[0].moyenne_classe, Some(1100));
    }

    #[test]
    fn half_up_at_xx5_and_no_intermediate_rounding() {
        assert_eq!(round2(&to_rational(&dec("12.345"))), dec("12.35"));
        assert_eq!(round2(&to_rational(&dec("12.344999"))), dec("12.34"));
        // 7/30 ×20 = 4.6666… ; 2/3 of the way: no rounding before the end.
        let r = Regles::default();
        let res = calculer_classe(
            &r,
            20,
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
        assert_eq!(res.bulletins[0].moyenne_generale, Some(1033));
    }

    #[test]
    fn annual_average_decision_and_scale() {
        let r = Regles::default();
        // (9.50 + 10.25 + 10.26) / 3 = 10.0033… → 10.00
        assert_eq!(
            annuel(&r, 20, &[(950, 20), (1025, 20), (1026, 20)]),
            Some((1000, true))
        );
        assert_eq!(annuel(&r, 20, &[(999, 20)]), Some((999, false)));
        assert_eq!(annuel(&r, 20, &[]), None);
        // A period stored on /10 counts exactly: (7.78 × 2 + 15.55) / 2 = 15.555 → 15.56.
        assert_eq!(annuel(&r, 20, &[(778, 10), (1555, 20)]), Some((1556, true)));
        assert_eq!(r.mention(&dec("7.99")), "Faible");
        assert_eq!(r.seuils(20).mention(799), "Faible");
        assert_eq!(r.seuils(20).mention(800), "Insuffisant");
        assert!(r.seuils(20).tableau_honneur(1200) && !r.seuils(20).tableau_honneur(1199));
        assert_eq!(r.mention(&dec("18")), "Excellent");
    }

    #[test]
    fn bareme_10_rounds_once_from_the_exact_fraction() {
        let r = Regles::default();
        let res = calculer_classe(
            &r,
            10,
            &[(1, 1)],
            &[
                // 15.55 and 15.56 /20: 7.775 and 7.78 /10, both printed 7.78: tied.
                pupil(1, vec![n(1, TypeNote::Devoir, "15.55", "20")]),
                pupil(2, vec![n(1, TypeNote::Devoir, "15.56", "20")]),
                // 11.99 /20 → 5.995 → 6.00: « Assez bien » (12 halved), honour roll.
                pupil(3, vec![n(1, TypeNote::Devoir, "11.99", "20")]),
                // Exact 12.345 /20 → 6.1725 → 6.17 (rounding 12.35 first would give 6.18).
                pupil(
                    4,
                    vec![
                        n(1, TypeNote::Devoir, "12.34", "20"),
                        n(1, TypeNote::Devoir, "12.35", "20"),
                    ],
                ),
            ],
        );
        let b = &res.bulletins;
        assert_eq!(res.bareme, 10);
        assert_eq!(
            (b[0].moyenne_generale, b[0].moyenne_generale_sur_20),
            (Some(778), Some(1555))
        );
        assert_eq!(b[1].moyenne_generale, Some(778));
        assert_eq!((b[0].rang, b[0].ex_aequo), (Some(1), true));
        assert_eq!((b[1].rang, b[1].ex_aequo), (Some(1), true));
        assert_eq!(b[2].moyenne_generale, Some(600));
        assert_eq!(b[2].mention.as_deref(), Some("Assez bien"));
        assert!(b[2].tableau_honneur);
        assert_eq!(
            (b[3].moyenne_generale, b[3].moyenne_generale_sur_20),
            (Some(617), Some(1235))
        );
        assert_eq!(b[3].lignes[0].moyenne, Some(617));
        assert_eq!(b[3].lignes[0].points, Some(617));
        assert_eq!(res.moyenne_max, Some(778));
        // (7.78 + 7.78 + 6 + 6.17) / 4 = 6.9325 → 6.93
        assert_eq!(res.moyenne_classe, Some(693));
        // Annual on /10: admitted from 5 (10 halved).
        assert_eq!(
            annuel(&r, 10, &[(500, 10), (499, 10), (500, 10)]),
            Some((500, true))
        );
        assert_eq!(annuel(&r, 10, &[(499, 10)]), Some((499, false)));
        assert_eq!(r.seuils(10).mention(900), "Excellent");
        assert_eq!(r.seuils(10).mention(899), "Très bien");
        assert_eq!(r.seuils(10).mention(399), "Faible");
    }

    /// Random classes graded on 10: two pupils share a rank exactly when their printed
    /// averages are equal; the printed value is the exact /20 average halved and rounded
    /// once; mention and honour roll always agree with the printed value.
    #[test]
    fn property_bareme_10_ranks_and_mentions_follow_the_printed_value() {
        use rand::{Rng, SeedableRng};
        type Q = Ratio<i128>;
        let r = Regles::default();
        let mut rng = rand::rngs::StdRng::seed_from_u64(15);
        let mentions = [
            (1800, "Excellent"),
            (1600, "Très bien"),
            (1400, "Bien"),
            (1200, "Assez bien"),
            (1000, "Passable"),
            (800, "Insuffisant"),
        ];
        for _ in 0..300 {
            let n_matieres = rng.random_range(1..=4usize);
            let matieres: Vec<(i64, i32)> = (0..n_matieres)
                .map(|m| (m as i64 + 1, rng.random_range(1..=5)))
                .collect();
            let eleves: Vec<EleveNotes> = (0..rng.random_range(1..=30i64))
                .map(|e| {
                    let notes = (0..rng.random_range(0..=6))
                        .map(|_| NoteBrute {
                            matiere: rng.random_range(1..=n_matieres as i64),
                            type_note: [
                                TypeNote::Interrogation,
                                TypeNote::Devoir,
                                TypeNote::Composition,
                            ][rng.random_range(0..3)],
                            // Coarse values on /20 or /10: ties and .xx5 happen.
                            valeur: rng.random_range(0..=40) * 25,
                            sur: [1000, 2000][rng.random_range(0..2)],
                        })
                        .map(|mut n| {
                            n.valeur = n.valeur.min(n.sur);
                            n
                        })
                        .collect();
                    pupil(e, notes)
                })
                .collect();
            let res = calculer_classe(&r, 10, &matieres, &eleves);
            for (e, b) in eleves.iter().zip(&res.bulletins) {
                // The exact /20 general average, written out plainly.
                let mut num = Q::from_integer(0);
                let mut den = 0i128;
                for (m, coef) in &matieres {
                    let side = |compo: bool| -> Option<Q> {
                        let v: Vec<Q> = e
                            .notes
                            .iter()
                            .filter(|n| n.matiere == *m)
                            .filter(|n| (n.type_note == TypeNote::Composition) == compo)
                            .map(|n| Q::new(20 * i128::from(n.valeur), i128::from(n.sur)))
                            .collect();
                        (!v.is_empty()).then(|| {
                            v.iter().fold(Q::from_integer(0), |a, b| a + b)
                                / Q::from_integer(v.len() as i128)
                        })
                    };
                    let avg = match (side(false), side(true)) {
                        (Some(c), Some(k)) => Some((c + k * 2) / 3),
                        (c, k) => c.or(k),
                    };
                    if let Some(avg) = avg {
                        num += avg * i128::from(*coef);
                        den += i128::from(*coef);
                    }
                }
                let printed = (den > 0).then(|| {
                    let on_10 = num / den / 2;
                    (on_10 * 100 + Q::new(1, 2)).floor().to_integer() as i64
                });
                assert_eq!(b.moyenne_generale, printed);
                match b.moyenne_generale {
                    Some(p) => {
                        let expected = mentions
                            .iter()
                            .find(|(t, _)| 2 * p >= *t)
                            .map(|(_, m)| *m)
                            .unwrap_or("Faible");
                        assert_eq!(b.mention.as_deref(), Some(expected));
                        assert_eq!(b.tableau_honneur, 2 * p >= 1200);
                    }
                    None => assert!(b.mention.is_none() && !b.tableau_honneur && b.rang.is_none()),
                }
            }
            for (i, x) in res.bulletins.iter().enumerate() {
                for y in &res.bulletins[i + 1..] {
                    if x.rang.is_some() && y.rang.is_some() {
                        assert_eq!(
                            x.rang == y.rang,
                            x.moyenne_generale == y.moyenne_generale,
                            "{x:?} / {y:?}"
                        );
                    }
                }
                let shared = res
                    .bulletins
                    .iter()
                    .filter(|y| y.rang.is_some() && y.moyenne_generale == x.moyenne_generale)
                    .count();
                assert_eq!(x.ex_aequo, x.rang.is_some() && shared > 1);
            }
        }
    }

    #[test]
    fn i128_and_bigint_agree_and_overflow_falls_back() {
        use rand::{Rng, SeedableRng};
        let r = Regles::default();
        let matieres = [(1, 3), (2, 2), (3, 1)];
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for _ in 0..500 {
            let mut cotes: Vec<(Cote, Cote)> =
                matieres.iter().map(|_| Default::default()).collect();
            for (cours, compo) in cotes.iter_mut() {
                for _ in 0..rng.random_range(0..5) {
                    let sur = [1000, 2000, 4000, 3000, 700][rng.random_range(0..5)];
                    cours.add(rng.random_range(0..=sur), sur);
                }
                for _ in 0..rng.random_range(0..2) {
                    compo.add(rng.random_range(0..=2000), 2000);
                }
            }
            assert_eq!(
                moyennes_eleve::<i128>(&r, 20, &matieres, &cotes),
                moyennes_eleve::<BigInt>(&r, 20, &matieres, &cotes)
            );
        }
        // Pairwise coprime scales: the common denominator outgrows i128.
        let mut cours = Cote::default();
        let primes = [
            99991, 99989, 99971, 99961, 99929, 99923, 99907, 99901, 99881, 99877,
        ];
        for p in primes {
            cours.add(p / 2, p);
        }
        let cotes = vec![(cours, Cote::default())];
        assert_eq!(moyennes_eleve::<i128>(&r, 20, &[(1, 1)], &cotes), None);
        let big = moyennes_eleve::<BigInt>(&r, 20, &[(1, 1)], &cotes);
        // Each grade is just under 10/20.
        assert_eq!(big, Some((vec![Some((1000, 1000))], Some((1000, 1000)))));
        let res = calculer_classe(
            &r,
            20,
            &[(1, 1)],
            &[pupil(
                1,
                primes
                    .iter()
                    .map(|p| NoteBrute {
                        matiere: 1,
                        type_note: TypeNote::Devoir,
                        valeur: p / 2,
                        sur: *p,
                    })
                    .collect(),
            )],
        );
        assert_eq!(res.bulletins[0].moyenne_generale, Some(1000));
    }
}
