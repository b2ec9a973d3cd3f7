//! Signed Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.2, §12.2.3).
//!
//! A wallet that sends `Accept: application/jwt` (preferred at least as
//! much as `application/json`) gets the metadata as a JWT, `Content-Type:
//! application/jwt`: header `typ: openidvci-issuer-metadata+jwt`, `alg`,
//! `kid` and the issuer's `x5c` chain (HAIP 1.0: key resolution for signed
//! metadata is by `x5c`); payload `iss` and `sub` (the Credential Issuer
//! Identifier), `iat`, and every metadata parameter of the unsigned
//! document as a top-level claim, the same values the JSON form has. Only
//! when the issuer has a certificate chain ([`super::certificate`]);
//! otherwise every wallet gets the JSON document. The final OpenID4VCI 1.0
//! replaced the drafts' `signed_metadata` parameter with this content
//! negotiation, so the JSON document has no `signed_metadata` member.
//!
//! Signing on every request would turn a public document into signing
//! work, so each node keeps the JWT it signed ([`SignedMetadata`]) and
//! signs again only when the metadata changed or its copy is a day old.

use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};

use crate::crypto::{SigningKey, jws};

/// `typ` of signed metadata (OpenID4VCI 1.0 §12.2.3).
pub const TYP: &str = "openidvci-issuer-metadata+jwt";
/// The media type of the signed form (OpenID4VCI 1.0 §12.2.2).
pub const MEDIA_TYPE: &str = "application/jwt";
/// A node signs its metadata again when its copy is this old.
pub const RESIGN_AFTER: i64 = 86_400;

/// Why the metadata could not be signed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the credential issuer metadata is not a JSON object with `credential_issuer`")]
    NotMetadata,
    #[error("signing the credential issuer metadata failed")]
    Signing,
}

/// Whether an `Accept` header asks for the signed form: `application/jwt`
/// named with a `q` above 0 and at least that of `application/json`
/// (which `application/*` and `*/*` also match). No header: JSON.
pub fn prefers_jwt(accept: Option<&str>) -> bool {
    let Some(accept) = accept else {
        return false;
    };
    let (mut jwt, mut json) = (None::<f32>, None::<(u8, f32)>);
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .filter_map(|p| p.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("q"))
            .map_or(1.0, |(_, v)| v.trim().parse().unwrap_or(0.0));
        // How specifically a range names JSON: the most specific one counts
        // (RFC 9110 §12.5.1).
        let specificity = match media.as_str() {
            "application/jwt" => {
                jwt = Some(q);
                continue;
            }
            "application/json" => 3,
            "application/*" => 2,
            "*/*" => 1,
            _ => continue,
        };
        if json.is_none_or(|(s, _)| specificity > s) {
            json = Some((specificity, q));
        }
    }
    match jwt {
        Some(q) if q > 0.0 => q >= json.map_or(0.0, |(_, q)| q),
        _ => false,
    }
}

/// This node's signed metadata (see the module documentation).
#[derive(Debug, Default)]
pub struct SignedMetadata {
    last: Mutex<Option<Signed>>,
}

#[derive(Debug)]
struct Signed {
    /// The metadata it was signed from, serialized.
    metadata: Vec<u8>,
    iat: i64,
    jwt: Arc<str>,
}

impl SignedMetadata {
    /// The signed form of `metadata` for a request with this `Accept`
    /// header: `Some` when the wallet prefers it ([`prefers_jwt`]) and
    /// `key` has a certificate chain, else `None` (serve the JSON).
    pub fn for_accept(
        &self,
        key: &SigningKey,
        metadata: &Value,
        accept: Option<&str>,
        now: i64,
    ) -> Result<Option<Arc<str>>, SignError> {
        match (prefers_jwt(accept), metadata.as_object()) {
            (true, Some(m)) => self.get_or_sign(key, m, now),
            (true, None) => Err(SignError::NotMetadata),
            (false, _) => Ok(None),
        }
    }

    /// The signed form of `metadata` when `key` has a certificate chain
    /// (`None` without one): this node's copy while the metadata is the
    /// same and the copy is younger than [`RESIGN_AFTER`], else newly
    /// signed.
    pub fn get_or_sign(
        &self,
        key: &SigningKey,
        metadata: &Map<String, Value>,
        now: i64,
    ) -> Result<Option<Arc<str>>, SignError> {
        if key.x5c().is_none() {
            return Ok(None);
        }
        let bytes = serde_json::to_vec(metadata).map_err(|_| SignError::NotMetadata)?;
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = last
            .as_ref()
            .filter(|s| s.metadata == bytes && s.iat <= now && now - s.iat < RESIGN_AFTER)
        {
            return Ok(Some(s.jwt.clone()));
        }
        let jwt: Arc<str> = sign(key, metadata, now)?.into();
        *last = Some(Signed {
            metadata: bytes,
            iat: now,
            jwt: jwt.clone(),
        });
        Ok(Some(jwt))
    }
}

