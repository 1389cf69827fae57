//! A real SMTP server on a loopback port that records what it receives: enough of the
//! protocol for lettre (EHLO/HELO, AUTH PLAIN and LOGIN, MAIL, RCPT, DATA, RSET, NOOP,
//! QUIT), with replies to DATA scripted on demand (transient or permanent failures).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct ReceivedMail {
    pub from: String,
    pub to: Vec<String>,
    /// The DATA section, dot-unstuffed, CRLF line ends.
    pub data: String,
    /// Credentials given with AUTH on this connection.
    pub auth: Option<(String, String)>,
}

#[derive(Default)]
struct State {
    messages: Vec<ReceivedMail>,
    /// Replies to the next DATA sections (`"451 4.3.0 Essayez plus tard"`).
    data_replies: VecDeque<String>,
    connections: usize,
}

/// The SMTP server; stops with the runtime.
#[derive(Clone)]
pub struct SmtpSink {
    pub port: u16,
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    match state.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

fn angle(arg: &str) -> String {
    match (arg.find('<'), arg.find('>')) {
        (Some(a), Some(b)) if b > a => arg[a + 1..b].to_string(),
        _ => arg.trim().to_string(),
    }
}

fn b64(text: &str) -> String {
    STANDARD
        .decode(text.trim())
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = match TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("port SMTP local : {e}"),
        };
        let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let sink = SmtpSink {
            port,
            state: Arc::default(),
            notify: Arc::default(),
        };
        let server = sink.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let session = server.clone();
                tokio::spawn(async move {
                    let _ = session.serve(socket).await;
                });
            }
        });
        sink
    }

    /// `smtp://127.0.0.1:<port>` (plain SMTP, as a local relay).
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Answers the next `n` DATA sections with `reply` (e.g. `451 4.3.0 Surcharge`).
    pub fn fail_next(&self, n: usize, reply: &str) {
        let mut state = lock(&self.state);
        for _ in 0..n {
            state.data_replies.push_back(reply.to_string());
        }
    }

    pub fn messages(&self) -> Vec<ReceivedMail> {
        lock(&self.state).messages.clone()
    }

    pub fn count(&self) -> usize {
        lock(&self.state).messages.len()
    }

    pub fn connections(&self) -> usize {
        lock(&self.state).connections
    }

    /// Waits until at least `n` messages arrived (or `timeout`), then returns them all.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.notify.notified();
            if self.count() >= n || tokio::time::Instant::now() >= deadline {
                return self.messages();
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    async fn serve(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        lock(&self.state).connections += 1;
        let (read, mut write) = socket.into_split();
        let mut reader = BufReader::new(read);
        write.write_all(b"220 sink.ecole.test ESMTP\r\n").await?;
        let mut from = String::new();
        let mut to = Vec::new();
        let mut auth = None;
        let mut line = Vec::new();
        loop {
            line.clear();
            if reader.read_until(b'\n', &mut line).await? == 0 {
                return Ok(());
            }
            let text = String::from_utf8_lossy(&line).trim_end().to_string();
            let (verb, arg) = match text.split_once(' ') {
                Some((v, a)) => (v.to_ascii_uppercase(), a.to_string()),
                None => (text.to_ascii_uppercase(), String::new()),
            };
            let reply: String = match verb.as_str() {
                "EHLO" => "250-sink.ecole.test\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250-AUTH PLAIN LOGIN\r\n250 SIZE 20000000".into(),
                "HELO" => "250 sink.ecole.test".into(),
                "AUTH" => {
                    let mut parts = arg.split_whitespace();
                    let mechanism = parts.next().unwrap_or("").to_ascii_uppercase();
                    let initial = parts.next().map(String::from);
                    let mut read_line = async || -> std::io::Result<String> {
                        let mut l = Vec::new();
                        reader.read_until(b'\n', &mut l).await?;
                        Ok(String::from_utf8_lossy(&l).trim_end().to_string())
                    };
                    match mechanism.as_str() {
                        "PLAIN" => {
                            let encoded = match initial {
                                Some(i) => i,
                                None => {
                                    write.write_all(b"334 \r\n").await?;
                                    read_line().await?
                                }
                            };
                            let decoded = b64(&encoded);
                            let fields: Vec<&str> = decoded.split('\0').collect();
                            if let [_, user, pass] = fields.as_slice() {
                                auth = Some((user.to_string(), pass.to_string()));
                                "235 2.7.0 Authentification réussie".into()
                            } else {
                                "501 5.5.2 Données AUTH illisibles".into()
                            }
                        }
                        "LOGIN" => {
                            write.write_all(b"334 VXNlcm5hbWU6\r\n").await?;
                            let user = b64(&read_line().await?);
                            write.write_all(b"334 UGFzc3dvcmQ6\r\n").await?;
                            let pass = b64(&read_line().await?);
                            auth = Some((user, pass));
                            "235 2.7.0 Authentification réussie".into()
                        }
                        _ => "504 5.5.4 Mécanisme inconnu".into(),
                    }
                }
                "MAIL" => {
                    from = angle(&arg);
                    to.clear();
                    "250 2.1.0 OK".into()
                }
                "RCPT" => {
                    to.push(angle(&arg));
                    "250 2.1.5 OK".into()
                }
                "DATA" => {
                    write.write_all(b"354 Fin par <CRLF>.<CRLF>\r\n").await?;
                    let mut data = String::new();
                    loop {
                        line.clear();
                        if reader.read_until(b'\n', &mut line).await? == 0 {
                            return Ok(());
                        }
                        let l = String::from_utf8_lossy(&line).into_owned();
                        if l == ".\r\n" || l == ".\n" {
                            break;
                        }
                        data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    }
                    let scripted = lock(&self.state).data_replies.pop_front();
                    match scripted {
                        Some(reply) => reply,
                        None => {
                            let n = {
                                let mut state = lock(&self.state);
                                state.messages.push(ReceivedMail {
                                    from: from.clone(),
                                    to: std::mem::take(&mut to),
                                    data,
                                    auth: auth.clone(),
                                });
                                state.messages.len()
                            };
                            self.notify.notify_waiters();
                            format!("250 2.0.0 OK file {n}")
                        }
                    }
                }
                "RSET" => {
                    from.clear();
                    to.clear();
                    "250 2.0.0 OK".into()
                }
                "NOOP" => "250 2.0.0 OK".into(),
                "QUIT" => {
                    write.write_all(b"221 2.0.0 Au revoir\r\n").await?;
                    return Ok(());
                }
                _ => "502 5.5.2 Commande inconnue".into(),
            };
            write.write_all(reply.as_bytes()).await?;
            write.write_all(b"\r\n").await?;
        }
    }
}

