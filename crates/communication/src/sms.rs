//! SMS providers behind one trait: `console` (the log, for development) and `orange` (the
//! Orange SMS API: OAuth2 client credentials, then one POST per message). A rate limiter
//! shared by every worker (Redis) keeps to the provider's contract.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ecole_config::{Settings, SmsProviderKind};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::envoi::ErreurEnvoi;

pub type EnvoiFuture<'a> = Pin<Box<dyn Future<Output = Result<String, ErreurEnvoi>> + Send + 'a>>;

/// Sends one SMS; `Ok` carries the provider's message id.
pub trait SmsProvider: Send + Sync {
    /// The provider's name, for logs and results.
    fn name(&self) -> &'static str;
    /// `to` is E.164 (`+224…`); `text` is GSM-7 and fits one segment.
    fn send<'a>(&'a self, to: &'a str, text: &'a str) -> EnvoiFuture<'a>;
}

/// Development: the SMS goes to the log.
pub struct ConsoleSms;

impl SmsProvider for ConsoleSms {
    fn name(&self) -> &'static str {
        "console"
    }

    fn send<'a>(&'a self, to: &'a str, text: &'a str) -> EnvoiFuture<'a> {
        Box::pin(async move {
            tracing::info!(sms.to = %to, sms.len = text.chars().count(), "SMS (console) : {text}");
            Ok(format!("console-{}", uuid::Uuid::new_v4().simple()))
        })
    }
}

struct Token {
    value: String,
    expires_at: Instant,
}

/// The Orange SMS API (`/oauth/v3/token`, then
/// `POST /smsmessaging/v1/outbound/tel%3A%2B<sender>/requests`).
pub struct OrangeSms {
    client: reqwest::Client,
    base: String,
    client_id: String,
    client_secret: SecretString,
    sender: String,
    sender_name: Option<String>,
    /// The access token, shared by the worker's slots until it expires.
    token: Mutex<Option<Token>>,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<u64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OutboundRequest<'a> {
    address: String,
    sender_address: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sender_name: Option<&'a str>,
    #[serde(rename = "outboundSMSTextMessage")]
    outbound_sms_text_message: TextMessage<'a>,
}

#[derive(Serialize)]
struct TextMessage<'a> {
    message: &'a str,
}

#[derive(Serialize)]
struct OutboundBody<'a> {
    #[serde(rename = "outboundSMSMessageRequest")]
    request: OutboundRequest<'a>,
}

#[derive(Deserialize)]
struct OutboundAnswer {
    #[serde(rename = "outboundSMSMessageRequest")]
    request: Option<OutboundAnswerInner>,
}

#[derive(Deserialize)]
struct OutboundAnswerInner {
    #[serde(rename = "resourceURL")]
    resource_url: Option<String>,
}

/// What went wrong with a request, by whether it may have reached the provider.
fn transport_error(what: &str, e: &reqwest::Error) -> ErreurEnvoi {
    if e.is_connect() {
        ErreurEnvoi::Temporaire(format!("{what} : connexion impossible ({e})"))
    } else if e.is_builder() {
        ErreurEnvoi::Definitive(format!("{what} : requête invalide ({e})"))
    } else {
        ErreurEnvoi::Incertaine(format!("{what} : pas de réponse ({e})"))
    }
}

fn excerpt(body: &str) -> String {
    body.chars().take(300).collect()
}

enum Attempt {
    Sent(String),
    Unauthorized,
}

impl OrangeSms {
    pub fn new(settings: &Settings) -> Result<Self, String> {
        let sms = &settings.sms;
        let (Some(client_id), Some(client_secret), Some(sender)) = (
            sms.orange_client_id.clone(),
            sms.orange_client_secret.clone(),
            sms.orange_sender.clone(),
        ) else {
            return Err(
                "SMS_PROVIDER=orange demande ORANGE_CLIENT_ID, ORANGE_CLIENT_SECRET et ORANGE_SENDER"
                    .into(),
            );
        };
        let client = reqwest::Client::builder()
            .timeout(sms.timeout)
            .connect_timeout(Duration::from_secs(5).min(sms.timeout))
            .pool_max_idle_per_host(16)
            .build()
            .map_err(|e| format!("client HTTP : {e}"))?;
        Ok(OrangeSms {
            client,
            base: sms.orange_api_base.clone(),
            client_id,
            client_secret,
            sender,
            sender_name: sms.orange_sender_name.clone(),
            token: Mutex::new(None),
        })
    }

    /// A valid token: the cached one, or a new one (`stale`: the token the API just refused).
    async fn token(&self, stale: Option<&str>) -> Result<String, ErreurEnvoi> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.expires_at
            && stale != Some(t.value.as_str())
        {
            return Ok(t.value.clone());
        }
        let basic = STANDARD.encode(format!(
            "{}:{}",
            self.client_id,
            self.client_secret.expose_secret()
        ));
        let response = self
            .client
            .post(format!("{}/oauth/v3/token", self.base))
            .header(reqwest::header::AUTHORIZATION, format!("Basic {basic}"))
            .header(reqwest::header::ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body("grant_type=client_credentials")
            .send()
            .await
            .map_err(|e| match transport_error("jeton Orange", &e) {
                // No SMS was sent while asking for a token.
                ErreurEnvoi::Incertaine(m) => ErreurEnvoi::Temporaire(m),
                other => other,
            })?;
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        if !status.is_success() {
            return Err(ErreurEnvoi::Temporaire(format!(
                "jeton Orange refusé ({status}) : {}",
                excerpt(&body)
            )));
        }
        let parsed: TokenResponse = serde_json::from_str(&body).map_err(|e| {
            ErreurEnvoi::Temporaire(format!("jeton Orange : réponse illisible ({e})"))
        })?;
        let lifetime = parsed.expires_in.unwrap_or(3_600);
        // Renew a little before the API would refuse it.
        let margin = (lifetime / 10).min(60);
        *cached = Some(Token {
            value: parsed.access_token.clone(),
            expires_at: Instant::now() + Duration::from_secs(lifetime.saturating_sub(margin)),
        });
        tracing::debug!(orange.token_lifetime_s = lifetime, "jeton Orange obtenu");
        Ok(parsed.access_token)
    }

