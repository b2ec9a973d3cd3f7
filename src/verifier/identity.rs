//! Each relying party's identity on the wire (issue 14, DESIGN.md
//! "Relying parties are tenants"): the key that signs its request objects,
//! its certificate chain and so its own `x509_hash` Client Identifier
//! (OpenID4VP 1.0 §5.9.3), its display name (`client_metadata.client_name`,
//! RFC 7591 §2.2 language tags) and the registration certificate the
//! operator signs for it (`verifier_info`, OpenID4VP 1.0 §5.1, §5.11).
//!
//! The built-in party `default` is the operator's own identity
//! ([`VerifierKeys`]) unchanged. Another party's identity is kept in its
//! registry record as a [`StoredIdentity`]: its private key sealed with the
//! store secret, and its chain — issued by the demo CA at registration
//! (demo mode), or uploaded by the operator for the party's public key
//! (a CSR-less flow: the operator's CA certifies the JWK the server shows).
//!
//! Pure apart from key generation: no I/O, no actix.

use std::collections::BTreeMap;

use base64::Engine as _;
use openssl::asn1::Asn1Time;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509NameBuilder, X509StoreContext, X509VerifyResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::dcql::FORMAT_SD_JWT_VC;
use super::keys::{ClientId, LeafSubject, VerifierKeys, to_pkey};
use super::presets::Preset;
use crate::crypto::{Algorithm, SigningKey, b64url, jws, sha256};
use crate::keystore::{SealError, StoreSecret};
use crate::sdjwt::ClaimPath;

/// The built-in relying party: the operator's key and identity.
pub const DEFAULT_PARTY: &str = "default";

/// JWS `typ` of a registration certificate: ETSI TS 119 475's wallet-relying
/// party registration certificate in JWT form.
pub const REGISTRATION_CERTIFICATE_TYP: &str = "rc-wrp+jwt";

/// `verifier_info[].format` of the registration certificate. OpenID4VP 1.0
/// §5.1 leaves the identifier to ecosystems; EUDI wallets read a
/// registration certificate under this one.
pub const REGISTRATION_CERTIFICATE_FORMAT: &str = "registration_cert";

/// Longest uploaded chain (leaf and intermediates, root dropped).
const MAX_CHAIN: usize = 5;

/// Purpose of the store-secret key that seals party keys at rest.
const SEAL_PURPOSE: &str = "relying party request-signing key";

/// A display name in Russian and English (`client_name#ru`, `#en`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisplayName {
    pub ru: String,
    pub en: String,
}

/// What a party may ask for, as its registration certificate lists it:
/// presets, and claim paths per `vct`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entitlements {
    pub presets: Vec<Preset>,
    pub claims: BTreeMap<String, Vec<ClaimPath>>,
}

/// Who a party is, as its registration certificate names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The party's registered name (`name`, the certificate's `CN`).
    pub name: String,
    pub display_name: Option<DisplayName>,
    pub entitlements: Entitlements,
}

/// Why a party's identity could not be made or used.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("no relying party {0:?} has an identity here")]
    UnknownParty(String),
    #[error(
        "the relying party has no certificate yet: upload a chain for its public key \
         (outside demo mode no CA issues one)"
    )]
    NotCertified,
    #[error("the relying party's stored key does not open: {0}")]
    Sealed(#[from] SealError),
    #[error("the relying party's stored identity is malformed: {0}")]
    Malformed(&'static str),
    #[error("the key or certificate could not be made")]
    Crypto,
}

/// Why an uploaded certificate chain is refused. Positions count from the
/// leaf (0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("the chain holds no PEM certificate")]
    Empty,
    #[error("the chain is not PEM certificates")]
    NotPem,
    #[error("the chain has more than {MAX_CHAIN} certificates")]
    TooLong,
    #[error("the leaf (first certificate) does not certify the relying party's public key")]
    WrongKey,
    #[error("the leaf (first certificate) is a CA certificate")]
    LeafIsCa,
    #[error("the leaf's key usage does not allow digitalSignature")]
    LeafKeyUsage,
    #[error("certificate {position} is not valid yet")]
    NotYetValid { position: u32 },
    #[error("certificate {position} has expired")]
    Expired { position: u32 },
    #[error("certificate {position} is not signed by the next one in the chain")]
    Broken { position: u32 },
    #[error("certificate {position} may not issue certificates (not a CA)")]
    NotCa { position: u32 },
    #[error("the chain could not be checked")]
    Crypto,
}

