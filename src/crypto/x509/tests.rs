//! Chains made here with OpenSSL: one test per step of the validation.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};
use serde_json::{Value, json};

use super::*;

/// Now, for every test: certificates are valid from 30 days before to a day after.
pub const NOW: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

pub fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// What a test certificate looks like.
#[derive(Clone, Copy)]
pub struct Spec<'a> {
    pub cn: &'a str,
    pub ca: bool,
    pub not_before: i64,
    pub not_after: i64,
    /// Key usage: CAs keyCertSign + cRLSign, leaves digitalSignature;
    /// `Some(false)` gives a leaf keyCertSign only; `None` leaves it out.
    pub key_usage: Option<bool>,
    /// An AuthorityKeyIdentifier (keyid) when issued by another certificate.
    pub aki: bool,
}

impl<'a> Spec<'a> {
    pub fn ca(cn: &'a str) -> Self {
        Spec {
            cn,
            ca: true,
            not_before: NOW - 30 * DAY,
            not_after: NOW + DAY,
            key_usage: Some(true),
            aki: true,
        }
    }

    pub fn leaf(cn: &'a str) -> Self {
        Spec {
            ca: false,
            ..Self::ca(cn)
        }
    }
}

/// A certificate for `key` as `spec` says, signed by `issuer` (itself when `None`).
pub fn cert(spec: Spec<'_>, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", spec.cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_slice(&crate::crypto::random_bytes::<16>()).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&*name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(spec.not_before).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(spec.not_after).unwrap())
        .unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if let (true, Some((ca, _))) = (spec.aki, issuer) {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(ca), None))
            .unwrap();
        b.append_extension(aki).unwrap();
    }
    let bc = match spec.ca {
        true => BasicConstraints::new().critical().ca().build().unwrap(),
        false => BasicConstraints::new().build().unwrap(),
    };
    b.append_extension(bc).unwrap();
    match (spec.key_usage, spec.ca) {
        (None, _) => {}
        (Some(true), true) => b
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap(),
        (Some(true), false) => b
            .append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .build()
                    .unwrap(),
            )
            .unwrap(),
        (Some(false), _) => b
            .append_extension(KeyUsage::new().critical().key_cert_sign().build().unwrap())
            .unwrap(),
    }
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

/// A CA with its key.
pub struct Ca {
    pub cert: X509,
    pub key: PKey<Private>,
}

impl Ca {
    pub fn root(cn: &str) -> Self {
        let key = key();
        Ca {
            cert: cert(Spec::ca(cn), &key, None),
            key,
        }
    }

    pub fn issue(&self, spec: Spec<'_>) -> (X509, PKey<Private>) {
        let k = key();
        (cert(spec, &k, Some((&self.cert, &self.key))), k)
    }

    pub fn intermediate(&self, cn: &str) -> Ca {
        let (cert, key) = self.issue(Spec::ca(cn));
        Ca { cert, key }
    }
}

pub fn x5c(certs: &[&X509]) -> Value {
    Value::Array(
        certs
            .iter()
            .map(|c| Value::String(STANDARD.encode(c.to_der().unwrap())))
            .collect(),
    )
}

pub fn anchors(cas: &[&X509]) -> Anchors {
    let mut a = Anchors::default();
    for c in cas {
        a.add_pem("test.pem", &c.to_pem().unwrap()).unwrap();
    }
    a
}

fn reason(r: Result<ValidatedChain, ChainError>) -> &'static str {
    r.expect_err("the chain must be refused").reason()
}

#[test]
fn a_leaf_under_the_anchor_validates_and_gives_its_key() {
    let root = Ca::root("Root");
    let (leaf, leaf_key) = root.issue(Spec::leaf("Issuer"));
    let chain = anchors(&[&root.cert])
        .validate(&x5c(&[&leaf]), NOW)
        .unwrap();
    let expected = public_key(&leaf).unwrap();
    assert_eq!(chain.leaf_key(), &expected);
    assert_eq!(chain.len(), 2, "leaf and anchor");
    // The leaf's AKI is the root's SKI.
    let ski = root.cert.subject_key_id().unwrap().as_slice().to_vec();
    assert!(chain.authority_key_ids().contains(&ski));
    drop(leaf_key);
}

