//! Daily pedagogy: pupils, parents and teachers (each with their user account), grades and
//! attendance. Every read is scoped in SQL by [`ecole_core::scope::Scope`]: a parent sees
//! their children, a pupil themself, a teacher the classes they teach.

pub mod bulletins;
pub mod calcul;
pub mod eleves;
pub mod enseignants;
pub mod import;
pub mod notes;
pub mod parents;
pub mod presences;
mod profile;
pub mod regles;
pub mod tableur;

use ecole_core::Role;

pub use ecole_administration::MANAGEMENT;

/// Staff who read every pupil.
pub const PUPIL_READERS: &[Role] = &[
    Role::Admin,
    Role::Direction,
    Role::Comptable,
    Role::Enseignant,
];
