//! The verifier's identity: an ES256 request-signing key, a demo CA and a
//! leaf certificate for that key (generated on first start, 0600 files in
//! `<data_dir>/keys`), and the Client Identifier derived from them
//! (OpenID4VP 1.0 §5.9.3: `x509_hash:<base64url SHA-256 of the leaf DER>`, or
//! `decentralized_identifier:did:key:…`).
//!
//! The demo CA exists only in demo mode. Otherwise the operator provides
//! `verifier-leaf.pem` (a certificate for `verifier-es256.jwk` naming the
//! public URL's host, issued by a CA wallets trust); without one the
//! verifier falls back to the `decentralized_identifier` (did:key) prefix
//! with a warning, or refuses to start under HAIP (x509_hash only). A leaf
//! the demo CA issued is never used outside demo mode.

use std::fs;
use std::path::Path;

use openssl::pkey::{PKey, Private};
use openssl::x509::X509;
use serde_json::Value;

use crate::config::PublicUrl;
use crate::crypto::x509::certify::{CA_DAYS, LeafRole, Validity, make_ca, make_leaf};
pub(crate) use crate::crypto::x509::certify::{LEAF_DAYS, LeafSubject, to_pkey};
use crate::crypto::{Algorithm, SigningKey, b64url, did_key, sha256};
use crate::keystore::{self, KeyStoreError};

/// Which Client Identifier Prefix the verifier uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientIdPrefix {
    X509Hash,
    DecentralizedIdentifier,
}

impl ClientIdPrefix {
    /// From `verifier.client_id_prefix` (already checked by the config).
    pub fn from_setting(s: &str) -> Self {
        match s {
            "decentralized_identifier" => ClientIdPrefix::DecentralizedIdentifier,
            _ => ClientIdPrefix::X509Hash,
        }
    }
}

/// A Client Identifier with its prefix (`x509_hash:…`), as the wallet sees
/// it and as KB-JWT `aud` must carry it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientId(pub String);

impl ClientId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why the verifier identity could not be loaded or made.
#[derive(Debug, thiserror::Error)]
pub enum VerifierKeyError {
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    #[error("the certificate {path} is unusable: {why}")]
    Certificate { path: String, why: String },
    #[error(
        "the verifier needs a leaf certificate for its x509_hash client id: put it at {path} \
         (for the key in verifier-es256.jwk, naming the public URL's host), or run with --demo"
    )]
    LeafMissing { path: String },
}

/// Where the verifier's leaf certificate comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Certificates {
    /// Demo mode: a demo CA generated on first start issues the leaf.
    DemoCa,
    /// The operator's `verifier-leaf.pem`; without it the `x509_hash`
    /// prefix falls back to `decentralized_identifier` (warning logged).
    Operator,
    /// As `Operator`, but without a leaf the server does not start (HAIP
    /// 1.0 §5: x509_hash only).
    OperatorRequired,
}

/// The verifier's keys and Client Identifier.
pub struct VerifierKeys {
    /// Signs request objects and result callbacks.
    pub signing: SigningKey,
    /// The leaf certificate (DER) for `signing`; `x5c` carries only this.
    pub leaf_der: Vec<u8>,
    /// The demo CA certificate (DER; demo mode only); never sent to wallets.
    pub ca_der: Option<Vec<u8>>,
    /// The demo CA (demo mode only): issues relying parties' leaves.
    demo_ca: Option<(X509, PKey<Private>)>,
    pub prefix: ClientIdPrefix,
    pub client_id: ClientId,
}

