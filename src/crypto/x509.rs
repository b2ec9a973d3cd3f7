//! X.509 certification paths to configured trust anchors (RFC 5280 §6,
//! through OpenSSL's verifier), for the issuer certificates of an SD-JWT VC
//! whose header carries `x5c` (SD-JWT VC "Inline X.509 Certificates").
//! Pure: the anchors, the certificates and the time come in as arguments;
//! nothing here reads a file or a clock.
//!
//! OpenSSL builds and checks the path: every signature, the validity of
//! every certificate at `now`, CA and path-length constraints and key usage
//! of the issuing certificates. On top of that the leaf must not be
//! self-signed, must not be a CA (`basicConstraints` `cA`), and when it
//! has a key usage extension it must allow `digitalSignature`. Every
//! configured anchor is a trust anchor in the RFC 5280 sense, root or
//! intermediate alike (`X509_V_FLAG_PARTIAL_CHAIN`): the path ends at the
//! first configured certificate.
//!
//! A refusal names the failed step with a stable reason
//! ([`ChainError::reason`]): `untrusted_root`, `certificate_expired`, …

use std::cmp::Ordering;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use der::asn1::AnyRef;
use der::{Decode, Reader, Tag, TagNumber, Tagged};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Public};
use openssl::stack::Stack;
use openssl::x509::store::X509StoreBuilder;
use openssl::x509::verify::{X509VerifyFlags, X509VerifyParam};
use openssl::x509::{X509, X509KeyUsage, X509PurposeId, X509Ref, X509StoreContext};
use serde_json::{Value, json};

use super::{PublicKey, b64url};

pub mod certify;

/// Most certificates accepted in one `x5c`.
pub const MAX_CHAIN: usize = 8;
/// Largest base64 certificate accepted in `x5c`.
const MAX_CERT_B64: usize = 16 * 1024;

/// A configured trust anchor that cannot be used (`[verifier.trust] anchors`).
#[derive(Debug, thiserror::Error)]
pub enum AnchorError {
    #[error("cannot read the trust anchor file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the trust anchor file {path} holds no PEM certificate")]
    NoCertificate { path: String },
    #[error("the trust anchor file {path} is not a list of PEM certificates")]
    NotPem { path: String },
    #[error(
        "certificate {index} of the trust anchor file {path} is not a CA certificate \
         (its basicConstraints has no cA): an anchor must be a certification authority"
    )]
    NotCa { path: String, index: usize },
}

/// The trust anchors the verifier accepts issuer chains to.
#[derive(Clone, Default)]
pub struct Anchors {
    certs: Vec<X509>,
}

impl std::fmt::Debug for Anchors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Anchors")
            .field("certificates", &self.certs.len())
            .finish()
    }
}

impl Anchors {
    /// Adds every certificate of a PEM file (`path` only names it in
    /// errors); each must be a CA certificate. Returns how many it held.
    pub fn add_pem(&mut self, path: &str, pem: &[u8]) -> Result<usize, AnchorError> {
        let certs = X509::stack_from_pem(pem).map_err(|_| AnchorError::NotPem {
            path: path.to_owned(),
        })?;
        if certs.is_empty() {
            return Err(AnchorError::NoCertificate {
                path: path.to_owned(),
            });
        }
        for (i, cert) in certs.iter().enumerate() {
            let der = cert.to_der().map_err(|_| AnchorError::NotPem {
                path: path.to_owned(),
            })?;
            if !is_ca(&der).unwrap_or(false) {
                return Err(AnchorError::NotCa {
                    path: path.to_owned(),
                    index: i + 1,
                });
            }
        }
        let n = certs.len();
        self.certs.extend(certs);
        Ok(n)
    }