/// Where a party's certificate came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CertificateSource {
    /// Not certified yet (outside demo mode, before the operator uploads).
    None,
    /// Issued by the demo CA at registration.
    DemoCa,
    /// Uploaded by the operator.
    Operator,
}

/// A party's identity as its registry record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredIdentity {
    /// The private ES256 JWK, sealed with the store secret
    /// ([`StoreSecret::seal`], the party id as context).
    pub sealed_key: String,
    /// The public JWK: what the operator's CA certifies.
    pub public_jwk: Value,
    /// base64 DER, leaf first, no root (the `x5c` of its request objects).
    pub x5c: Vec<String>,
    pub source: CertificateSource,
}

/// A relying party's identity, ready to sign request objects.
pub struct PartyIdentity {
    pub party: String,
    pub signing: SigningKey,
    /// DER, leaf first, no root; empty only for `default` without a leaf
    /// (then the client id is `decentralized_identifier:did:key:…`).
    pub chain: Vec<Vec<u8>>,
    pub client_id: ClientId,
    pub name: Option<String>,
    pub display_name: Option<DisplayName>,
    /// The registration certificate (a JWT) for `verifier_info`.
    pub registration_certificate: Option<String>,
    /// When that certificate expires (unix seconds): re-sign before.
    pub registration_expires_at: Option<i64>,
}

impl std::fmt::Debug for PartyIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartyIdentity")
            .field("party", &self.party)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// `x509_hash:<base64url SHA-256 of the leaf DER>` (OpenID4VP 1.0 §5.9.3).
pub fn x509_hash_client_id(leaf_der: &[u8]) -> ClientId {
    ClientId(format!("x509_hash:{}", b64url(sha256(leaf_der))))
}

impl PartyIdentity {
    /// The built-in party `default`: the operator's identity unchanged (no
    /// `client_name`, no registration certificate).
    pub fn operator(keys: &VerifierKeys) -> Result<Self, IdentityError> {
        let signing = SigningKey::from_jwk(&keys.signing.to_private_jwk())
            .map_err(|_| IdentityError::Crypto)?;
        let chain = match keys.prefix {
            super::ClientIdPrefix::X509Hash => vec![keys.leaf_der.clone()],
            super::ClientIdPrefix::DecentralizedIdentifier => Vec::new(),
        };
        Ok(PartyIdentity {
            party: DEFAULT_PARTY.to_owned(),
            signing,
            chain,
            client_id: keys.client_id.clone(),
            name: None,
            display_name: None,
            registration_certificate: None,
            registration_expires_at: None,
        })
    }

    /// A registered party's identity from its record: opens the key, takes
    /// the chain (refused while there is none) and has the operator sign
    /// its registration certificate.
    pub fn from_stored(
        party: &str,
        stored: &StoredIdentity,
        secret: &StoreSecret,
        registration: &Registration,
        operator: &VerifierKeys,
        now: i64,
    ) -> Result<Self, IdentityError> {
        let signing = stored.signing_key(party, secret)?;
        let chain = stored.chain_der()?;
        let leaf = chain.first().ok_or(IdentityError::NotCertified)?;
        let client_id = x509_hash_client_id(leaf);
        let leaf_not_after = X509::from_der(leaf)
            .ok()
            .and_then(|c| unix_of(c.not_after()))
            .ok_or(IdentityError::Malformed("x5c"))?;
        let exp = now
            .saturating_add(super::keys::LEAF_DAYS * 86_400)
            .min(leaf_not_after);
        let rc = registration_certificate(operator, &client_id, registration, now, exp)?;
        Ok(PartyIdentity {
            party: party.to_owned(),
            signing,
            chain,
            client_id,
            name: Some(registration.name.clone()),
            display_name: registration.display_name.clone(),
            registration_certificate: Some(rc),
            registration_expires_at: Some(exp),
        })
    }

    /// The JOSE header members that let a wallet check a request object:
    /// `x5c` (the chain, leaf first, no root) for `x509_hash`, `kid` (the
    /// DID URL) for did:key.
    pub fn jar_header(&self) -> Map<String, Value> {
        let mut h = Map::new();
        if self.chain.is_empty() {
            h.insert(
                "kid".into(),
                Value::String(crate::crypto::did_key::verification_method(
                    self.signing.public(),
                )),
            );
        } else {
            let b64 = base64::engine::general_purpose::STANDARD;
            h.insert(
                "x5c".into(),
                Value::Array(
                    self.chain
                        .iter()
                        .map(|c| Value::String(b64.encode(c)))
                        .collect(),
                ),
            );
        }
        h
    }

