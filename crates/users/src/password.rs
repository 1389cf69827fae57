//! argon2id hashing (m = 19 MiB, t = 2, p = 1: OWASP's recommendation and the crate default),
//! always on the process's one hashing thread.
//!
//! One thread, not tokio's blocking pool: glibc gives each new thread its own malloc arena,
//! which kept the 19 MiB block after the hash — the API grew by 19 MiB per login landing on
//! another blocking thread (42 → 64 → 84 → 103 MB after three logins, measured). One thread
//! holds one block, and login floods cannot take more than one core.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Sender, channel};
use std::sync::{Mutex, OnceLock};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use ecole_core::{DomainError, DomainResult};

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

fn hash_blocking(password: &str) -> DomainResult<String> {
    hasher()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| DomainError::internal(format!("hachage du mot de passe : {e}")))
}

fn verify_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => hasher()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A hash of a random password, verified against when the user does not exist so that an
/// unknown username costs the same time as a wrong password.
fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let random: [u8; 16] = rand::random();
        hash_blocking(&base64::Engine::encode(&base64::engine::general_purpose::STANDARD, random))
            .unwrap_or_else(|_| {
                // Never matches anything: a well-formed hash of an unknown password.
                "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0h5Cq9cC2C1hQZ6Y3o3vZ2A9b8e0u1kB1rA6b3C4d5E".into()
            })
    })
}

type Task = Box<dyn FnOnce() + Send>;

/// The hashing thread's queue, started on first use. The thread lives as long as the process:
/// this static keeps its channel open and a panicking task does not end it.
fn hashing_thread() -> DomainResult<Sender<Task>> {
    static QUEUE: Mutex<Option<Sender<Task>>> = Mutex::new(None);
    let mut queue = QUEUE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(tx) = queue.as_ref() {
        return Ok(tx.clone());
    }
    let (tx, rx) = channel::<Task>();
    std::thread::Builder::new()
        .name("argon2".into())
        .spawn(move || {
            for task in rx {
                // A panicking task loses its answer (its caller gets an error), not the thread.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(task));
            }
        })
        .map_err(|e| DomainError::internal(format!("fil de hachage : {e}")))?;
    *queue = Some(tx.clone());
    Ok(tx)
}

/// Tasks sent to the hashing thread and not finished yet (waiting or running).
static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// Counts one task from its sending until it is dropped: run, panicked, or never sent.
struct Queued;