impl std::fmt::Debug for VerifierKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifierKeys")
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl VerifierKeys {
    /// Loads the verifier identity from `<data_dir>/keys`, generating the
    /// signing key when missing; the leaf certificate as `certificates`
    /// says (with the demo CA: generated for `public_url`'s host when
    /// missing, re-issued for another host).
    pub fn load_or_generate(
        data_dir: &Path,
        public_url: &PublicUrl,
        prefix: ClientIdPrefix,
        certificates: Certificates,
    ) -> Result<Self, VerifierKeyError> {
        let dir = data_dir.join("keys");
        fs::create_dir_all(&dir).map_err(|source| KeyStoreError::Io {
            path: dir.clone(),
            source,
        })?;
        let signing = load_or_generate_key(&dir.join("verifier-es256.jwk"))?;
        let host = host_of(public_url);
        let leaf_path = dir.join("verifier-leaf.pem");
        let signing_pkey = to_pkey(&signing).map_err(cert_err(&leaf_path))?;
        let (leaf, demo_ca) = match certificates {
            Certificates::DemoCa => {
                let (leaf, ca) = demo_leaf(&dir, &host, &signing_pkey)?;
                (Some(leaf), Some(ca))
            }
            Certificates::Operator | Certificates::OperatorRequired => {
                (operator_leaf(&dir, &host, &signing_pkey)?, None)
            }
        };
        let ca = demo_ca.as_ref().map(|(ca, _)| ca);
        let leaf_der = match &leaf {
            Some(leaf) => leaf.to_der().map_err(cert_err(&leaf_path))?,
            None => Vec::new(),
        };
        let ca_der = match &ca {
            Some(ca) => Some(
                ca.to_der()
                    .map_err(cert_err(&dir.join("verifier-ca.pem")))?,
            ),
            None => None,
        };
        let prefix = match (prefix, leaf.is_some(), certificates) {
            (ClientIdPrefix::X509Hash, false, Certificates::OperatorRequired) => {
                return Err(VerifierKeyError::LeafMissing {
                    path: leaf_path.display().to_string(),
                });
            }
            (ClientIdPrefix::X509Hash, false, Certificates::Operator | Certificates::DemoCa) => {
                tracing::warn!(
                    path = %leaf_path.display(),
                    "no verifier leaf certificate: the verifier uses the decentralized_identifier \
                     (did:key) client id; provide a leaf certificate for x509_hash, or run with --demo"
                );
                ClientIdPrefix::DecentralizedIdentifier
            }
            (ClientIdPrefix::X509Hash, true, _)
            | (ClientIdPrefix::DecentralizedIdentifier, _, _) => prefix,
        };
        let client_id = match prefix {
            ClientIdPrefix::X509Hash => {
                ClientId(format!("x509_hash:{}", b64url(sha256(&leaf_der))))
            }
            ClientIdPrefix::DecentralizedIdentifier => ClientId(format!(
                "decentralized_identifier:{}",
                did_key::encode(signing.public())
            )),
        };
        Ok(VerifierKeys {
            signing,
            leaf_der,
            ca_der,
            demo_ca,
            prefix,
            client_id,
        })
    }

    /// The JOSE header members that let a wallet check a request object:
    /// `x5c` (leaf only) for `x509_hash`, `kid` (the DID URL) for did:key.
    pub fn jar_header(&self) -> serde_json::Map<String, Value> {
        use base64::Engine as _;
        let mut h = serde_json::Map::new();
        match self.prefix {
            ClientIdPrefix::X509Hash => {
                let der = base64::engine::general_purpose::STANDARD.encode(&self.leaf_der);
                h.insert("x5c".into(), Value::Array(vec![Value::String(der)]));
            }
            ClientIdPrefix::DecentralizedIdentifier => {
                h.insert(
                    "kid".into(),
                    Value::String(did_key::verification_method(self.signing.public())),
                );
            }
        }
        h
    }
}

impl VerifierKeys {
    /// Demo mode: a leaf certificate from the demo CA for a relying
    /// party's `key` (DER), valid for a year from `now`; `None` outside
    /// demo mode (there is no demo CA then).
    pub(crate) fn issue_demo_leaf(
        &self,
        key: &SigningKey,
        subject: &LeafSubject<'_>,
        now: i64,
    ) -> Option<Result<Vec<u8>, openssl::error::ErrorStack>> {
        let (ca, ca_key) = self.demo_ca.as_ref()?;
        Some(to_pkey(key).and_then(|pkey| {
            make_leaf(ca, ca_key, &pkey, subject, Validity::days(now, LEAF_DAYS))?.to_der()
        }))
    }
}

