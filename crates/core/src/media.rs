//! Files under the media root (PDFs, the logo): paths the server chose (by id), never a
//! user-supplied name, written atomically.

use std::path::{Component, Path, PathBuf};

/// `root/relative` when `relative` is a plain relative path (no `..`, no root, no prefix).
pub fn resolve(root: &Path, relative: &str) -> Option<PathBuf> {
    let rel = Path::new(relative);
    if relative.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return None;
    }
    Some(root.join(rel))
}

/// Writes `bytes` to `root/relative` through a temporary file in the same folder, synced,
/// then renamed: readers see the old file or the new one, never a half-written one.
pub async fn write_atomic(root: &Path, relative: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = resolve(root, relative).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "chemin de fichier refusé")
    })?;
    let tmp = temporary(&path)?;
    write_synced(&tmp, bytes).await?;
    if let Err(e) = tokio::fs::rename(&tmp, &path).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    Ok(path)
}

/// A new temporary path beside `path` (its folder created).
pub fn temporary(path: &Path) -> std::io::Result<PathBuf> {
    let dir = path.parent().ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "chemin sans dossier")
    })?;
    std::fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple())))
}

/// Writes and syncs a file.
pub async fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = tokio::fs::File::create(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_relative_paths_resolve() {
        let root = Path::new("/srv/media");
        assert_eq!(
            resolve(root, "bulletins/1/12.pdf"),
            Some(PathBuf::from("/srv/media/bulletins/1/12.pdf"))
        );
        for bad in ["", "../etc/passwd", "/etc/passwd", "a/../../b", "./a"] {
            assert_eq!(resolve(root, bad), None, "{bad}");
        }
    }
}
