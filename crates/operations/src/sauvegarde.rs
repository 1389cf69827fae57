//! Backups: `pg_dump --format=custom` to `BACKUP_DIR/ecole_<AAAAmmjj_HHMMSS>.dump`, its
//! `.sha256` beside it (the `sha256sum -c` format), an optional copy to S3-compatible
//! storage, then pruning of local and remote copies older than `BACKUP_RETENTION_DAYS` —
//! the 3 newest are always kept, whatever their age.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, NaiveDateTime, Utc};
use ecole_config::Settings;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;

use crate::outils::{Connexion, executer, opt};
use crate::stockage::Depot;
use crate::{OpsError, OpsResult};

/// Copies always kept, however old.
pub const TOUJOURS_GARDEES: usize = 3;
const PREFIXE: &str = "ecole_";
const EXTENSION: &str = ".dump";
const FORMAT_HORODATAGE: &str = "%Y%m%d_%H%M%S";

/// `ecole_20261126_020000.dump` for a backup taken at that instant (Conakry time = UTC).
pub fn nom_fichier(instant: DateTime<Utc>) -> String {
    let local = ecole_core::time::to_conakry(instant);
    format!("{PREFIXE}{}{EXTENSION}", local.format(FORMAT_HORODATAGE))
}

/// The instant in a backup's file name, or `None` for any other file.
pub fn horodatage(nom: &str) -> Option<DateTime<Utc>> {
    let stamp = nom.strip_prefix(PREFIXE)?.strip_suffix(EXTENSION)?;
    let naive = NaiveDateTime::parse_from_str(stamp, FORMAT_HORODATAGE).ok()?;
    naive
        .and_local_timezone(ecole_core::time::CONAKRY)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// The checksum file of a backup file.
pub fn chemin_somme(dump: &Path) -> PathBuf {
    let mut name = dump.as_os_str().to_os_string();
    name.push(".sha256");
    PathBuf::from(name)
}

/// A backup copy: its name and when it was taken.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Copie {
    pub horodatage: DateTime<Utc>,
    pub nom: String,
}

/// Names to delete: beyond the `TOUJOURS_GARDEES` newest, those older than the retention.
pub fn a_supprimer(
    copies: &[Copie],
    maintenant: DateTime<Utc>,
    retention_jours: u32,
) -> Vec<String> {
    let mut sorted: Vec<&Copie> = copies.iter().collect();
    sorted.sort_by(|a, b| b.cmp(a));
    let limite = maintenant - chrono::Duration::days(i64::from(retention_jours));
    sorted
        .into_iter()
        .skip(TOUJOURS_GARDEES)
        .filter(|c| c.horodatage < limite)
        .map(|c| c.nom.clone())
        .collect()
}

/// What one backup did (the job's result, `ecole backup`'s report).
#[derive(Debug, Clone, Serialize)]
pub struct Bilan {
    pub fichier: String,
    pub taille: u64,
    pub sha256: String,
    /// Object key of the remote copy, when S3 is configured.
    pub s3: Option<String>,
    pub supprimees_locales: Vec<String>,
    pub supprimees_s3: Vec<String>,
    pub duree_ms: u64,
}

/// SHA-256 (hex) and size of a file, read in 1 MiB blocks on a blocking thread.
pub async fn somme_sha256(path: &Path) -> OpsResult<(String, u64)> {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut file = std::fs::File::open(&path)
            .map_err(|e| OpsError::fichier(format!("lecture de {}", path.display()), e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1024 * 1024];
        let mut size = 0u64;
        loop {
            let n = file
                .read(&mut buf)
                .map_err(|e| OpsError::fichier(format!("lecture de {}", path.display()), e))?;
            if n == 0 {
                break;
            }
            size += n as u64;
            hasher.update(&buf[..n]);
        }
        Ok((hex::encode(hasher.finalize()), size))
    })
    .await
    .map_err(|e| OpsError::Outil(format!("calcul de la somme de contrôle : {e}")))?
}

/// Mode of the backup files: the whole database, passwords' hashes included, for the owner only.
pub const MODE_FICHIER: u32 = 0o600;
/// Mode of `BACKUP_DIR`: nobody else lists it either.
pub const MODE_DOSSIER: u32 = 0o700;

