//! The job registry: every handler this version runs. Jobs without a handler end in
//! `ECHEC` « non implémentée ».

use ecole_jobs::Registry;
use ecole_jobs::payloads::Debug;
use ecole_jobs::runner::debug_handler;

/// Every job this version can run.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register::<Debug, _, _>(debug_handler());
    ecole_communication::jobs::register(&mut registry);
    registry
}