    /// Anchors from certificates at hand (e.g. the CA that ends an
    /// uploaded chain); each must be a CA certificate, as in
    /// [`Anchors::add_pem`]. `Err(i)`: certificate `i` (from 0) is not.
    pub fn from_certs(certs: Vec<X509>) -> Result<Self, usize> {
        for (i, cert) in certs.iter().enumerate() {
            let der = cert.to_der().map_err(|_| i)?;
            if !is_ca(&der).unwrap_or(false) {
                return Err(i);
            }
        }
        Ok(Anchors { certs })
    }

    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Validates the certificates of an `x5c` header (leaf first; RFC 7515
    /// §4.1.6: base64 DER, not base64url) to one of the anchors at `now`.
    pub fn validate(&self, x5c: &Value, now: i64) -> Result<ValidatedChain, ChainError> {
        let certs = parse_x5c(x5c)?;
        self.validate_certs(&certs, now)
    }

    /// [`Anchors::validate`] for certificates at hand (leaf first, then
    /// the certificates that may lead to an anchor), e.g. an uploaded chain.
    pub fn validate_certs(&self, certs: &[X509], now: i64) -> Result<ValidatedChain, ChainError> {
        if certs.len() > MAX_CHAIN {
            return Err(ChainError::Malformed("has too many certificates"));
        }
        let (leaf, rest) = certs.split_first().ok_or(ChainError::Malformed(
            "must be a non-empty array of base64 DER certificates",
        ))?;
        check_leaf(leaf)?;
        let path = self.path(leaf, rest, now)?;
        let leaf_key = public_key(leaf)?;
        let authority_key_ids = path
            .iter()
            .filter_map(|c| c.authority_key_id().map(|id| id.as_slice().to_vec()))
            .collect();
        Ok(ValidatedChain {
            leaf_key,
            authority_key_ids,
            path,
        })
    }

    /// OpenSSL's path building and validation; the path, leaf first.
    fn path(&self, leaf: &X509Ref, rest: &[X509], now: i64) -> Result<Vec<X509>, ChainError> {
        let internal = |_| ChainError::Internal;
        let mut builder = X509StoreBuilder::new().map_err(internal)?;
        for anchor in &self.certs {
            builder.add_cert(anchor.clone()).map_err(internal)?;
        }
        let mut param = X509VerifyParam::new().map_err(internal)?;
        param.set_time(now as _);
        param.set_depth(MAX_CHAIN as _);
        param
            .set_flags(X509VerifyFlags::PARTIAL_CHAIN)
            .map_err(internal)?;
        param.set_purpose(X509PurposeId::ANY).map_err(internal)?;
        builder.set_param(&param).map_err(internal)?;
        let store = builder.build();
        let mut untrusted = Stack::new().map_err(internal)?;
        for c in rest {
            untrusted.push(c.clone()).map_err(internal)?;
        }
        let mut ctx = X509StoreContext::new().map_err(internal)?;
        let verdict = ctx
            .init(&store, leaf, &untrusted, |c| {
                if c.verify_cert()? {
                    let chain = c
                        .chain()
                        .map(|s| s.iter().map(X509Ref::to_owned).collect())
                        .unwrap_or_default();
                    Ok(Ok(chain))
                } else {
                    Ok(Err((c.error().as_raw(), c.error_depth())))
                }
            })
            .map_err(internal)?;
        verdict.map_err(|(code, depth)| ChainError::from_openssl(code, depth))
    }
}

/// A chain that validated to an anchor.
#[derive(Debug, Clone)]
pub struct ValidatedChain {
    leaf_key: PublicKey,
    authority_key_ids: Vec<Vec<u8>>,
    /// The validated path, leaf first, anchor last.
    path: Vec<X509>,
}

impl ValidatedChain {
    /// The leaf certificate's key: it must verify the JWT.
    pub fn leaf_key(&self) -> &PublicKey {
        &self.leaf_key
    }

    /// The `keyIdentifier` of the AuthorityKeyIdentifier of every
    /// certificate on the validated path (leaf to anchor; certificates of
    /// `x5c` that are not on it do not count), for DCQL `aki`.
    pub fn authority_key_ids(&self) -> &[Vec<u8>] {
        &self.authority_key_ids
    }

    /// Certificates on the path, anchor included.
    pub fn len(&self) -> usize {
        self.path.len()
    }

    pub fn is_empty(&self) -> bool {
        self.path.is_empty()
    }

    /// The path OpenSSL validated: leaf first, the anchor last.
    pub fn path(&self) -> &[X509] {
        &self.path
    }

    /// When the leaf certificate expires (its `notAfter`, Unix seconds).
    pub fn leaf_not_after(&self) -> Option<i64> {
        self.path
            .first()
            .and_then(|leaf| unix_time(leaf.not_after()))
    }
}

/// Unix seconds of an ASN.1 time (a certificate's `notBefore`/`notAfter`).
pub fn unix_time(t: &openssl::asn1::Asn1TimeRef) -> Option<i64> {
    let epoch = openssl::asn1::Asn1Time::from_unix(0).ok()?;
    let d = epoch.diff(t).ok()?;
    Some(i64::from(d.days) * 86_400 + i64::from(d.secs))
}

/// Why a chain is refused; [`ChainError::reason`] is the stable name of the
/// failed step. `depth` counts from the leaf (0).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    #[error("the `x5c` header {0}")]
    Malformed(&'static str),
    #[error("the leaf certificate is self-signed; it must be issued by a certification authority")]
    SelfSignedLeaf,
    #[error(
        "the leaf certificate is a CA certificate (basicConstraints cA); it must be an end-entity certificate"
    )]
    LeafIsCa,
    #[error("the leaf certificate's key usage does not allow digitalSignature")]
    KeyUsage,
    #[error("the leaf certificate's key is neither P-256 nor Ed25519")]
    UnsupportedKey,
    #[error("the certificate chain does not lead to a configured trust anchor")]
    UntrustedRoot,
    #[error("{} has expired", which(*.depth))]
    Expired { depth: u32 },
    #[error("{} is not yet valid", which(*.depth))]
    NotYetValid { depth: u32 },
    #[error("the signature on {} does not verify with its issuer's key", which(*.depth))]
    BadSignature { depth: u32 },
    #[error("{} is refused: {why}", which(*.depth))]
    BadChain { depth: u32, why: &'static str },
    #[error("the certificate chain could not be checked")]
    Internal,
}

