//! Certificates this server makes itself: the demo CAs of `--demo` (the
//! verifier's and the issuer's) and the leaves they issue. Pure: the keys
//! and the time come in as arguments; nothing here reads a file or a clock.
//!
//! A CA is self-signed, `cA` with `pathLenConstraint` 0, key usage
//! keyCertSign + cRLSign and a SubjectKeyIdentifier. A leaf is an
//! end-entity certificate (`basicConstraints` without `cA`), key usage
//! digitalSignature, with an AuthorityKeyIdentifier naming its CA's key (so
//! DCQL `trusted_authorities` of type `aki` can name the CA) and the
//! subjectAltName its role needs ([`LeafSubject`]). The example wallet's
//! test wallet provider makes its certificates here too.

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, BigNumContext, BigNumRef, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509NameBuilder};
use serde_json::Value;

use crate::crypto::{Algorithm, KeyError, SigningKey, b64url, b64url_decode};

/// Days a demo CA is valid.
pub const CA_DAYS: i64 = 3650;
/// Days a leaf certificate is valid.
pub const LEAF_DAYS: i64 = 365;
const DAY: i64 = 86_400;

/// When a certificate is valid: `notBefore` to `notAfter`, Unix seconds
/// (RFC 5280 §4.1.2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

impl Validity {
    /// `days` days from `not_before`.
    pub fn days(not_before: i64, days: i64) -> Self {
        Validity {
            not_before,
            not_after: not_before.saturating_add(days.saturating_mul(DAY)),
        }
    }

    fn set(self, b: &mut openssl::x509::X509Builder) -> Result<(), ErrorStack> {
        b.set_not_before(Asn1Time::from_unix(self.not_before)?.as_ref())?;
        b.set_not_after(Asn1Time::from_unix(self.not_after)?.as_ref())
    }
}

/// What a leaf certifies, besides its key.
#[derive(Debug, Clone, Copy)]
pub struct LeafSubject<'a> {
    /// `CN` of the subject.
    pub common_name: &'a str,
    /// `O` of the subject, if any.
    pub organization: Option<&'a str>,
    /// A `dNSName` of subjectAltName: the public URL's host, which some
    /// wallets compare with the `response_uri` host.
    pub dns_name: Option<&'a str>,
    /// What the key signs: this decides the extended key usage and whether
    /// a `uniformResourceIdentifier` is named.
    pub role: LeafRole<'a>,
}

/// What a leaf's key signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafRole<'a> {
    /// A verifier's request objects: extended key usage serverAuth, as
    /// for the TLS certificate of the same host.
    Verifier,
    /// A credential issuer's credentials, status lists and signed metadata:
    /// subjectAltName also names the Credential Issuer Identifier as a
    /// `uniformResourceIdentifier` (what earlier SD-JWT VC drafts matched
    /// `iss` against); no extended key usage (none is defined for it).
    Issuer { uri: &'a str },
    /// A wallet provider's wallet and key attestations (the example
    /// wallet's test provider): no extended key usage, no URI.
    Attester,
}

/// A new P-256 CA named `common_name`, valid for `validity` (the demo CAs:
/// [`CA_DAYS`]).
pub fn make_ca(common_name: &str, validity: Validity) -> Result<(X509, PKey<Private>), ErrorStack> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let key = PKey::from_ec_key(EcKey::generate(&group)?)?;
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", common_name)?;
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    b.set_serial_number(serial()?.as_ref())?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(&name)?;
    b.set_pubkey(&key)?;
    validity.set(&mut b)?;
    b.append_extension(BasicConstraints::new().critical().ca().pathlen(0).build()?)?;
    b.append_extension(
        KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build()?,
    )?;
    let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None))?;
    b.append_extension(ski)?;
    b.sign(&key, MessageDigest::sha256())?;
    Ok((b.build(), key))
}

