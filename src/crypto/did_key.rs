//! did:key (W3C CCG did-method-key) for P-256 (multicodec `p256-pub`,
//! 0x1200, compressed point) and Ed25519 (`ed25519-pub`, 0xed).
//!
//! Resolution never panics: every crafted identifier gets a [`DidKeyError`].

use openssl::bn::BigNumContext;
use openssl::ec::{EcGroup, EcPoint, PointConversionForm};
use openssl::nid::Nid;
use serde_json::{Map, Value};

use super::jwk::ed25519_point_is_valid;
use super::keys::{Algorithm, KeyError, PublicKey};
use super::{b64url, b64url_decode};

const PREFIX: &str = "did:key:";
const P256_PUB: u64 = 0x1200;
const ED25519_PUB: u64 = 0xed;

/// Why a did:key identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DidKeyError {
    #[error("not a did:key identifier")]
    NotDidKey,
    #[error("the method-specific id must be base58btc multibase (starting with `z`)")]
    UnsupportedMultibase,
    #[error("the method-specific id is not valid base58btc")]
    InvalidBase58,
    #[error("the multicodec prefix is not a valid varint")]
    InvalidVarint,
    #[error("unsupported multicodec 0x{0:x} (p256-pub and ed25519-pub are supported)")]
    UnsupportedCodec(u64),
    #[error("the key has {found} bytes, {expected} expected")]
    WrongKeyLength { expected: usize, found: usize },
    #[error("the key is not a point on its curve")]
    NotOnCurve,
    #[error("the DID URL fragment does not name this key")]
    FragmentMismatch,
}

/// The did:key identifier of a public key.
pub fn encode(key: &PublicKey) -> String {
    let jwk = key.jwk();
    let coord = |name: &str| {
        jwk.get(name)
            .and_then(Value::as_str)
            .and_then(|s| b64url_decode(s).ok())
            .unwrap_or_default()
    };
    let mut bytes = Vec::with_capacity(35);
    match key.alg() {
        Algorithm::Es256 => {
            put_varint(&mut bytes, P256_PUB);
            let y = coord("y");
            bytes.push(if y.last().is_some_and(|b| b & 1 == 1) {
                0x03
            } else {
                0x02
            });
            bytes.extend_from_slice(&coord("x"));
        }
        Algorithm::EdDsa => {
            put_varint(&mut bytes, ED25519_PUB);
            bytes.extend_from_slice(&coord("x"));
        }
    }
    format!("{PREFIX}z{}", bs58::encode(bytes).into_string())
}

/// The verification method id (`did:key:z…#z…`) used as a JWS `kid`.
pub fn verification_method(key: &PublicKey) -> String {
    let did = encode(key);
    let id = did[PREFIX.len()..].to_owned();
    format!("{did}#{id}")
}

/// Resolves a did:key identifier, or a DID URL whose fragment is the
/// method-specific id (as used in `kid`), to its public key.
pub fn resolve(did: &str) -> Result<PublicKey, DidKeyError> {
    let rest = did.strip_prefix(PREFIX).ok_or(DidKeyError::NotDidKey)?;
    let (id, fragment) = match rest.split_once('#') {
        Some((id, frag)) => (id, Some(frag)),
        None => (rest, None),
    };
    if fragment.is_some_and(|f| f != id) {
        return Err(DidKeyError::FragmentMismatch);
    }
    let encoded = id
        .strip_prefix('z')
        .ok_or(DidKeyError::UnsupportedMultibase)?;
    if encoded.is_empty() || encoded.len() > 128 {
        return Err(DidKeyError::InvalidBase58);
    }
    let bytes = bs58::decode(encoded)
        .into_vec()
        .map_err(|_| DidKeyError::InvalidBase58)?;
    let (codec, key) = read_varint(&bytes)?;
    let mut jwk = Map::new();
    match codec {
        P256_PUB => {
            expect_len(key, 33)?;
            let (x, y) = decompress_p256(key)?;
            jwk.insert("crv".into(), "P-256".into());
            jwk.insert("kty".into(), "EC".into());
            jwk.insert("x".into(), b64url(x).into());
            jwk.insert("y".into(), b64url(y).into());
        }
        ED25519_PUB => {
            expect_len(key, 32)?;
            let arr: [u8; 32] = key.try_into().map_err(|_| DidKeyError::NotOnCurve)?;
            if !ed25519_point_is_valid(&arr) {
                return Err(DidKeyError::NotOnCurve);
            }
            jwk.insert("crv".into(), "Ed25519".into());
            jwk.insert("kty".into(), "OKP".into());
            jwk.insert("x".into(), b64url(key).into());
        }
        other => return Err(DidKeyError::UnsupportedCodec(other)),
    }
    PublicKey::from_public_members(jwk).map_err(|e| match e {
        KeyError::Jwk(_)
        | KeyError::Rejected(_)
        | KeyError::BadSignature
        | KeyError::SigningFailed => DidKeyError::NotOnCurve,
    })
}