/// "the leaf certificate", "certificate 2 of the chain".
fn which(depth: u32) -> String {
    match depth {
        0 => "the leaf certificate".to_owned(),
        d => format!(
            "certificate {} of the chain (counting the leaf as 1)",
            d + 1
        ),
    }
}

impl ChainError {
    /// The failed step, as a stable machine-readable name.
    pub fn reason(&self) -> &'static str {
        match self {
            ChainError::Malformed(_) | ChainError::BadChain { .. } | ChainError::Internal => {
                "bad_chain"
            }
            ChainError::SelfSignedLeaf => "self_signed_leaf",
            ChainError::LeafIsCa => "leaf_is_ca",
            ChainError::KeyUsage => "key_usage",
            ChainError::UnsupportedKey => "unsupported_key",
            ChainError::UntrustedRoot => "untrusted_root",
            ChainError::Expired { .. } => "certificate_expired",
            ChainError::NotYetValid { .. } => "certificate_not_yet_valid",
            ChainError::BadSignature { .. } => "bad_signature",
        }
    }

    /// OpenSSL's `X509_V_ERR_*` (numbers of `x509_vfy.h`, OpenSSL 3).
    fn from_openssl(code: i32, depth: u32) -> Self {
        match code {
            10 => ChainError::Expired { depth },
            9 => ChainError::NotYetValid { depth },
            4 | 6 | 7 => ChainError::BadSignature { depth },
            // Unable to get (local) issuer, can't verify the leaf's issuer,
            // a self-signed certificate that is not an anchor.
            2 | 18 | 19 | 20 | 21 => ChainError::UntrustedRoot,
            13 | 14 => ChainError::BadChain {
                depth,
                why: "its validity period is malformed",
            },
            22 | 25 => ChainError::BadChain {
                depth,
                why: "the path is longer than its constraints allow",
            },
            32 => ChainError::BadChain {
                depth,
                why: "it issues a certificate but its key usage does not allow keyCertSign",
            },
            34 => ChainError::BadChain {
                depth,
                why: "it has an unhandled critical extension",
            },
            79 => ChainError::BadChain {
                depth,
                why: "it issues a certificate but is not a CA certificate",
            },
            66..=68 => ChainError::BadChain {
                depth,
                why: "its key or signature algorithm is too weak",
            },
            _ => ChainError::BadChain {
                depth,
                why: "it is not a valid link of a certification path",
            },
        }
    }
}

fn parse_x5c(x5c: &Value) -> Result<Vec<X509>, ChainError> {
    let list = x5c
        .as_array()
        .filter(|a| !a.is_empty())
        .ok_or(ChainError::Malformed(
            "must be a non-empty array of base64 DER certificates",
        ))?;
    if list.len() > MAX_CHAIN {
        return Err(ChainError::Malformed("has too many certificates"));
    }
    list.iter()
        .map(|v| {
            let text =
                v.as_str()
                    .filter(|s| s.len() <= MAX_CERT_B64)
                    .ok_or(ChainError::Malformed(
                        "must hold base64 strings of at most 16 KiB",
                    ))?;
            let der = STANDARD.decode(text).map_err(|_| {
                ChainError::Malformed("holds a value that is not base64 (RFC 7515 §4.1.6)")
            })?;
            X509::from_der(&der)
                .map_err(|_| ChainError::Malformed("holds a value that is not a DER certificate"))
        })
        .collect()
}

