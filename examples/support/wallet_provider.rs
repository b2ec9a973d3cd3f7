//! A test wallet provider: the party that vouches for wallet instances
//! (OAuth attestation-based client authentication) and for the keys they
//! keep in secure hardware (OpenID4VCI 1.0 Appendix D key attestations).
//!
//! It is a root CA and a signing leaf under it, generated on first use and
//! kept in a directory (`root.pem` is what a server's `[attestation]
//! wallet_provider_roots` names). Generated keys only: this is for tests and
//! demonstrations, never for a production wallet provider.

use std::fs;
use std::path::Path;

use openssl::x509::X509;
use serde_json::{Map, Value, json};

use digital_id::crypto::x509::certify::{
    LeafRole, LeafSubject, Validity, make_ca, make_leaf, to_pkey,
};
use digital_id::crypto::{Algorithm, PublicKey, SigningKey, jws, random_token};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// ISO/IEC 18045 attack potential resistance, the strongest level
/// (OpenID4VCI 1.0 Appendix D.2).
pub const ISO_18045_HIGH: &str = "iso_18045_high";

/// A wallet provider: a root CA and the leaf that signs attestations.
pub struct WalletProvider {
    /// The provider's identifier (`iss` of its attestations).
    pub id: String,
    pub root: X509,
    pub leaf: X509,
    /// The leaf's key (signs attestations).
    pub signer: SigningKey,
}

impl std::fmt::Debug for WalletProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WalletProvider")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl WalletProvider {
    /// A new provider: a root valid for a year and a leaf valid for 90 days,
    /// both from an hour ago.
    pub fn generate(id: &str) -> Res<Self> {
        let now = unix_now();
        Self::generate_valid(id, now - 3600, now + 90 * 86_400)
    }

    /// As [`generate`](Self::generate), with the leaf valid from
    /// `not_before` to `not_after` (unix seconds).
    pub fn generate_valid(id: &str, not_before: i64, not_after: i64) -> Res<Self> {
        let root_validity = Validity {
            not_before: not_before.min(unix_now() - 3600),
            not_after: unix_now() + 365 * 86_400,
        };
        let (root, root_key) = make_ca(&format!("{id} root"), root_validity)?;
        // An end-entity certificate with digitalSignature (no CA can sign
        // attestations), named after the provider.
        let signer = SigningKey::generate(Algorithm::Es256)?;
        let subject = LeafSubject {
            common_name: &format!("{id} attestations"),
            organization: None,
            dns_name: None,
            role: LeafRole::Attester,
        };
        let leaf = make_leaf(
            &root,
            &root_key,
            &to_pkey(&signer)?,
            &subject,
            Validity {
                not_before,
                not_after,
            },
        )?;
        Ok(WalletProvider {
            id: id.to_owned(),
            root,
            leaf,
            signer,
        })
    }

    /// The provider kept in `dir` (`root.pem`, `leaf.pem`, `leaf.jwk`),
    /// generated there when missing.
    pub fn load_or_generate(dir: &Path, id: &str) -> Res<Self> {
        let (root, leaf, key) = (
            dir.join("root.pem"),
            dir.join("leaf.pem"),
            dir.join("leaf.jwk"),
        );
        if key.exists() {
            let jwk: Value = serde_json::from_slice(&fs::read(&key)?)?;
            return Ok(WalletProvider {
                id: id.to_owned(),
                root: X509::from_pem(&fs::read(&root)?)?,
                leaf: X509::from_pem(&fs::read(&leaf)?)?,
                signer: SigningKey::from_jwk(&jwk)?,
            });
        }
        let p = Self::generate(id)?;
        fs::create_dir_all(dir)?;
        fs::write(&root, p.root_pem()?)?;
        fs::write(&leaf, p.leaf.to_pem()?)?;
        write_private(&key, &serde_json::to_vec(&p.signer.to_private_jwk())?)?;
        Ok(p)
    }

    /// The root certificate, PEM (for `[attestation] wallet_provider_roots`).
    pub fn root_pem(&self) -> Res<Vec<u8>> {
        Ok(self.root.to_pem()?)
    }

    /// The `x5c` header value: the leaf only (the root is the verifier's
    /// trust anchor).
    pub fn x5c(&self) -> Res<Value> {
        Ok(json!([openssl::base64::encode_block(&self.leaf.to_der()?)]))
    }

    /// Signs `claims` with the leaf key, `typ` and `x5c` in the header.
    pub fn sign(&self, typ: &str, claims: &Value) -> Res<String> {
        let mut header = Map::new();
        header.insert("typ".into(), typ.into());
        header.insert("x5c".into(), self.x5c()?);
        Ok(jws::sign(
            &self.signer,
            &header,
            &serde_json::to_vec(claims)?,
        )?)
    }

    /// A key attestation (`key-attestation+jwt`, OpenID4VCI 1.0 Appendix
    /// D.1) for `keys`, valid for an hour from `iat` unless `exp` says
    /// otherwise. A level list left empty is left out (D.1: when present it
    /// is a non-empty array).
    pub fn key_attestation(&self, keys: &[&PublicKey], a: &KeyAttestation<'_>) -> Res<String> {
        let mut claims = json!({
            "iss": self.id,
            "iat": a.iat,
            "exp": a.exp.unwrap_or(a.iat + 3600),
            "attested_keys": keys.iter().map(|k| k.jwk_for_publication()).collect::<Vec<_>>(),
        });
        for (claim, levels) in [
            ("key_storage", a.key_storage),
            ("user_authentication", a.user_authentication),
        ] {
            if !levels.is_empty() {
                claims[claim] = json!(levels);
            }
        }
        if let Some(nonce) = a.nonce {
            claims["nonce"] = nonce.into();
        }
        self.sign("key-attestation+jwt", &claims)
    }

    /// A wallet attestation (`oauth-client-attestation+jwt`, OAuth 2.0
    /// Attestation-Based Client Authentication) for the wallet instance
    /// whose key is `instance`, as client `client_id`, valid for a day from
    /// `iat`.
    pub fn client_attestation(
        &self,
        client_id: &str,
        instance: &PublicKey,
        iat: i64,
    ) -> Res<String> {
        let claims = json!({
            "iss": self.id,
            "sub": client_id,
            "iat": iat,
            "exp": iat + 86_400,
            "cnf": {"jwk": instance.jwk_for_publication()},
        });
        self.sign("oauth-client-attestation+jwt", &claims)
    }
}

