//! The log file rotates at its size limit and keeps a bounded number of old files; lines
//! are JSON in production; spans reach an OTLP/HTTP collector.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use ecole_config::Settings;

fn dossier(label: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "ecole-telemetrie-{label}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn settings(pairs: &[(&str, &str)]) -> Settings {
    let vars: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_vars(vars).unwrap()
}

#[test]
fn the_log_file_rotates_at_its_size_limit() {
    let dir = dossier("rotation");
    let s = settings(&[
        ("LOG_DIR", dir.to_str().unwrap()),
        ("LOG_MAX_BYTES", "4096"),
        ("LOG_MAX_FILES", "3"),
        ("LOG_JSON", "true"),
    ]);
    let (subscriber, telemetry) = ecole_telemetry::subscriber(&s, "essai");
    let file = telemetry.log_file.clone().unwrap();
    assert_eq!(file, dir.join("essai.log"));
    tracing::subscriber::with_default(subscriber, || {
        for i in 0..400 {
            tracing::info!(
                ligne = i,
                eleve.id = 42,
                "ligne de journal numéro {i}, assez longue pour remplir le fichier"
            );
        }
    });
    drop(telemetry); // flushes the background writer

    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["essai.log", "essai.log.1", "essai.log.2", "essai.log.3"]
    );
    let mut last_seen = Vec::new();
    for name in &names {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        // Rotated before the limit is passed by more than one line; lines are never cut.
        assert!(text.len() < 4096 + 400, "{name} : {} octets", text.len());
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("ligne JSON entière");
            assert_eq!(v["level"], "INFO");
            last_seen.push(v["ligne"].as_i64().unwrap());
        }
    }
    // The newest lines are kept: the last one is in the current file, the oldest are gone.
    let current = std::fs::read_to_string(&file).unwrap();
    assert!(current.contains("numéro 399"), "{current}");
    assert!(!last_seen.contains(&0));
    assert!(last_seen.len() < 400);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_log_dir_falls_back_to_the_console() {
    let dir = dossier("refus");
    let blocker = dir.join("fichier");
    std::fs::write(&blocker, b"x").unwrap();
    let s = settings(&[("LOG_DIR", blocker.join("logs").to_str().unwrap())]);
    let (subscriber, telemetry) = ecole_telemetry::subscriber(&s, "essai");
    assert!(telemetry.log_file.is_none());
    tracing::subscriber::with_default(subscriber, || tracing::info!("toujours sur la console"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A collector that answers 200 to every request and reports the paths it received.
fn fake_collector() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { break };
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut buf = Vec::new();
            let mut chunk = [0u8; 8192];
            // Headers, then the body announced by Content-Length.
            loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text[..end]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if buf.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            let request = String::from_utf8_lossy(&buf).to_string();
            let first = request.lines().next().unwrap_or("").to_string();
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/x-protobuf\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            );
            let _ = tx.send(first);
        }
    });
    (url, rx)
}

#[tokio::test(flavor = "multi_thread")]
async fn spans_are_exported_over_otlp_http() {
    let (url, received) = fake_collector();
    let s = settings(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &url)]);
    let (subscriber, telemetry) = ecole_telemetry::subscriber(&s, "ecole-essai");
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("http.request", http.method = "GET");
        let _entered = span.enter();
        tracing::info!("dans la requête");
    });
    // Dropping the guard on a runtime thread flushes the exporter without panicking.
    drop(telemetry);
    let first = received.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(first, "POST /v1/traces HTTP/1.1");
}
