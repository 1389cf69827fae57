//! `ecole-api`: the HTTP API server.

/// mimalloc rather than glibc malloc: argon2 asks for 19 MiB aligned to 64 bytes per password
/// hash; glibc served each from a fresh heap extension (an aligned request never fits the freed
/// block exactly), so the API grew by 19 MiB per login, up to ≈ 120 MiB per arena (measured).
/// Only here: the worker keeps glibc, which holds less for its PDF rendering (44 MB against
/// 121 MB peak for the bulletins benchmark, measured) and hashes no password.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    if let Err(e) = ecole_api::run().await {
        eprintln!("Erreur : {e:#}");
        std::process::exit(1);
    }
}
