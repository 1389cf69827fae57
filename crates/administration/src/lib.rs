//! The school's structure: the school itself, school years and their periods, classes,
//! subjects, and who teaches what where. Read by everyone signed in; written by ADMIN and
//! DIRECTION (the school's identity by ADMIN).

pub mod annees;
pub mod classes;
pub mod enseignements;
pub mod etablissement;
pub mod matieres;
pub mod periodes;

use ecole_core::Role;

/// Who manages the structure.
pub const MANAGEMENT: &[Role] = &[Role::Admin, Role::Direction];