impl Queued {
    fn new() -> Self {
        QUEUED.fetch_add(1, Ordering::SeqCst);
        Queued
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        QUEUED.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Password checks waiting for (or running on) the hashing thread.
pub fn queue_len() -> usize {
    QUEUED.load(Ordering::SeqCst)
}

/// The answer when the hashing thread is `max` tasks behind: a quick 429 instead of a wait
/// that would grow with every new request.
fn busy() -> DomainError {
    DomainError::Throttled {
        retry_after_secs: 2,
        message: "Serveur occupé : trop de vérifications de mot de passe en cours. Réessayez dans quelques secondes.".into(),
    }
}

/// Runs `work` on the hashing thread.
async fn on_hashing_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> DomainResult<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let queued = Queued::new();
    let task: Task = Box::new(move || {
        let _queued = queued;
        let _ = tx.send(work());
    });
    hashing_thread()?
        .send(task)
        .map_err(|_| DomainError::internal("fil de hachage arrêté"))?;
    rx.await
        .map_err(|_| DomainError::internal("hachage du mot de passe interrompu"))
}

pub async fn hash_password(password: &str) -> DomainResult<String> {
    let password = password.to_string();
    on_hashing_thread(move || hash_blocking(&password)).await?
}

/// Verifies `password` against `hash`, or against a dummy hash when `hash` is `None`.
pub async fn verify_password(password: &str, hash: Option<&str>) -> DomainResult<bool> {
    let password = password.to_string();
    let hash = hash.map(str::to_string);
    on_hashing_thread(move || match hash {
        Some(h) => verify_blocking(&password, &h),
        None => {
            let _ = verify_blocking(&password, dummy_hash());
            false
        }
    })
    .await
}

/// Refuses with `Throttled` when `max_queue` password checks are already waiting: called
/// first by login and password change, so that a flood is refused before any database work.
pub fn ensure_capacity(max_queue: usize) -> DomainResult<()> {
    if queue_len() >= max_queue.max(1) {
        return Err(busy());
    }
    Ok(())
}

/// [`verify_password`] for requests anyone can send (login, password change): refused with
/// `Throttled` when `max_queue` checks are already waiting, so a flood gets quick 429s
/// instead of a queue that makes every caller wait.
pub async fn verify_password_within(
    password: &str,
    hash: Option<&str>,
    max_queue: usize,
) -> DomainResult<bool> {
    ensure_capacity(max_queue)?;
    verify_password(password, hash).await
}

/// Computes the dummy hash ahead of the first failed login, so its cost is not on that request
/// (queued on the hashing thread, so no other thread keeps an argon2 block; returns at once).
pub fn warm_up() {
    if let Ok(queue) = hashing_thread() {
        let _ = queue.send(Box::new(|| {
            let _ = dummy_hash();
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash_password("unmotdepasse-solide").await.unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(
            verify_password("unmotdepasse-solide", Some(&h))
                .await
                .unwrap()
        );
        assert!(!verify_password("autre-chose-123", Some(&h)).await.unwrap());
        assert!(!verify_password("x", None).await.unwrap());
        assert!(!verify_password("x", Some("pas-un-hash")).await.unwrap());
    }

    /// Every hash, from any number of concurrent callers, runs on the one hashing thread.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn every_hash_runs_on_the_one_hashing_thread() {
        warm_up();
        let callers: Vec<_> = (0..8)
            .map(|i| {
                tokio::spawn(async move {
                    let h = hash_password(&format!("mot-de-passe-{i}")).await.unwrap();
                    assert!(
                        verify_password(&format!("mot-de-passe-{i}"), Some(&h))
                            .await
                            .unwrap()
                    );
                    on_hashing_thread(|| std::thread::current().id())
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut threads = std::collections::HashSet::new();
        for c in callers {
            threads.insert(c.await.unwrap());
        }
        assert_eq!(threads.len(), 1);
        let name = on_hashing_thread(|| std::thread::current().name().map(str::to_string))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("argon2"));
        // A panicking task answers an error and leaves the thread working.
        let panicked: DomainResult<()> = on_hashing_thread(|| panic!("exprès")).await;
        assert!(panicked.is_err());
        assert!(hash_password("encore-un-mot-de-passe").await.is_ok());
    }

    /// Beyond `max_queue` waiting checks, a check is refused at once (429), and the count
    /// goes back to zero once the queue has drained, panics included.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_long_hashing_queue_refuses_at_once() {
        let h = hash_password("unmotdepasse-solide").await.unwrap();
        // Holds the thread until released, so that the queue fills up behind it.
        let (release, hold) = std::sync::mpsc::channel::<()>();
        let blocker = tokio::spawn(on_hashing_thread(move || {
            let _ = hold.recv();
        }));
        while queue_len() == 0 {
            tokio::task::yield_now().await;
        }
        let waiting: Vec<_> = (0..3)
            .map(|_| {
                let h = h.clone();
                tokio::spawn(async move { verify_password("faux-mot-de-passe", Some(&h)).await })
            })
            .collect();
        while queue_len() < 4 {
            tokio::task::yield_now().await;
        }
        let started = std::time::Instant::now();
        let refused = verify_password_within("faux-mot-de-passe", Some(&h), 4).await;
        assert!(
            matches!(refused, Err(DomainError::Throttled { .. })),
            "{refused:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_millis(50));
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
        for w in waiting {
            assert!(!w.await.unwrap().unwrap());
        }
        let _: DomainResult<()> = on_hashing_thread(|| panic!("exprès")).await;
        // Other tests of this binary may hash meanwhile: wait for the queue to drain.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while queue_len() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert_eq!(queue_len(), 0);
        assert!(
            verify_password_within("unmotdepasse-solide", Some(&h), 4)
                .await
                .unwrap()
        );
    }
}