/// Gives `path` the mode `mode` (whatever the umask made of it).
async fn restreindre(path: &Path, mode: u32) -> OpsResult<()> {
    use std::os::unix::fs::PermissionsExt;
    tokio::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .await
        .map_err(|e| OpsError::fichier(format!("droits de {}", path.display()), e))
}

/// Creates `BACKUP_DIR` (0700) when missing; an existing one is narrowed to 0700 when this
/// process owns it, and left as it is with a warning otherwise (a mount point of root's).
async fn preparer_dossier(dir: &Path) -> OpsResult<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true).mode(MODE_DOSSIER);
    let cible = dir.to_path_buf();
    tokio::task::spawn_blocking(move || builder.create(&cible))
        .await
        .map_err(|e| OpsError::Outil(format!("création de BACKUP_DIR : {e}")))?
        .map_err(|e| OpsError::fichier(format!("création de BACKUP_DIR ({})", dir.display()), e))?;
    let actuel = tokio::fs::metadata(dir)
        .await
        .map_err(|e| OpsError::fichier(format!("lecture de {}", dir.display()), e))?
        .permissions()
        .mode()
        & 0o777;
    if actuel & 0o077 != 0
        && let Err(e) = restreindre(dir, MODE_DOSSIER).await
    {
        tracing::warn!(error.cause = %e, "BACKUP_DIR reste lisible par d'autres comptes");
    }
    Ok(())
}

/// Writes `contents` to `path` (mode 0600) through a synced temporary file and a rename.
async fn ecrire_atomique(path: &Path, contents: &[u8]) -> OpsResult<()> {
    let tmp = ecole_core::media::temporary(path)
        .map_err(|e| OpsError::fichier(format!("dossier de {}", path.display()), e))?;
    ecole_core::media::write_synced(&tmp, contents)
        .await
        .map_err(|e| OpsError::fichier(format!("écriture de {}", tmp.display()), e))?;
    restreindre(&tmp, MODE_FICHIER).await?;
    tokio::fs::rename(&tmp, path)
        .await
        .map_err(|e| OpsError::fichier(format!("écriture de {}", path.display()), e))
}

/// Backups in `dir` (files named like ours; anything else is left alone).
pub async fn copies_locales(dir: &Path) -> OpsResult<Vec<Copie>> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(OpsError::fichier(
                format!("lecture de {}", dir.display()),
                e,
            ));
        }
    };
    let mut copies = Vec::new();
    while let Some(entry) = entries
        .next_entry()
        .await
        .map_err(|e| OpsError::fichier(format!("lecture de {}", dir.display()), e))?
    {
        let nom = entry.file_name().to_string_lossy().into_owned();
        if let Some(horodatage) = horodatage(&nom) {
            copies.push(Copie { horodatage, nom });
        }
    }
    copies.sort();
    Ok(copies)
}

/// The newest complete local backup (its `.sha256` written), if any.
pub async fn derniere_locale(dir: &Path) -> OpsResult<Option<Copie>> {
    let copies = copies_locales(dir).await?;
    for copie in copies.into_iter().rev() {
        if tokio::fs::try_exists(chemin_somme(&dir.join(&copie.nom)))
            .await
            .unwrap_or(false)
        {
            return Ok(Some(copie));
        }
    }
    Ok(None)
}