/// A leaf for `leaf_key` issued by `ca`, valid for `validity` (the
/// server's own leaves: [`LEAF_DAYS`]).
pub fn make_leaf(
    ca: &X509,
    ca_key: &PKey<Private>,
    leaf_key: &PKey<Private>,
    subject: &LeafSubject<'_>,
    validity: Validity,
) -> Result<X509, ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", subject.common_name)?;
    if let Some(org) = subject.organization {
        name.append_entry_by_text("O", org)?;
    }
    let name = name.build();
    let mut b = X509::builder()?;
    b.set_version(2)?;
    b.set_serial_number(serial()?.as_ref())?;
    b.set_subject_name(&name)?;
    b.set_issuer_name(ca.subject_name())?;
    b.set_pubkey(leaf_key)?;
    validity.set(&mut b)?;
    b.append_extension(BasicConstraints::new().critical().build()?)?;
    b.append_extension(KeyUsage::new().critical().digital_signature().build()?)?;
    if subject.role == LeafRole::Verifier {
        b.append_extension(ExtendedKeyUsage::new().server_auth().build()?)?;
    }
    let ctx = b.x509v3_context(Some(ca), None);
    let mut san = SubjectAlternativeName::new();
    let mut names = 0;
    if let Some(dns) = subject.dns_name {
        san.dns(dns);
        names += 1;
    }
    if let LeafRole::Issuer { uri } = subject.role {
        san.uri(uri);
        names += 1;
    }
    let san = (names > 0).then(|| san.build(&ctx)).transpose()?;
    // Only when the CA has a SubjectKeyIdentifier (a CA made before they
    // carried one has none to point at).
    let aki = ca
        .subject_key_id()
        .map(|_| AuthorityKeyIdentifier::new().keyid(true).build(&ctx))
        .transpose()?;
    if let Some(san) = san {
        b.append_extension(san)?;
    }
    if let Some(aki) = aki {
        b.append_extension(aki)?;
    }
    b.sign(ca_key, MessageDigest::sha256())?;
    Ok(b.build())
}

/// An ES256 [`SigningKey`] as an OpenSSL key (to certify it).
pub fn to_pkey(key: &SigningKey) -> Result<PKey<Private>, ErrorStack> {
    let jwk = key.to_private_jwk();
    let part = |n: &str| {
        jwk.get(n)
            .and_then(Value::as_str)
            .and_then(|s| b64url_decode(s).ok())
            .unwrap_or_default()
    };
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
    let public = EcKey::from_public_key_affine_coordinates(
        &group,
        BigNum::from_slice(&part("x"))?.as_ref(),
        BigNum::from_slice(&part("y"))?.as_ref(),
    )?;
    let ec = EcKey::from_private_components(
        &group,
        BigNum::from_slice(&part("d"))?.as_ref(),
        public.public_key(),
    )?;
    PKey::from_ec_key(ec)
}

/// The ES256 [`SigningKey`] of an OpenSSL P-256 key (the inverse of
/// [`to_pkey`]).
pub fn signing_key(key: &PKey<Private>) -> Result<SigningKey, KeyError> {
    let unusable = |_| KeyError::Rejected(Algorithm::Es256);
    let ec = key.ec_key().map_err(unusable)?;
    let mut ctx = BigNumContext::new().map_err(unusable)?;
    let (mut x, mut y) = (
        BigNum::new().map_err(unusable)?,
        BigNum::new().map_err(unusable)?,
    );
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .map_err(unusable)?;
    let fixed = |n: &BigNumRef| n.to_vec_padded(32).map(b64url).map_err(unusable);
    SigningKey::from_jwk(&serde_json::json!({"kty": "EC", "crv": "P-256",
        "x": fixed(&x)?, "y": fixed(&y)?, "d": fixed(ec.private_key())?}))
}