    /// The `client_metadata` members naming the party (RFC 7591 §2.2):
    /// `client_name` (English, else the registered name) and its
    /// `client_name#ru` / `client_name#en` forms. Empty for `default`.
    pub fn client_name_metadata(&self) -> Map<String, Value> {
        let mut m = Map::new();
        match (&self.display_name, &self.name) {
            (Some(d), _) => {
                m.insert("client_name".into(), Value::String(d.en.clone()));
                m.insert("client_name#ru".into(), Value::String(d.ru.clone()));
                m.insert("client_name#en".into(), Value::String(d.en.clone()));
            }
            (None, Some(name)) => {
                m.insert("client_name".into(), Value::String(name.clone()));
            }
            (None, None) => {}
        }
        m
    }

    /// `verifier_info` (OpenID4VP 1.0 §5.1): the registration certificate,
    /// relevant to every requested credential (no `credential_ids`).
    pub fn verifier_info(&self) -> Option<Value> {
        self.registration_certificate
            .as_ref()
            .map(|rc| json!([{"format": REGISTRATION_CERTIFICATE_FORMAT, "data": rc}]))
    }
}

impl StoredIdentity {
    /// A fresh ES256 key for `party`, sealed; no certificate yet.
    pub fn generate(party: &str, secret: &StoreSecret) -> Result<Self, IdentityError> {
        let key = SigningKey::generate(Algorithm::Es256).map_err(|_| IdentityError::Crypto)?;
        let jwk = serde_json::to_vec(&key.to_private_jwk()).map_err(|_| IdentityError::Crypto)?;
        Ok(StoredIdentity {
            sealed_key: secret.seal(SEAL_PURPOSE, party, &jwk)?,
            public_jwk: key.public().jwk_for_publication(),
            x5c: Vec::new(),
            source: CertificateSource::None,
        })
    }

    /// Registration: a fresh key and, in demo mode, its leaf from the demo
    /// CA (`CN` = the party's name, `O` = the operator's host, SAN = the
    /// public URL's host, digitalSignature, not a CA, a year from `now`).
    /// Outside demo mode the key waits for the operator's chain.
    pub fn register(
        party: &str,
        name: &str,
        operator: &VerifierKeys,
        host: &str,
        secret: &StoreSecret,
        now: i64,
    ) -> Result<Self, IdentityError> {
        let mut stored = Self::generate(party, secret)?;
        let key = stored.signing_key(party, secret)?;
        let subject = LeafSubject {
            common_name: name,
            organization: Some(host),
            dns_name: host,
        };
        if let Some(leaf) = operator.issue_demo_leaf(&key, &subject, now) {
            let leaf = leaf.map_err(|_| IdentityError::Crypto)?;
            stored.x5c = vec![base64::engine::general_purpose::STANDARD.encode(leaf)];
            stored.source = CertificateSource::DemoCa;
        }
        Ok(stored)
    }

    /// Replaces the chain with one the operator uploads (PEM, leaf first,
    /// optionally ending with the root, which is dropped): the leaf must
    /// certify this party's key and be no CA, every certificate valid at
    /// `now`, each signed by the next, intermediates CAs.
    pub fn with_uploaded_chain(
        mut self,
        party: &str,
        secret: &StoreSecret,
        pem: &str,
        now: i64,
    ) -> Result<Self, UploadError> {
        let key = self.signing_key(party, secret)?;
        let chain = check_chain(pem, &key, now)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        self.x5c = chain.iter().map(|c| b64.encode(c)).collect();
        self.source = CertificateSource::Operator;
        Ok(self)
    }

    /// The party's private key.
    pub fn signing_key(
        &self,
        party: &str,
        secret: &StoreSecret,
    ) -> Result<SigningKey, IdentityError> {
        let jwk = secret.open(SEAL_PURPOSE, party, &self.sealed_key)?;
        let jwk: Value =
            serde_json::from_slice(&jwk).map_err(|_| IdentityError::Malformed("key"))?;
        SigningKey::from_jwk(&jwk).map_err(|_| IdentityError::Malformed("key"))
    }

