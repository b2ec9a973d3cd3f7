//! Verifying one presentation against one Credential Query: issuer trust,
//! the issuer signature and every RFC 9901 §7 rule, the KB-JWT (`aud` = our
//! full client_id, the request `nonce`, `iat` window, `sd_hash`), expiry,
//! the status list, and DCQL matching — which also drops every claim the
//! query did not ask for.

use serde_json::{Map, Value};

use super::Verifier;
use super::dcql::{CredentialQuery, MatchError};
use super::status::{Reference, StatusError};
use super::trust::TrustError;
use crate::crypto::jws::Jws;
use crate::sdjwt::{self, Compact, VerifyError, VerifyPolicy};

/// Why a presentation is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresentationError {
    #[error(
        "the presentation is not an SD-JWT whose issuer-signed JWT names its issuer (`iss` or an `x5c` header)"
    )]
    Malformed,
    #[error(transparent)]
    Trust(#[from] TrustError),
    #[error(transparent)]
    SdJwt(#[from] VerifyError),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error(transparent)]
    Match(#[from] MatchError),
}

/// What the KB-JWT must be bound to.
#[derive(Debug, Clone, Copy)]
pub struct Binding<'a> {
    pub aud: &'a str,
    pub nonce: &'a str,
}

/// Who an SD-JWT says signed it, read before its signature is checked
/// (only to choose the keys that must then verify it): the `iss` claim and
/// the `x5c` header.
struct Named {
    iss: Option<String>,
    x5c: Option<Value>,
}

fn peek_issuer(token: &str) -> Option<Named> {
    let compact = Compact::parse(token).ok()?;
    let mut jws = Jws::decode(compact.jwt).ok()?;
    let payload = jws.payload_json().ok()?;
    let iss = match payload.get("iss") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return None,
    };
    let x5c = jws.header.remove("x5c");
    (iss.is_some() || x5c.is_some()).then_some(Named { iss, x5c })
}

