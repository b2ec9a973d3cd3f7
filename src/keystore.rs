//! The server's keys on disk: generated on first start in the data
//! directory, written atomically with mode 0600, reloaded on restart. Besides
//! the signing keys, `keys/store-secret` keys the hashes under which the
//! store keeps secret values (see [`StoreSecret`]).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::crypto::{Algorithm, KeyError, SigningKey, b64url, b64url_decode};

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
    #[error("the secret file {path} must hold 32 bytes, base64url encoded")]
    BadSecret { path: PathBuf },
}

/// The issuer's keys: ES256 is the default signing key (HAIP), EdDSA is
/// published for wallets that prefer it; the store secret keys the hashes
/// of secret values at rest.
#[derive(Debug)]
pub struct KeySet {
    pub issuer_es256: SigningKey,
    pub issuer_eddsa: SigningKey,
    pub store_secret: StoreSecret,
}

/// The file name of the store secret in `<data_dir>/keys`.
pub const STORE_SECRET_FILE: &str = "store-secret";

impl KeySet {
    /// Loads the keys from `<data_dir>/keys`, generating missing ones.
    pub fn load_or_generate(data_dir: &Path) -> Result<Self, KeyStoreError> {
        let dir = data_dir.join("keys");
        create_private_dir(&dir)?;
        Ok(KeySet {
            issuer_es256: load_or_generate(&dir.join("issuer-es256.jwk"), Algorithm::Es256)?,
            issuer_eddsa: load_or_generate(&dir.join("issuer-eddsa.jwk"), Algorithm::EdDsa)?,
            store_secret: StoreSecret::load_or_generate(&dir.join(STORE_SECRET_FILE))?,
        })
    }
}

/// The server secret (32 random bytes) that keys the hashes of secret
/// values at rest: a pre-authorized code, `tx_code`, authorization code,
/// access token, PAR `request_uri`, login session id or offer id is stored
/// only as `HMAC-SHA-256(secret, value)`, so a copy of the store (a backup)
/// redeems nothing without this file. Nodes sharing one PostgreSQL store
/// share the keys directory, and so this secret. Its `Debug` never shows it.
#[derive(Clone)]
pub struct StoreSecret {
    /// HMAC-SHA-256 keyed with the secret, ready to absorb a message.
    key: Hmac<Sha256>,
    /// The same keyed with HMAC(secret, "key_of"), so keys of several values
    /// never equal the key of one.
    key_of: Hmac<Sha256>,
    /// The same keyed with HMAC(secret, "derive"), so derived secrets never
    /// equal a store key.
    derive: Hmac<Sha256>,
    /// The same keyed with HMAC(secret, "seal"): derives the AES keys of
    /// sealed values, which no other output of this secret can equal.
    seal: Hmac<Sha256>,
}

type HmacSha256 = Hmac<Sha256>;

impl std::fmt::Debug for StoreSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoreSecret(…)")
    }
}

impl StoreSecret {
    pub fn new(secret: &[u8; 32]) -> Self {
        // UNWRAP SAFETY: HMAC takes keys of any length.
        let keyed = |k: &[u8]| HmacSha256::new_from_slice(k).expect("HMAC accepts any key length");
        let key = keyed(secret);
        let sub = |label: &[u8]| keyed(&key.clone().chain_update(label).finalize().into_bytes());
        StoreSecret {
            key_of: sub(b"digital-id store secret: key_of"),
            derive: sub(b"digital-id store secret: derive"),
            seal: sub(b"digital-id store secret: seal"),
            key,
        }
    }

    /// Loads `path`, or creates it with 32 fresh random bytes (base64url,
    /// 0600). Creation never replaces a file another node wrote meanwhile:
    /// the first one written is the one every node uses.
    pub fn load_or_generate(path: &Path) -> Result<Self, KeyStoreError> {
        match fs::read(path) {
            Ok(bytes) => Self::parse(path, &bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let secret = crate::crypto::random_bytes::<32>();
                if write_private_exclusively(path, b64url(secret).as_bytes())? {
                    tracing::info!(path = %path.display(), "generated the store secret");
                    Ok(Self::new(&secret))
                } else {
                    Self::parse(path, &fs::read(path).map_err(io(path))?)
                }
            }
            Err(e) => Err(io(path)(e)),
        }
    }

    fn parse(path: &Path, bytes: &[u8]) -> Result<Self, KeyStoreError> {
        tighten(path)?;
        let bad = || KeyStoreError::BadSecret {
            path: path.to_owned(),
        };
        let text = std::str::from_utf8(bytes).map_err(|_| bad())?;
        let raw = b64url_decode(text.trim()).map_err(|_| bad())?;
        let secret: [u8; 32] = raw.try_into().map_err(|_| bad())?;
        Ok(Self::new(&secret))
    }

