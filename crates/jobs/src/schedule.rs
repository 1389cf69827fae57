//! The beat: the schedule of docs/SPEC.md §5 in `Africa/Conakry`. Each due occurrence becomes a job
//! row with the dedupe key `name:occurrence`, so any number of beats fire it once; an
//! occurrence missed while no beat ran is fired at start when younger than `BEAT_CATCHUP`.

use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use cron::Schedule;
use diesel_async::AsyncPgConnection;
use ecole_core::DomainResult;
use ecole_core::time::CONAKRY;
use serde_json::Value;

use crate::enqueue::{NewJob, enqueue_many};
use crate::payloads::{
    BackupDatabase, EnvoyerRappelsPaiement, GenererBulletinsPeriode, JobPayload,
    NotifierAbsencesQuotidiennes, PurgerDonnees, RappelsEmpruntsRetard,
};

/// One line of the schedule.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    /// `cron` expression with seconds first (`sec min hour day month weekday`).
    pub cron: String,
    pub schedule: Schedule,
    pub payload: Value,
    pub description: String,
}

impl Entry {
    pub fn new(name: &str, cron: &str, description: &str) -> Result<Self, String> {
        let schedule = Schedule::from_str(cron)
            .map_err(|e| format!("expression cron « {cron} » invalide : {e}"))?;
        Ok(Entry {
            name: name.to_string(),
            cron: cron.to_string(),
            schedule,
            payload: Value::Object(Default::default()),
            description: description.to_string(),
        })
    }

    /// `NAME=CRON` (the beat's `--entry`, for tests and one-off schedules).
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (name, cron) = spec
            .split_once('=')
            .ok_or_else(|| format!("« {spec} » : NOM=EXPRESSION_CRON attendu"))?;
        Entry::new(name.trim(), cron.trim(), "entrée personnalisée")
    }

    /// Occurrences in `(after, until]`, in Conakry time.
    pub fn occurrences(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
        let start: DateTime<Tz> = after.with_timezone(&CONAKRY);
        self.schedule
            .after(&start)
            .map(|t| t.with_timezone(&Utc))
            .take_while(|t| *t <= until)
            .take(10_000)
            .collect()
    }

    /// The next `n` occurrences after `now`, in Conakry time.
    pub fn upcoming(&self, now: DateTime<Utc>, n: usize) -> Vec<DateTime<Tz>> {
        self.schedule
            .after(&now.with_timezone(&CONAKRY))
            .take(n)
            .collect()
    }

    pub fn dedupe_key(&self, occurrence: DateTime<Utc>) -> String {
        format!(
            "{}:{}",
            self.name,
            occurrence.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }
}

/// docs/SPEC.md §5: 09:00 payment reminders, 17:00 absences, 02:00 backup, 08:00 library reminders,
/// the 15th at 00:00 the bulletins of ended periods that have none; and 03:30 the purge of
/// expired rows (after the backup, which keeps them one more retention period).
pub fn default_schedule() -> Vec<Entry> {
    let entries = [
        (
            EnvoyerRappelsPaiement::NAME,
            "0 0 9 * * *",
            "rappels de paiement quotidiens",
        ),
        (
            NotifierAbsencesQuotidiennes::NAME,
            "0 0 17 * * *",
            "notification des absences du jour",
        ),
        (
            BackupDatabase::NAME,
            "0 0 2 * * *",
            "sauvegarde de la base de données",
        ),
        (
            RappelsEmpruntsRetard::NAME,
            "0 0 8 * * *",
            "rappels des emprunts en retard",
        ),
        (
            PurgerDonnees::NAME,
            "0 30 3 * * *",
            "purge des données expirées (jobs, notifications lues, sessions, clés d'idempotence)",
        ),
        (
            GenererBulletinsPeriode::NAME,
            "0 0 0 15 * *",
            "bulletins des périodes terminées de l'année active qui n'en ont pas",
        ),
    ];
    entries
        .iter()
        .filter_map(|(name, cron, description)| Entry::new(name, cron, description).ok())
        .collect()
}