/// The `nonce` of a presentation's KB-JWT, read before verification (to
/// find the holder-QR nonce it claims to answer).
pub fn peek_kb_nonce(token: &str) -> Option<String> {
    let compact = Compact::parse(token).ok()?;
    let jws = Jws::decode(compact.kb_jwt?).ok()?;
    let payload = jws.payload_json().ok()?;
    payload
        .get("nonce")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

impl Verifier {
    /// Verifies `token` for `query`; returns only the requested claims.
    pub async fn verify_presentation(
        &self,
        query: &CredentialQuery,
        token: &str,
        binding: Binding<'_>,
        now: i64,
    ) -> Result<Map<String, Value>, PresentationError> {
        let named = peek_issuer(token).ok_or(PresentationError::Malformed)?;
        let keys = self
            .trust
            .keys_for(named.iss.as_deref(), named.x5c.as_ref(), now)
            .await?;
        let mut policy = VerifyPolicy::sd_jwt_vc(now);
        // The KB-JWT is checked whenever present; required unless the query
        // opted out of holder binding (§6.1).
        policy.kb.aud = Some(binding.aud);
        policy.kb.nonce = Some(binding.nonce);
        policy.require_kb = query.require_holder_binding;
        let verified = sdjwt::verify(token, &keys, &policy)?;
        // DCQL `trusted_authorities` (OpenID4VP 1.0 §6.1.1), once the
        // signature shows the chain is the credential's.
        query.check_trusted_authorities(keys.chain().map(|c| c.authority_key_ids()))?;
        if let Some(reference) = Reference::of(&verified.claims)? {
            self.status.check(&reference, &keys, now).await?;
        }
        Ok(query.select(&verified.claims)?)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::config::{FileConfig, ServeArgs, Settings};
    use crate::crypto::{Algorithm, SigningKey, jws};
    use crate::sdjwt::{HolderCredential, IssueOptions, KeyBinding, RandomSalts};
    use crate::verifier::presets::Preset;
    use crate::verifier::trust::tests::FakeFetch;

    const ISS: &str = "https://id.example.ru";
    const LIST: &str = "https://id.example.ru/status-lists/1";

    /// A verifier whose fetcher serves one status list signed by `issuer`:
    /// entries [1 revoked, 2 suspended, 0 valid, 3, …] (the 2-bit example of
    /// the Token Status List draft).
    fn verifier(dir: &std::path::Path, issuer: &SigningKey) -> Verifier {
        let args = ServeArgs {
            data_dir: Some(dir.to_owned()),
            public_url: Some(ISS.into()),
            ..ServeArgs::default()
        };
        let settings = Settings::from_layers(args, FileConfig::default()).unwrap();
        let store = Arc::new(crate::store::redb::RedbStore::open(&dir.join("s.redb")).unwrap());
        let fetch = Arc::new(FakeFetch::default());
        let mut h = Map::new();
        h.insert("typ".into(), "statuslist+jwt".into());
        let payload = json!({"iss": ISS, "sub": LIST, "iat": 0, "ttl": 300,
            "status_list": {"bits": 2, "lst": "eNo76fITAAPfAgc"}});
        let token = jws::sign(issuer, &h, &serde_json::to_vec(&payload).unwrap()).unwrap();
        fetch
            .docs
            .lock()
            .unwrap()
            .insert(LIST.into(), token.into_bytes());
        let outbound = crate::verifier::outbound::Outbound::new(Default::default());
        Verifier::with_fetcher(&settings, [issuer.public().clone()], store, outbound, fetch)
            .unwrap()
    }

    fn presentation(issuer: &SigningKey, holder: &SigningKey, idx: u64, aud: &str) -> String {
        let claims = json!({"iss": ISS, "vct": "urn:ru:digital-id:passport:1", "iat": 0, "exp": 10_000,
            "cnf": {"jwk": holder.public().jwk_for_publication()},
            "status": {"status_list": {"idx": idx, "uri": LIST}},
            "age_equal_or_over": {"18": true}});
        let issued = crate::sdjwt::issue(
            issuer,
            claims.as_object().unwrap().clone(),
            &[crate::sdjwt::ClaimPath::keys(["age_equal_or_over", "18"])],
            &IssueOptions::default(),
            &mut RandomSalts,
        )
        .unwrap();
        HolderCredential::parse(&issued.compact)
            .unwrap()
            .present(
                &[crate::sdjwt::ClaimPath::keys(["age_equal_or_over", "18"])],
                Some(&KeyBinding {
                    holder,
                    aud,
                    nonce: "n-0123456789abcdef",
                    iat: 100,
                }),
            )
            .unwrap()
    }

    #[test]
    fn status_list_entries_decide_valid_revoked_suspended() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = SigningKey::generate(Algorithm::Es256).unwrap();
        let holder = SigningKey::generate(Algorithm::Es256).unwrap();
        let v = verifier(dir.path(), &issuer);
        let q = Preset::AgeOver18.query().credentials.remove(0);
        let aud = v.client_id().to_owned();
        let binding = Binding {
            aud: &aud,
            nonce: "n-0123456789abcdef",
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let ok = v
                .verify_presentation(&q, &presentation(&issuer, &holder, 2, &aud), binding, 100)
                .await;
            assert_eq!(ok.unwrap()["age_equal_or_over"]["18"], true);
            let revoked = v
                .verify_presentation(&q, &presentation(&issuer, &holder, 0, &aud), binding, 100)
                .await;
            assert_eq!(
                revoked,
                Err(PresentationError::Status(StatusError::Revoked))
            );
            let suspended = v
                .verify_presentation(&q, &presentation(&issuer, &holder, 1, &aud), binding, 100)
                .await;
            assert_eq!(
                suspended,
                Err(PresentationError::Status(StatusError::Suspended))
            );
        });
    }
}
