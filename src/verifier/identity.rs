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
use openssl::x509::{X509, X509Ref, X509VerifyResult};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::dcql::FORMAT_SD_JWT_VC;
use super::keys::{ClientId, LeafSubject, VerifierKeys, to_pkey};
use super::presets::Preset;
use crate::crypto::{Algorithm, SigningKey, b64url, jws, sha256, x509};
use crate::keystore::{SealError, StoreSecret};
use crate::parties::{DEFAULT_PARTY, DisplayName, Grant};
use crate::sdjwt::ClaimPath;

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

/// Who a party is, as its registration certificate names it (made from
/// its record: [`crate::parties::RelyingParty::registration`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// The party's registered name (`name`, the certificate's `CN`).
    pub name: String,
    pub display_name: Option<DisplayName>,
    /// What it may ask for: presets, and claim paths per `vct`.
    pub presets: Vec<Preset>,
    pub claims: BTreeMap<String, Vec<Grant>>,
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
    /// The leaf of the operator's chain has expired (a demo-CA leaf is
    /// renewed before it does).
    #[error(
        "the party's certificate expired on {}: upload a new chain",
        crate::clock::rfc3339(*.0)
    )]
    CertificateExpired(i64),
    /// The party's record could not be read (not: there is none).
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Why an uploaded certificate chain is refused: a rule of the upload, or
/// the certification path check that issuer chains pass too
/// ([`crate::crypto::x509`]: one validator, one table of reasons). The
/// description starts with the rule's stable name ([`ChainError::reason`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("empty: the chain holds no PEM certificate")]
    Empty,
    #[error("not_pem: the chain is not PEM certificates")]
    NotPem,
    #[error("too_long: the chain has more than {MAX_CHAIN} certificates besides its root")]
    TooLong,
    #[error(
        "wrong_key: the leaf (first certificate) does not certify the relying party's public key"
    )]
    WrongKey,
    #[error(
        "not_v3: the leaf (first certificate) is an X.509 v1 certificate; it must be v3, with \
         the extensions wallets read (basicConstraints, key usage)"
    )]
    NotV3,
    #[error(
        "no_issuer: the chain is the leaf alone; it must go on with the certificate of the CA \
         that issued it, up to the operator's root or an intermediate the operator trusts"
    )]
    NoIssuer,
    #[error(
        "anchor_not_ca: the last certificate ({position} of the chain, counting the leaf as 1) \
         is not a CA certificate (basicConstraints cA); the chain must end with the operator's \
         root or an intermediate it trusts"
    )]
    AnchorNotCa { position: usize },
    #[error(
        "not_in_order: the chain is not its certification path, leaf first, each certificate \
         issued by the next, nothing besides"
    )]
    NotInOrder,
    #[error("{reason}: {0}", reason = .0.reason())]
    Path(#[from] x509::ChainError),
    #[error("the chain could not be checked")]
    Crypto,
}

impl ChainError {
    /// The broken rule, as a stable machine-readable name: the upload's
    /// own, or the path check's ([`x509::ChainError::reason`]).
    pub fn reason(&self) -> &'static str {
        match self {
            ChainError::Empty => "empty",
            ChainError::NotPem => "not_pem",
            ChainError::TooLong => "too_long",
            ChainError::WrongKey => "wrong_key",
            ChainError::NotV3 => "not_v3",
            ChainError::NoIssuer => "no_issuer",
            ChainError::AnchorNotCa { .. } => "anchor_not_ca",
            ChainError::NotInOrder => "not_in_order",
            ChainError::Path(e) => e.reason(),
            ChainError::Crypto => "bad_chain",
        }
    }
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

