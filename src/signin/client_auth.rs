//! Token endpoint client authentication (OpenID Connect Core 1.0 §9):
//! `client_secret_basic`, `client_secret_post` and `private_key_jwt`
//! (RFC 7523 §2.2 client assertions).

use josekit::jwk::Jwk;
use josekit::jws::{ES256, ES384, EdDSA, JwsHeader, JwsSigner, PS256, RS256};
use serde_json::json;

use crate::config::ClientAuth;

/// Lifetime of a client assertion (seconds).
pub const ASSERTION_TTL: i64 = 60;

/// `client_assertion_type` of `private_key_jwt` (RFC 7523 §2.2).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The algorithm of a private key file (a JWK with `alg`, or a PEM of
/// `pem_alg`, ES256 by default), if it is a usable signing key.
pub fn check_key(text: &str, pem_alg: Option<&str>) -> Option<String> {
    signer(text, pem_alg).map(|(_, alg, _)| alg)
}

/// A signer, its algorithm and the key's `kid`.
type Loaded = (Box<dyn JwsSigner>, String, Option<String>);

fn signer(text: &str, pem_alg: Option<&str>) -> Option<Loaded> {
    let text = text.trim();
    if text.starts_with('{') {
        let jwk = Jwk::from_bytes(text.as_bytes()).ok()?;
        let alg = jwk.algorithm()?.to_owned();
        let s: Box<dyn JwsSigner> = match alg.as_str() {
            "ES256" => Box::new(ES256.signer_from_jwk(&jwk).ok()?),
            "ES384" => Box::new(ES384.signer_from_jwk(&jwk).ok()?),
            "PS256" => Box::new(PS256.signer_from_jwk(&jwk).ok()?),
            "RS256" => Box::new(RS256.signer_from_jwk(&jwk).ok()?),
            "EdDSA" => Box::new(EdDSA.signer_from_jwk(&jwk).ok()?),
            _ => return None,
        };
        return Some((s, alg, jwk.key_id().map(str::to_owned)));
    }
    let alg = pem_alg.unwrap_or("ES256").to_owned();
    let pem = text.as_bytes();
    let s: Box<dyn JwsSigner> = match alg.as_str() {
        "ES256" => Box::new(ES256.signer_from_pem(pem).ok()?),
        "ES384" => Box::new(ES384.signer_from_pem(pem).ok()?),
        "PS256" => Box::new(PS256.signer_from_pem(pem).ok()?),
        "RS256" => Box::new(RS256.signer_from_pem(pem).ok()?),
        "EdDSA" => Box::new(EdDSA.signer_from_pem(pem).ok()?),
        _ => return None,
    };
    Some((s, alg, None))
}

/// How the token request authenticates: an `Authorization` header value
/// and form parameters to add.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Authentication {
    pub authorization: Option<String>,
    pub form: Vec<(&'static str, String)>,
}

/// Why no client authentication could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientAuthError {
    #[error("the private key cannot sign the client assertion")]
    Signing,
}

/// The authentication of one token request to `token_endpoint`; `jti`
/// is fresh randomness.
pub fn authenticate(
    auth: &ClientAuth,
    client_id: &str,
    token_endpoint: &str,
    now: i64,
    jti: &str,
) -> Result<Authentication, ClientAuthError> {
    use base64::Engine;
    match auth {
        // RFC 6749 §2.3.1: both parts form-urlencoded before Basic.
        ClientAuth::ClientSecretBasic(secret) => {
            let user = form_encode(client_id);
            let pass = form_encode(secret.expose());
            let b64 = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"));
            Ok(Authentication {
                authorization: Some(format!("Basic {b64}")),
                form: Vec::new(),
            })
        }
        ClientAuth::ClientSecretPost(secret) => Ok(Authentication {
            authorization: None,
            form: vec![
                ("client_id", client_id.to_owned()),
                ("client_secret", secret.expose().to_owned()),
            ],
        }),
        ClientAuth::PrivateKeyJwt { key, alg } => {
            let (signer, _, kid) =
                signer(key.expose(), Some(alg)).ok_or(ClientAuthError::Signing)?;
            let claims = json!({
                "iss": client_id, "sub": client_id, "aud": token_endpoint,
                "jti": jti, "iat": now, "exp": now + ASSERTION_TTL,
            });
            let mut header = JwsHeader::new();
            header.set_token_type("JWT");
            if let Some(kid) = &kid {
                header.set_key_id(kid);
            }
            let jwt =
                josekit::jws::serialize_compact(claims.to_string().as_bytes(), &header, &*signer)
                    .map_err(|_| ClientAuthError::Signing)?;
            Ok(Authentication {
                authorization: None,
                form: vec![
                    ("client_id", client_id.to_owned()),
                    ("client_assertion_type", ASSERTION_TYPE.to_owned()),
                    ("client_assertion", jwt),
                ],
            })
        }
    }
}

fn form_encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};

    #[test]
    fn basic_encodes_both_parts() {
        let a = authenticate(
            &ClientAuth::ClientSecretBasic(Secret::new("p:ss w")),
            "digital id",
            "https://idp.example/token",
            0,
            "j",
        )
        .unwrap();
        // base64("digital+id:p%3Ass+w")
        assert_eq!(
            a.authorization.as_deref(),
            Some("Basic ZGlnaXRhbCtpZDpwJTNBc3Mrdw==")
        );
        assert!(a.form.is_empty());
    }

    #[test]
    fn private_key_jwt_signs_an_assertion_for_the_token_endpoint() {
        let pair = EcKeyPair::generate(EcCurve::P256).unwrap();
        let mut jwk = pair.to_jwk_key_pair();
        jwk.set_algorithm("ES256");
        jwk.set_key_id("rp-1");
        let auth = ClientAuth::PrivateKeyJwt {
            key: Secret::new(jwk.to_string()),
            alg: "ES256".into(),
        };
        let a = authenticate(&auth, "digital-id", "https://idp.example/token", 1000, "j1").unwrap();
        let assertion = &a
            .form
            .iter()
            .find(|(k, _)| *k == "client_assertion")
            .unwrap()
            .1;
        let verifier = ES256.verifier_from_jwk(&pair.to_jwk_public_key()).unwrap();
        let (payload, header) = josekit::jwt::decode_with_verifier(assertion, &verifier).unwrap();
        assert_eq!(header.key_id(), Some("rp-1"));
        assert_eq!(payload.issuer(), Some("digital-id"));
        assert_eq!(payload.subject(), Some("digital-id"));
        assert_eq!(payload.audience(), Some(vec!["https://idp.example/token"]));
        assert_eq!(payload.jwt_id(), Some("j1"));
        assert!(
            a.form
                .contains(&("client_assertion_type", ASSERTION_TYPE.to_owned()))
        );
        assert_eq!(check_key("-----BEGIN nonsense", None), None);
    }
}