async fn supprimer_locales(dir: &Path, noms: &[String]) -> OpsResult<()> {
    for nom in noms {
        let dump = dir.join(nom);
        for path in [chemin_somme(&dump), dump] {
            match tokio::fs::remove_file(&path).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(OpsError::fichier(
                        format!("suppression de {}", path.display()),
                        e,
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Runs `pg_dump` into `dir/<name>` (through a temporary file) and writes its checksum.
async fn dump(
    settings: &Settings,
    dir: &Path,
    nom: &str,
    annulation: &CancellationToken,
) -> OpsResult<(PathBuf, String, u64)> {
    let connexion = Connexion::depuis_url(&settings.database_url)?;
    let cible = dir.join(nom);
    if tokio::fs::try_exists(&cible).await.unwrap_or(false) {
        return Err(OpsError::Refus(format!(
            "{} existe déjà : une autre sauvegarde vient d'être faite",
            cible.display()
        )));
    }
    let partiel = dir.join(format!(".{nom}.partiel"));
    // Made 0600 before pg_dump opens it (it truncates, the mode stays): the dump is never
    // readable by others, not even while it is written.
    let creation = {
        use std::os::unix::fs::OpenOptionsExt;
        let mut options = std::fs::OpenOptions::new();
        options
            .write(true)
            .create(true)
            .truncate(true)
            .mode(MODE_FICHIER);
        let chemin = partiel.clone();
        tokio::task::spawn_blocking(move || options.open(&chemin).map(drop))
            .await
            .map_err(|e| OpsError::Outil(format!("création de la sauvegarde : {e}")))?
    };
    creation.map_err(|e| OpsError::fichier(format!("écriture de {}", partiel.display()), e))?;
    restreindre(&partiel, MODE_FICHIER).await?;
    let args: Vec<OsString> = vec![
        "--format=custom".into(),
        "--no-password".into(),
        opt("--file", &partiel),
        opt("--dbname", &connexion.uri),
    ];
    let resultat = executer(
        &settings.backup.pg_dump,
        &args,
        &connexion.environnement(),
        settings.backup.timeout,
        annulation,
    )
    .await;
    if let Err(e) = resultat {
        let _ = tokio::fs::remove_file(&partiel).await;
        return Err(e);
    }
    let sync = async { tokio::fs::File::open(&partiel).await?.sync_all().await };
    if let Err(e) = sync.await {
        let _ = tokio::fs::remove_file(&partiel).await;
        return Err(OpsError::fichier(
            format!("écriture de {}", partiel.display()),
            e,
        ));
    }
    let (sha256, taille) = match somme_sha256(&partiel).await {
        Ok(v) => v,
        Err(e) => {
            let _ = tokio::fs::remove_file(&partiel).await;
            return Err(e);
        }
    };
    if let Err(e) = tokio::fs::rename(&partiel, &cible).await {
        let _ = tokio::fs::remove_file(&partiel).await;
        return Err(OpsError::fichier(
            format!("écriture de {}", cible.display()),
            e,
        ));
    }
    ecrire_atomique(
        &chemin_somme(&cible),
        format!("{sha256}  {nom}\n").as_bytes(),
    )
    .await?;
    Ok((cible, sha256, taille))
}

/// One backup: dump, checksum, remote copy, pruning. The dump and its copy are the job;
/// a pruning failure is logged and reported, not fatal (the new backup exists).
pub async fn sauvegarder(settings: &Settings, annulation: &CancellationToken) -> OpsResult<Bilan> {
    let started = Instant::now();
    let dir = settings.backup_dir.clone();
    preparer_dossier(&dir).await?;
    let maintenant = Utc::now();
    let nom = nom_fichier(maintenant);
    let (cible, sha256, taille) = dump(settings, &dir, &nom, annulation).await?;
    tracing::info!(sauvegarde.fichier = %cible.display(), sauvegarde.taille = taille, "sauvegarde écrite");

    let depot = settings
        .backup
        .s3
        .as_ref()
        .map(|s3| Depot::new(s3, 3))
        .transpose()?;
    let mut s3 = None;
    if let Some(depot) = &depot {
        let cle = depot.televerser(&cible, &nom).await?;
        depot
            .deposer(
                &format!("{nom}.sha256"),
                format!("{sha256}  {nom}\n").into_bytes(),
            )
            .await?;
        tracing::info!(sauvegarde.s3 = %cle, "copie envoyée au stockage S3");
        s3 = Some(cle);
    }

    let retention = settings.backup.retention_days;
    let locales = a_supprimer(&copies_locales(&dir).await?, maintenant, retention);
    let supprimees_locales = match supprimer_locales(&dir, &locales).await {
        Ok(()) => locales,
        Err(e) => {
            tracing::error!(error.cause = %e, "nettoyage des anciennes sauvegardes locales impossible");
            Vec::new()
        }
    };
    let mut supprimees_s3 = Vec::new();
    if let Some(depot) = &depot {
        let nettoyage = async {
            let distantes = a_supprimer(&depot.copies().await?, maintenant, retention);
            for nom in &distantes {
                depot.supprimer(nom).await?;
                supprimees_s3.push(nom.clone());
            }
            Ok::<_, OpsError>(())
        };
        if let Err(e) = nettoyage.await {
            tracing::error!(error.cause = %e, "nettoyage des anciennes copies S3 impossible");
        }
    }
    if !supprimees_locales.is_empty() || !supprimees_s3.is_empty() {
        tracing::info!(
            sauvegarde.supprimees_locales = supprimees_locales.len(),
            sauvegarde.supprimees_s3 = supprimees_s3.len(),
            "anciennes sauvegardes supprimées (plus de {retention} jours)"
        );
    }
    Ok(Bilan {
        fichier: cible.display().to_string(),
        taille,
        sha256,
        s3,
        supprimees_locales,
        supprimees_s3,
        duree_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// Checks `dump` against its `.sha256`; returns the checksum.
pub async fn verifier_somme(dump: &Path) -> OpsResult<String> {
    let somme = chemin_somme(dump);
    let attendu = match tokio::fs::read_to_string(&somme).await {
        Ok(text) => text
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_lowercase(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(OpsError::Refus(format!(
                "somme de contrôle introuvable : {} (elle accompagne chaque sauvegarde)",
                somme.display()
            )));
        }
        Err(e) => {
            return Err(OpsError::fichier(
                format!("lecture de {}", somme.display()),
                e,
            ));
        }
    };
    if attendu.len() != 64 || !attendu.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(OpsError::Refus(format!(
            "{} ne contient pas une somme SHA-256",
            somme.display()
        )));
    }
    let (calcule, _) = somme_sha256(dump).await?;
    if calcule != attendu {
        return Err(OpsError::Refus(format!(
            "somme de contrôle différente : {} est abîmé ou incomplet (attendu {attendu}, calculé {calcule})",
            dump.display()
        )));
    }
    Ok(calcule)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use chrono::TimeZone;

    fn copie(y: i32, m: u32, d: u32) -> Copie {
        let t = Utc.with_ymd_and_hms(y, m, d, 2, 0, 0).unwrap();
        Copie {
            horodatage: t,
            nom: nom_fichier(t),
        }
    }

    #[test]
    fn names_round_trip() {
        let t = Utc.with_ymd_and_hms(2026, 11, 26, 2, 0, 5).unwrap();
        assert_eq!(nom_fichier(t), "ecole_20261126_020005.dump");
        assert_eq!(horodatage("ecole_20261126_020005.dump"), Some(t));
        for other in [
            "ecole_20261126_020005.dump.sha256",
            ".ecole_20261126_020005.dump.partiel",
            "ecole_2026.dump",
            "notes.txt",
        ] {
            assert_eq!(horodatage(other), None, "{other}");
        }
        assert_eq!(
            chemin_somme(Path::new("/b/ecole_1.dump")),
            PathBuf::from("/b/ecole_1.dump.sha256")
        );
    }

    #[test]
    fn pruning_keeps_the_three_newest_whatever_their_age() {
        let now = Utc.with_ymd_and_hms(2026, 11, 26, 3, 0, 0).unwrap();
        // Five copies, all older than 14 days: only the two oldest go.
        let old = [
            copie(2026, 1, 1),
            copie(2026, 1, 2),
            copie(2026, 1, 3),
            copie(2026, 1, 4),
            copie(2026, 1, 5),
        ];
        let mut gone = a_supprimer(&old, now, 14);
        gone.sort();
        assert_eq!(gone, vec![old[0].nom.clone(), old[1].nom.clone()]);
        // Recent copies are never pruned, old ones beyond the newest three are.
        let mixed = [
            copie(2026, 11, 25),
            copie(2026, 11, 24),
            copie(2026, 11, 20),
            copie(2026, 11, 15),
            copie(2026, 11, 1),
            copie(2026, 10, 1),
        ];
        let mut gone = a_supprimer(&mixed, now, 14);
        gone.sort();
        assert_eq!(gone, vec![mixed[5].nom.clone(), mixed[4].nom.clone()]);
        assert!(a_supprimer(&mixed[..3], now, 0).is_empty());
    }
}