    /// The store key of a secret value: base64url(HMAC-SHA-256(secret,
    /// value)).
    pub fn key(&self, value: &str) -> String {
        b64url(self.key.clone().chain_update(value).finalize().into_bytes())
    }

    /// The store key of several values together (each one length-prefixed,
    /// so no two different lists give the same input).
    pub fn key_of(&self, parts: &[&str]) -> String {
        let mut mac = self.key_of.clone();
        for p in parts {
            mac.update(&(p.len() as u64).to_be_bytes());
            mac.update(p.as_bytes());
        }
        b64url(mac.finalize().into_bytes())
    }

    /// A secret value derived from `value` for `purpose` (a constant of the
    /// caller), so the server can recompute a secret it does not store.
    pub fn derive(&self, purpose: &'static str, value: &str) -> String {
        let mut mac = self.derive.clone();
        mac.update(&(purpose.len() as u64).to_be_bytes());
        mac.update(purpose.as_bytes());
        mac.update(value.as_bytes());
        b64url(mac.finalize().into_bytes())
    }
}

/// Why a sealed value could not be opened (or made).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the sealed value is malformed")]
    Malformed,
    #[error("the sealed value does not open with this server's store secret and context")]
    Forged,
    #[error("sealing failed")]
    Crypto,
}

/// Version prefix of a sealed value.
const SEALED_V1: &str = "v1.";

impl StoreSecret {
    fn seal_key(&self, purpose: &'static str) -> [u8; 32] {
        let mut mac = self.seal.clone();
        mac.update(&(purpose.len() as u64).to_be_bytes());
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Encrypts a secret value kept at rest in the store (a relying
    /// party's private key): AES-256-GCM under a key derived from this
    /// secret for `purpose`, with `context` (e.g. the owner's id) as
    /// additional data, so a copy of the store reveals nothing without the
    /// keys directory and a value moved to another record does not open.
    /// `v1.` + base64url(nonce ‖ ciphertext ‖ tag).
    pub fn seal(
        &self,
        purpose: &'static str,
        context: &str,
        plaintext: &[u8],
    ) -> Result<String, SealError> {
        use openssl::symm::{Cipher, encrypt_aead};
        let nonce = crate::crypto::random_bytes::<12>();
        let mut tag = [0u8; 16];
        let ct = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.seal_key(purpose),
            Some(&nonce),
            context.as_bytes(),
            plaintext,
            &mut tag,
        )
        .map_err(|_| SealError::Crypto)?;
        let mut out = Vec::with_capacity(12 + ct.len() + 16);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&ct);
        out.extend_from_slice(&tag);
        Ok(format!("{SEALED_V1}{}", b64url(out)))
    }

    /// Opens what [`StoreSecret::seal`] made for the same `purpose` and
    /// `context`.
    pub fn open(
        &self,
        purpose: &'static str,
        context: &str,
        sealed: &str,
    ) -> Result<Vec<u8>, SealError> {
        use openssl::symm::{Cipher, decrypt_aead};
        let raw = sealed
            .strip_prefix(SEALED_V1)
            .and_then(|b| b64url_decode(b).ok())
            .filter(|r| r.len() >= 12 + 16)
            .ok_or(SealError::Malformed)?;
        let (nonce, rest) = raw.split_at(12);
        let (ct, tag) = rest.split_at(rest.len() - 16);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &self.seal_key(purpose),
            Some(nonce),
            context.as_bytes(),
            ct,
            tag,
        )
        .map_err(|_| SealError::Forged)
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
            tighten(path)?;
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

/// Sets a key file readable by others back to 0600 (with a warning).
fn tighten(path: &Path) -> Result<(), KeyStoreError> {
    let mode = fs::metadata(path).map_err(io(path))?.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(path = %path.display(), mode = format!("{:o}", mode & 0o777), "key file is readable by others; tightening to 0600");
        fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io(path))?;
    }
    Ok(())
}

/// Writes a temporary file with `bytes` (0600, fsynced) in `path`'s
/// directory and returns its path.
fn write_temporary(path: &Path, bytes: &[u8]) -> Result<PathBuf, KeyStoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("key"),
        std::process::id(),
        crate::crypto::random_token()
    ));
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(&tmp))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io(&tmp)(e)
        })?;
    Ok(tmp)
}

fn sync_dir(path: &Path) -> Result<(), KeyStoreError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// Creates `path` with `bytes` unless it exists: the complete file appears
/// at once (a hard link to a synced temporary file), never a partial one,
/// and a file another process created first is kept. `false` when `path`
/// already existed.
pub fn write_private_exclusively(path: &Path, bytes: &[u8]) -> Result<bool, KeyStoreError> {
    let tmp = write_temporary(path, bytes)?;
    let linked = fs::hard_link(&tmp, path);
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => sync_dir(path).map(|()| true),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(io(path)(e)),
    }
}

