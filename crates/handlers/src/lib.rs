//! The job registry: every handler this version runs. Jobs without a handler end in
//! `ECHEC` « non implémentée ».

use ecole_jobs::Registry;
use ecole_jobs::payloads::{
    BackupDatabase, Debug, EnvoyerRappelsPaiement, GenererBulletinPdf, GenererBulletinsPeriode,
    GenererFacturePdf, GenererFactures, GenererRecuPdf, PurgerDonnees, RappelsEmpruntsRetard,
};
use ecole_jobs::runner::debug_handler;

/// Every job this version can run.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register::<Debug, _, _>(debug_handler());
    registry.register::<BackupDatabase, _, _>(ecole_operations::travaux::backup_database);
    registry.register::<PurgerDonnees, _, _>(ecole_operations::purge::purger_donnees);
    registry.register::<GenererBulletinsPeriode, _, _>(
        ecole_pedagogie::bulletins::travaux::generer_bulletins_periode,
    );
    registry.register::<GenererBulletinPdf, _, _>(
        ecole_pedagogie::bulletins::document::generer_bulletin_pdf,
    );
    ecole_communication::jobs::register(&mut registry);
    registry
        .register::<GenererFacturePdf, _, _>(ecole_finances::documents::generer_facture_pdf)
        .register::<GenererRecuPdf, _, _>(ecole_finances::documents::generer_recu_pdf)
        .register::<GenererFactures, _, _>(ecole_finances::generation::generer_factures)
        .register::<EnvoyerRappelsPaiement, _, _>(ecole_finances::rappels::envoyer_rappels_paiement)
        .register::<RappelsEmpruntsRetard, _, _>(
            ecole_bibliotheque::rappels::rappels_emprunts_retard,
        );
    registry
}

/// What `ecole-worker` and `ecole worker` run: every job of [`registry`] until SIGTERM.
pub async fn run_worker() -> anyhow::Result<()> {
    ecole_jobs::process::worker_process(registry()).await
}
