//! JSON Web Keys (RFC 7517) for the two key types we use, and RFC 7638
//! thumbprints.

use openssl::bn::{BigNum, BigNumContext};
use serde_json::{Map, Value};

use super::keys::{Algorithm, KeyError, PublicKey};
use super::{b64url, b64url_decode, sha256};

/// Why a JWK was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwkError {
    #[error("a JWK must be a JSON object")]
    NotAnObject,
    #[error("the JWK member `{0}` is missing or not a string")]
    MissingMember(&'static str),
    #[error("the JWK carries the private member `{0}`")]
    PrivateMember(&'static str),
    #[error("unsupported key type or curve (EC P-256 and OKP Ed25519 are supported)")]
    UnsupportedKeyType,
    #[error("the JWK `alg` does not match its key type")]
    AlgMismatch,
    #[error("the JWK member `{0}` is not base64url of the right length")]
    BadCoordinate(&'static str),
    #[error("the public key is not a point on its curve")]
    NotOnCurve,
}

/// Members that only a private (or symmetric) key has.
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "k"];

/// Validates a JWK from outside and returns its public members in RFC 7638
/// order. Private members are an error.
pub fn public_members(value: &Value) -> Result<Map<String, Value>, JwkError> {
    let obj = value.as_object().ok_or(JwkError::NotAnObject)?;
    if let Some(m) = PRIVATE_MEMBERS.iter().find(|m| obj.contains_key(**m)) {
        return Err(JwkError::PrivateMember(m));
    }
    canonical_public(obj)
}

/// The public members of a (possibly private) JWK, checked for type and
/// coordinate lengths, in RFC 7638 member order.
pub(crate) fn canonical_public(obj: &Map<String, Value>) -> Result<Map<String, Value>, JwkError> {
    let get = |name: &'static str| -> Result<&str, JwkError> {
        obj.get(name)
            .and_then(Value::as_str)
            .ok_or(JwkError::MissingMember(name))
    };
    let coordinate = |name: &'static str| -> Result<String, JwkError> {
        let text = get(name)?;
        match b64url_decode(text) {
            Ok(bytes) if bytes.len() == 32 => Ok(text.to_owned()),
            _ => Err(JwkError::BadCoordinate(name)),
        }
    };
    let mut out = Map::new();
    let alg = match (get("kty")?, get("crv")?) {
        ("EC", "P-256") => {
            out.insert("crv".into(), "P-256".into());
            out.insert("kty".into(), "EC".into());
            out.insert("x".into(), coordinate("x")?.into());
            out.insert("y".into(), coordinate("y")?.into());
            Algorithm::Es256
        }
        ("OKP", "Ed25519") => {
            out.insert("crv".into(), "Ed25519".into());
            out.insert("kty".into(), "OKP".into());
            out.insert("x".into(), coordinate("x")?.into());
            Algorithm::EdDsa
        }
        _ => return Err(JwkError::UnsupportedKeyType),
    };
    if let Some(declared) = obj.get("alg") {
        if declared.as_str().and_then(Algorithm::from_name) != Some(alg) {
            return Err(JwkError::AlgMismatch);
        }
    }
    Ok(out)
}

/// The algorithm a canonical public JWK verifies.
pub(crate) fn algorithm_of(public: &Map<String, Value>) -> Result<Algorithm, JwkError> {
    match public.get("kty").and_then(Value::as_str) {
        Some("EC") => Ok(Algorithm::Es256),
        Some("OKP") => Ok(Algorithm::EdDsa),
        _ => Err(JwkError::UnsupportedKeyType),
    }
}

/// RFC 7638 thumbprint of a JWK: SHA-256 over the required members in
/// lexicographic order, without white space.
pub fn thumbprint(public: &Map<String, Value>) -> Result<String, JwkError> {
    let canonical = canonical_public(public)?;
    // serde_json writes members in insertion order, which canonical_public
    // made lexicographic; strings are escaped per RFC 8259 as RFC 7638 asks.
    let text = serde_json::to_string(&canonical).map_err(|_| JwkError::NotAnObject)?;
    Ok(b64url(sha256(text)))
}

