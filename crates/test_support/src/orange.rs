//! A fake Orange SMS API on a loopback port: the OAuth2 token endpoint (Basic auth checked)
//! and the outbound SMS endpoint (Bearer token checked), recording every request, with
//! answers scripted on demand (401, 429, 503…).

use std::collections::{HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::Notify;

pub const CLIENT_ID: &str = "client-ecole";
pub const CLIENT_SECRET: &str = "secret-ecole-2026";
pub const SENDER: &str = "224620000000";

/// One request as the server received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: String,
    /// The raw path, percent-encoding kept (`/smsmessaging/v1/outbound/tel%3A%2B224…/requests`).
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The status answered.
    pub status: u16,
    /// When it arrived.
    pub at: std::time::SystemTime,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or(serde_json::Value::Null)
    }

    pub fn is_token(&self) -> bool {
        self.path == "/oauth/v3/token"
    }

    pub fn is_sms(&self) -> bool {
        self.path.starts_with("/smsmessaging/v1/outbound/")
    }
}

#[derive(Default)]
struct State {
    requests: Vec<Recorded>,
    tokens_issued: u32,
    valid: HashSet<String>,
    /// Statuses for the next SMS requests, before any other check.
    sms_script: VecDeque<u16>,
    token_lifetime: u64,
    sms_accepted: usize,
    /// Time taken to answer each SMS request (a slow provider).
    sms_delay: Duration,
    /// Every SMS request answers this status (a provider down for good).
    sms_always: Option<u16>,
}

/// The fake API; stopped on drop.
pub struct FakeOrange {
    pub base_url: String,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    handle: ServerHandle,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    match state.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

struct Shared {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    base_url: String,
}

async fn handle(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let path = req.uri().path().to_string();
    let method = req.method().to_string();
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_string()))
        .collect();
    let body = String::from_utf8_lossy(&body).into_owned();
    let at = std::time::SystemTime::now();
    let delay = lock(&shared.state).sms_delay;
    if !delay.is_zero() && path.starts_with("/smsmessaging/") {
        tokio::time::sleep(delay).await;
    }
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let (status, answer) = {
        let mut state = lock(&shared.state);
        let (status, answer) = if method == "POST" && path == "/oauth/v3/token" {
            let expected = format!(
                "Basic {}",
                STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
            );
            if auth != expected || body != "grant_type=client_credentials" {
                (401, serde_json::json!({ "error": "invalid_client" }))
            } else {
                state.tokens_issued += 1;
                let token = format!("jeton-{}", state.tokens_issued);
                state.valid.insert(token.clone());
                (
                    200,
                    serde_json::json!({
                        "token_type": "Bearer",
                        "access_token": token,
                        "expires_in": state.token_lifetime,
                    }),
                )
            }
        } else if method == "POST" && path.starts_with("/smsmessaging/v1/outbound/") {
            let token = auth.strip_prefix("Bearer ").unwrap_or("").to_string();
            let scripted = state.sms_always.or_else(|| state.sms_script.pop_front());
            match scripted {
                Some(401) => {
                    state.valid.remove(&token);
                    (
                        401,
                        serde_json::json!({ "code": 42, "message": "Expired credentials" }),
                    )
                }
                Some(status) => (
                    status,
                    serde_json::json!({ "requestError": { "serviceException": { "messageId": "SVC", "text": "scripté" } } }),
                ),
                None if !state.valid.contains(&token) => (
                    401,
                    serde_json::json!({ "code": 41, "message": "Invalid credentials" }),
                ),
                None => {
                    state.sms_accepted += 1;
                    let id = uuid::Uuid::new_v4().simple().to_string();
                    let mut request: serde_json::Value =
                        serde_json::from_str(&body).unwrap_or_default();
                    request["outboundSMSMessageRequest"]["resourceURL"] =
                        serde_json::Value::String(format!("{}{path}/{id}", shared.base_url));
                    (201, request)
                }
            }
        } else {
            (404, serde_json::json!({ "error": "introuvable" }))
        };
        state.requests.push(Recorded {
            method,
            path,
            headers,
            body,
            status,
            at,
        });
        (status, answer)
    };
    shared.notify.notify_waiters();
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR),
    )
    .json(answer)
}

impl FakeOrange {
    pub async fn start() -> FakeOrange {
        let listener = match std::net::TcpListener::bind("127.0.0.1:0") {
            Ok(l) => l,
            Err(e) => panic!("port local : {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let base_url = format!("http://127.0.0.1:{port}");
        let state = Arc::new(Mutex::new(State {
            token_lifetime: 3600,
            ..State::default()
        }));
        let notify = Arc::new(Notify::new());
        let shared = web::Data::new(Shared {
            state: state.clone(),
            notify: notify.clone(),
            base_url: base_url.clone(),
        });
        let server = match HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                .default_service(web::to(handle))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        {
            Ok(s) => s.run(),
            Err(e) => panic!("faux serveur Orange : {e}"),
        };
        let handle = server.handle();
        tokio::spawn(server);
        FakeOrange {
            base_url,
            state,
            notify,
            handle,
        }
    }

    /// Settings pointing the `orange` provider at this server.
    pub fn configure(&self, settings: &mut ecole_config::Settings) {
        settings.sms.provider = ecole_config::SmsProviderKind::Orange;
        settings.sms.orange_client_id = Some(CLIENT_ID.into());
        settings.sms.orange_client_secret = Some(secrecy::SecretString::from(CLIENT_SECRET));
        settings.sms.orange_sender = Some(SENDER.into());
        settings.sms.orange_api_base = self.base_url.clone();
    }

    /// The next SMS requests answer these statuses (401 also revokes the token used).
    pub fn script(&self, statuses: &[u16]) {
        lock(&self.state)
            .sms_script
            .extend(statuses.iter().copied());
    }

    /// Every SMS request from now on answers `status` (a provider down for good).
    pub fn fail_forever(&self, status: u16) {
        lock(&self.state).sms_always = Some(status);
    }

    /// The SMS requests received (whatever the answer).
    pub fn sms_requests(&self) -> Vec<Recorded> {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.is_sms())
            .cloned()
            .collect()
    }

    /// Each SMS request is answered after `delay` (a slow provider).
    pub fn slow_down(&self, delay: Duration) {
        lock(&self.state).sms_delay = delay;
    }

    /// Every token issued so far stops working (as at expiry).
    pub fn revoke_tokens(&self) {
        lock(&self.state).valid.clear();
    }

    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state).requests.clone()
    }

    pub fn token_requests(&self) -> usize {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.is_token())
            .count()
    }

    /// SMS answered 201.
    pub fn sms_accepted(&self) -> usize {
        lock(&self.state).sms_accepted
    }

    /// The accepted SMS requests.
    pub fn accepted(&self) -> Vec<Recorded> {
        lock(&self.state)
            .requests
            .iter()
            .filter(|r| r.is_sms() && r.status == 201)
            .cloned()
            .collect()
    }

    /// Waits until at least `n` SMS were accepted (or `timeout`); returns how many were.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            let count = self.sms_accepted();
            if count >= n || tokio::time::Instant::now() >= deadline {
                return count;
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }
}

impl Drop for FakeOrange {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}
