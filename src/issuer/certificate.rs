//! The issuer's certificate chain for its ES256 key (`issuer-es256.jwk`).
//! With one, credentials, status list tokens and the signed Credential
//! Issuer Metadata carry it in the `x5c` header besides `kid`, so a
//! verifier can resolve the issuer's key by certificate (SD-JWT VC "Inline
//! X.509 Certificates"; HAIP 1.0 requires it); `/.well-known/jwt-vc-issuer`
//! stays for verifiers that resolve keys by metadata.
//!
//! Where the chain comes from (files in `<data_dir>/keys`):
//! - `issuer-chain.pem`, the operator's: PEM certificates, the leaf first
//!   (it must certify the key in `issuer-es256.jwk`), then intermediates,
//!   each issued by the next. The root is not needed; a self-signed last
//!   certificate is left out of `x5c` (HAIP 1.0 §6.1.1: the trust anchor
//!   MUST NOT be in it). A chain that does not fit the key, is out of
//!   order or whose leaf is not valid now stops the server at start.
//! - Demo mode without it: a demo issuer CA generated on first start
//!   (`issuer-ca.pem`, key in `issuer-ca-key.pem`, 0600) issues
//!   `issuer-leaf.pem` for the key, naming the public URL's host
//!   (`dNSName`) and the Credential Issuer Identifier
//!   (`uniformResourceIdentifier`); reused on restart, issued anew when it
//!   no longer fits the key or the URL or has less than 30 days left. A
//!   verifier trusts it with `issuer-ca.pem` as an anchor.
//! - Otherwise there is none: credentials name their key by `kid` only,
//!   and under `--profile haip` the server does not start.

use std::fs;
use std::path::{Path, PathBuf};

use openssl::asn1::Asn1Time;
use openssl::pkey::{PKey, Private};
use openssl::x509::{X509, X509Ref};
use serde_json::{Value, json};

use crate::config::PublicUrl;
use crate::crypto::SigningKey;
use crate::crypto::x509::MAX_CHAIN;
use crate::crypto::x509::certify::{
    CA_DAYS, LEAF_DAYS, LeafRole, LeafSubject, Validity, make_ca, make_leaf, to_pkey,
};
use crate::keystore::{self, KeyStoreError};

/// The operator's chain in `<data_dir>/keys`.
pub const CHAIN_FILE: &str = "issuer-chain.pem";
/// The demo issuer CA's certificate (give it to verifiers as an anchor).
pub const DEMO_CA_FILE: &str = "issuer-ca.pem";
const DEMO_CA_KEY_FILE: &str = "issuer-ca-key.pem";
const DEMO_LEAF_FILE: &str = "issuer-leaf.pem";
/// The demo issuer CA's common name: a leaf it issued is never used
/// outside demo mode.
pub const DEMO_CA_NAME: &str = "digital-id demo issuer CA";
/// A demo leaf with less time left than this is issued anew at start.
const RENEW_BEFORE: i64 = 30 * 86_400;
/// Certificates made at start are valid from a little earlier, for
/// verifiers whose clocks are slightly behind.
const BACKDATE: i64 = 300;

/// Where the chain may come from (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Certificates {
    /// Demo mode: the operator's chain if there is one, else the demo CA's.
    DemoCa,
    /// The operator's chain if there is one, else none.
    Operator,
    /// The operator's chain, or the server does not start (`--profile
    /// haip` without `--demo`).
    OperatorRequired,
}

impl Certificates {
    /// From `--demo` and `--profile`.
    pub fn from_settings(settings: &crate::config::Settings) -> Self {
        match (settings.demo, settings.profile) {
            (true, _) => Certificates::DemoCa,
            (false, crate::config::Profile::Default) => Certificates::Operator,
            (false, crate::config::Profile::Haip) => Certificates::OperatorRequired,
        }
    }
}

/// Which chain the issuer signs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Operator,
    DemoCa,
}

/// The issuer's certificates: the chain as `x5c` carries it.
#[derive(Debug, Clone)]
pub struct IssuerChain {
    /// DER, the leaf first, without a trust anchor.
    pub der: Vec<Vec<u8>>,
    pub source: Source,
}

