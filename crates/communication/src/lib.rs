//! Communication: notifications, e-mail and SMS.
//!
//! - [`notifier`] is what every other domain calls, inside its own transaction: it inserts
//!   the notifications in one statement and asks for their e-mail and SMS jobs in the same
//!   transaction (nothing is sent for a rolled-back change).
//! - Delivery ([`livraison`]) sends each e-mail (lettre, SMTP) and SMS ([`sms`]: console or
//!   the Orange API) at most once: the send is claimed in the database before the provider
//!   is called, and an interrupted send becomes `INCERTAIN` instead of going out twice.
//! - SMS are GSM-7, one segment ([`gsm7`]), and wait out the quiet hours ([`horaires`]).
//! - The absence alerts ([`absences`]): the immediate SMS and the 17:00 round-up, one
//!   message per parent.
//! - The code of a phone change ([`code_telephone`]), sent to the new number.

pub mod absences;
pub mod code_telephone;
pub mod email;
pub mod envoi;
pub mod gsm7;
pub mod horaires;
pub mod jobs;
pub mod livraison;
pub mod model;
pub mod service;
pub mod sms;

pub use ecole_db::enums::{StatutEnvoi, TypeNotification};
pub use model::{Compte, NotificationOut};
pub use service::{
    NotificationFilter, NouvelleNotification, destinataires_eleves, notifier, parents_eleves,
};
