//! The figures of one `make bench` run and `bench/REPORT.md`, generated from them.
//!
//! Every section (the shell's wrk runs and this binary's subcommands) appends its figures to
//! the tab-separated file named by `BENCH_FIGURES`: section, measure, value, unit, comparison
//! (`>=`, `<`, `<=` or empty) and threshold. `ecole-bench rapport` turns that file and the run's
//! `pgbench -S` ceiling into the report: each figure beside its target and that ceiling.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context, bail};

/// A figure's target.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cible {
    AuMoins(f64),
    Moins(f64),
    AuPlus(f64),
    Aucune,
}

impl Cible {
    fn parts(self) -> (&'static str, f64) {
        match self {
            Cible::AuMoins(v) => (">=", v),
            Cible::Moins(v) => ("<", v),
            Cible::AuPlus(v) => ("<=", v),
            Cible::Aucune => ("", 0.0),
        }
    }

    fn parse(op: &str, seuil: &str) -> anyhow::Result<Self> {
        let v = || -> anyhow::Result<f64> {
            seuil
                .parse::<f64>()
                .with_context(|| format!("seuil « {seuil} »"))
        };
        Ok(match op {
            ">=" => Cible::AuMoins(v()?),
            "<" => Cible::Moins(v()?),
            "<=" => Cible::AuPlus(v()?),
            "" => Cible::Aucune,
            other => bail!("comparaison inconnue « {other} »"),
        })
    }

    fn atteinte(self, valeur: f64) -> Option<bool> {
        match self {
            Cible::AuMoins(v) => Some(valeur >= v),
            Cible::Moins(v) => Some(valeur < v),
            Cible::AuPlus(v) => Some(valeur <= v),
            Cible::Aucune => None,
        }
    }
}

/// Appends one figure to `BENCH_FIGURES` (nothing when it is unset: a subcommand run by hand).
pub fn figure(section: &str, mesure: &str, valeur: f64, unite: &str, cible: Cible) {
    let Ok(path) = std::env::var("BENCH_FIGURES") else {
        return;
    };
    let (op, seuil) = cible.parts();
    let clean = |s: &str| s.replace(['\t', '\n'], " ");
    let line = format!(
        "{}\t{}\t{valeur}\t{}\t{op}\t{seuil}\n",
        clean(section),
        clean(mesure),
        clean(unite)
    );
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("figures : écriture dans {path} impossible : {e}");
    }
}

#[derive(Debug, Clone, PartialEq)]
struct Figure {
    section: String,
    mesure: String,
    valeur: f64,
    unite: String,
    cible: Cible,
}

fn lire(text: &str) -> anyhow::Result<Vec<Figure>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let cols: Vec<&str> = l.split('\t').collect();
            let [section, mesure, valeur, unite, op, seuil] = cols[..] else {
                bail!("ligne {} : 6 colonnes attendues, {}", i + 1, cols.len());
            };
            Ok(Figure {
                section: section.to_string(),
                mesure: mesure.to_string(),
                valeur: valeur
                    .parse()
                    .with_context(|| format!("ligne {} : valeur « {valeur} »", i + 1))?,
                unite: unite.to_string(),
                cible: Cible::parse(op, seuil).with_context(|| format!("ligne {}", i + 1))?,
            })
        })
        .collect()
}

/// French number format: thin groups of thousands, a decimal comma.
fn nombre(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let decimals = if v.abs() >= 100.0 || v.fract() == 0.0 {
        0
    } else if v.abs() >= 10.0 {
        1
    } else {
        2
    };
    let s = format!("{:.*}", decimals, v.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, ""));
    let mut grouped = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(c);
    }
    let sign = if v < 0.0 { "-" } else { "" };
    if frac.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped},{frac}")
    }
}

fn objectif(c: Cible, unite: &str) -> String {
    match c {
        Cible::AuMoins(v) => format!("≥ {} {unite}", nombre(v)),
        Cible::Moins(v) => format!("< {} {unite}", nombre(v)),
        Cible::AuPlus(v) => format!("≤ {} {unite}", nombre(v)),
        Cible::Aucune => "—".into(),
    }
}

/// The run's ceiling: pgbench select-only, prepared, at the benchmark's concurrency.
#[derive(Debug, Clone, Copy)]
pub struct Plafond {
    pub tps: f64,
    pub latence_ms: f64,
}

/// A figure beside the ceiling: a rate as a share of pgbench's TPS, a latency as a multiple
/// of pgbench's mean latency at the same concurrency.
fn rapport_au_plafond(f: &Figure, p: Plafond) -> String {
    if f.unite.ends_with("/s") && p.tps > 0.0 {
        format!(
            "{} % de {} TPS",
            nombre(100.0 * f.valeur / p.tps),
            nombre(p.tps)
        )
    } else if f.unite == "ms" && p.latence_ms > 0.0 {
        format!(
            "{} × {} ms",
            nombre(f.valeur / p.latence_ms),
            nombre(p.latence_ms)
        )
    } else {
        "—".into()
    }
}

pub struct Contexte {
    pub titre_sections: Vec<(String, String)>,
    pub entete: Vec<String>,
    pub debut: Plafond,
    pub fin: Option<Plafond>,
}

/// Builds the report from the figures file.
pub fn rapport(figures: &Path, ctx: &Contexte) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(figures)
        .with_context(|| format!("lecture de {}", figures.display()))?;
    let figures = lire(&text)?;
    Ok(rendre(&figures, ctx))
}

