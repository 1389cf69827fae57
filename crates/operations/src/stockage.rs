//! The remote copy on S3-compatible storage, through `object_store` (its signing, its
//! multipart uploads, its retries): never a hand-signed request.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};
use secrecy::ExposeSecret;
use tokio::io::AsyncWriteExt;

use ecole_config::S3Settings;

use crate::sauvegarde::{Copie, horodatage};
use crate::{OpsError, OpsResult};

/// A bucket (and key prefix) holding the backup copies.
pub struct Depot {
    store: Arc<dyn ObjectStore>,
    prefix: String,
    bucket: String,
}

impl Depot {
    /// `retries`: attempts after a failed request (0 for a quick reachability check).
    pub fn new(s3: &S3Settings, retries: usize) -> OpsResult<Self> {
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(&s3.bucket)
            .with_region(&s3.region)
            .with_access_key_id(&s3.access_key_id)
            .with_secret_access_key(s3.secret_access_key.expose_secret())
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(300)),
            )
            .with_retry(RetryConfig {
                backoff: BackoffConfig::default(),
                max_retries: retries,
                retry_timeout: Duration::from_secs(if retries == 0 { 15 } else { 120 }),
            });
        if let Some(endpoint) = &s3.endpoint {
            builder = builder
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"))
                .with_virtual_hosted_style_request(false);
        }
        let store = builder
            .build()
            .map_err(|e| OpsError::Stockage(format!("configuration : {e}")))?;
        Ok(Depot {
            store: Arc::new(store),
            prefix: s3.prefix.clone(),
            bucket: s3.bucket.clone(),
        })
    }

    fn cle(&self, nom: &str) -> ObjectPath {
        ObjectPath::from(format!("{}{nom}", self.prefix))
    }

    /// `bucket/key`, for messages.
    pub fn adresse(&self, nom: &str) -> String {
        format!("{}/{}{nom}", self.bucket, self.prefix)
    }

    /// Uploads a file in parts (large dumps never sit in memory); returns `bucket/key`.
    pub async fn televerser(&self, fichier: &Path, nom: &str) -> OpsResult<String> {
        let mut source = tokio::fs::File::open(fichier)
            .await
            .map_err(|e| OpsError::fichier(format!("lecture de {}", fichier.display()), e))?;
        let mut writer = object_store::buffered::BufWriter::new(self.store.clone(), self.cle(nom));
        let copy = tokio::io::copy(&mut source, &mut writer).await;
        match copy {
            Ok(_) => writer
                .shutdown()
                .await
                .map_err(|e| OpsError::Stockage(format!("envoi de {nom} : {e}")))?,
            Err(e) => {
                let _ = writer.abort().await;
                return Err(OpsError::Stockage(format!("envoi de {nom} : {e}")));
            }
        }
        Ok(self.adresse(nom))
    }

    /// Writes a small object.
    pub async fn deposer(&self, nom: &str, bytes: Vec<u8>) -> OpsResult<()> {
        self.store.put(&self.cle(nom), bytes.into()).await?;
        Ok(())
    }

    /// Reads an object whole (checks and tests).
    pub async fn lire(&self, nom: &str) -> OpsResult<Vec<u8>> {
        Ok(self
            .store
            .get(&self.cle(nom))
            .await?
            .bytes()
            .await?
            .to_vec())
    }

    /// The backup copies under the prefix.
    pub async fn copies(&self) -> OpsResult<Vec<Copie>> {
        let prefix =
            (!self.prefix.is_empty()).then(|| ObjectPath::from(self.prefix.trim_end_matches('/')));
        let mut listing = self.store.list(prefix.as_ref());
        let mut copies = Vec::new();
        while let Some(meta) = listing.next().await {
            let meta = meta?;
            let nom = meta.location.filename().unwrap_or("").to_string();
            if let Some(horodatage) = horodatage(&nom) {
                copies.push(Copie { horodatage, nom });
            }
        }
        copies.sort();
        Ok(copies)
    }

    /// Deletes a copy and its checksum.
    pub async fn supprimer(&self, nom: &str) -> OpsResult<()> {
        for key in [self.cle(&format!("{nom}.sha256")), self.cle(nom)] {
            match self.store.delete(&key).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Lists the bucket once: reachable, and the keys work.
    pub async fn verifier(&self) -> OpsResult<usize> {
        Ok(self.copies().await?.len())
    }
}