/// The metadata as a JWT (OpenID4VCI 1.0 §12.2.3) signed by `key`, named
/// by `kid` and, when it has one, its `x5c` chain.
pub fn sign(
    key: &SigningKey,
    metadata: &Map<String, Value>,
    now: i64,
) -> Result<String, SignError> {
    let issuer = metadata
        .get("credential_issuer")
        .filter(|v| v.is_string())
        .ok_or(SignError::NotMetadata)?;
    let mut payload = Map::with_capacity(metadata.len() + 3);
    payload.insert("iss".into(), issuer.clone());
    payload.insert("sub".into(), issuer.clone());
    payload.insert("iat".into(), now.into());
    for (name, value) in metadata {
        // The JWT's own claims are not metadata parameters.
        if !matches!(name.as_str(), "iss" | "sub" | "iat" | "exp") {
            payload.insert(name.clone(), value.clone());
        }
    }
    let mut header = Map::with_capacity(3);
    header.insert("typ".into(), Value::String(TYP.into()));
    key.name_in(&mut header);
    let body = serde_json::to_vec(&payload).map_err(|_| SignError::Signing)?;
    jws::sign(key, &header, &body).map_err(|_| SignError::Signing)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::crypto::Algorithm;
    use crate::crypto::jws::Jws;

    fn metadata() -> Map<String, Value> {
        json!({
            "credential_issuer": "https://id.example.ru",
            "credential_endpoint": "https://id.example.ru/credential",
            "credential_configurations_supported": {"ru.passport": {"format": "dc+sd-jwt"}},
        })
        .as_object()
        .unwrap()
        .clone()
    }

    fn certified() -> SigningKey {
        SigningKey::generate(Algorithm::Es256)
            .unwrap()
            .with_certificates(&[vec![0x30, 0x00]])
    }

    #[test]
    fn the_jwt_carries_every_parameter_and_names_the_key() {
        let key = certified();
        let jwt = sign(&key, &metadata(), 1_800_000_000).unwrap();
        let jws = Jws::decode(&jwt).unwrap();
        jws.verify(key.public()).unwrap();
        assert_eq!(jws.typ(), Some(TYP));
        assert_eq!(jws.kid(), Some(key.kid()));
        assert_eq!(jws.header.get("x5c"), key.x5c());
        let mut payload = jws.payload_json().unwrap();
        assert_eq!(payload.remove("iss").unwrap(), "https://id.example.ru");
        assert_eq!(payload.remove("sub").unwrap(), "https://id.example.ru");
        assert_eq!(payload.remove("iat").unwrap(), 1_800_000_000);
        assert_eq!(payload, metadata());
        let mut bad = metadata();
        bad.remove("credential_issuer");
        assert_eq!(sign(&key, &bad, 0), Err(SignError::NotMetadata));
    }

    #[test]
    fn a_node_signs_again_only_when_the_metadata_changed_or_a_day_passed() {
        let cache = SignedMetadata::default();
        let key = certified();
        let t = 1_800_000_000;
        let first = cache.get_or_sign(&key, &metadata(), t).unwrap().unwrap();
        let same = cache
            .get_or_sign(&key, &metadata(), t + 3600)
            .unwrap()
            .unwrap();
        assert!(Arc::ptr_eq(&first, &same));
        let mut changed = metadata();
        changed.insert(
            "nonce_endpoint".into(),
            "https://id.example.ru/nonce".into(),
        );
        let other = cache
            .get_or_sign(&key, &changed, t + 3600)
            .unwrap()
            .unwrap();
        assert_ne!(other, first);
        let iat = |jwt: &str| Jws::decode(jwt).unwrap().payload_json().unwrap()["iat"].clone();
        assert_eq!(iat(&other), t + 3600);
        let next_day = cache
            .get_or_sign(&key, &changed, t + 3600 + RESIGN_AFTER)
            .unwrap()
            .unwrap();
        assert_eq!(iat(&next_day), t + 3600 + RESIGN_AFTER);
        // Without a certificate chain there is no signed form.
        let bare = SigningKey::generate(Algorithm::Es256).unwrap();
        assert_eq!(cache.get_or_sign(&bare, &metadata(), t).unwrap(), None);
    }

    #[test]
    fn accept_decides_the_form() {
        for (accept, jwt) in [
            (None, false),
            (Some("application/json"), false),
            (Some("*/*"), false),
            (Some("application/jwt"), true),
            (Some("application/jwt, application/json"), true),
            (Some("application/json, application/jwt"), true),
            (Some("application/json;q=0.9, application/jwt"), true),
            (Some("application/json, application/jwt;q=0.5"), false),
            (Some("Application/JWT;q=0.5, */*;q=0.1"), true),
            (
                Some("application/jwt;q=0.5, application/*;q=0.1, application/json"),
                false,
            ),
            (Some("application/jwt;q=0"), false),
            (Some("application/jwt;q=junk"), false),
            (Some("text/html"), false),
        ] {
            assert_eq!(prefers_jwt(accept), jwt, "{accept:?}");
        }
    }
}