fn rendre(figures: &[Figure], ctx: &Contexte) -> String {
    let mut out = String::new();
    let mut sections: Vec<&str> = Vec::new();
    for f in figures {
        if !sections.contains(&f.section.as_str()) {
            sections.push(&f.section);
        }
    }
    let verdicts: Vec<Option<bool>> = figures.iter().map(|f| f.cible.atteinte(f.valeur)).collect();
    let avec_cible = verdicts.iter().filter(|v| v.is_some()).count();
    let atteintes = verdicts.iter().filter(|v| **v == Some(true)).count();
    let _ = writeln!(out, "# Rapport de performance d'École");
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "Généré par `make bench` (`scripts/bench.sh`, puis `ecole-bench rapport`) : ne pas modifier \
         à la main, relancer la mesure. Le compte rendu détaillé de chaque section suit en annexe."
    );
    let _ = writeln!(out);
    for line in &ctx.entete {
        let _ = writeln!(out, "- {line}");
    }
    let fin = ctx
        .fin
        .map(|p| {
            format!(
                " ; en fin de passage : {} TPS, {} ms",
                nombre(p.tps),
                nombre(p.latence_ms)
            )
        })
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "- Plafond de la machine, même passage (`pgbench -S -M prepared`, une lecture indexée par \
         transaction, mêmes connexions que wrk) : **{} TPS**, latence moyenne {} ms{fin}. \
         Colonne « plafond » : un débit en % de ces TPS, une latence en multiple de cette latence.",
        nombre(ctx.debut.tps),
        nombre(ctx.debut.latence_ms)
    );
    let _ = writeln!(
        out,
        "- Objectifs atteints : **{atteintes} sur {avec_cible}** ({} mesures en tout).",
        figures.len()
    );
    let _ = writeln!(out);
    let manques: Vec<&Figure> = figures
        .iter()
        .zip(&verdicts)
        .filter(|(_, v)| **v == Some(false))
        .map(|(f, _)| f)
        .collect();
    if !manques.is_empty() {
        let _ = writeln!(out, "## Hors objectif");
        let _ = writeln!(out);
        for f in manques {
            let _ = writeln!(
                out,
                "- {} — {} : {} {} (objectif {})",
                f.section,
                f.mesure,
                nombre(f.valeur),
                f.unite,
                objectif(f.cible, &f.unite)
            );
        }
        let _ = writeln!(out);
    }
    for section in sections {
        let titre = ctx
            .titre_sections
            .iter()
            .find(|(k, _)| k == section)
            .map(|(_, t)| t.as_str())
            .unwrap_or(section);
        let _ = writeln!(out, "## {titre}");
        let _ = writeln!(out);
        let _ = writeln!(out, "| mesure | valeur | objectif | atteint | plafond |");
        let _ = writeln!(out, "|---|---:|---|:---:|---|");
        for (f, v) in figures.iter().zip(&verdicts) {
            if f.section != section {
                continue;
            }
            let verdict = match v {
                Some(true) => "oui",
                Some(false) => "**non**",
                None => "",
            };
            let _ = writeln!(
                out,
                "| {} | {} {} | {} | {verdict} | {} |",
                f.mesure,
                nombre(f.valeur),
                f.unite,
                objectif(f.cible, &f.unite),
                rapport_au_plafond(f, ctx.debut)
            );
        }
        let _ = writeln!(out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_round_trip_and_targets_are_judged() {
        let text = "jobs\tdébit\t2500.5\tjobs/s\t>=\t2000\n\
                    jobs\tp99\t120\tms\t<\t100\n\
                    jobs\tinsertion\t0.4\ts\t\t0\n";
        let figures = lire(text).unwrap();
        assert_eq!(figures.len(), 3);
        assert_eq!(figures[0].cible, Cible::AuMoins(2000.0));
        assert_eq!(figures[0].cible.atteinte(figures[0].valeur), Some(true));
        assert_eq!(figures[1].cible.atteinte(figures[1].valeur), Some(false));
        assert_eq!(figures[2].cible.atteinte(0.4), None);
        let ctx = Contexte {
            titre_sections: vec![("jobs".into(), "#3 Jobs".into())],
            entete: vec!["machine".into()],
            debut: Plafond {
                tps: 10_000.0,
                latence_ms: 2.0,
            },
            fin: None,
        };
        let report = rendre(&figures, &ctx);
        assert!(report.contains("## #3 Jobs"), "{report}");
        assert!(report.contains("atteints : **1 sur 2**"), "{report}");
        assert!(report.contains("25,0 % de 10\u{202f}000 TPS"), "{report}");
        assert!(report.contains("60 × 2 ms"), "{report}");
        assert!(report.contains("## Hors objectif"), "{report}");
        assert!(lire("a\tb\tx\tms\t<\t1\n").is_err());
        assert!(lire("a\tb\t1\tms\t>\t1\n").is_err());
    }

    #[test]
    fn french_numbers() {
        assert_eq!(nombre(17_234.4), "17\u{202f}234");
        assert_eq!(nombre(3.456), "3,46");
        assert_eq!(nombre(42.26), "42,3");
        assert_eq!(nombre(0.0), "0");
        assert_eq!(nombre(f64::NAN), "—");
    }
}