/// What a key attestation asserts.
#[derive(Debug, Clone)]
pub struct KeyAttestation<'a> {
    pub iat: i64,
    /// Default: an hour after `iat`.
    pub exp: Option<i64>,
    pub key_storage: &'a [&'a str],
    pub user_authentication: &'a [&'a str],
    /// A `c_nonce` of the issuer, when the attestation is made for one.
    pub nonce: Option<&'a str>,
}

impl KeyAttestation<'_> {
    /// Secure hardware, unlocked by biometrics: `iso_18045_high` for both.
    pub fn high(iat: i64) -> KeyAttestation<'static> {
        KeyAttestation {
            iat,
            exp: None,
            key_storage: &[ISO_18045_HIGH],
            user_authentication: &[ISO_18045_HIGH],
            nonce: None,
        }
    }
}

/// The wallet instance's proof of possession of its attestation's `cnf`
/// key (`oauth-client-attestation-pop+jwt`) for the server `aud`.
pub fn client_attestation_pop(
    instance: &SigningKey,
    aud: &str,
    challenge: Option<&str>,
    iat: i64,
) -> Res<String> {
    let mut claims = json!({"aud": aud, "jti": random_token(), "iat": iat});
    if let Some(c) = challenge {
        claims["challenge"] = c.into();
    }
    let mut header = Map::new();
    header.insert("typ".into(), "oauth-client-attestation-pop+jwt".into());
    Ok(jws::sign(instance, &header, &serde_json::to_vec(&claims)?)?)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Writes a private key readable by its owner only.
fn write_private(path: &Path, bytes: &[u8]) -> Res<()> {
    use std::io::Write as _;
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(bytes)?;
    Ok(())
}
