//! Users and authentication: argon2id passwords, short-lived JWT access tokens, rotating
//! refresh tokens grouped in revocable sessions, login throttling, the users service, and
//! phone changes confirmed by SMS.

pub mod model;
pub mod password;
pub mod repo;
pub mod service;
pub mod telephone;
pub mod throttle;
pub mod tokens;
pub mod validation;

pub use model::{NewUserInput, User, UserOut, UserUpdate};
pub use tokens::{AuthKeys, TokenPair};
