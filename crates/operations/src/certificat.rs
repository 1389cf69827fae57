//! The expiry of the TLS certificate the site serves (`ecole check --deploy`): a TLS handshake
//! with the address nginx listens on, the leaf certificate's `notAfter`. The chain is not
//! verified (only the date is read): self-signed and private CAs work.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use ecole_config::Settings;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::crypto::{CryptoProvider, aws_lc_rs};
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use tokio_rustls::rustls::{self, ClientConfig, DigitallySignedStruct, SignatureScheme};
use x509_cert::der::Decode;

/// Fewer days left than this: `ERREUR`.
pub const JOURS_ERREUR: i64 = 7;
/// Fewer days left than this: `ATTENTION` (certbot renews 30 days ahead).
pub const JOURS_ATTENTION: i64 = 21;
/// Connection and handshake together.
const DELAI: Duration = Duration::from_secs(10);

/// Where to read the certificate, and the name to ask for (SNI).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibleTls {
    /// `hôte:port`.
    pub adresse: String,
    pub nom: String,
}

/// Host and port of an `https://` URL (443 by default).
fn hote_https(url: &str) -> Option<(String, u16)> {
    let url = url::Url::parse(url).ok()?;
    if url.scheme() != "https" {
        return None;
    }
    Some((url.host_str()?.to_string(), url.port().unwrap_or(443)))
}

/// `TLS_CHECK_ADDR` with the name from `SERVER_NAME`, else the host of `PUBLIC_BASE_URL`, else
/// the host of the address; without `TLS_CHECK_ADDR`, the host and port of an https
/// `PUBLIC_BASE_URL`. `None`: nothing to check.
pub fn cible(settings: &Settings) -> Option<CibleTls> {
    let publique = settings.public_base_url.as_deref().and_then(hote_https);
    let nom_configure = settings
        .server_name
        .as_deref()
        .and_then(|n| n.split_whitespace().next())
        .map(String::from);
    match (&settings.tls_check_addr, publique) {
        (Some(adresse), publique) => {
            let nom = nom_configure
                .or(publique.map(|(hote, _)| hote))
                .unwrap_or_else(|| {
                    adresse
                        .rsplit_once(':')
                        .map(|(h, _)| h.trim_start_matches('[').trim_end_matches(']'))
                        .unwrap_or(adresse)
                        .to_string()
                });
            Some(CibleTls {
                adresse: adresse.clone(),
                nom,
            })
        }
        (None, Some((hote, port))) => {
            let adresse = if hote.contains(':') {
                format!("[{hote}]:{port}")
            } else {
                format!("{hote}:{port}")
            };
            Some(CibleTls {
                adresse,
                nom: nom_configure.unwrap_or(hote),
            })
        }
        (None, None) => None,
    }
}

/// Accepts any certificate: only its dates are read. Handshake signatures are still checked
/// (they prove the server holds the key of the certificate it sent).
#[derive(Debug)]
struct LectureSeule(Arc<CryptoProvider>);

impl ServerCertVerifier for LectureSeule {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// `notAfter` of a DER certificate.
pub fn fin_de_validite(der: &[u8]) -> Result<DateTime<Utc>, String> {
    let certificat =
        x509_cert::Certificate::from_der(der).map_err(|e| format!("certificat illisible : {e}"))?;
    let fin = certificat
        .tbs_certificate
        .validity
        .not_after
        .to_unix_duration();
    i64::try_from(fin.as_secs())
        .ok()
        .and_then(|s| DateTime::from_timestamp(s, 0))
        .ok_or_else(|| "date de fin de validité hors limites".to_string())
}

async fn lire(cible: &CibleTls) -> Result<DateTime<Utc>, String> {
    let fournisseur = Arc::new(aws_lc_rs::default_provider());
    let config = ClientConfig::builder_with_provider(fournisseur.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(LectureSeule(fournisseur)))
        .with_no_client_auth();
    let nom = ServerName::try_from(cible.nom.clone())
        .map_err(|_| format!("nom « {} » invalide pour TLS", cible.nom))?;
    let tcp = tokio::net::TcpStream::connect(&cible.adresse)
        .await
        .map_err(|e| format!("connexion impossible : {e}"))?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(nom, tcp)
        .await
        .map_err(|e| format!("poignée de main TLS : {e}"))?;
    let feuille = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .ok_or("aucun certificat présenté")?;
    fin_de_validite(feuille.as_ref())
}

/// The leaf certificate's `notAfter` as served at `cible` (10 s at most).
pub async fn expiration(cible: &CibleTls) -> Result<DateTime<Utc>, String> {
    match tokio::time::timeout(DELAI, lire(cible)).await {
        Ok(r) => r,
        Err(_) => Err(format!("pas de réponse en {} s", DELAI.as_secs())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reglages(pairs: &[(&str, &str)]) -> Settings {
        let vars = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        match Settings::from_vars(vars) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    fn cible_de(pairs: &[(&str, &str)]) -> Option<(String, String)> {
        cible(&reglages(pairs)).map(|c| (c.adresse, c.nom))
    }

    #[test]
    fn where_and_for_which_name_the_certificate_is_read() {
        let paire = |a: &str, n: &str| Some((a.to_string(), n.to_string()));
        assert_eq!(cible_de(&[]), None);
        assert_eq!(cible_de(&[("PUBLIC_BASE_URL", "http://ecole.gn")]), None);
        assert_eq!(
            cible_de(&[("PUBLIC_BASE_URL", "https://ecole.gn")]),
            paire("ecole.gn:443", "ecole.gn")
        );
        assert_eq!(
            cible_de(&[("PUBLIC_BASE_URL", "https://ecole.gn:8443/api")]),
            paire("ecole.gn:8443", "ecole.gn")
        );
        assert_eq!(
            cible_de(&[
                ("TLS_CHECK_ADDR", "nginx:443"),
                ("SERVER_NAME", "ecole.gn www.ecole.gn"),
                ("PUBLIC_BASE_URL", "https://autre.gn"),
            ]),
            paire("nginx:443", "ecole.gn")
        );
        assert_eq!(
            cible_de(&[
                ("TLS_CHECK_ADDR", "nginx:443"),
                ("PUBLIC_BASE_URL", "http://ecole.gn"),
            ]),
            paire("nginx:443", "nginx")
        );
        assert_eq!(
            cible_de(&[
                ("TLS_CHECK_ADDR", "nginx:443"),
                ("PUBLIC_BASE_URL", "https://ecole.gn"),
            ]),
            paire("nginx:443", "ecole.gn")
        );
    }
}