/// A JWK Set (RFC 7517 §5) of public verification keys.
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<(Option<String>, PublicKey)>,
}

impl Jwks {
    /// Parses `{"keys": [...]}` (or a single JWK). Keys of other types are
    /// skipped; private members make the whole set invalid.
    pub fn from_json(value: &Value) -> Result<Self, JwkError> {
        let items: Vec<&Value> = match value.get("keys") {
            Some(Value::Array(keys)) => keys.iter().collect(),
            Some(_) => return Err(JwkError::NotAnObject),
            None => vec![value],
        };
        let mut keys = Vec::new();
        for item in items {
            match PublicKey::from_jwk(item) {
                Ok(k) => keys.push((
                    item.get("kid").and_then(Value::as_str).map(str::to_owned),
                    k,
                )),
                Err(KeyError::Jwk(JwkError::UnsupportedKeyType)) => continue,
                Err(KeyError::Jwk(e)) => return Err(e),
                Err(_) => return Err(JwkError::NotOnCurve),
            }
        }
        Ok(Jwks { keys })
    }

    /// A set of the given keys, each with its thumbprint as `kid`.
    pub fn of(keys: impl IntoIterator<Item = PublicKey>) -> Self {
        Jwks {
            keys: keys
                .into_iter()
                .map(|k| (Some(k.thumbprint().to_owned()), k))
                .collect(),
        }
    }

