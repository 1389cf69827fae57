//! The job registry: every handler this version runs. Jobs without a handler end in
//! `ECHEC` « non implémentée ».

use ecole_jobs::Registry;
use ecole_jobs::payloads::{Debug, GenererBulletinsPeriode};
use ecole_jobs::runner::debug_handler;

/// Every job this version can run.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register::<Debug, _, _>(debug_handler());
    registry.register::<GenererBulletinsPeriode, _, _>(
        ecole_pedagogie::bulletins::travaux::generer_bulletins_periode,
    );
    ecole_communication::jobs::register(&mut registry);
    registry
}