/// Demo mode: the demo CA (generated on first start) and its leaf for
/// `host` and `key` (re-issued when it names another host or key).
fn demo_leaf(
    dir: &Path,
    host: &str,
    key: &PKey<Private>,
) -> Result<(X509, (X509, PKey<Private>)), VerifierKeyError> {
    let ca_path = dir.join("verifier-ca.pem");
    let ca_key_path = dir.join("verifier-ca-key.pem");
    let leaf_path = dir.join("verifier-leaf.pem");
    let (ca, ca_key) = match (fs::read(&ca_path), fs::read(&ca_key_path)) {
        (Ok(c), Ok(k)) => (
            X509::from_pem(&c).map_err(cert_err(&ca_path))?,
            PKey::private_key_from_pem(&k).map_err(cert_err(&ca_key_path))?,
        ),
        _ => {
            let (ca, ca_key) = make_ca(
                DEMO_CA_NAME,
                Validity::days(crate::cli::unix_now(), CA_DAYS),
            )
            .map_err(cert_err(&ca_path))?;
            let key_pem = ca_key
                .private_key_to_pem_pkcs8()
                .map_err(cert_err(&ca_key_path))?;
            keystore::write_private_atomically(&ca_key_path, &key_pem)?;
            let pem = ca.to_pem().map_err(cert_err(&ca_path))?;
            keystore::write_private_atomically(&ca_path, &pem)?;
            (ca, ca_key)
        }
    };
    let existing = fs::read(&leaf_path)
        .ok()
        .and_then(|pem| X509::from_pem(&pem).ok())
        .filter(|leaf| leaf_fits(leaf, host, key));
    let leaf = match existing {
        Some(leaf) => leaf,
        None => {
            let leaf = make_leaf(
                &ca,
                &ca_key,
                key,
                &host_subject(host),
                Validity::days(crate::cli::unix_now(), LEAF_DAYS),
            )
            .map_err(cert_err(&leaf_path))?;
            let pem = leaf.to_pem().map_err(cert_err(&leaf_path))?;
            keystore::write_private_atomically(&leaf_path, &pem)?;
            tracing::info!(host = %host, "issued a verifier leaf certificate with the demo CA");
            leaf
        }
    };
    Ok((leaf, (ca, ca_key)))
}

/// The demo CA's common name: a leaf it issued is never used outside demo
/// mode, even when the CA's own files were deleted.
const DEMO_CA_NAME: &str = "digital-id demo verifier CA";

/// Outside demo mode: the operator's leaf, if there is one that the demo
/// CA did not issue. It must certify `key` and name `host`.
fn operator_leaf(
    dir: &Path,
    host: &str,
    key: &PKey<Private>,
) -> Result<Option<X509>, VerifierKeyError> {
    let leaf_path = dir.join("verifier-leaf.pem");
    let Ok(pem) = fs::read(&leaf_path) else {
        return Ok(None);
    };
    let leaf = X509::from_pem(&pem).map_err(cert_err(&leaf_path))?;
    // By signature when the demo CA is still there, and by the demo CA's
    // name when it was deleted and its leaf left behind.
    let signed_by_demo_ca = fs::read(dir.join("verifier-ca.pem"))
        .ok()
        .and_then(|c| X509::from_pem(&c).ok())
        .and_then(|ca| ca.public_key().ok())
        .is_some_and(|ca_key| leaf.verify(&ca_key).unwrap_or(false));
    let named_by_demo_ca = leaf
        .issuer_name()
        .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        .any(|e| e.data().as_slice() == DEMO_CA_NAME.as_bytes());
    let from_demo_ca = signed_by_demo_ca || named_by_demo_ca;
    if from_demo_ca {
        tracing::warn!(
            path = %leaf_path.display(),
            "the verifier leaf certificate was issued by the demo CA: not used outside demo mode"
        );
        return Ok(None);
    }
    if !leaf_fits(&leaf, host, key) {
        return Err(VerifierKeyError::Certificate {
            path: leaf_path.display().to_string(),
            why: format!(
                "it must certify the key in verifier-es256.jwk and name {host} in subjectAltName"
            ),
        });
    }
    Ok(Some(leaf))
}

fn cert_err(path: &Path) -> impl FnOnce(openssl::error::ErrorStack) -> VerifierKeyError + '_ {
    move |e| VerifierKeyError::Certificate {
        path: path.display().to_string(),
        why: e.to_string(),
    }
}

/// The verifier identity already stored in `<data_dir>/keys` (public parts
/// only: JWK, did:key, certificates, both Client Identifiers), or `None`
/// before the first `serve` created it. Reads only; generates nothing.
pub fn describe_stored(data_dir: &Path) -> Option<Value> {
    let dir = data_dir.join("keys");
    let jwk: Value =
        serde_json::from_slice(&fs::read(dir.join("verifier-es256.jwk")).ok()?).ok()?;
    let key = SigningKey::from_jwk(&jwk).ok()?;
    let leaf_pem = fs::read_to_string(dir.join("verifier-leaf.pem")).ok();
    let leaf_der = leaf_pem
        .as_deref()
        .and_then(|p| X509::from_pem(p.as_bytes()).ok())
        .and_then(|c| c.to_der().ok());
    let did = did_key::encode(key.public());
    Some(serde_json::json!({
        "jwk": key.public().jwk_for_publication(),
        "did": did,
        "client_id": {
            "x509_hash": leaf_der.map(|d| format!("x509_hash:{}", b64url(sha256(&d)))),
            "decentralized_identifier": format!("decentralized_identifier:{did}"),
        },
        "leaf_certificate": leaf_pem,
        "ca_certificate": fs::read_to_string(dir.join("verifier-ca.pem")).ok(),
    }))
}