#[test]
fn an_intermediate_in_x5c_links_the_leaf_to_the_root() {
    let root = Ca::root("Root");
    let inter = root.intermediate("Intermediate");
    let (leaf, _) = inter.issue(Spec::leaf("Issuer"));
    let a = anchors(&[&root.cert]);
    let chain = a.validate(&x5c(&[&leaf, &inter.cert]), NOW).unwrap();
    assert_eq!(chain.len(), 3);
    let ids = chain.authority_key_ids();
    assert!(ids.contains(&inter.cert.subject_key_id().unwrap().as_slice().to_vec()));
    assert!(ids.contains(&root.cert.subject_key_id().unwrap().as_slice().to_vec()));
    // Without the intermediate there is no path.
    assert_eq!(reason(a.validate(&x5c(&[&leaf]), NOW)), "untrusted_root");
    // An intermediate configured as the anchor ends the path there.
    let chain = anchors(&[&inter.cert])
        .validate(&x5c(&[&leaf]), NOW)
        .unwrap();
    assert_eq!(chain.len(), 2);
}

#[test]
fn another_root_is_untrusted() {
    let root = Ca::root("Root");
    let other = Ca::root("Other Root");
    let (leaf, _) = other.issue(Spec::leaf("Issuer"));
    let e = anchors(&[&root.cert]).validate(&x5c(&[&leaf, &other.cert]), NOW);
    assert_eq!(e.unwrap_err(), ChainError::UntrustedRoot);
}

#[test]
fn a_look_alike_ca_with_the_anchor_s_name_fails() {
    let root = Ca::root("Root");
    let fake = Ca::root("Root");
    let a = anchors(&[&root.cert]);
    // With an AKI the store finds no issuer with that key.
    let (leaf, _) = fake.issue(Spec::leaf("Issuer"));
    assert_eq!(reason(a.validate(&x5c(&[&leaf]), NOW)), "untrusted_root");
    assert_eq!(
        reason(a.validate(&x5c(&[&leaf, &fake.cert]), NOW)),
        "untrusted_root"
    );
    // Without one the name matches the anchor, and its signature does not.
    let (bare, _) = fake.issue(Spec {
        aki: false,
        ..Spec::leaf("Issuer")
    });
    assert_eq!(
        a.validate(&x5c(&[&bare]), NOW).unwrap_err(),
        ChainError::BadSignature { depth: 0 }
    );
}

#[test]
fn validity_is_checked_at_the_given_time_for_every_certificate() {
    let root = Ca::root("Root");
    let a = anchors(&[&root.cert]);
    let (expired, _) = root.issue(Spec {
        not_before: NOW - 10 * DAY,
        not_after: NOW - DAY,
        ..Spec::leaf("Issuer")
    });
    assert_eq!(
        a.validate(&x5c(&[&expired]), NOW).unwrap_err(),
        ChainError::Expired { depth: 0 }
    );
    // The same leaf two days earlier was fine: the clock is the caller's.
    a.validate(&x5c(&[&expired]), NOW - 2 * DAY).unwrap();
    let (early, _) = root.issue(Spec {
        not_before: NOW + 3600,
        ..Spec::leaf("Issuer")
    });
    assert_eq!(
        reason(a.validate(&x5c(&[&early]), NOW)),
        "certificate_not_yet_valid"
    );
    let old = root.issue(Spec {
        not_before: NOW - 10 * DAY,
        not_after: NOW - DAY,
        ..Spec::ca("Old Intermediate")
    });
    let old = Ca {
        cert: old.0,
        key: old.1,
    };
    let (leaf, _) = old.issue(Spec::leaf("Issuer"));
    assert_eq!(
        a.validate(&x5c(&[&leaf, &old.cert]), NOW).unwrap_err(),
        ChainError::Expired { depth: 1 }
    );
}

#[test]
fn an_expired_anchor_fails_too() {
    let key = key();
    let root = Ca {
        cert: cert(
            Spec {
                not_before: NOW - 10 * DAY,
                not_after: NOW - DAY,
                ..Spec::ca("Root")
            },
            &key,
            None,
        ),
        key,
    };
    let (leaf, _) = root.issue(Spec::leaf("Issuer"));
    assert_eq!(
        reason(anchors(&[&root.cert]).validate(&x5c(&[&leaf]), NOW)),
        "certificate_expired"
    );
}

