//! The server's signing keys on disk: generated on first start in the data
//! directory, written atomically with mode 0600, reloaded on restart.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::crypto::{Algorithm, KeyError, SigningKey};

/// Why the key files could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error("cannot use the key directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the key file {path} is not a valid private JWK: {source}")]
    BadKey { path: PathBuf, source: KeyError },
    #[error("the key file {path} is not JSON")]
    NotJson { path: PathBuf },
}

/// The issuer's keys: ES256 is the default signing key (HAIP), EdDSA is
/// published for wallets that prefer it.
#[derive(Debug)]
pub struct KeySet {
    pub issuer_es256: SigningKey,
    pub issuer_eddsa: SigningKey,
}

impl KeySet {
    /// Loads the keys from `<data_dir>/keys`, generating missing ones.
    pub fn load_or_generate(data_dir: &Path) -> Result<Self, KeyStoreError> {
        let dir = data_dir.join("keys");
        create_private_dir(&dir)?;
        Ok(KeySet {
            issuer_es256: load_or_generate(&dir.join("issuer-es256.jwk"), Algorithm::Es256)?,
            issuer_eddsa: load_or_generate(&dir.join("issuer-eddsa.jwk"), Algorithm::EdDsa)?,
        })
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> KeyStoreError + '_ {
    move |source| KeyStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn create_private_dir(dir: &Path) -> Result<(), KeyStoreError> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))
}

fn load_or_generate(path: &Path, alg: Algorithm) -> Result<SigningKey, KeyStoreError> {
    match fs::read(path) {
        Ok(bytes) => {
            let mode = fs::metadata(path).map_err(io(path))?.permissions().mode();
            if mode & 0o077 != 0 {
                tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "key file is readable by others; tightening to 0600");
                fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io(path))?;
            }
            let value: Value =
                serde_json::from_slice(&bytes).map_err(|_| KeyStoreError::NotJson {
                    path: path.to_owned(),
                })?;
            SigningKey::from_jwk(&value).map_err(|source| KeyStoreError::BadKey {
                path: path.to_owned(),
                source,
            })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SigningKey::generate(alg).map_err(|source| KeyStoreError::BadKey {
                path: path.to_owned(),
                source,
            })?;
            let text = serde_json::to_vec_pretty(&key.to_private_jwk()).unwrap_or_default();
            write_private_atomically(path, &text)?;
            tracing::info!(path = %path.display(), kid = key.kid(), alg = %alg, "generated a new signing key");
            Ok(key)
        }
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the
/// complete new one, never a partial key, and the file is never readable by
/// others (created 0600, fsynced, renamed, directory fsynced).
pub fn write_private_atomically(path: &Path, bytes: &[u8]) -> Result<(), KeyStoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        std::process::id()
    ));
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io(path))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_then_reloads_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let first = KeySet::load_or_generate(dir.path()).unwrap();
        let second = KeySet::load_or_generate(dir.path()).unwrap();
        assert_eq!(first.issuer_es256.kid(), second.issuer_es256.kid());
        assert_eq!(first.issuer_eddsa.kid(), second.issuer_eddsa.kid());
        for name in ["issuer-es256.jwk", "issuer-eddsa.jwk"] {
            let mode = fs::metadata(dir.path().join("keys").join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path().join("keys"))
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_new_key() {
        let dir = tempfile::tempdir().unwrap();
        KeySet::load_or_generate(dir.path()).unwrap();
        fs::write(
            dir.path().join("keys/issuer-es256.jwk"),
            b"{\"kty\":\"EC\"}",
        )
        .unwrap();
        assert!(matches!(
            KeySet::load_or_generate(dir.path()),
            Err(KeyStoreError::BadKey { .. })
        ));
        fs::write(dir.path().join("keys/issuer-es256.jwk"), b"garbage").unwrap();
        assert!(matches!(
            KeySet::load_or_generate(dir.path()),
            Err(KeyStoreError::NotJson { .. })
        ));
    }
}
