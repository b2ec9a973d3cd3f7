//! Test certificates: a CA and server leaves for `localhost` / 127.0.0.1
//! (the TLS counterparts of the outbound and PostgreSQL tests).

use openssl::asn1::Asn1Time;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509NameBuilder};

/// A fresh P-256 key.
pub fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// A certificate for `cn` signed by `issuer` (itself when `None`: a CA),
/// valid for two days; a leaf names `localhost` and 127.0.0.1 and serves
/// TLS.
pub fn certificate(cn: &str, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_slice(&digital_id::crypto::random_bytes::<16>()).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&*name, |(c, _)| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(2).unwrap())
        .unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer.map(|(c, _)| &**c), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    match issuer {
        None => {
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .key_cert_sign()
                    .crl_sign()
                    .build()
                    .unwrap(),
            )
            .unwrap();
        }
        Some((ca, _)) => {
            let ctx = b.x509v3_context(Some(ca), None);
            let aki = AuthorityKeyIdentifier::new()
                .keyid(true)
                .build(&ctx)
                .unwrap();
            let san = SubjectAlternativeName::new()
                .dns("localhost")
                .ip("127.0.0.1")
                .build(&ctx)
                .unwrap();
            b.append_extension(aki).unwrap();
            b.append_extension(san).unwrap();
            b.append_extension(BasicConstraints::new().build().unwrap())
                .unwrap();
            b.append_extension(
                KeyUsage::new()
                    .critical()
                    .digital_signature()
                    .build()
                    .unwrap(),
            )
            .unwrap();
            b.append_extension(ExtendedKeyUsage::new().server_auth().build().unwrap())
                .unwrap();
        }
    }
    let signer = issuer.map_or(key, |(_, k)| k);
    b.sign(signer, MessageDigest::sha256()).unwrap();
    b.build()
}

/// What [`issued`] makes: a CA or an end-entity certificate valid from
/// `not_before` to `not_after` (Unix seconds, so tests follow the server's
/// clock rather than the wall clock).
#[derive(Debug, Clone, Copy)]
pub struct Validity {
    pub ca: bool,
    pub not_before: i64,
    pub not_after: i64,
}

/// A certificate for `key` named `cn`, signed by `issuer` (itself when
/// `None`), with SKI, AKI (when issued), basicConstraints and key usage
/// (keyCertSign for a CA, digitalSignature for a leaf).
pub fn issued(
    cn: &str,
    key: &PKey<Private>,
    issuer: Option<(&X509, &PKey<Private>)>,
    v: Validity,
) -> X509 {
    let mut b = unsigned(cn, key, issuer.map(|(c, _)| c), v);
    b.sign(issuer.map_or(key, |(_, k)| k), MessageDigest::sha256())
        .unwrap();
    b.build()
}

/// As [`issued`], for a public key only (an issuer is needed then).
pub fn issued_to<T: openssl::pkey::HasPublic>(
    cn: &str,
    key: &openssl::pkey::PKeyRef<T>,
    issuer: (&X509, &PKey<Private>),
    v: Validity,
) -> X509 {
    let mut b = unsigned(cn, key, Some(issuer.0), v);
    b.sign(issuer.1, MessageDigest::sha256()).unwrap();
    b.build()
}

/// What [`issued`] signs.
fn unsigned<T: openssl::pkey::HasPublic>(
    cn: &str,
    key: &openssl::pkey::PKeyRef<T>,
    issuer: Option<&X509>,
    v: Validity,
) -> X509Builder {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509Builder::new().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_slice(&digital_id::crypto::random_bytes::<16>()).unwrap();
    b.set_serial_number(&serial.to_asn1_integer().unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(issuer.map_or(&*name, |c| c.subject_name()))
        .unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::from_unix(v.not_before).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::from_unix(v.not_after).unwrap())
        .unwrap();
    let ski = SubjectKeyIdentifier::new()
        .build(&b.x509v3_context(issuer.map(|c| &**c), None))
        .unwrap();
    b.append_extension(ski).unwrap();
    if let Some(ca) = issuer {
        let aki = AuthorityKeyIdentifier::new()
            .keyid(true)
            .build(&b.x509v3_context(Some(ca), None))
            .unwrap();
        b.append_extension(aki).unwrap();
    }
    let (bc, ku) = match v.ca {
        true => (
            BasicConstraints::new().critical().ca().build().unwrap(),
            KeyUsage::new()
                .critical()
                .key_cert_sign()
                .crl_sign()
                .build()
                .unwrap(),
        ),
        false => (
            BasicConstraints::new().build().unwrap(),
            KeyUsage::new()
                .critical()
                .digital_signature()
                .build()
                .unwrap(),
        ),
    };
    b.append_extension(bc).unwrap();
    b.append_extension(ku).unwrap();
    b
}

/// The project's signing key for an OpenSSL P-256 key (to sign JWS with
/// the key a certificate names).
pub fn signing_key(key: &PKey<Private>) -> digital_id::crypto::SigningKey {
    use digital_id::crypto::b64url;
    let ec = key.ec_key().unwrap();
    let mut ctx = openssl::bn::BigNumContext::new().unwrap();
    let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .unwrap();
    let jwk = serde_json::json!({"kty": "EC", "crv": "P-256",
        "x": b64url(x.to_vec_padded(32).unwrap()), "y": b64url(y.to_vec_padded(32).unwrap()),
        "d": b64url(ec.private_key().to_vec_padded(32).unwrap())});
    digital_id::crypto::SigningKey::from_jwk(&jwk).unwrap()
}