    /// The chain as DER (leaf first).
    pub fn chain_der(&self) -> Result<Vec<Vec<u8>>, IdentityError> {
        let b64 = base64::engine::general_purpose::STANDARD;
        self.x5c
            .iter()
            .map(|c| b64.decode(c).map_err(|_| IdentityError::Malformed("x5c")))
            .collect()
    }

    /// The party's client id once certified.
    pub fn client_id(&self) -> Option<ClientId> {
        let leaf = self.chain_der().ok()?.into_iter().next()?;
        Some(x509_hash_client_id(&leaf))
    }
}

/// Why an upload was refused: the chain, or the stored key.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

/// Checks an uploaded chain for `key` at `now` (see
/// [`StoredIdentity::with_uploaded_chain`]); the chain's DER without a
/// trailing self-signed root. Signatures, validity and CA constraints are
/// OpenSSL's path validation with the last certificate as the anchor.
pub fn check_chain(pem: &str, key: &SigningKey, now: i64) -> Result<Vec<Vec<u8>>, ChainError> {
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(ChainError::Empty);
    }
    let mut certs = X509::stack_from_pem(pem.as_bytes()).map_err(|_| ChainError::NotPem)?;
    if certs.is_empty() {
        return Err(ChainError::Empty);
    }
    if certs.len() > MAX_CHAIN + 1 {
        return Err(ChainError::TooLong);
    }
    let pkey = to_pkey(key).map_err(|_| ChainError::Crypto)?;
    let leaf = &certs[0];
    let certifies_key = leaf.public_key().is_ok_and(|pk| pk.public_eq(&pkey));
    if !certifies_key {
        return Err(ChainError::WrongKey);
    }
    if leaf.version() != 2 {
        // v1 certificates carry no basicConstraints: OpenSSL treats them as CAs.
        return Err(ChainError::LeafIsCa);
    }
    if let Some(ku) = leaf.key_usage() {
        use openssl::x509::X509KeyUsage;
        if ku.contains(X509KeyUsage::KEY_CERT_SIGN) {
            return Err(ChainError::LeafIsCa);
        }
        if !ku.contains(X509KeyUsage::DIGITAL_SIGNATURE) {
            return Err(ChainError::LeafKeyUsage);
        }
    }
    // The chain itself (a leaf alone anchors itself: only its validity).
    verify_path(&certs, now)?;
    // The leaf must not be able to issue: a probe certificate it "signs"
    // (with the party's key we hold) must not validate under it.
    let probe = probe_issued_by(leaf, &pkey, now).map_err(|_| ChainError::Crypto)?;
    let mut with_probe = vec![probe];
    with_probe.extend(certs.iter().cloned());
    if verify_path(&with_probe, now).is_ok() {
        return Err(ChainError::LeafIsCa);
    }
    let last = certs.last().ok_or(ChainError::Empty)?;
    let self_signed = certs.len() > 1
        && last
            .public_key()
            .is_ok_and(|pk| last.verify(&pk).unwrap_or(false))
        && last.issued(last) == X509VerifyResult::OK;
    if self_signed {
        certs.pop();
    }
    if certs.len() > MAX_CHAIN {
        return Err(ChainError::TooLong);
    }
    certs
        .iter()
        .map(|c| c.to_der().map_err(|_| ChainError::Crypto))
        .collect()
}

/// OpenSSL path validation of `chain[0]` through `chain[1..]` to the last
/// certificate (trusted as a partial-chain anchor) at `now`.
fn verify_path(chain: &[X509], now: i64) -> Result<(), ChainError> {
    let crypto = |_| ChainError::Crypto;
    let anchor = chain.last().ok_or(ChainError::Empty)?;
    let mut store = X509StoreBuilder::new().map_err(crypto)?;
    store.add_cert(anchor.clone()).map_err(crypto)?;
    let mut param = X509VerifyParam::new().map_err(crypto)?;
    param
        .set_flags(X509VerifyFlags::PARTIAL_CHAIN | X509VerifyFlags::X509_STRICT)
        .map_err(crypto)?;
    param.set_time(now as _);
    store.set_param(&param).map_err(crypto)?;
    let store = store.build();
    let mut untrusted = Stack::new().map_err(crypto)?;
    for c in &chain[1..] {
        untrusted.push(c.clone()).map_err(crypto)?;
    }
    let mut ctx = X509StoreContext::new().map_err(crypto)?;
    let outcome = ctx
        .init(&store, &chain[0], &untrusted, |c| {
            let ok = c.verify_cert()?;
            Ok((ok, c.error(), c.error_depth()))
        })
        .map_err(crypto)?;
    match outcome {
        (true, _, _) => Ok(()),
        (false, err, depth) => Err(chain_error(err, depth)),
    }
}