fn load_or_generate_key(path: &Path) -> Result<SigningKey, VerifierKeyError> {
    let bad = |source| KeyStoreError::BadKey {
        path: path.to_owned(),
        source,
    };
    match fs::read(path) {
        Ok(bytes) => {
            let v: Value = serde_json::from_slice(&bytes).map_err(|_| KeyStoreError::NotJson {
                path: path.to_owned(),
            })?;
            Ok(SigningKey::from_jwk(&v).map_err(bad)?)
        }
        Err(_) => {
            let key = SigningKey::generate(Algorithm::Es256).map_err(bad)?;
            let text = serde_json::to_vec_pretty(&key.to_private_jwk()).unwrap_or_default();
            keystore::write_private_atomically(path, &text)?;
            tracing::info!(
                kid = key.kid(),
                "generated the verifier's request-signing key"
            );
            Ok(key)
        }
    }
}

/// The host of the public URL (without port or brackets).
pub(crate) fn host_of(url: &PublicUrl) -> String {
    let origin = url.origin();
    let authority = origin.split_once("://").map_or(origin, |(_, a)| a);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or_default().to_owned();
    }
    authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .to_owned()
}

/// The verifier's own leaf: named after the host.
fn host_subject(host: &str) -> LeafSubject<'_> {
    LeafSubject {
        common_name: host,
        organization: None,
        dns_name: Some(host),
        role: LeafRole::Verifier,
    }
}