// ---------- reading what was received ----------

/// Headers (unfolded) and body of a MIME entity.
fn split_entity(raw: &str) -> (Vec<(String, String)>, String) {
    let raw = raw.replace("\r\n", "\n");
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw.as_str(), ""));
    let mut headers: Vec<(String, String)> = Vec::new();
    for line in head.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = headers.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
        } else if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
        }
    }
    (headers, body.to_string())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    let name = name.to_ascii_lowercase();
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

fn decode_qp(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' {
            if bytes.get(i + 1) == Some(&b'\n') {
                i += 2;
                continue;
            }
            if let Some(hex) = text.get(i + 1..i + 3)
                && let Ok(b) = u8::from_str_radix(hex, 16)
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

fn decode_body(headers: &[(String, String)], body: &str) -> String {
    let encoding = header(headers, "content-transfer-encoding")
        .unwrap_or("7bit")
        .to_ascii_lowercase();
    let bytes = match encoding.as_str() {
        "base64" => STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .unwrap_or_default(),
        "quoted-printable" => decode_qp(body),
        _ => body.as_bytes().to_vec(),
    };
    String::from_utf8_lossy(&bytes).into_owned()
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) decoded.
pub fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let before = &rest[..start];
        if !(last_was_word && before.trim().is_empty()) {
            out.push_str(before);
        }
        let word = &rest[start + 2..];
        let parts: Vec<&str> = word.splitn(3, '?').collect();
        let (Some(enc), Some(tail)) = (parts.get(1), parts.get(2)) else {
            out.push_str(&rest[start..]);
            return out;
        };
        let Some(end) = tail.find("?=") else {
            out.push_str(&rest[start..]);
            return out;
        };
        let text = &tail[..end];
        let bytes = if enc.eq_ignore_ascii_case("b") {
            STANDARD.decode(text).unwrap_or_default()
        } else {
            decode_qp(&text.replace('_', " "))
        };
        out.push_str(&String::from_utf8_lossy(&bytes));
        let consumed = start + 2 + parts[0].len() + 1 + enc.len() + 1 + end + 2;
        rest = &rest[consumed..];
        last_was_word = true;
    }
    out.push_str(rest);
    out
}

impl ReceivedMail {
    /// A top-level header, encoded words decoded.
    pub fn header(&self, name: &str) -> Option<String> {
        let (headers, _) = split_entity(&self.data);
        header(&headers, name).map(decode_words)
    }

    pub fn subject(&self) -> String {
        self.header("subject").unwrap_or_default()
    }

    /// The decoded body of the first part of this content type (`text/plain`, `text/html`).
    pub fn body(&self, content_type: &str) -> Option<String> {
        let (headers, body) = split_entity(&self.data);
        let ct = header(&headers, "content-type").unwrap_or("text/plain");
        if ct.to_ascii_lowercase().starts_with(content_type) {
            return Some(decode_body(&headers, &body));
        }
        let boundary = ct
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()?
            .trim_matches('"')
            .to_string();
        body.replace("\r\n", "\n")
            .split(&format!("--{boundary}"))
            .map(split_entity)
            .find(|(h, _)| {
                header(h, "content-type")
                    .is_some_and(|c| c.to_ascii_lowercase().starts_with(content_type))
            })
            .map(|(h, b)| decode_body(&h, b.trim_end_matches('\n')))
    }

    pub fn text(&self) -> String {
        self.body("text/plain").unwrap_or_default()
    }

    pub fn html(&self) -> String {
        self.body("text/html").unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_words_and_quoted_printable() {
        assert_eq!(
            decode_words("=?utf-8?b?w4lsw6h2ZQ==?= =?utf-8?q?_=C3=A0_l'=C3=A9cole?="),
            "Élève à l'école"
        );
        assert_eq!(decode_words("Sans encodage"), "Sans encodage");
        assert_eq!(
            String::from_utf8_lossy(&decode_qp("Fran=C3=A7ais =\nsuite")),
            "Français suite"
        );
    }
}