fn expect_len(key: &[u8], expected: usize) -> Result<(), DidKeyError> {
    if key.len() == expected {
        Ok(())
    } else {
        Err(DidKeyError::WrongKeyLength {
            expected,
            found: key.len(),
        })
    }
}

fn decompress_p256(compressed: &[u8]) -> Result<(Vec<u8>, Vec<u8>), DidKeyError> {
    if !matches!(compressed.first(), Some(0x02 | 0x03)) {
        return Err(DidKeyError::NotOnCurve);
    }
    let inner = || -> Result<Vec<u8>, openssl::error::ErrorStack> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
        let mut ctx = BigNumContext::new()?;
        // EC_POINT_oct2point rejects x values with no point on the curve.
        let point = EcPoint::from_bytes(&group, compressed, &mut ctx)?;
        point.to_bytes(&group, PointConversionForm::UNCOMPRESSED, &mut ctx)
    };
    let raw = inner().map_err(|_| DidKeyError::NotOnCurve)?;
    if raw.len() != 65 {
        return Err(DidKeyError::NotOnCurve);
    }
    Ok((raw[1..33].to_vec(), raw[33..].to_vec()))
}

/// Unsigned LEB128 varint as used by multicodec (at most 9 bytes).
fn read_varint(bytes: &[u8]) -> Result<(u64, &[u8]), DidKeyError> {
    let mut value: u64 = 0;
    for (i, b) in bytes.iter().enumerate().take(9) {
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            // Minimal encoding only: a trailing zero byte is padding.
            if i > 0 && *b == 0 {
                return Err(DidKeyError::InvalidVarint);
            }
            return Ok((value, &bytes[i + 1..]));
        }
    }
    Err(DidKeyError::InvalidVarint)
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::SigningKey;

    /// did-method-key test vectors (test-vectors/nist-curves.json).
    const P256_VECTORS: [(&str, &str, &str); 2] = [
        (
            "did:key:zDnaerx9CtbPJ1q36T5Ln5wYt3MQYeGRG5ehnPAmxcf5mDZpv",
            "igrFmi0whuihKnj9R3Om1SoMph72wUGeFaBbzG2vzns",
            "efsX5b10x8yjyrj4ny3pGfLcY7Xby1KzgqOdqnsrJIM",
        ),
        (
            "did:key:zDnaerDaTF5BXEavCrfRZEk316dpbLsfPDZ3WJ5hRTPFU2169",
            "fyNYMN0976ci7xqiSdag3buk-ZCwgXU4kz9XNkBlNUI",
            "hW2ojTNfH7Jbi8--CJUo3OCbH3y5n91g-IMA9MLMbTU",
        ),
    ];

    /// did-method-key test vectors (test-vectors/ed25519-x25519.json):
    /// identifier and `publicKeyBase58`.
    const ED25519_VECTORS: [(&str, &str); 2] = [
        (
            "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
            "4zvwRjXUKGfvwnParsHAS3HuSVzV5cA4McphgmoCtajS",
        ),
        (
            "did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
            "6ASf5EcmmEHTgDJ4X4ZT5vT6iHVJBXPg5AN5YoTCpGWt",
        ),
    ];

    #[test]
    fn p256_vectors_resolve_and_encode() {
        for (did, x, y) in P256_VECTORS {
            let key = resolve(did).unwrap();
            assert_eq!(key.alg(), Algorithm::Es256);
            assert_eq!(key.jwk()["x"], x);
            assert_eq!(key.jwk()["y"], y);
            assert_eq!(encode(&key), did);
        }
    }

    #[test]
    fn ed25519_vectors_resolve_and_encode() {
        for (did, base58) in ED25519_VECTORS {
            let key = resolve(did).unwrap();
            assert_eq!(key.alg(), Algorithm::EdDsa);
            let raw = bs58::decode(base58).into_vec().unwrap();
            assert_eq!(key.jwk()["x"], b64url(raw));
            assert_eq!(encode(&key), did);
        }
    }

    #[test]
    fn generated_keys_round_trip_with_fragment() {
        for alg in [Algorithm::Es256, Algorithm::EdDsa] {
            let key = SigningKey::generate(alg).unwrap();
            let vm = verification_method(key.public());
            assert_eq!(&resolve(&vm).unwrap(), key.public());
        }
    }

    #[test]
    fn crafted_identifiers_are_errors_not_panics() {
        let p256_prefix = [0x80u8, 0x24];
        let with = |codec: &[u8], key: &[u8]| {
            let mut b = codec.to_vec();
            b.extend_from_slice(key);
            format!("did:key:z{}", bs58::encode(b).into_string())
        };
        let mut not_on_curve = vec![0x02];
        not_on_curve.extend_from_slice(&[0xff; 32]);
        let cases: Vec<(String, DidKeyError)> = vec![
            ("did:web:example.com".into(), DidKeyError::NotDidKey),
            ("did:key:".into(), DidKeyError::UnsupportedMultibase),
            ("did:key:fabcdef".into(), DidKeyError::UnsupportedMultibase),
            ("did:key:z".into(), DidKeyError::InvalidBase58),
            ("did:key:z0OIl".into(), DidKeyError::InvalidBase58),
            (with(&[], &[]), DidKeyError::InvalidBase58),
            (with(&[0x80], &[]), DidKeyError::InvalidVarint),
            (with(&[0x80, 0x00], &[1; 33]), DidKeyError::InvalidVarint),
            (
                with(&[0xe7, 0x01], &[2; 33]),
                DidKeyError::UnsupportedCodec(0xe7),
            ),
            (
                with(&p256_prefix, &[2; 20]),
                DidKeyError::WrongKeyLength {
                    expected: 33,
                    found: 20,
                },
            ),
            (
                with(&[0xed, 0x01], &[1; 31]),
                DidKeyError::WrongKeyLength {
                    expected: 32,
                    found: 31,
                },
            ),
            (with(&p256_prefix, &not_on_curve), DidKeyError::NotOnCurve),
            (with(&p256_prefix, &[0x04; 33]), DidKeyError::NotOnCurve),
            (with(&[0xed, 0x01], &[0xff; 32]), DidKeyError::NotOnCurve),
            (
                format!("{}#zOther", P256_VECTORS[0].0),
                DidKeyError::FragmentMismatch,
            ),
            (
                format!("did:key:z{}", "1".repeat(500)),
                DidKeyError::InvalidBase58,
            ),
        ];
        for (did, expected) in cases {
            assert_eq!(resolve(&did).err(), Some(expected), "{did}");
        }
    }

    #[test]
    fn varint_round_trip() {
        for v in [
            0u64,
            1,
            0x7f,
            0x80,
            0xed,
            0x1200,
            0x3fff,
            0x4000,
            u64::from(u32::MAX),
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(read_varint(&b).unwrap(), (v, &[][..]));
        }
    }
}