/// A random positive 127-bit serial number (RFC 5280 §4.1.2.2).
fn serial() -> Result<Asn1Integer, ErrorStack> {
    let mut bn = BigNum::new()?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)?;
    bn.to_asn1_integer()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::x509::{Anchors, ChainError};

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn an_issuer_leaf_validates_to_its_ca_and_names_the_issuer() {
        let (ca, ca_key) = make_ca("Test issuer CA", Validity::days(NOW, CA_DAYS)).unwrap();
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let subject = LeafSubject {
            common_name: "id.example.ru",
            organization: None,
            dns_name: Some("id.example.ru"),
            role: LeafRole::Issuer {
                uri: "https://id.example.ru",
            },
        };
        let leaf = make_leaf(
            &ca,
            &ca_key,
            &to_pkey(&key).unwrap(),
            &subject,
            Validity::days(NOW, LEAF_DAYS),
        )
        .unwrap();
        let anchors = Anchors::from_certs(vec![ca.clone()]).unwrap();
        let chain = anchors
            .validate_certs(std::slice::from_ref(&leaf), NOW + 60)
            .unwrap();
        assert_eq!(chain.leaf_key(), key.public());
        // The leaf's AKI is the CA's SKI.
        assert_eq!(
            chain.authority_key_ids()[0],
            ca.subject_key_id().unwrap().as_slice()
        );
        let names: Vec<_> = leaf.subject_alt_names().unwrap().into_iter().collect();
        assert_eq!(names[0].dnsname(), Some("id.example.ru"));
        assert_eq!(names[1].uri(), Some("https://id.example.ru"));
        assert!(leaf.extended_key_usage().is_none());
        // Valid a year, not before `not_before`.
        assert!(
            anchors
                .validate_certs(std::slice::from_ref(&leaf), NOW - 1)
                .is_err()
        );
        assert!(
            anchors
                .validate_certs(&[leaf], NOW + LEAF_DAYS * DAY + 1)
                .is_err()
        );
    }

    #[test]
    fn a_verifier_leaf_serves_tls_and_names_only_the_host() {
        let (ca, ca_key) = make_ca("Test verifier CA", Validity::days(NOW, CA_DAYS)).unwrap();
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let subject = LeafSubject {
            common_name: "rp.example.ru",
            organization: Some("RP"),
            dns_name: Some("rp.example.ru"),
            role: LeafRole::Verifier,
        };
        let leaf = make_leaf(
            &ca,
            &ca_key,
            &to_pkey(&key).unwrap(),
            &subject,
            Validity::days(NOW, LEAF_DAYS),
        )
        .unwrap();
        assert_eq!(leaf.subject_alt_names().unwrap().len(), 1);
        assert!(leaf.extended_key_usage().is_some());
        assert!(leaf.verify(&ca.public_key().unwrap()).unwrap());
    }

    #[test]
    fn an_attester_leaf_signs_and_is_no_ca() {
        let validity = Validity {
            not_before: NOW - DAY,
            not_after: NOW + 90 * DAY,
        };
        let (ca, ca_key) =
            make_ca("Wallet provider root", Validity::days(NOW - DAY, CA_DAYS)).unwrap();
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let subject = LeafSubject {
            common_name: "Wallet provider attestations",
            organization: None,
            dns_name: None,
            role: LeafRole::Attester,
        };
        let leaf = make_leaf(&ca, &ca_key, &to_pkey(&key).unwrap(), &subject, validity).unwrap();
        assert!(leaf.subject_alt_names().is_none());
        assert!(leaf.extended_key_usage().is_none());
        let anchors = Anchors::from_certs(vec![ca]).unwrap();
        // A chain validator accepts it as an end entity that signs (it
        // refuses CA leaves and leaves without digitalSignature).
        let chain = anchors
            .validate_certs(std::slice::from_ref(&leaf), NOW)
            .unwrap();
        assert_eq!(chain.leaf_key(), key.public());
        assert_eq!(chain.leaf_not_after(), Some(NOW + 90 * DAY));
        assert_eq!(
            anchors
                .validate_certs(std::slice::from_ref(&leaf), NOW + 90 * DAY + 1)
                .unwrap_err(),
            ChainError::Expired { depth: 0 }
        );
    }

    #[test]
    fn signing_key_inverts_to_pkey() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let back = signing_key(&to_pkey(&key).unwrap()).unwrap();
        assert_eq!(back.to_private_jwk(), key.to_private_jwk());
        // A key that is not P-256 is refused, not a panic.
        let ed = PKey::generate_ed25519().unwrap();
        assert!(matches!(
            signing_key(&ed),
            Err(KeyError::Rejected(Algorithm::Es256))
        ));
    }
}