/// The checks on the leaf that path validation does not make.
pub(crate) fn check_leaf(leaf: &X509Ref) -> Result<(), ChainError> {
    let key = leaf.public_key().map_err(|_| ChainError::UnsupportedKey)?;
    let self_issued = matches!(
        leaf.subject_name().try_cmp(leaf.issuer_name()),
        Ok(Ordering::Equal)
    );
    if self_issued && leaf.verify(&key).unwrap_or(false) {
        return Err(ChainError::SelfSignedLeaf);
    }
    let der = leaf
        .to_der()
        .map_err(|_| ChainError::Malformed("holds a value that is not a DER certificate"))?;
    match is_ca(&der) {
        Ok(false) => {}
        Ok(true) => return Err(ChainError::LeafIsCa),
        Err(_) => {
            return Err(ChainError::Malformed(
                "holds a leaf certificate whose extensions do not parse",
            ));
        }
    }
    match leaf.key_usage() {
        Some(ku) if !ku.contains(X509KeyUsage::DIGITAL_SIGNATURE) => Err(ChainError::KeyUsage),
        Some(_) | None => Ok(()),
    }
}

/// The leaf's key as a JWS verifier (ES256 or EdDSA).
fn public_key(leaf: &X509Ref) -> Result<PublicKey, ChainError> {
    let key = leaf.public_key().map_err(|_| ChainError::UnsupportedKey)?;
    let jwk = jwk_of(&key).ok_or(ChainError::UnsupportedKey)?;
    PublicKey::from_jwk(&jwk).map_err(|_| ChainError::UnsupportedKey)
}

fn jwk_of(key: &PKey<Public>) -> Option<Value> {
    match key.id() {
        Id::EC => {
            let ec = key.ec_key().ok()?;
            if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
                return None;
            }
            let mut ctx = openssl::bn::BigNumContext::new().ok()?;
            let mut x = openssl::bn::BigNum::new().ok()?;
            let mut y = openssl::bn::BigNum::new().ok()?;
            ec.public_key()
                .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
                .ok()?;
            Some(json!({"kty": "EC", "crv": "P-256",
                "x": b64url(x.to_vec_padded(32).ok()?), "y": b64url(y.to_vec_padded(32).ok()?)}))
        }
        Id::ED25519 => {
            Some(json!({"kty": "OKP", "crv": "Ed25519", "x": b64url(key.raw_public_key().ok()?)}))
        }
        _ => None,
    }
}

/// OID 2.5.29.19 (id-ce-basicConstraints), content octets.
const BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1d, 0x13];

/// Whether the certificate's basicConstraints says `cA` (RFC 5280
/// §4.2.1.9); `false` without the extension. OpenSSL keeps this flag
/// private, so the DER is read with the `der` crate: Certificate →
/// tbsCertificate → `[3]` extensions → the basicConstraints extension.
fn is_ca(cert_der: &[u8]) -> Result<bool, der::Error> {
    AnyRef::from_der(cert_der)?.sequence(|certificate| {
        let tbs: AnyRef = certificate.decode()?;
        let _signature_algorithm: AnyRef = certificate.decode()?;
        let _signature: AnyRef = certificate.decode()?;
        tbs.sequence(|fields| {
            let mut ca = false;
            while !fields.is_finished() {
                let field: AnyRef = fields.decode()?;
                let extensions = Tag::ContextSpecific {
                    constructed: true,
                    number: TagNumber(3),
                };
                if field.tag() == extensions {
                    ca = extensions_say_ca(field.value())?;
                }
            }
            Ok(ca)
        })
    })
}

fn extensions_say_ca(explicit: &[u8]) -> Result<bool, der::Error> {
    AnyRef::from_der(explicit)?.sequence(|list| {
        let mut ca = false;
        while !list.is_finished() {
            let extension: AnyRef = list.decode()?;
            extension.sequence(|e| {
                let oid: AnyRef = e.decode()?;
                let mut value: AnyRef = e.decode()?;
                if value.tag() == Tag::Boolean {
                    // `critical`
                    value = e.decode()?;
                }
                if oid.tag() == Tag::ObjectIdentifier
                    && oid.value() == BASIC_CONSTRAINTS
                    && value.tag() == Tag::OctetString
                {
                    ca = AnyRef::from_der(value.value())?.sequence(|bc| {
                        let mut first = None;
                        while !bc.is_finished() {
                            let item: AnyRef = bc.decode()?;
                            first.get_or_insert(item);
                        }
                        // BOOLEAN DEFAULT FALSE; any non-zero octet is TRUE.
                        Ok::<_, der::Error>(first.is_some_and(|f| {
                            f.tag() == Tag::Boolean && f.value().iter().any(|b| *b != 0)
                        }))
                    })?;
                }
                Ok::<_, der::Error>(())
            })?;
        }
        Ok(ca)
    })
}

#[cfg(test)]
pub(crate) mod tests;