/// Why the issuer's certificates cannot be used; the server does not start.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    #[error(transparent)]
    Store(#[from] KeyStoreError),
    #[error("the issuer certificate file {path} is unusable: {why}")]
    Unusable { path: PathBuf, why: String },
    #[error(
        "the leaf certificate (the first) of {path} does not certify the issuer's key in \
         issuer-es256.jwk"
    )]
    WrongKey { path: PathBuf },
    #[error(
        "certificate {next} of {path} did not issue certificate {this}: the chain must be in \
         order, the leaf first, each certificate issued by the next"
    )]
    OutOfOrder {
        path: PathBuf,
        this: usize,
        next: usize,
    },
    #[error("the leaf certificate of {path} is not valid now (expired or not yet valid)")]
    NotValidNow { path: PathBuf },
    #[error(
        "the leaf certificate of {path} was issued by the demo issuer CA: it is not used \
         outside demo mode"
    )]
    FromDemoCa { path: PathBuf },
    #[error(
        "--profile haip signs credentials with an x5c certificate chain: put the issuer's chain \
         at {path} (PEM, the leaf for the key in issuer-es256.jwk first, then intermediates; the \
         root is not needed), or run with --demo"
    )]
    Missing { path: PathBuf },
}

/// Loads (in demo mode: makes when missing) the chain for `key`, the
/// issuer's ES256 key; `None` when there is none and none is required.
pub fn load_or_generate(
    data_dir: &Path,
    public_url: &PublicUrl,
    key: &SigningKey,
    certificates: Certificates,
    now: i64,
) -> Result<Option<IssuerChain>, CertificateError> {
    let dir = data_dir.join("keys");
    let chain_path = dir.join(CHAIN_FILE);
    let pkey = to_pkey(key).map_err(unusable(&dir.join("issuer-es256.jwk")))?;
    if chain_path.exists() {
        let der = operator_chain(&chain_path, &pkey, certificates, now)?;
        tracing::info!(path = %chain_path.display(), certificates = der.len(), "the issuer signs with the operator's certificate chain");
        return Ok(Some(IssuerChain {
            der,
            source: Source::Operator,
        }));
    }
    match certificates {
        Certificates::DemoCa => {
            let leaf = demo_leaf(&dir, public_url, &pkey, now)?;
            let der = leaf.to_der().map_err(unusable(&dir.join(DEMO_LEAF_FILE)))?;
            Ok(Some(IssuerChain {
                der: vec![der],
                source: Source::DemoCa,
            }))
        }
        Certificates::Operator => Ok(None),
        Certificates::OperatorRequired => Err(CertificateError::Missing { path: chain_path }),
    }
}

/// The operator's `issuer-chain.pem`, checked; DER without a trailing
/// self-signed root.
fn operator_chain(
    path: &Path,
    key: &PKey<Private>,
    certificates: Certificates,
    now: i64,
) -> Result<Vec<Vec<u8>>, CertificateError> {
    let pem = fs::read(path).map_err(|source| KeyStoreError::Io {
        path: path.to_owned(),
        source,
    })?;
    let bad = |why: &str| CertificateError::Unusable {
        path: path.to_owned(),
        why: why.to_owned(),
    };
    let mut certs = X509::stack_from_pem(&pem).map_err(|_| bad("it is not PEM"))?;
    let leaf = certs
        .first()
        .ok_or_else(|| bad("it holds no certificate"))?;
    if certs.len() > MAX_CHAIN {
        return Err(bad("it holds more certificates than verifiers accept (8)"));
    }
    if !leaf.public_key().is_ok_and(|pk| pk.public_eq(key)) {
        return Err(CertificateError::WrongKey {
            path: path.to_owned(),
        });
    }
    crate::crypto::x509::check_leaf(leaf).map_err(|e| bad(&e.to_string()))?;
    if !valid_at(leaf, now) {
        return Err(CertificateError::NotValidNow {
            path: path.to_owned(),
        });
    }
    if certificates != Certificates::DemoCa && issued_by_demo_ca(leaf) {
        return Err(CertificateError::FromDemoCa {
            path: path.to_owned(),
        });
    }
    for (i, pair) in certs.windows(2).enumerate() {
        if !issued(&pair[0], &pair[1]) {
            return Err(CertificateError::OutOfOrder {
                path: path.to_owned(),
                this: i + 1,
                next: i + 2,
            });
        }
    }
    if certs.len() > 1 && certs.last().is_some_and(|root| issued(root, root)) {
        certs.pop();
        tracing::info!(path = %path.display(), "the root certificate at the end of the issuer chain is not sent in x5c (HAIP 1.0: the trust anchor is not included)");
    }
    certs
        .iter()
        .map(|c| c.to_der().map_err(|_| bad("a certificate does not encode")))
        .collect()
}

