//! `ecole-api`: the HTTP API server.

use anyhow::Context;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = ecole_config::Settings::from_env().context("configuration invalide")?;
    ecole_telemetry::init(&settings);
    let state = ecole_api::AppState::new(settings).context("initialisation de l'API")?;
    ecole_api::serve(state).await.context("serveur HTTP")?;
    tracing::info!("API arrêtée");
    Ok(())
}