    /// The key named `kid` (by its `kid` member or its thumbprint); without a
    /// `kid`, the only key of a one-key set.
    pub fn find(&self, kid: Option<&str>) -> Option<&PublicKey> {
        match kid {
            Some(kid) => self
                .keys
                .iter()
                .find(|(k, key)| k.as_deref() == Some(kid) || key.thumbprint() == kid)
                .map(|(_, key)| key),
            None if self.keys.len() == 1 => Some(&self.keys[0].1),
            None => None,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

/// Checks that the Ed25519 public key in `x` decodes to a curve point
/// (RFC 8032 §5.1.3): `y < p` and `(y² − 1)/(d·y² + 1)` is a square mod p.
pub(crate) fn check_ed25519_point(public: &Map<String, Value>) -> Result<(), JwkError> {
    let x = public
        .get("x")
        .and_then(Value::as_str)
        .ok_or(JwkError::MissingMember("x"))?;
    let bytes = b64url_decode(x).map_err(|_| JwkError::BadCoordinate("x"))?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|_| JwkError::BadCoordinate("x"))?;
    if ed25519_point_is_valid(&bytes) {
        Ok(())
    } else {
        Err(JwkError::NotOnCurve)
    }
}

pub(crate) fn ed25519_point_is_valid(encoded: &[u8; 32]) -> bool {
    ed25519_decompresses(encoded).unwrap_or(false)
}

fn ed25519_decompresses(encoded: &[u8; 32]) -> Result<bool, openssl::error::ErrorStack> {
    let sign = encoded[31] >> 7;
    let mut le = *encoded;
    le[31] &= 0x7f;
    le.reverse();
    let y = BigNum::from_slice(&le)?;
    let mut ctx = BigNumContext::new()?;
    // p = 2^255 - 19
    let one = BigNum::from_u32(1)?;
    let two = BigNum::from_u32(2)?;
    let mut p = BigNum::new()?;
    p.lshift(&one, 255)?;
    p.sub_word(19)?;
    if y >= p {
        return Ok(false);
    }
    // d = -121665 / 121666 mod p
    let d = BigNum::from_dec_str(
        "37095705934669439343138083508754565189542113879843219016388785533085940283555",
    )?;
    let mut y2 = BigNum::new()?;
    y2.mod_sqr(&y, &p, &mut ctx)?;
    let mut u = BigNum::new()?;
    u.mod_sub(&y2, &one, &p, &mut ctx)?;
    let mut dy2 = BigNum::new()?;
    dy2.mod_mul(&d, &y2, &p, &mut ctx)?;
    let mut v = BigNum::new()?;
    v.mod_add(&dy2, &one, &p, &mut ctx)?;
    // x² = u · v^(p−2)
    let mut p_minus_2 = BigNum::new()?;
    p_minus_2.checked_sub(&p, &two)?;
    let mut v_inv = BigNum::new()?;
    v_inv.mod_exp(&v, &p_minus_2, &p, &mut ctx)?;
    let mut x2 = BigNum::new()?;
    x2.mod_mul(&u, &v_inv, &p, &mut ctx)?;
    if x2.num_bits() == 0 {
        // x = 0 has no negative counterpart.
        return Ok(sign == 0);
    }
    // Euler's criterion: x² is a square iff x²^((p−1)/2) = 1.
    let mut e = BigNum::new()?;
    e.checked_sub(&p, &one)?;
    let mut half = BigNum::new()?;
    half.rshift1(&e)?;
    let mut t = BigNum::new()?;
    t.mod_exp(&x2, &half, &p, &mut ctx)?;
    Ok(t == one)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rfc7638_style_thumbprint_of_rfc8037_ed25519_key() {
        // RFC 8037 Appendix A.3: thumbprint of the Ed25519 example key.
        let jwk =
            json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        let tp = thumbprint(jwk.as_object().unwrap()).unwrap();
        assert_eq!(tp, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k");
    }

    #[test]
    fn thumbprint_ignores_member_order_and_extras() {
        let a = json!({"y":"efsX5b10x8yjyrj4ny3pGfLcY7Xby1KzgqOdqnsrJIM","x":"igrFmi0whuihKnj9R3Om1SoMph72wUGeFaBbzG2vzns","kty":"EC","crv":"P-256","kid":"k1","use":"sig"});
        let b = json!({"kty":"EC","crv":"P-256","x":"igrFmi0whuihKnj9R3Om1SoMph72wUGeFaBbzG2vzns","y":"efsX5b10x8yjyrj4ny3pGfLcY7Xby1KzgqOdqnsrJIM"});
        assert_eq!(
            thumbprint(a.as_object().unwrap()).unwrap(),
            thumbprint(b.as_object().unwrap()).unwrap()
        );
    }

    #[test]
    fn refuses_symmetric_and_private_and_odd_keys() {
        assert_eq!(
            public_members(&json!({"kty":"oct","k":"c2VjcmV0"})),
            Err(JwkError::PrivateMember("k"))
        );
        assert_eq!(
            public_members(&json!({"kty":"oct","crv":"x"})),
            Err(JwkError::UnsupportedKeyType)
        );
        assert_eq!(public_members(&json!([1])), Err(JwkError::NotAnObject));
        assert_eq!(
            public_members(&json!({"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"})),
            Err(JwkError::BadCoordinate("x"))
        );
        assert_eq!(
            public_members(
                &json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","alg":"HS256"})
            ),
            Err(JwkError::AlgMismatch)
        );
    }

    #[test]
    fn ed25519_point_checks() {
        let good = b64url_decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
        assert!(ed25519_point_is_valid(&good.try_into().unwrap()));
        // y = 2 gives a non-square x² (not a point).
        let mut bad = [0u8; 32];
        bad[0] = 2;
        assert!(!ed25519_point_is_valid(&bad));
        // y ≥ p is not a canonical encoding.
        let mut big = [0xffu8; 32];
        big[31] = 0x7f;
        assert!(!ed25519_point_is_valid(&big));
        // y = 1, x = 0 with the sign bit set is invalid; without it valid.
        let mut one = [0u8; 32];
        one[0] = 1;
        assert!(ed25519_point_is_valid(&one));
        one[31] = 0x80;
        assert!(!ed25519_point_is_valid(&one));
    }
}