/// Whether `issuer` signed `cert` and is named as its issuer.
fn issued(cert: &X509Ref, issuer: &X509Ref) -> bool {
    let named = matches!(
        cert.issuer_name().try_cmp(issuer.subject_name()),
        Ok(std::cmp::Ordering::Equal)
    );
    named
        && issuer
            .public_key()
            .is_ok_and(|k| cert.verify(&k).unwrap_or(false))
}

/// Whether `cert` is valid at `now`.
fn valid_at(cert: &X509Ref, now: i64) -> bool {
    Asn1Time::from_unix(now).is_ok_and(|t| cert.not_before() <= t && t < cert.not_after())
}

fn issued_by_demo_ca(leaf: &X509Ref) -> bool {
    leaf.issuer_name()
        .entries_by_nid(openssl::nid::Nid::COMMONNAME)
        .any(|e| e.data().as_slice() == DEMO_CA_NAME.as_bytes())
}

/// Demo mode: the demo CA (made on first start) and its leaf for `key`
/// and `public_url` (issued anew when it no longer fits).
fn demo_leaf(
    dir: &Path,
    public_url: &PublicUrl,
    key: &PKey<Private>,
    now: i64,
) -> Result<X509, CertificateError> {
    let ca_path = dir.join(DEMO_CA_FILE);
    let ca_key_path = dir.join(DEMO_CA_KEY_FILE);
    let leaf_path = dir.join(DEMO_LEAF_FILE);
    let stored = match (fs::read(&ca_path), fs::read(&ca_key_path)) {
        (Ok(c), Ok(k)) => Some((
            X509::from_pem(&c).map_err(unusable(&ca_path))?,
            PKey::private_key_from_pem(&k).map_err(unusable(&ca_key_path))?,
        )),
        _ => None,
    };
    let (ca, ca_key) = match stored.filter(|(ca, _)| valid_at(ca, now)) {
        Some(pair) => pair,
        None => {
            let (ca, ca_key) = make_ca(DEMO_CA_NAME, Validity::days(now - BACKDATE, CA_DAYS))
                .map_err(unusable(&ca_path))?;
            let key_pem = ca_key
                .private_key_to_pem_pkcs8()
                .map_err(unusable(&ca_key_path))?;
            keystore::write_private_atomically(&ca_key_path, &key_pem)?;
            let pem = ca.to_pem().map_err(unusable(&ca_path))?;
            keystore::write_private_atomically(&ca_path, &pem)?;
            tracing::info!(path = %ca_path.display(), "generated the demo issuer CA");
            (ca, ca_key)
        }
    };
    let host = crate::verifier::keys::host_of(public_url);
    let fits = |leaf: &X509| {
        let ca_signed = ca
            .public_key()
            .is_ok_and(|k| leaf.verify(&k).unwrap_or(false));
        let names = leaf.subject_alt_names().is_some_and(|names| {
            names.iter().any(|n| n.dnsname() == Some(host.as_str()))
                && names.iter().any(|n| n.uri() == Some(public_url.as_str()))
        });
        let same_key = leaf.public_key().is_ok_and(|pk| pk.public_eq(key));
        ca_signed && names && same_key && valid_at(leaf, now + RENEW_BEFORE)
    };
    let existing = fs::read(&leaf_path)
        .ok()
        .and_then(|pem| X509::from_pem(&pem).ok())
        .filter(|leaf| fits(leaf) && valid_at(leaf, now));
    if let Some(leaf) = existing {
        return Ok(leaf);
    }
    let subject = LeafSubject {
        common_name: &host,
        organization: None,
        dns_name: Some(&host),
        role: LeafRole::Issuer {
            uri: public_url.as_str(),
        },
    };
    let leaf = make_leaf(
        &ca,
        &ca_key,
        key,
        &subject,
        Validity::days(now - BACKDATE, LEAF_DAYS),
    )
    .map_err(unusable(&leaf_path))?;
    let pem = leaf.to_pem().map_err(unusable(&leaf_path))?;
    keystore::write_private_atomically(&leaf_path, &pem)?;
    tracing::info!(%host, "issued the issuer's leaf certificate with the demo issuer CA");
    Ok(leaf)
}

