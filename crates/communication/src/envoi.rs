//! How a call to a provider (SMTP server, SMS API) can end, as far as delivery-once cares.

/// Why a message did not go out, sorted by what may be done next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ErreurEnvoi {
    /// Not sent; trying later may work (network down, 429, 5xx, 4xx SMTP reply).
    #[error("{0}")]
    Temporaire(String),
    /// Refused for good (bad address or number, 5xx SMTP reply, 4xx API answer).
    #[error("{0}")]
    Definitive(String),
    /// The message left and no answer came back: it may have been delivered, so it is not
    /// sent again automatically.
    #[error("{0}")]
    Incertaine(String),
}
