//! Typed payloads, each carrying the seed's task name.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// A job's arguments and its (seed) name.
pub trait JobPayload: Serialize + DeserializeOwned {
    const NAME: &'static str;
}

macro_rules! payload {
    ($(#[$meta:meta])* $ty:ident = $name:literal { $($(#[$fmeta:meta])* $field:ident : $fty:ty),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $ty { $($(#[$fmeta])* pub $field: $fty),* }
        impl JobPayload for $ty {
            const NAME: &'static str = $name;
        }
    };
}

payload!(
    /// Proves the wiring (the seed's `debug_task`); options let operators and tests exercise
    /// the policy: a pause, failures, a child process.
    Debug = "core.debug" {
        #[serde(default)] message: Option<String>,
        #[serde(default)] sleep_ms: u64,
        /// Fails while the attempt number is at most this.
        #[serde(default)] fail_attempts: u32,
        /// Spawns `sleep N` as a child process and waits for it.
        #[serde(default)] child_sleep_seconds: u64,
        /// Records each run in Redis (`<prefix>:debug:<job id>`), for diagnostics and tests.
        #[serde(default)] trace: bool,
    }
);
payload!(BackupDatabase = "core.backup_database" {});
payload!(
    /// The beat's daily clean-up of rows nobody needs any more (finished jobs, old read
    /// notifications, dead sessions and refresh tokens, old idempotency keys), by batches.
    PurgerDonnees = "core.purger_donnees" {}
);
payload!(GenererBulletinPdf = "pedagogie.generer_bulletin_pdf" { bulletin_id: i64 });
payload!(
    /// Without arguments (the beat's monthly entry): every ended period of the active year
    /// that has no bulletins yet.
    GenererBulletinsPeriode = "pedagogie.generer_bulletins_periode" {
        #[serde(default)] periode: Option<String>,
        #[serde(default)] annee_scolaire_id: Option<i64>,
        #[serde(default)] classe_id: Option<i64>,
        #[serde(default)] force: bool,
    }
);
payload!(NotifierAbsencesQuotidiennes = "pedagogie.notifier_absences_quotidiennes" {});
payload!(GenererFacturePdf = "finances.generer_facture_pdf" { facture_id: i64 });
payload!(GenererRecuPdf = "finances.generer_recu_pdf" { paiement_id: i64 });
payload!(EnvoyerRappelsPaiement = "finances.envoyer_rappels_paiement" {});
payload!(
    /// The invoices of a level or a class from the year's fee schedule: one per pupil, never
    /// the same fee twice to a pupil (`factures/generer/`).
    GenererFactures = "finances.generer_factures" {
        annee_scolaire_id: i64,
        #[serde(default)] niveau: Option<String>,
        #[serde(default)] classe_id: Option<i64>,
        /// `AAAA-MM-JJ`; 30 days after the run when absent.
        #[serde(default)] date_echeance: Option<chrono::NaiveDate>,
        /// Issue them at once (numbers and PDFs); otherwise they stay drafts.
        #[serde(default)] emettre: bool,
    }
);
payload!(EnvoyerNotificationAbsence = "communication.envoyer_notification_absence" { presence_id: i64 });
payload!(EnvoyerEmailNotification = "communication.envoyer_email_notification" { notification_id: i64 });
payload!(EnvoyerSmsNotification = "communication.envoyer_sms_notification" { notification_id: i64 });
payload!(RappelsEmpruntsRetard = "bibliotheque.rappels_emprunts_retard" {});
payload!(
    /// Draws the code of a phone change (`users/me/telephone/`) and sends it by SMS to the new
    /// number; only the code's digest is stored.
    EnvoyerCodeTelephone = "users.envoyer_code_telephone" { confirmation_id: i64 }
);

/// Every job name the system knows (handlers are registered as their domains land).
pub const KNOWN_JOBS: &[&str] = &[
    Debug::NAME,
    BackupDatabase::NAME,
    PurgerDonnees::NAME,
    GenererBulletinPdf::NAME,
    GenererBulletinsPeriode::NAME,
    NotifierAbsencesQuotidiennes::NAME,
    GenererFacturePdf::NAME,
    GenererRecuPdf::NAME,
    EnvoyerRappelsPaiement::NAME,
    GenererFactures::NAME,
    EnvoyerNotificationAbsence::NAME,
    EnvoyerEmailNotification::NAME,
    EnvoyerSmsNotification::NAME,
    RappelsEmpruntsRetard::NAME,
    EnvoyerCodeTelephone::NAME,
];