/// When the certificate `der` expires (unix seconds).
fn leaf_not_after(der: &[u8]) -> Result<i64, IdentityError> {
    X509::from_der(der)
        .ok()
        .and_then(|c| x509::unix_time(c.not_after()))
        .ok_or(IdentityError::Malformed("x5c"))
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
        let exp = now
            .saturating_add(super::keys::LEAF_DAYS * 86_400)
            .min(leaf_not_after(leaf)?);
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
    /// CA ([`StoredIdentity::issue_demo_leaf`]). Outside demo mode the key
    /// waits for the operator's chain.
    pub fn register(
        party: &str,
        name: &str,
        operator: &VerifierKeys,
        host: &str,
        secret: &StoreSecret,
        now: i64,
    ) -> Result<Self, IdentityError> {
        let mut stored = Self::generate(party, secret)?;
        stored.issue_demo_leaf(party, name, operator, host, secret, now)?;
        Ok(stored)
    }

    /// Demo mode: (re-)issues the party's leaf from the demo CA for its
    /// key — `CN` = the party's name, `O` = the operator's host, SAN = the
    /// public URL's host, digitalSignature, not a CA, a year from `now` —
    /// replacing the chain (after a rename, or before the leaf expires).
    /// `false` outside demo mode (no demo CA: the chain is left as it is).
    pub fn issue_demo_leaf(
        &mut self,
        party: &str,
        name: &str,
        operator: &VerifierKeys,
        host: &str,
        secret: &StoreSecret,
        now: i64,
    ) -> Result<bool, IdentityError> {
        let key = self.signing_key(party, secret)?;
        let subject = LeafSubject {
            common_name: name,
            organization: Some(host),
            dns_name: Some(host),
            role: x509::certify::LeafRole::Verifier,
        };
        let Some(leaf) = operator.issue_demo_leaf(&key, &subject, now) else {
            return Ok(false);
        };
        let leaf = leaf.map_err(|_| IdentityError::Crypto)?;
        self.x5c = vec![base64::engine::general_purpose::STANDARD.encode(leaf)];
        self.source = CertificateSource::DemoCa;
        Ok(true)
    }

    /// Replaces the chain with one the operator uploads (PEM): the party's
    /// certification path from its leaf (for this party's key) up to and
    /// including the operator's root (dropped from `x5c`) or an
    /// intermediate it trusts, checked as [`check_chain`] says.
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

    /// When its leaf expires (unix seconds); `None` before it is certified.
    pub fn leaf_expires_at(&self) -> Result<Option<i64>, IdentityError> {
        let Some(leaf) = self.chain_der()?.into_iter().next() else {
            return Ok(None);
        };
        leaf_not_after(&leaf).map(Some)
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
/// trailing self-signed root.
///
/// The upload is the party's certification path, in order: its leaf (v3,
/// for the party's key), then the certificate of the CA that issued it, and
/// so on up to and including the certificate the operator trusts — its
/// root, or one of its intermediates. That last certificate, which must be
/// a CA, is the path's trust anchor; the path itself (signatures, validity
/// at `now`, CA and path-length constraints and key usage of the issuers;
/// a leaf that is not self-signed, no CA, and may sign) is checked by
/// [`x509::Anchors`], as issuer chains are. A leaf alone is refused:
/// without its issuer nothing vouches for it.
pub fn check_chain(pem: &str, key: &SigningKey, now: i64) -> Result<Vec<Vec<u8>>, ChainError> {
    if !pem.contains("-----BEGIN CERTIFICATE-----") {
        return Err(ChainError::Empty);
    }
    let certs = X509::stack_from_pem(pem.as_bytes()).map_err(|_| ChainError::NotPem)?;
    if certs.is_empty() {
        return Err(ChainError::Empty);
    }
    if certs.len() > MAX_CHAIN + 1 {
        return Err(ChainError::TooLong);
    }
    let pkey = to_pkey(key).map_err(|_| ChainError::Crypto)?;
    let leaf = &certs[0];
    if !leaf.public_key().is_ok_and(|pk| pk.public_eq(&pkey)) {
        return Err(ChainError::WrongKey);
    }
    if leaf.version() != 2 {
        return Err(ChainError::NotV3);
    }
    // The last certificate anchors the path; a leaf alone has no anchor,
    // and then only the leaf's own checks can tell more than "no issuer".
    let anchors = match certs.split_last() {
        Some((last, rest)) if !rest.is_empty() => x509::Anchors::from_certs(vec![last.clone()])
            .map_err(|_| ChainError::AnchorNotCa {
                position: certs.len(),
            })?,
        _ => x509::Anchors::default(),
    };
    let validated = anchors.validate_certs(&certs, now).map_err(|e| match e {
        x509::ChainError::UntrustedRoot if certs.len() == 1 => ChainError::NoIssuer,
        e => ChainError::Path(e),
    })?;
    let der = |c: &X509Ref| c.to_der().map_err(|_| ChainError::Crypto);
    let uploaded = certs
        .iter()
        .map(|c| der(c))
        .collect::<Result<Vec<_>, _>>()?;
    let path = validated
        .path()
        .iter()
        .map(|c| der(c))
        .collect::<Result<Vec<_>, _>>()?;
    if path != uploaded {
        return Err(ChainError::NotInOrder);
    }
    let mut chain = path;
    let anchor = certs.last().ok_or(ChainError::Empty)?;
    let root = anchor
        .public_key()
        .is_ok_and(|pk| anchor.verify(&pk).unwrap_or(false))
        && anchor.issued(anchor) == X509VerifyResult::OK;
    if root {
        chain.pop();
    }
    if chain.len() > MAX_CHAIN {
        return Err(ChainError::TooLong);
    }
    Ok(chain)
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
    payload.insert(
        "presets".into(),
        Value::Array(
            registration
                .presets
                .iter()
                .map(|p| json!(p.name()))
                .collect(),
        ),
    );
    payload.insert(
        "credentials".into(),
        Value::Array(entitled_credentials(registration)),
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
fn entitled_credentials(ent: &Registration) -> Vec<Value> {
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
        for g in claims {
            let p = ClaimPath(g.0.clone());
            if !paths.contains(&p) {
                paths.push(p);
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

#[cfg(test)]
mod tests {
    use openssl::asn1::Asn1Time;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::{PKey, Private};
    use openssl::x509::X509KeyUsage;
    use openssl::x509::X509NameBuilder;
    use openssl::x509::extension::{BasicConstraints, KeyUsage};

    use super::*;
    use crate::config::PublicUrl;
    use crate::crypto::jws::Jws;
    use crate::verifier::{Certificates, ClientIdPrefix};

    const NOW: i64 = 1_790_000_000;
    const DAY: i64 = 86_400;

    fn operator(dir: &std::path::Path, certificates: Certificates) -> VerifierKeys {
        let url = PublicUrl::parse("https://id.example.ru").unwrap();
        VerifierKeys::load_or_generate(dir, &url, ClientIdPrefix::X509Hash, certificates).unwrap()
    }

    fn secret() -> StoreSecret {
        StoreSecret::new(&[3; 32])
    }

    fn registration() -> Registration {
        let mut claims = BTreeMap::new();
        claims.insert(
            "urn:ru:digital-id:pensioner-status:1".to_owned(),
            vec![Grant(ClaimPath::keys(["pensioner"]).0)],
        );
        Registration {
            name: "Hotel Kosmos".into(),
            display_name: Some(DisplayName {
                ru: "Гостиница «Космос»".into(),
                en: "Hotel Kosmos".into(),
            }),
            presets: vec![Preset::AgeOver18],
            claims,
        }
    }

    struct Cert<'a> {
        cn: &'a str,
        ca: Option<bool>,
        key_usage: Option<KeyUsage>,
        from: i64,
        to: i64,
    }

    impl<'a> Cert<'a> {
        fn leaf(cn: &'a str) -> Self {
            let mut ku = KeyUsage::new();
            ku.critical().digital_signature();
            Cert {
                cn,
                ca: Some(false),
                key_usage: Some(ku),
                from: NOW - DAY,
                to: NOW + 300 * DAY,
            }
        }

        fn ca(cn: &'a str) -> Self {
            let mut ku = KeyUsage::new();
            ku.critical().key_cert_sign();
            Cert {
                ca: Some(true),
                key_usage: Some(ku),
                ..Cert::leaf(cn)
            }
        }

        /// Signed by `issuer` (or itself).
        fn make(&mut self, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
            let mut name = X509NameBuilder::new().unwrap();
            name.append_entry_by_text("CN", self.cn).unwrap();
            let name = name.build();
            let mut b = X509::builder().unwrap();
            b.set_version(2).unwrap();
            b.set_subject_name(&name).unwrap();
            b.set_issuer_name(issuer.map_or(&*name, |(c, _)| c.subject_name()))
                .unwrap();
            b.set_pubkey(key).unwrap();
            b.set_not_before(Asn1Time::from_unix(self.from).unwrap().as_ref())
                .unwrap();
            b.set_not_after(Asn1Time::from_unix(self.to).unwrap().as_ref())
                .unwrap();
            match self.ca {
                Some(true) => b
                    .append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                    .unwrap(),
                Some(false) => b
                    .append_extension(BasicConstraints::new().critical().build().unwrap())
                    .unwrap(),
                None => {}
            }
            if let Some(ku) = self.key_usage.as_mut() {
                b.append_extension(ku.build().unwrap()).unwrap();
            }
            b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
                .unwrap();
            b.build()
        }
    }

    fn ec_key() -> PKey<Private> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
        PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
    }

    fn pem(certs: &[&X509]) -> String {
        certs
            .iter()
            .map(|c| String::from_utf8(c.to_pem().unwrap()).unwrap())
            .collect()
    }

    /// A party outside demo mode, its key and an operator CA hierarchy.
    struct Upload {
        stored: StoredIdentity,
        key: PKey<Private>,
        root: (X509, PKey<Private>),
        inter: (X509, PKey<Private>),
    }

    fn upload_setup() -> Upload {
        let stored = StoredIdentity::generate("kosmos", &secret()).unwrap();
        let key = to_pkey(&stored.signing_key("kosmos", &secret()).unwrap()).unwrap();
        let root_key = ec_key();
        let root = Cert::ca("Operator Root").make(&root_key, None);
        let inter_key = ec_key();
        let inter = Cert::ca("Operator Issuing CA").make(&inter_key, Some((&root, &root_key)));
        Upload {
            stored,
            key,
            root: (root, root_key),
            inter: (inter, inter_key),
        }
    }

    fn upload(u: &Upload, pem: &str) -> Result<StoredIdentity, ChainError> {
        match u
            .stored
            .clone()
            .with_uploaded_chain("kosmos", &secret(), pem, NOW)
        {
            Ok(s) => Ok(s),
            Err(UploadError::Chain(e)) => Err(e),
            Err(UploadError::Identity(e)) => panic!("{e}"),
        }
    }

    #[test]
    fn the_demo_ca_issues_a_leaf_naming_the_party_and_its_hash_is_the_client_id() {
        let dir = tempfile::tempdir().unwrap();
        let op = operator(dir.path(), Certificates::DemoCa);
        let stored = StoredIdentity::register(
            "kosmos",
            "Hotel Kosmos",
            &op,
            "id.example.ru",
            &secret(),
            NOW,
        )
        .unwrap();
        assert_eq!(stored.source, CertificateSource::DemoCa);
        let chain = stored.chain_der().unwrap();
        assert_eq!(chain.len(), 1, "x5c carries the leaf, not the CA");
        let leaf = X509::from_der(&chain[0]).unwrap();
        let cn: Vec<_> = leaf
            .subject_name()
            .entries_by_nid(Nid::COMMONNAME)
            .map(|e| e.data().to_string().unwrap())
            .collect();
        assert_eq!(cn, ["Hotel Kosmos"]);
        let org: Vec<_> = leaf
            .subject_name()
            .entries_by_nid(Nid::ORGANIZATIONNAME)
            .map(|e| e.data().to_string().unwrap())
            .collect();
        assert_eq!(org, ["id.example.ru"]);
        let sans: Vec<_> = leaf
            .subject_alt_names()
            .unwrap()
            .iter()
            .filter_map(|n| n.dnsname().map(str::to_owned))
            .collect();
        assert_eq!(sans, ["id.example.ru"]);
        let ku = leaf.key_usage().unwrap();
        assert!(ku.contains(X509KeyUsage::DIGITAL_SIGNATURE));
        assert!(!ku.contains(X509KeyUsage::KEY_CERT_SIGN));
        assert_eq!(x509::unix_time(leaf.not_before()), Some(NOW));
        assert_eq!(x509::unix_time(leaf.not_after()), Some(NOW + 365 * DAY));
        // The leaf certifies the party's key, chains to the demo CA and is no CA.
        let ca = X509::from_der(op.ca_der.as_deref().unwrap()).unwrap();
        let key = stored.signing_key("kosmos", &secret()).unwrap();
        // (The demo CA's validity starts today, on the real clock.)
        let today = crate::cli::unix_now();
        assert_eq!(
            check_chain(&pem(&[&leaf, &ca]), &key, today).unwrap(),
            chain
        );
        assert_eq!(
            stored.public_jwk,
            key.public().jwk_for_publication(),
            "the public JWK the operator sees is the key's"
        );
        let identity =
            PartyIdentity::from_stored("kosmos", &stored, &secret(), &registration(), &op, NOW)
                .unwrap();
        assert_eq!(identity.client_id, x509_hash_client_id(&chain[0]));
        assert_eq!(stored.client_id(), Some(identity.client_id.clone()));
        assert_ne!(identity.client_id, op.client_id);
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(identity.jar_header()["x5c"], json!([b64.encode(&chain[0])]));
        // Renamed: a new leaf for the same key (so a new client id).
        let mut renamed = stored.clone();
        assert!(
            renamed
                .issue_demo_leaf(
                    "kosmos",
                    "Kosmos Hotel & Spa",
                    &op,
                    "id.example.ru",
                    &secret(),
                    NOW
                )
                .unwrap()
        );
        assert_eq!(renamed.public_jwk, stored.public_jwk);
        assert_eq!(renamed.sealed_key, stored.sealed_key);
        assert_ne!(renamed.client_id(), stored.client_id());
        // A second party gets another key, leaf and client id.
        let other =
            StoredIdentity::register("shop", "Shop 18+", &op, "id.example.ru", &secret(), NOW)
                .unwrap();
        assert_ne!(other.client_id(), stored.client_id());
        assert_ne!(other.public_jwk, stored.public_jwk);
    }

    #[test]
    fn outside_demo_mode_a_party_waits_for_the_operators_chain() {
        let dir = tempfile::tempdir().unwrap();
        let op = operator(dir.path(), Certificates::Operator);
        let stored = StoredIdentity::register(
            "kosmos",
            "Hotel Kosmos",
            &op,
            "id.example.ru",
            &secret(),
            NOW,
        )
        .unwrap();
        assert_eq!(stored.source, CertificateSource::None);
        assert!(stored.x5c.is_empty());
        let mut again = stored.clone();
        assert!(
            !again
                .issue_demo_leaf(
                    "kosmos",
                    "Hotel Kosmos",
                    &op,
                    "id.example.ru",
                    &secret(),
                    NOW
                )
                .unwrap()
        );
        assert_eq!(again, stored);
        assert_eq!(stored.client_id(), None);
        let err =
            PartyIdentity::from_stored("kosmos", &stored, &secret(), &registration(), &op, NOW)
                .unwrap_err();
        assert!(matches!(err, IdentityError::NotCertified), "{err}");
    }

    #[test]
    fn the_stored_key_is_sealed_to_its_party() {
        let stored = StoredIdentity::generate("kosmos", &secret()).unwrap();
        let text = serde_json::to_string(&stored).unwrap();
        let back: StoredIdentity = serde_json::from_str(&text).unwrap();
        assert_eq!(back, stored);
        let private_d = stored
            .signing_key("kosmos", &secret())
            .unwrap()
            .to_private_jwk()["d"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(
            !text.contains(&private_d),
            "the private key is not in the record"
        );
        assert!(matches!(
            stored.signing_key("shop", &secret()),
            Err(IdentityError::Sealed(SealError::Forged))
        ));
        assert!(matches!(
            stored.signing_key("kosmos", &StoreSecret::new(&[4; 32])),
            Err(IdentityError::Sealed(SealError::Forged))
        ));
    }

    #[test]
    fn an_uploaded_chain_for_the_partys_key_is_used_without_its_root() {
        let u = upload_setup();
        let leaf = Cert::leaf("Hotel Kosmos").make(&u.key, Some((&u.inter.0, &u.inter.1)));
        let stored = upload(&u, &pem(&[&leaf, &u.inter.0, &u.root.0])).unwrap();
        assert_eq!(stored.source, CertificateSource::Operator);
        assert_eq!(
            stored.chain_der().unwrap(),
            [leaf.to_der().unwrap(), u.inter.0.to_der().unwrap()]
        );
        assert_eq!(
            stored.client_id(),
            Some(x509_hash_client_id(&leaf.to_der().unwrap()))
        );
        // Up to an intermediate the operator trusts: kept, as the wallet
        // needs it to reach the root.
        let without_root = upload(&u, &pem(&[&leaf, &u.inter.0])).unwrap();
        assert_eq!(without_root.x5c, stored.x5c);
        // Issued by the root itself: the leaf alone is sent.
        let by_root = Cert::leaf("Hotel Kosmos").make(&u.key, Some((&u.root.0, &u.root.1)));
        let direct = upload(&u, &pem(&[&by_root, &u.root.0])).unwrap();
        assert_eq!(direct.chain_der().unwrap(), [by_root.to_der().unwrap()]);
    }

    #[test]
    fn a_leaf_must_come_with_its_issuer_and_not_sign_itself() {
        let u = upload_setup();
        let leaf = Cert::leaf("Hotel Kosmos").make(&u.key, Some((&u.inter.0, &u.inter.1)));
        // Alone, nothing vouches for it.
        assert_eq!(upload(&u, &pem(&[&leaf])), Err(ChainError::NoIssuer));
        // Self-signed, alone or before a CA.
        let self_signed = Cert::leaf("Hotel Kosmos").make(&u.key, None);
        for chain in [vec![&self_signed], vec![&self_signed, &u.root.0]] {
            assert_eq!(
                upload(&u, &pem(&chain)),
                Err(ChainError::Path(x509::ChainError::SelfSignedLeaf))
            );
        }
        // The chain ends with a certificate that is no CA.
        let plain_key = ec_key();
        let plain = Cert::leaf("Not a CA").make(&plain_key, Some((&u.root.0, &u.root.1)));
        let under_plain = Cert::leaf("Hotel Kosmos").make(&u.key, Some((&plain, &plain_key)));
        let err = upload(&u, &pem(&[&under_plain, &plain])).unwrap_err();
        assert_eq!(err, ChainError::AnchorNotCa { position: 2 });
        assert!(err.to_string().starts_with("anchor_not_ca: "), "{err}");
        // Certificates besides the path, or out of order.
        assert_eq!(
            upload(&u, &pem(&[&leaf, &u.root.0, &u.inter.0, &u.root.0])),
            Err(ChainError::NotInOrder)
        );
        let other_root_key = ec_key();
        let other_root = Cert::ca("Another Root").make(&other_root_key, None);
        assert_eq!(
            upload(&u, &pem(&[&leaf, &u.inter.0, &other_root, &u.root.0])),
            Err(ChainError::NotInOrder)
        );
    }

    #[test]
    fn a_v1_leaf_is_refused_as_v1_not_as_a_ca() {
        let u = upload_setup();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "Hotel Kosmos").unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(0).unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(u.inter.0.subject_name()).unwrap();
        b.set_pubkey(&u.key).unwrap();
        b.set_not_before(Asn1Time::from_unix(NOW - DAY).unwrap().as_ref())
            .unwrap();
        b.set_not_after(Asn1Time::from_unix(NOW + DAY).unwrap().as_ref())
            .unwrap();
        b.sign(&u.inter.1, MessageDigest::sha256()).unwrap();
        let v1 = b.build();
        let err = upload(&u, &pem(&[&v1, &u.inter.0, &u.root.0])).unwrap_err();
        assert_eq!(err, ChainError::NotV3);
        let text = err.to_string();
        assert!(
            text.contains("v1") && !text.contains("CA certificate"),
            "{text}"
        );
    }

    #[test]
    fn uploaded_chains_that_break_a_rule_are_refused_naming_it() {
        let u = upload_setup();
        let by_inter = Some((&u.inter.0, &u.inter.1));
        let ok_leaf = Cert::leaf("Hotel Kosmos").make(&u.key, by_inter);

        assert_eq!(upload(&u, "not a certificate"), Err(ChainError::Empty));
        assert_eq!(
            upload(
                &u,
                "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
            ),
            Err(ChainError::NotPem)
        );
        let other_key = Cert::leaf("Hotel Kosmos").make(&ec_key(), by_inter);
        assert_eq!(
            upload(&u, &pem(&[&other_key, &u.inter.0])),
            Err(ChainError::WrongKey)
        );
        let path = |e| Err(ChainError::Path(e));
        let ca_leaf = Cert::ca("Hotel Kosmos").make(&u.key, by_inter);
        assert_eq!(
            upload(&u, &pem(&[&ca_leaf, &u.inter.0])),
            path(x509::ChainError::LeafIsCa)
        );
        let ca_without_key_usage = Cert {
            key_usage: None,
            ..Cert::ca("Hotel Kosmos")
        }
        .make(&u.key, by_inter);
        assert_eq!(
            upload(&u, &pem(&[&ca_without_key_usage, &u.inter.0])),
            path(x509::ChainError::LeafIsCa)
        );
        let mut encipher_only = KeyUsage::new();
        encipher_only.key_agreement();
        let no_signing = Cert {
            key_usage: Some(encipher_only),
            ..Cert::leaf("Hotel Kosmos")
        }
        .make(&u.key, by_inter);
        assert_eq!(
            upload(&u, &pem(&[&no_signing, &u.inter.0])),
            path(x509::ChainError::KeyUsage)
        );
        let expired = Cert {
            from: NOW - 400 * DAY,
            to: NOW - DAY,
            ..Cert::leaf("Hotel Kosmos")
        }
        .make(&u.key, by_inter);
        assert_eq!(
            upload(&u, &pem(&[&expired, &u.inter.0])),
            path(x509::ChainError::Expired { depth: 0 })
        );
        let future = Cert {
            from: NOW + DAY,
            ..Cert::leaf("Hotel Kosmos")
        }
        .make(&u.key, by_inter);
        assert_eq!(
            upload(&u, &pem(&[&future, &u.inter.0])),
            path(x509::ChainError::NotYetValid { depth: 0 })
        );
        // Signed by the intermediate, followed by another CA of the same name.
        let look_alike_key = ec_key();
        let look_alike =
            Cert::ca("Operator Issuing CA").make(&look_alike_key, Some((&u.root.0, &u.root.1)));
        assert_eq!(
            upload(&u, &pem(&[&ok_leaf, &look_alike])),
            path(x509::ChainError::BadSignature { depth: 0 })
        );
        // Issued by a certificate that is not a CA.
        let plain_key = ec_key();
        let plain = Cert::leaf("Not a CA").make(&plain_key, Some((&u.root.0, &u.root.1)));
        let under_plain = Cert::leaf("Hotel Kosmos").make(&u.key, Some((&plain, &plain_key)));
        let err = upload(&u, &pem(&[&under_plain, &plain, &u.root.0])).unwrap_err();
        assert!(
            matches!(
                err,
                ChainError::Path(x509::ChainError::BadChain { depth: 1, .. })
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "bad_chain: certificate 2 of the chain (counting the leaf as 1) is refused: \
             it issues a certificate but is not a CA certificate"
        );
        let expired_inter = Cert {
            from: NOW - 400 * DAY,
            to: NOW - DAY,
            ..Cert::ca("Operator Issuing CA")
        }
        .make(&u.inter.1, Some((&u.root.0, &u.root.1)));
        let err = upload(&u, &pem(&[&ok_leaf, &expired_inter, &u.root.0])).unwrap_err();
        assert_eq!(
            err,
            ChainError::Path(x509::ChainError::Expired { depth: 1 })
        );
        assert_eq!(
            err.to_string(),
            "certificate_expired: certificate 2 of the chain (counting the leaf as 1) has expired"
        );
        let long: Vec<&X509> = std::iter::once(&ok_leaf)
            .chain(std::iter::repeat_n(&u.inter.0, MAX_CHAIN + 1))
            .collect();
        assert_eq!(upload(&u, &pem(&long)), Err(ChainError::TooLong));
    }

    #[test]
    fn the_registration_certificate_is_signed_by_the_operator_for_the_partys_client_id() {
        let dir = tempfile::tempdir().unwrap();
        let op = operator(dir.path(), Certificates::DemoCa);
        let stored = StoredIdentity::register(
            "kosmos",
            "Hotel Kosmos",
            &op,
            "id.example.ru",
            &secret(),
            NOW,
        )
        .unwrap();
        let identity =
            PartyIdentity::from_stored("kosmos", &stored, &secret(), &registration(), &op, NOW)
                .unwrap();
        let info = identity.verifier_info().unwrap();
        assert_eq!(info.as_array().unwrap().len(), 1);
        assert_eq!(info[0]["format"], REGISTRATION_CERTIFICATE_FORMAT);
        assert!(info[0].get("credential_ids").is_none());
        let rc = info[0]["data"].as_str().unwrap();
        assert_eq!(Some(rc), identity.registration_certificate.as_deref());

        let jws = Jws::decode(rc).unwrap();
        jws.verify(op.signing.public()).unwrap();
        assert!(jws.verify(identity.signing.public()).is_err());
        assert_eq!(jws.typ(), Some(REGISTRATION_CERTIFICATE_TYP));
        assert_eq!(jws.alg(), Some("ES256"));
        let header: Value = serde_json::from_slice(
            &crate::crypto::b64url_decode(rc.split('.').next().unwrap()).unwrap(),
        )
        .unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        assert_eq!(header["x5c"], json!([b64.encode(&op.leaf_der)]));

        let p = jws.payload_json().unwrap();
        assert_eq!(p["iss"], op.client_id.as_str());
        assert_eq!(p["sub"], identity.client_id.as_str());
        assert_eq!(p["name"], "Hotel Kosmos");
        assert_eq!(
            p["display_name"],
            json!([{"lang": "ru", "value": "Гостиница «Космос»"}, {"lang": "en", "value": "Hotel Kosmos"}])
        );
        assert_eq!(p["presets"], json!(["age_over_18"]));
        assert_eq!(
            p["credentials"],
            json!([
                {"format": "dc+sd-jwt", "meta": {"vct_values": ["urn:ru:digital-id:passport:1"]},
                 "claim": [{"path": ["age_equal_or_over", "18"]}]},
                {"format": "dc+sd-jwt", "meta": {"vct_values": ["urn:ru:digital-id:pensioner-status:1"]},
                 "claim": [{"path": ["pensioner"]}]},
            ])
        );
        assert_eq!(p["iat"], NOW);
        // No longer than the leaf it is bound to (issued at NOW for a year).
        assert_eq!(p["exp"], NOW + 365 * DAY);
        assert_eq!(identity.registration_expires_at, Some(NOW + 365 * DAY));
        // Issued a month later, it still ends with the leaf.
        let later = PartyIdentity::from_stored(
            "kosmos",
            &stored,
            &secret(),
            &registration(),
            &op,
            NOW + 30 * DAY,
        )
        .unwrap();
        assert_eq!(later.registration_expires_at, Some(NOW + 365 * DAY));
    }

    #[test]
    fn client_name_carries_the_display_name_with_language_tags() {
        let dir = tempfile::tempdir().unwrap();
        let op = operator(dir.path(), Certificates::DemoCa);
        let stored = StoredIdentity::register(
            "kosmos",
            "Hotel Kosmos",
            &op,
            "id.example.ru",
            &secret(),
            NOW,
        )
        .unwrap();
        let mut reg = registration();
        let identity =
            PartyIdentity::from_stored("kosmos", &stored, &secret(), &reg, &op, NOW).unwrap();
        assert_eq!(
            Value::Object(identity.client_name_metadata()),
            json!({"client_name": "Hotel Kosmos", "client_name#ru": "Гостиница «Космос»",
                   "client_name#en": "Hotel Kosmos"})
        );
        reg.display_name = None;
        reg.name = "kosmos-hotel".into();
        let plain =
            PartyIdentity::from_stored("kosmos", &stored, &secret(), &reg, &op, NOW).unwrap();
        assert_eq!(
            Value::Object(plain.client_name_metadata()),
            json!({"client_name": "kosmos-hotel"})
        );
        let default = PartyIdentity::operator(&op).unwrap();
        assert!(default.client_name_metadata().is_empty());
        assert!(default.verifier_info().is_none());
        assert_eq!(default.client_id, op.client_id);
        assert_eq!(default.jar_header(), op.jar_header());
    }
}
