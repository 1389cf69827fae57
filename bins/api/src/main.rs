//! `ecole-api`: the HTTP API server.

async fn run() -> anyhow::Result<()> {
    let settings = ecole_config::Settings::from_env()?;
    let _telemetry = ecole_telemetry::init(&settings);
    let state = ecole_api::AppState::new(settings)?;
    ecole_api::serve(state).await?;
    tracing::info!("API arrêtée");
    Ok(())
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("Erreur : {e:#}");
        std::process::exit(1);
    }
}