/// Writes `bytes` to `path` so that a crash leaves either the old file or the
/// complete new one, never a partial key, and the file is never readable by
/// others (created 0600, fsynced, renamed, directory fsynced).
pub fn write_private_atomically(path: &Path, bytes: &[u8]) -> Result<(), KeyStoreError> {
    let tmp = write_temporary(path, bytes)?;
    fs::rename(&tmp, path).map_err(|e| {
        let _ = fs::remove_file(&tmp);
        io(path)(e)
    })?;
    sync_dir(path)
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
        assert_eq!(
            first.store_secret.key("value"),
            second.store_secret.key("value")
        );
        for name in ["issuer-es256.jwk", "issuer-eddsa.jwk", STORE_SECRET_FILE] {
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

    #[test]
    fn the_store_secret_is_32_random_bytes_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(STORE_SECRET_FILE);
        let first = StoreSecret::load_or_generate(&path).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        assert_eq!(b64url_decode(text.trim()).unwrap().len(), 32);
        // Another node that lost the race keeps the file it finds.
        assert!(!write_private_exclusively(&path, b"other").unwrap());
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        let again = StoreSecret::load_or_generate(&path).unwrap();
        assert_eq!(first.key("code"), again.key("code"));
        let other = tempfile::tempdir().unwrap();
        let elsewhere = StoreSecret::load_or_generate(&other.path().join("s")).unwrap();
        assert_ne!(first.key("code"), elsewhere.key("code"));
        assert_eq!(format!("{first:?}"), "StoreSecret(…)");
        for bad in [&b"short"[..], b"\xff\xfe", b"not base64url!"] {
            fs::write(&path, bad).unwrap();
            assert!(matches!(
                StoreSecret::load_or_generate(&path),
                Err(KeyStoreError::BadSecret { .. })
            ));
        }
    }

    /// `key` is HMAC-SHA-256 as OpenSSL computes it; `key_of` and `derive`
    /// are separate functions of the secret.
    #[test]
    fn store_keys_are_hmac_sha256_of_the_value() {
        let secret = [7u8; 32];
        let s = StoreSecret::new(&secret);
        let pkey = openssl::pkey::PKey::hmac(&secret).unwrap();
        let mut signer =
            openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
        signer.update(b"493021").unwrap();
        assert_eq!(s.key("493021"), b64url(signer.sign_to_vec().unwrap()));
        assert_ne!(s.key("ab"), s.key_of(&["ab"]));
        assert_ne!(s.key_of(&["a", "b"]), s.key_of(&["ab"]));
        assert_ne!(s.key_of(&["a", "bc"]), s.key_of(&["ab", "c"]));
        assert_ne!(s.derive("code", "x"), s.key("x"));
        assert_ne!(s.derive("code", "x"), s.derive("other", "x"));
        assert_eq!(s.derive("code", "x"), s.derive("code", "x"));
    }

    #[test]
    fn sealed_values_open_only_with_the_same_secret_purpose_and_context() {
        let s = StoreSecret::new(&[7; 32]);
        let sealed = s.seal("party key", "kosmos", b"private").unwrap();
        assert!(sealed.starts_with("v1."));
        assert!(!sealed.contains("private"));
        assert_eq!(s.open("party key", "kosmos", &sealed).unwrap(), b"private");
        // Fresh nonce each time.
        assert_ne!(s.seal("party key", "kosmos", b"private").unwrap(), sealed);
        assert_eq!(
            s.open("party key", "other", &sealed),
            Err(SealError::Forged)
        );
        assert_eq!(
            s.open("other purpose", "kosmos", &sealed),
            Err(SealError::Forged)
        );
        assert_eq!(
            StoreSecret::new(&[8; 32]).open("party key", "kosmos", &sealed),
            Err(SealError::Forged)
        );
        // A character inside the data (the last one may carry only
        // padding bits, which the decoder refuses as malformed).
        let mut tampered = sealed.clone().into_bytes();
        let mid = tampered.len() - 10;
        tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
        assert_eq!(
            s.open(
                "party key",
                "kosmos",
                std::str::from_utf8(&tampered).unwrap()
            ),
            Err(SealError::Forged)
        );
        assert_eq!(
            s.open("party key", "kosmos", "v1.AAAA"),
            Err(SealError::Malformed)
        );
        assert_eq!(
            s.open("party key", "kosmos", "private"),
            Err(SealError::Malformed)
        );
    }
}
