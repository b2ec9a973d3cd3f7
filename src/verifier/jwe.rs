//! Encrypted responses (OpenID4VP 1.0 §8.3): a fresh ECDH-ES P-256 key per
//! request, and decryption of the wallet's compact JWE with josekit. The
//! protected header is checked before any decryption work: `alg` must be
//! `ECDH-ES`, `enc` one we offered, `kid` ours, and no compression.

use josekit::jwe::{self, ECDH_ES};
use josekit::jwk::Jwk;
use josekit::jwk::alg::ec::EcCurve;
use serde_json::{Map, Value};

/// `encrypted_response_enc_values_supported`.
pub const ENC_VALUES: &[&str] = &["A128GCM", "A256GCM"];
/// The key-management algorithm of the response key.
pub const ALG: &str = "ECDH-ES";

/// Why an encrypted response could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JweError {
    #[error("the `response` is not a compact JWE")]
    Malformed,
    #[error("the JWE `alg` must be ECDH-ES")]
    WrongAlg,
    #[error("the JWE `enc` must be A128GCM or A256GCM")]
    WrongEnc,
    #[error("the JWE `kid` does not name this request's key")]
    WrongKid,
    #[error("compressed JWEs are not accepted")]
    Compressed,
    #[error("the JWE does not decrypt with this request's key")]
    Decrypt,
    #[error("the decrypted payload is not a JSON object")]
    NotJson,
    #[error("the response key could not be generated")]
    KeyGeneration,
}

/// A new private response key with `kid`, `use: enc` and `alg: ECDH-ES`.
pub fn generate_key() -> Result<Map<String, Value>, JweError> {
    let pair = ECDH_ES
        .generate_ec_key_pair(EcCurve::P256)
        .map_err(|_| JweError::KeyGeneration)?;
    let mut jwk = pair.to_jwk_key_pair();
    jwk.set_key_id(crate::crypto::random_token());
    jwk.set_key_use("enc");
    jwk.set_algorithm(ALG);
    Ok(jwk.as_ref().clone())
}

/// The public half for `client_metadata.jwks`.
pub fn public_jwk(private: &Map<String, Value>) -> Map<String, Value> {
    private
        .iter()
        .filter(|(k, _)| k.as_str() != "d")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// Decrypts a compact JWE response with the request's private key.
pub fn decrypt(
    compact: &str,
    private: &Map<String, Value>,
) -> Result<Map<String, Value>, JweError> {
    let parts: Vec<&str> = compact.split('.').collect();
    if parts.len() != 5 {
        return Err(JweError::Malformed);
    }
    let header: Map<String, Value> = crate::crypto::b64url_decode(parts[0])
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(JweError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some(ALG) {
        return Err(JweError::WrongAlg);
    }
    if !header
        .get("enc")
        .and_then(Value::as_str)
        .is_some_and(|e| ENC_VALUES.contains(&e))
    {
        return Err(JweError::WrongEnc);
    }
    if header.contains_key("zip") {
        return Err(JweError::Compressed);
    }
    if let Some(kid) = header.get("kid") {
        if kid != private.get("kid").unwrap_or(&Value::Null) {
            return Err(JweError::WrongKid);
        }
    }
    let jwk = Jwk::from_map(private.clone()).map_err(|_| JweError::Decrypt)?;
    let decrypter = ECDH_ES
        .decrypter_from_jwk(&jwk)
        .map_err(|_| JweError::Decrypt)?;
    let (payload, _) =
        jwe::deserialize_compact(compact, &decrypter).map_err(|_| JweError::Decrypt)?;
    serde_json::from_slice(&payload).map_err(|_| JweError::NotJson)
}

/// Encrypts `payload` to a response key as a wallet does (tests, the
/// example wallet).
pub fn encrypt(
    payload: &Value,
    public: &Map<String, Value>,
    enc: &str,
) -> Result<String, JweError> {
    let jwk = Jwk::from_map(public.clone()).map_err(|_| JweError::Malformed)?;
    let encrypter = ECDH_ES
        .encrypter_from_jwk(&jwk)
        .map_err(|_| JweError::Malformed)?;
    let mut header = jwe::JweHeader::new();
    header.set_content_encryption(enc);
    if let Some(kid) = public.get("kid").and_then(Value::as_str) {
        header.set_key_id(kid);
    }
    let bytes = serde_json::to_vec(payload).map_err(|_| JweError::Malformed)?;
    jwe::serialize_compact(&bytes, &header, &encrypter).map_err(|_| JweError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// OpenID4VP 1.0 §8.3: the example encrypted response and the private
    /// key the spec publishes for it.
    #[test]
    fn decrypts_the_spec_example() {
        let response = concat!(
            "eyJhbGciOiJFQ0RILUVTIiwiZW5jIjoiQTEyOEdDTSIsImtpZCI6ImFjIiwiZXBrIjp7Imt",
            "0eSI6IkVDIiwieCI6Im5ubVZwbTNWM2piaGNhZlFhUkJrU1ZOSGx3Wkh3dC05ck9wSnVmeVlJdWsiLCJ5I",
            "joicjRmakRxd0p5czlxVU9QLV9iM21SNVNaRy0tQ3dPMm1pYzVWU05UWU45ZyIsImNydiI6IlAtMjU2In1",
            "9..uAYcHRUSSn2X0WPX.yVzlGSYG4qbg0bq18JcUiDRw56yVnbKR8E7S7YlEtzT00RqE3Pw5oTpUG3hdLN",
            "4taHZ9gC1kwak8JOnJgQ.1wR024_3-qtAlx1oFIUpQQ"
        );
        let key = json!({
            "kty": "EC", "kid": "ac", "use": "enc", "crv": "P-256", "alg": "ECDH-ES",
            "x": "YO4epjifD-KWeq1sL2tNmm36BhXnkJ0He-WqMYrp9Fk",
            "y": "Hekpm0zfK7C-YccH5iBjcIXgf6YdUvNUac_0At55Okk",
            "d": "Et-3ce0omz8_TuZ96Df9lp0GAaaDoUnDe6X-CRO7Aww"
        });
        let payload = decrypt(response, key.as_object().unwrap()).unwrap();
        assert_eq!(
            Value::Object(payload),
            json!({"vp_token": {"example_credential_id": ["eyJhb...YMetA"]}})
        );
    }

    #[test]
    fn round_trip_and_header_rules() {
        let key = generate_key().unwrap();
        let public = public_jwk(&key);
        assert!(!public.contains_key("d"));
        for enc in ENC_VALUES {
            let jwe = encrypt(&json!({"a": 1}), &public, enc).unwrap();
            assert_eq!(decrypt(&jwe, &key).unwrap()["a"], 1);
        }
        let cbc = encrypt(&json!({}), &public, "A128CBC-HS256").unwrap();
        assert_eq!(decrypt(&cbc, &key), Err(JweError::WrongEnc));
        let other = generate_key().unwrap();
        let jwe = encrypt(&json!({}), &public, "A128GCM").unwrap();
        assert_eq!(decrypt(&jwe, &other), Err(JweError::WrongKid));
        assert_eq!(decrypt("a.b.c", &key), Err(JweError::Malformed));
    }
}