/// Inserts one job per occurrence in `(after, until]` of every entry; returns how many were
/// new (an occurrence another beat already fired is skipped by its dedupe key).
pub async fn fire_due(
    conn: &mut AsyncPgConnection,
    entries: &[Entry],
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> DomainResult<usize> {
    let mut batch = Vec::new();
    for entry in entries {
        for occurrence in entry.occurrences(after, until) {
            batch.push(
                NewJob::named(&entry.name, entry.payload.clone())
                    .dedupe(entry.dedupe_key(occurrence))
                    .run_after(occurrence),
            );
        }
    }
    Ok(enqueue_many(conn, &batch).await?.len())
}

/// When the next occurrence of any entry falls after `now`.
pub fn next_due(entries: &[Entry], now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    entries
        .iter()
        .filter_map(|e| e.upcoming(now, 1).into_iter().next())
        .map(|t| t.with_timezone(&Utc))
        .min()
}

/// Runs the beat until `shutdown`: fires what fell due since the last pass (at start: since
/// `now − catchup`), then sleeps until the next occurrence. Its heartbeat file goes to
/// `heartbeat_dir`.
pub async fn run_beat(
    pool: ecole_db::Pool,
    entries: Vec<Entry>,
    catchup: std::time::Duration,
    name: String,
    heartbeat_dir: std::path::PathBuf,
    shutdown: tokio_util::sync::CancellationToken,
) {
    let heartbeat = crate::worker::spawn_process_heartbeat(
        pool.clone(),
        name.clone(),
        "beat",
        heartbeat_dir,
        shutdown.clone(),
    );
    let catchup = chrono::Duration::from_std(catchup).unwrap_or(chrono::Duration::hours(1));
    let mut last = Utc::now() - catchup;
    tracing::info!(beat.name = %name, beat.entries = entries.len(), "beat démarré");
    loop {
        let now = Utc::now();
        let fired = match pool.get().await {
            Ok(mut conn) => fire_due(&mut conn, &entries, last, now).await,
            Err(e) => Err(e.into()),
        };
        match fired {
            Ok(n) => {
                if n > 0 {
                    tracing::info!(jobs.created = n, "occurrences planifiées déclenchées");
                }
                last = now;
            }
            Err(e) => tracing::warn!(error.cause = %e, "beat : base indisponible, nouvel essai"),
        }
        let next = next_due(&entries, last).unwrap_or(now + chrono::Duration::seconds(60));
        let wait = (next - Utc::now()).to_std().unwrap_or_default().clamp(
            std::time::Duration::from_millis(5),
            std::time::Duration::from_secs(30),
        ) + std::time::Duration::from_millis(2);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = tokio::time::sleep(wait) => {}
        }
    }
    crate::worker::stop_heartbeat(heartbeat).await;
    tracing::info!("beat arrêté");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn default_schedule_loads_in_conakry_time() {
        let entries = default_schedule();
        assert_eq!(entries.len(), 6);
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 10, 0, 0).unwrap();
        let reminders = entries
            .iter()
            .find(|e| e.name == "finances.envoyer_rappels_paiement")
            .unwrap();
        let next: Vec<String> = reminders
            .upcoming(now, 3)
            .iter()
            .map(|t| t.to_rfc3339())
            .collect();
        assert_eq!(
            next,
            [
                "2026-11-27T09:00:00+00:00",
                "2026-11-28T09:00:00+00:00",
                "2026-11-29T09:00:00+00:00"
            ]
        );
        let bulletins = entries
            .iter()
            .find(|e| e.name == "pedagogie.generer_bulletins_periode")
            .unwrap();
        assert_eq!(
            bulletins.upcoming(now, 1)[0].to_rfc3339(),
            "2026-12-15T00:00:00+00:00"
        );
        let purge = entries
            .iter()
            .find(|e| e.name == "core.purger_donnees")
            .unwrap();
        assert_eq!(
            purge.upcoming(now, 1)[0].to_rfc3339(),
            "2026-11-27T03:30:00+00:00"
        );
    }

    #[test]
    fn occurrences_are_half_open_and_keyed() {
        let e = Entry::parse("core.debug=*/10 * * * * *").unwrap();
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let b = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 30).unwrap();
        let occ = e.occurrences(a, b);
        assert_eq!(occ.len(), 3); // :10, :20, :30 — not :00
        assert_eq!(e.dedupe_key(occ[0]), "core.debug:2026-01-01T00:00:10Z");
        assert!(Entry::parse("sans-egal").is_err());
        assert!(Entry::parse("x=pas une expression").is_err());
    }
}