    async fn post(&self, token: &str, to: &str, text: &str) -> Result<Attempt, ErreurEnvoi> {
        let body = OutboundBody {
            request: OutboundRequest {
                address: format!("tel:{to}"),
                sender_address: format!("tel:+{}", self.sender),
                sender_name: self.sender_name.as_deref(),
                outbound_sms_text_message: TextMessage { message: text },
            },
        };
        let response = self
            .client
            .post(format!(
                "{}/smsmessaging/v1/outbound/tel%3A%2B{}/requests",
                self.base, self.sender
            ))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .map_err(|e| transport_error("SMS Orange", &e))?;
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(String::from);
        let text = response.text().await.unwrap_or_default();
        match status {
            200..=299 => {
                let url = serde_json::from_str::<OutboundAnswer>(&text)
                    .ok()
                    .and_then(|a| a.request)
                    .and_then(|r| r.resource_url)
                    .or(location)
                    .unwrap_or_default();
                let id = url.rsplit('/').next().unwrap_or_default().to_string();
                Ok(Attempt::Sent(if id.is_empty() { url } else { id }))
            }
            401 => Ok(Attempt::Unauthorized),
            429 => Err(ErreurEnvoi::Temporaire(
                "SMS Orange : limite de débit atteinte (429)".into(),
            )),
            500..=599 => Err(ErreurEnvoi::Temporaire(format!(
                "SMS Orange : erreur du service ({status}) : {}",
                excerpt(&text)
            ))),
            _ => Err(ErreurEnvoi::Definitive(format!(
                "SMS Orange : refusé ({status}) : {}",
                excerpt(&text)
            ))),
        }
    }
}

impl SmsProvider for OrangeSms {
    fn name(&self) -> &'static str {
        "orange"
    }

    fn send<'a>(&'a self, to: &'a str, text: &'a str) -> EnvoiFuture<'a> {
        Box::pin(async move {
            let token = self.token(None).await?;
            if let Attempt::Sent(id) = self.post(&token, to, text).await? {
                return Ok(id);
            }
            // 401: the token expired early or was revoked; one new token, one more try.
            let fresh = self.token(Some(&token)).await?;
            match self.post(&fresh, to, text).await? {
                Attempt::Sent(id) => Ok(id),
                Attempt::Unauthorized => Err(ErreurEnvoi::Temporaire(
                    "SMS Orange : jeton refusé deux fois (401)".into(),
                )),
            }
        })
    }
}

/// The provider chosen by `SMS_PROVIDER`.
pub fn provider(settings: &Settings) -> Result<Box<dyn SmsProvider>, String> {
    Ok(match settings.sms.provider {
        SmsProviderKind::Console => Box::new(ConsoleSms),
        SmsProviderKind::Orange => Box::new(OrangeSms::new(settings)?),
    })
}

/// At most `limit` SMS per second to the provider, counted in Redis across every worker
/// (a per-second window), or in this process when Redis is not available.
pub struct RateLimiter {
    limit: u32,
    redis: Option<redis::aio::ConnectionManager>,
    key_prefix: String,
    local: std::sync::Mutex<(u64, u32)>,
}

impl RateLimiter {
    pub fn new(
        limit: u32,
        redis: Option<redis::aio::ConnectionManager>,
        redis_prefix: &str,
    ) -> Self {
        RateLimiter {
            limit,
            redis,
            key_prefix: format!("{redis_prefix}:sms:debit"),
            local: std::sync::Mutex::new((0, 0)),
        }
    }

    fn now() -> (u64, Duration) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let second = now.as_secs();
        let to_next = Duration::from_secs(second + 1).saturating_sub(now);
        (second, to_next)
    }

    /// This second's count after taking one slot.
    async fn take(&self, second: u64) -> u32 {
        if let Some(mut redis) = self.redis.clone() {
            let key = format!("{}:{second}", self.key_prefix);
            let counted: Result<(u32,), _> = redis::pipe()
                .incr(&key, 1)
                .expire(&key, 5)
                .ignore()
                .query_async(&mut redis)
                .await;
            match counted {
                Ok((n,)) => return n,
                Err(e) => {
                    tracing::warn!(error.cause = %e, "limiteur SMS : Redis indisponible, comptage local")
                }
            }
        }
        let mut local = match self.local.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if local.0 != second {
            *local = (second, 0);
        }
        local.1 += 1;
        local.1
    }

    /// Waits for a slot.
    pub async fn acquire(&self) {
        if self.limit == 0 {
            return;
        }
        loop {
            let (second, to_next) = Self::now();
            if self.take(second).await <= self.limit {
                return;
            }
            tokio::time::sleep(to_next + Duration::from_millis(1)).await;
        }
    }
}