fn chain_error(err: X509VerifyResult, position: u32) -> ChainError {
    // X509_V_ERR_* (openssl/x509_vfy.h).
    match err.as_raw() {
        9 => ChainError::NotYetValid { position },
        10 => ChainError::Expired { position },
        24 | 32 | 41 => ChainError::NotCa {
            position: position.max(1),
        },
        _ => ChainError::Broken { position },
    }
}

/// A throwaway certificate "issued" by `leaf` and signed with its key.
fn probe_issued_by(
    leaf: &X509,
    key: &PKey<Private>,
    now: i64,
) -> Result<X509, openssl::error::ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", "probe")?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(leaf.subject_name())?;
    b.set_pubkey(key)?;
    b.set_not_before(Asn1Time::from_unix(now - 60)?.as_ref())?;
    b.set_not_after(Asn1Time::from_unix(now + 60)?.as_ref())?;
    b.sign(key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// Unix seconds of an ASN.1 time.
fn unix_of(t: &openssl::asn1::Asn1TimeRef) -> Option<i64> {
    let epoch = Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    Some(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

/// The registration certificate of a party: a JWT `typ: rc-wrp+jwt` signed
/// by the operator's key (`x5c` = the operator's leaf, or `kid` for
/// did:key), claim-bound to the party (OpenID4VP 1.0 §5.11.1: `sub` = the
/// party's client id, the hash of the certificate that signs its requests),
/// naming it and listing what it may ask for, in the shape of ETSI TS 119
/// 475's `credentials` (`format`, `meta.vct_values`, `claim[].path`), plus
/// the preset names.
pub fn registration_certificate(
    operator: &VerifierKeys,
    subject: &ClientId,
    registration: &Registration,
    now: i64,
    exp: i64,
) -> Result<String, IdentityError> {
    let mut payload = Map::new();
    payload.insert("iss".into(), json!(operator.client_id.as_str()));
    payload.insert("sub".into(), json!(subject.as_str()));
    payload.insert("name".into(), json!(registration.name));
    if let Some(d) = &registration.display_name {
        payload.insert(
            "display_name".into(),
            json!([{"lang": "ru", "value": d.ru}, {"lang": "en", "value": d.en}]),
        );
    }
    let ent = &registration.entitlements;
    payload.insert(
        "presets".into(),
        Value::Array(ent.presets.iter().map(|p| json!(p.name())).collect()),
    );
    payload.insert(
        "credentials".into(),
        Value::Array(entitled_credentials(ent)),
    );
    payload.insert("iat".into(), json!(now));
    payload.insert("exp".into(), json!(exp));
    let mut header = operator.jar_header();
    header.insert("typ".into(), json!(REGISTRATION_CERTIFICATE_TYP));
    let body = serde_json::to_vec(&payload).map_err(|_| IdentityError::Crypto)?;
    jws::sign(&operator.signing, &header, &body).map_err(|_| IdentityError::Crypto)
}

/// Every claim the party may ask for, per `vct` (presets expanded, paths
/// deduplicated, in a stable order).
fn entitled_credentials(ent: &Entitlements) -> Vec<Value> {
    let mut per_vct: BTreeMap<String, Vec<ClaimPath>> = BTreeMap::new();
    for preset in &ent.presets {
        for cq in preset.query().credentials {
            let vcts = cq.meta.vct_values.unwrap_or_default();
            for vct in vcts {
                let paths = per_vct.entry(vct).or_default();
                for c in cq.claims.iter().flatten() {
                    if !paths.contains(&c.path) {
                        paths.push(c.path.clone());
                    }
                }
            }
        }
    }
    for (vct, claims) in &ent.claims {
        let paths = per_vct.entry(vct.clone()).or_default();
        for p in claims {
            if !paths.contains(p) {
                paths.push(p.clone());
            }
        }
    }
    per_vct
        .into_iter()
        .map(|(vct, paths)| {
            json!({
                "format": FORMAT_SD_JWT_VC,
                "meta": {"vct_values": [vct]},
                "claim": paths.iter().map(|p| json!({"path": p})).collect::<Vec<_>>(),
            })
        })
        .collect()
}
