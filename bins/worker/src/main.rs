//! `ecole-worker`: runs jobs (and relays the outbox to Redis).

#[tokio::main]
async fn main() {
    if let Err(e) = ecole_handlers::run_worker().await {
        eprintln!("Erreur : {e:#}");
        std::process::exit(1);
    }
}