/// Whether a stored leaf still names `host` and certifies `key`.
fn leaf_fits(leaf: &X509, host: &str, key: &PKey<Private>) -> bool {
    let names_host = leaf
        .subject_alt_names()
        .is_some_and(|names| names.iter().any(|n| n.dnsname() == Some(host)));
    let same_key = leaf.public_key().ok().is_some_and(|pk| pk.public_eq(key));
    names_host && same_key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_a_leaf_for_the_host_signed_by_the_ca_and_reloads_it() {
        let dir = tempfile::tempdir().unwrap();
        let url = PublicUrl::parse("https://verifier.example.ru").unwrap();
        let k = VerifierKeys::load_or_generate(
            dir.path(),
            &url,
            ClientIdPrefix::X509Hash,
            Certificates::DemoCa,
        )
        .unwrap();
        let leaf = X509::from_der(&k.leaf_der).unwrap();
        let ca = X509::from_der(k.ca_der.as_deref().unwrap()).unwrap();
        assert!(leaf.verify(&ca.public_key().unwrap()).unwrap());
        let sans: Vec<_> = leaf
            .subject_alt_names()
            .unwrap()
            .iter()
            .filter_map(|n| n.dnsname().map(str::to_owned))
            .collect();
        assert_eq!(sans, ["verifier.example.ru"]);
        assert_eq!(
            k.client_id.as_str(),
            format!("x509_hash:{}", b64url(sha256(&k.leaf_der)))
        );
        let again = VerifierKeys::load_or_generate(
            dir.path(),
            &url,
            ClientIdPrefix::X509Hash,
            Certificates::DemoCa,
        )
        .unwrap();
        assert_eq!(again.client_id, k.client_id);
        use std::os::unix::fs::PermissionsExt;
        for f in [
            "verifier-es256.jwk",
            "verifier-ca-key.pem",
            "verifier-leaf.pem",
        ] {
            let mode = fs::metadata(dir.path().join("keys").join(f))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        // A new host gets a new leaf from the same CA.
        let other = PublicUrl::parse("https://rp.example.ru").unwrap();
        let moved = VerifierKeys::load_or_generate(
            dir.path(),
            &other,
            ClientIdPrefix::X509Hash,
            Certificates::DemoCa,
        )
        .unwrap();
        assert_ne!(moved.client_id, k.client_id);
        assert_eq!(moved.ca_der, k.ca_der);
    }

    #[test]
    fn did_prefix_uses_the_signing_key() {
        let dir = tempfile::tempdir().unwrap();
        let url = PublicUrl::parse("http://127.0.0.1:8080").unwrap();
        let k = VerifierKeys::load_or_generate(
            dir.path(),
            &url,
            ClientIdPrefix::DecentralizedIdentifier,
            Certificates::Operator,
        )
        .unwrap();
        let did = k
            .client_id
            .as_str()
            .strip_prefix("decentralized_identifier:")
            .unwrap();
        assert_eq!(did_key::resolve(did).unwrap(), *k.signing.public());
        assert!(k.jar_header()["kid"].as_str().unwrap().starts_with(did));
    }

    fn load(dir: &Path, certificates: Certificates) -> Result<VerifierKeys, VerifierKeyError> {
        let url = PublicUrl::parse("https://verifier.example.ru").unwrap();
        VerifierKeys::load_or_generate(dir, &url, ClientIdPrefix::X509Hash, certificates)
    }

    #[test]
    fn without_demo_no_ca_is_made_and_the_client_id_is_the_did() {
        let dir = tempfile::tempdir().unwrap();
        let k = load(dir.path(), Certificates::Operator).unwrap();
        assert_eq!(k.prefix, ClientIdPrefix::DecentralizedIdentifier);
        assert!(
            k.client_id
                .as_str()
                .starts_with("decentralized_identifier:did:key:")
        );
        assert!(k.ca_der.is_none());
        for f in [
            "verifier-ca.pem",
            "verifier-ca-key.pem",
            "verifier-leaf.pem",
        ] {
            assert!(!dir.path().join("keys").join(f).exists(), "{f}");
        }
    }

    #[test]
    fn a_leaf_of_the_demo_ca_is_not_used_outside_demo_mode() {
        let dir = tempfile::tempdir().unwrap();
        let demo = load(dir.path(), Certificates::DemoCa).unwrap();
        assert_eq!(demo.prefix, ClientIdPrefix::X509Hash);
        let later = load(dir.path(), Certificates::Operator).unwrap();
        assert_eq!(later.prefix, ClientIdPrefix::DecentralizedIdentifier);
        assert!(matches!(
            load(dir.path(), Certificates::OperatorRequired),
            Err(VerifierKeyError::LeafMissing { .. })
        ));
        // Nor when the demo CA's files were deleted and its leaf left behind.
        for f in ["verifier-ca.pem", "verifier-ca-key.pem"] {
            fs::remove_file(dir.path().join("keys").join(f)).unwrap();
        }
        let cleaned = load(dir.path(), Certificates::Operator).unwrap();
        assert_eq!(cleaned.prefix, ClientIdPrefix::DecentralizedIdentifier);
    }

    #[test]
    fn haip_without_a_leaf_does_not_start() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path(), Certificates::OperatorRequired).unwrap_err();
        assert!(matches!(err, VerifierKeyError::LeafMissing { .. }), "{err}");
        assert!(err.to_string().contains("verifier-leaf.pem"), "{err}");
    }

    #[test]
    fn an_operator_leaf_is_used_and_must_fit_the_key_and_host() {
        let dir = tempfile::tempdir().unwrap();
        // The key first (no leaf yet), then the operator's CA certifies it.
        load(dir.path(), Certificates::Operator).unwrap();
        let keys = dir.path().join("keys");
        let jwk: Value =
            serde_json::from_slice(&fs::read(keys.join("verifier-es256.jwk")).unwrap()).unwrap();
        let key = to_pkey(&SigningKey::from_jwk(&jwk).unwrap()).unwrap();
        let (ca, ca_key) = make_ca(
            "Operator CA",
            Validity::days(crate::cli::unix_now(), CA_DAYS),
        )
        .unwrap();
        let leaf = make_leaf(
            &ca,
            &ca_key,
            &key,
            &host_subject("verifier.example.ru"),
            Validity::days(crate::cli::unix_now(), LEAF_DAYS),
        )
        .unwrap();
        fs::write(keys.join("verifier-leaf.pem"), leaf.to_pem().unwrap()).unwrap();
        let k = load(dir.path(), Certificates::OperatorRequired).unwrap();
        assert_eq!(k.prefix, ClientIdPrefix::X509Hash);
        assert_eq!(k.leaf_der, leaf.to_der().unwrap());
        assert!(k.ca_der.is_none());

        let other_host = make_leaf(
            &ca,
            &ca_key,
            &key,
            &host_subject("elsewhere.example"),
            Validity::days(crate::cli::unix_now(), LEAF_DAYS),
        )
        .unwrap();
        fs::write(keys.join("verifier-leaf.pem"), other_host.to_pem().unwrap()).unwrap();
        assert!(matches!(
            load(dir.path(), Certificates::Operator),
            Err(VerifierKeyError::Certificate { .. })
        ));
    }
}