fn unusable(path: &Path) -> impl FnOnce(openssl::error::ErrorStack) -> CertificateError + '_ {
    move |e| CertificateError::Unusable {
        path: path.to_owned(),
        why: e.to_string(),
    }
}

/// The issuer certificates stored in `<data_dir>/keys` (for `keys show`):
/// `chain` (PEM, leaf first: the operator's `issuer-chain.pem`, else the
/// demo leaf), `source`, and the demo issuer CA (`demo_ca`). Reads only.
pub fn describe_stored(data_dir: &Path) -> Value {
    let dir = data_dir.join("keys");
    let pems = |file: &str| -> Option<Vec<String>> {
        let certs = X509::stack_from_pem(&fs::read(dir.join(file)).ok()?).ok()?;
        certs
            .iter()
            .map(|c| c.to_pem().ok().and_then(|p| String::from_utf8(p).ok()))
            .collect()
    };
    let (chain, source) = match (pems(CHAIN_FILE), pems(DEMO_LEAF_FILE)) {
        (Some(chain), _) => (Some(chain), Some("operator")),
        (None, Some(leaf)) => (Some(leaf), Some("demo_ca")),
        (None, None) => (None, None),
    };
    json!({
        "chain": chain,
        "source": source,
        "demo_ca": pems(DEMO_CA_FILE).and_then(|mut c| c.pop()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::Algorithm;
    use crate::crypto::x509::Anchors;
    use crate::keystore::KeySet;
    use std::os::unix::fs::PermissionsExt;

    const NOW: i64 = 1_800_000_000;

    fn url() -> PublicUrl {
        PublicUrl::parse("https://id.example.ru").unwrap()
    }

    fn load(
        dir: &Path,
        key: &SigningKey,
        certificates: Certificates,
        now: i64,
    ) -> Result<Option<IssuerChain>, CertificateError> {
        load_or_generate(dir, &url(), key, certificates, now)
    }

    fn issuer_key(dir: &Path) -> SigningKey {
        KeySet::load_or_generate(dir).unwrap().issuer_es256
    }

    #[test]
    fn demo_mode_makes_a_ca_and_a_leaf_for_the_key_and_reuses_them() {
        let dir = tempfile::tempdir().unwrap();
        let key = issuer_key(dir.path());
        let chain = load(dir.path(), &key, Certificates::DemoCa, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(chain.source, Source::DemoCa);
        assert_eq!(chain.der.len(), 1, "the leaf only, never the CA");
        let keys = dir.path().join("keys");
        let ca = X509::from_pem(&fs::read(keys.join(DEMO_CA_FILE)).unwrap()).unwrap();
        let anchors = Anchors::from_certs(vec![ca]).unwrap();
        let leaf = X509::from_der(&chain.der[0]).unwrap();
        let valid = anchors.validate_certs(&[leaf], NOW).unwrap();
        assert_eq!(valid.leaf_key(), key.public());
        for f in [DEMO_CA_KEY_FILE, DEMO_CA_FILE, DEMO_LEAF_FILE] {
            let mode = fs::metadata(keys.join(f)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{f}");
        }
        // A restart reuses both; one 340 days later gets a new leaf from
        // the same CA.
        let again = load(dir.path(), &key, Certificates::DemoCa, NOW + 86_400)
            .unwrap()
            .unwrap();
        assert_eq!(again.der, chain.der);
        let later = load(dir.path(), &key, Certificates::DemoCa, NOW + 340 * 86_400)
            .unwrap()
            .unwrap();
        assert_ne!(later.der, chain.der);
        let leaf = X509::from_der(&later.der[0]).unwrap();
        assert!(anchors.validate_certs(&[leaf], NOW + 340 * 86_400).is_ok());
        // Another public URL: another leaf naming it.
        let moved = load_or_generate(
            dir.path(),
            &PublicUrl::parse("https://other.example.ru").unwrap(),
            &key,
            Certificates::DemoCa,
            NOW,
        )
        .unwrap()
        .unwrap();
        let leaf = X509::from_der(&moved.der[0]).unwrap();
        let uris: Vec<_> = leaf
            .subject_alt_names()
            .unwrap()
            .iter()
            .filter_map(|n| n.uri().map(str::to_owned))
            .collect();
        assert_eq!(uris, ["https://other.example.ru"]);
        let shown = describe_stored(dir.path());
        assert_eq!(shown["source"], "demo_ca");
        assert!(shown["demo_ca"].as_str().unwrap().contains("CERTIFICATE"));
    }

    #[test]
    fn without_demo_there_is_none_and_haip_refuses_to_start() {
        let dir = tempfile::tempdir().unwrap();
        let key = issuer_key(dir.path());
        assert!(
            load(dir.path(), &key, Certificates::Operator, NOW)
                .unwrap()
                .is_none()
        );
        let err = load(dir.path(), &key, Certificates::OperatorRequired, NOW).unwrap_err();
        assert!(matches!(err, CertificateError::Missing { .. }), "{err}");
        assert!(err.to_string().contains("issuer-chain.pem"), "{err}");
        assert!(!dir.path().join("keys").join(DEMO_CA_FILE).exists());
        assert_eq!(describe_stored(dir.path())["chain"], Value::Null);
    }

    /// A CA certificate for a new key, signed by `issuer` (itself when
    /// `None`), without a path length limit.
    fn ca(cn: &str, issuer: Option<(&X509, &PKey<Private>)>) -> (X509, PKey<Private>) {
        use openssl::x509::X509NameBuilder;
        use openssl::x509::extension::{
            AuthorityKeyIdentifier, BasicConstraints, KeyUsage, SubjectKeyIdentifier,
        };
        let key = to_pkey(&SigningKey::generate(Algorithm::Es256).unwrap()).unwrap();
        let mut name = X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", cn).unwrap();
        let name = name.build();
        let mut b = X509::builder().unwrap();
        b.set_version(2).unwrap();
        let serial = openssl::bn::BigNum::from_slice(&crate::crypto::random_bytes::<16>()).unwrap();
        b.set_serial_number(&serial.to_asn1_integer().unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(issuer.map_or(&*name, |(c, _)| c.subject_name()))
            .unwrap();
        b.set_pubkey(&key).unwrap();
        b.set_not_before(&Asn1Time::from_unix(NOW - 86_400).unwrap())
            .unwrap();
        b.set_not_after(&Asn1Time::from_unix(NOW + 3650 * 86_400).unwrap())
            .unwrap();
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        b.append_extension(KeyUsage::new().critical().key_cert_sign().build().unwrap())
            .unwrap();
        let ctx = b.x509v3_context(issuer.map(|(c, _)| &**c), None);
        let ski = SubjectKeyIdentifier::new().build(&ctx).unwrap();
        let aki = issuer.map(|_| {
            AuthorityKeyIdentifier::new()
                .keyid(true)
                .build(&ctx)
                .unwrap()
        });
        b.append_extension(ski).unwrap();
        if let Some(aki) = aki {
            b.append_extension(aki).unwrap();
        }
        b.sign(
            issuer.map_or(&key, |(_, k)| k),
            openssl::hash::MessageDigest::sha256(),
        )
        .unwrap();
        (b.build(), key)
    }

    /// An operator's root, intermediate and the leaf for `key`.
    fn operator_pki(key: &SigningKey) -> (X509, X509, X509) {
        let (root, root_key) = ca("Operator root", None);
        let (inter, inter_key) = ca("Operator intermediate", Some((&root, &root_key)));
        let subject = LeafSubject {
            common_name: "Issuer",
            organization: Some("Operator"),
            dns_name: Some("id.example.ru"),
            role: LeafRole::Issuer {
                uri: "https://id.example.ru",
            },
        };
        let leaf = make_leaf(
            &inter,
            &inter_key,
            &to_pkey(key).unwrap(),
            &subject,
            Validity::days(NOW - 86_400, LEAF_DAYS),
        )
        .unwrap();
        (root, inter, leaf)
    }

    fn write_chain(dir: &Path, certs: &[&X509]) {
        let pem: Vec<u8> = certs.iter().flat_map(|c| c.to_pem().unwrap()).collect();
        fs::write(dir.join("keys").join(CHAIN_FILE), pem).unwrap();
    }

    #[test]
    fn the_operators_chain_is_used_without_its_root() {
        let dir = tempfile::tempdir().unwrap();
        let key = issuer_key(dir.path());
        let (root, inter, leaf) = operator_pki(&key);
        write_chain(dir.path(), &[&leaf, &inter, &root]);
        for mode in [
            Certificates::OperatorRequired,
            Certificates::Operator,
            Certificates::DemoCa,
        ] {
            let chain = load(dir.path(), &key, mode, NOW).unwrap().unwrap();
            assert_eq!(chain.source, Source::Operator);
            assert_eq!(
                chain.der,
                [leaf.to_der().unwrap(), inter.to_der().unwrap()],
                "{mode:?}"
            );
        }
        let anchors = Anchors::from_certs(vec![root.clone()]).unwrap();
        let certs: Vec<X509> = load(dir.path(), &key, Certificates::Operator, NOW)
            .unwrap()
            .unwrap()
            .der
            .iter()
            .map(|d| X509::from_der(d).unwrap())
            .collect();
        assert_eq!(
            anchors.validate_certs(&certs, NOW).unwrap().leaf_key(),
            key.public()
        );
        // Without the root it is the same chain.
        write_chain(dir.path(), &[&leaf, &inter]);
        let chain = load(dir.path(), &key, Certificates::Operator, NOW)
            .unwrap()
            .unwrap();
        assert_eq!(chain.der.len(), 2);
        assert_eq!(describe_stored(dir.path())["source"], "operator");
        assert_eq!(
            describe_stored(dir.path())["chain"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_chain_that_does_not_fit_stops_the_start() {
        let dir = tempfile::tempdir().unwrap();
        let key = issuer_key(dir.path());
        let (root, inter, leaf) = operator_pki(&key);
        let other = SigningKey::generate(Algorithm::Es256).unwrap();
        let (_, _, stranger) = operator_pki(&other);
        let cases: Vec<(Vec<&X509>, &str)> = vec![
            (vec![&stranger, &inter], "does not certify the issuer's key"),
            (vec![&inter, &leaf], "does not certify the issuer's key"),
            (vec![&leaf, &root], "did not issue certificate 1"),
            (vec![&leaf, &inter, &inter], "did not issue certificate 2"),
        ];
        for (certs, needle) in cases {
            write_chain(dir.path(), &certs);
            let err = load(dir.path(), &key, Certificates::Operator, NOW).unwrap_err();
            assert!(err.to_string().contains(needle), "{err} / {needle}");
            assert!(err.to_string().contains(CHAIN_FILE), "{err}");
        }
        write_chain(dir.path(), &[&leaf, &inter]);
        let err = load(dir.path(), &key, Certificates::Operator, NOW + 400 * 86_400).unwrap_err();
        assert!(matches!(err, CertificateError::NotValidNow { .. }), "{err}");
        fs::write(dir.path().join("keys").join(CHAIN_FILE), b"junk").unwrap();
        let err = load(dir.path(), &key, Certificates::Operator, NOW).unwrap_err();
        assert!(matches!(err, CertificateError::Unusable { .. }), "{err}");
    }

    #[test]
    fn a_demo_leaf_is_not_an_operator_chain_outside_demo_mode() {
        let dir = tempfile::tempdir().unwrap();
        let key = issuer_key(dir.path());
        load(dir.path(), &key, Certificates::DemoCa, NOW).unwrap();
        let keys = dir.path().join("keys");
        fs::copy(keys.join(DEMO_LEAF_FILE), keys.join(CHAIN_FILE)).unwrap();
        let err = load(dir.path(), &key, Certificates::OperatorRequired, NOW).unwrap_err();
        assert!(matches!(err, CertificateError::FromDemoCa { .. }), "{err}");
        assert!(load(dir.path(), &key, Certificates::DemoCa, NOW).is_ok());
    }
}