#[test]
fn the_leaf_must_be_an_end_entity_that_may_sign() {
    let root = Ca::root("Root");
    let a = anchors(&[&root.cert]);
    let inter = root.intermediate("CA as leaf");
    assert_eq!(
        a.validate(&x5c(&[&inter.cert]), NOW).unwrap_err(),
        ChainError::LeafIsCa
    );
    assert_eq!(
        a.validate(&x5c(&[&root.cert]), NOW).unwrap_err(),
        ChainError::SelfSignedLeaf
    );
    let k = super::tests::key();
    let self_signed_leaf = cert(Spec::leaf("Me"), &k, None);
    assert_eq!(
        reason(a.validate(&x5c(&[&self_signed_leaf]), NOW)),
        "self_signed_leaf"
    );
    let (cert_signer, _) = root.issue(Spec {
        key_usage: Some(false),
        ..Spec::leaf("Issuer")
    });
    assert_eq!(
        a.validate(&x5c(&[&cert_signer]), NOW).unwrap_err(),
        ChainError::KeyUsage
    );
    // No key usage extension at all: not restricted.
    let (free, _) = root.issue(Spec {
        key_usage: None,
        ..Spec::leaf("Issuer")
    });
    a.validate(&x5c(&[&free]), NOW).unwrap();
}

#[test]
fn a_malformed_x5c_is_a_bad_chain() {
    let root = Ca::root("Root");
    let (leaf, _) = root.issue(Spec::leaf("Issuer"));
    let a = anchors(&[&root.cert]);
    let der = leaf.to_der().unwrap();
    let url_safe = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&der);
    let too_many: Vec<Value> = (0..=MAX_CHAIN).map(|_| x5c(&[&leaf])[0].clone()).collect();
    for bad in [
        json!("MIIB"),
        json!([]),
        json!([1]),
        json!(["not base64!"]),
        json!([STANDARD.encode(b"not a certificate")]),
        Value::Array(too_many),
    ] {
        assert_eq!(reason(a.validate(&bad, NOW)), "bad_chain", "{bad}");
    }
    if url_safe.contains(['-', '_']) {
        assert_eq!(reason(a.validate(&json!([url_safe]), NOW)), "bad_chain");
    }
}

#[test]
fn anchors_must_be_ca_certificates_in_pem() {
    let root = Ca::root("Root");
    let (leaf, _) = root.issue(Spec::leaf("Issuer"));
    let mut a = Anchors::default();
    let mut pem = root.cert.to_pem().unwrap();
    pem.extend(root.intermediate("Intermediate").cert.to_pem().unwrap());
    assert_eq!(a.add_pem("roots.pem", &pem).unwrap(), 2);
    assert_eq!(a.len(), 2);
    let mut with_leaf = root.cert.to_pem().unwrap();
    with_leaf.extend(leaf.to_pem().unwrap());
    let e = Anchors::default()
        .add_pem("mixed.pem", &with_leaf)
        .unwrap_err();
    assert!(matches!(e, AnchorError::NotCa { index: 2, .. }), "{e}");
    assert!(e.to_string().contains("mixed.pem"));
    let e = Anchors::default().add_pem("empty.pem", b"").unwrap_err();
    assert!(
        matches!(
            e,
            AnchorError::NoCertificate { .. } | AnchorError::NotPem { .. }
        ),
        "{e}"
    );
    let e = Anchors::default()
        .add_pem(
            "junk.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap_err();
    assert!(matches!(e, AnchorError::NotPem { .. }), "{e}");
}

#[test]
fn basic_constraints_are_read_from_the_der() {
    let root = Ca::root("Root");
    let (leaf, _) = root.issue(Spec::leaf("Issuer"));
    assert!(is_ca(&root.cert.to_der().unwrap()).unwrap());
    assert!(!is_ca(&leaf.to_der().unwrap()).unwrap());
    let (bare, _) = root.issue(Spec {
        key_usage: None,
        aki: false,
        ..Spec::leaf("Issuer")
    });
    assert!(!is_ca(&bare.to_der().unwrap()).unwrap());
    assert!(is_ca(b"\x30\x03\x02\x01\x00").is_err());
}

#[test]
fn an_end_entity_cannot_issue_certificates() {
    let root = Ca::root("Root");
    let (ee, ee_key) = root.issue(Spec {
        key_usage: None,
        ..Spec::leaf("Not a CA")
    });
    let k = key();
    let below = cert(Spec::leaf("Issuer"), &k, Some((&ee, &ee_key)));
    let e = anchors(&[&root.cert])
        .validate(&x5c(&[&below, &ee]), NOW)
        .unwrap_err();
    assert_eq!(
        e,
        ChainError::BadChain {
            depth: 1,
            why: "it issues a certificate but is not a CA certificate"
        },
        "{e}"
    );
    assert_eq!(e.reason(), "bad_chain");
}
