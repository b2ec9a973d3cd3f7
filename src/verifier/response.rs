//! The response endpoint (`response_uri`, OpenID4VP 1.0 §8.2 `direct_post`
//! and §8.3.1 `direct_post.jwt`).
//!
//! One response per transaction. A valid one → 200 `{}` and `verified`; an
//! invalid one → 400 and `failed` with the reason; a wallet error response
//! (§8.5) → 200 and `failed` with the wallet's code; a second response →
//! 400 and nothing changes. A plain `vp_token` to a request that asked for
//! `direct_post.jwt` is invalid (no downgrade); only an error response may
//! come unencrypted (§8.3.1).
//!
//! Only an answer that proves its sender holds the request object may
//! change the transaction (§14.3.2): a JWE that decrypts with the request's
//! key, or — unencrypted — the request's `state` (compared in constant
//! time). Anything else (no `state`, a wrong one, a JWE for another key) is
//! a 400 that leaves the transaction pending, so a stranger who saw the QR
//! cannot end a verification the wallet is about to answer. A plain answer
//! to a `direct_post.jwt` request that carries the right `state` is from the
//! holder of the request object: it fails the transaction (a downgrade).
//!
//! Same-device flow (§8.2): when the transaction was created with a
//! `redirect_uri`, a processed answer — valid, or the wallet's error
//! response (§8.5) — gets 200 `{"redirect_uri": "<uri>#response_code=<code>"}`,
//! the code being 256 fresh random bits of which only the SHA-256 is kept;
//! whoever receives the redirect reads the result with it, once. An answer
//! refused with a 400 gets no redirect: §8.2 defines `redirect_uri` only in
//! the 200 answer to a processed response, so the wallet shows its own
//! error; the relying party learns `failed` from the status events.

use std::collections::BTreeSet;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::Verifier;
use super::jwe::{self, JweError};
use super::presentation::{Binding, PresentationError};
use super::transaction::{
    NS_TRANSACTION, Outcome, ResponseCode, ResponseMode, Transaction, TransitionError,
};
use super::view::LookupError;
use crate::crypto::{b64url, random_bytes, sha256};
use crate::store::{self, StoreError, Update};

/// The form a wallet posts (unknown members are ignored, §8.2): `vp_token`
/// and `state` (`direct_post`), `response` (`direct_post.jwt`), or an error
/// response (`error`, `error_description`, `state`; §8.5), which may come
/// unencrypted in either mode.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
pub struct WalletResponse {
    /// `direct_post`: a JSON object mapping Credential Query ids to
    /// non-empty arrays of presentations (§8.1); at most 16 in all.
    #[serde(default)]
    #[schema(
        nullable = false,
        example = r#"{"credential":["eyJhbGciOiJFUzI1NiIsInR5cCI6ImRjK3NkLWp3dCJ9…~eyJhbGciOiJFUzI1NiIsInR5cCI6ImtiK2p3dCJ9…"]}"#
    )]
    pub vp_token: Option<String>,
    /// The request object's `state`; required (inside the JWE for
    /// `direct_post.jwt`).
    #[serde(default)]
    #[schema(nullable = false)]
    pub state: Option<String>,
    /// `direct_post.jwt`: a JWE (ECDH-ES with the request's key) whose
    /// payload holds `vp_token` and `state`, or the error response.
    #[serde(default)]
    #[schema(nullable = false)]
    pub response: Option<String>,
    /// The wallet's error code (OpenID4VP 1.0 §8.5, e.g. `access_denied`).
    #[serde(default)]
    #[schema(nullable = false, example = "access_denied")]
    pub error: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    pub error_description: Option<String>,
}

/// Largest number of presentations in one `vp_token`.
const MAX_PRESENTATIONS: usize = 16;

/// A response that is not accepted. Only those that come from the holder of
/// the request object mark the transaction failed; see
/// [`ResponseError::fails_transaction`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum ResponseError {
    #[error("no request is waiting for an answer at this response URI")]
    UnknownRequest,
    #[error("a response has already been received for this request")]
    Replay,
    #[error("the request object has not been retrieved yet")]
    NotRetrieved,
    #[error("the response window has closed")]
    Expired,
    #[error("`state` is missing; an unencrypted response must carry the request's `state`")]
    MissingState,
    #[error("`state` does not match the request")]
    WrongState,
    /// The JWE was not opened with the request's key (but `NotJson`: it was).
    #[error(transparent)]
    Jwe(#[from] JweError),
    #[error("the encrypted response's `state` does not match the request")]
    EncryptedWrongState,
    #[error("a plain response is not accepted: this request asked for direct_post.jwt")]
    PlainToEncrypted,
    #[error("an encrypted response is not accepted: this request asked for direct_post")]
    UnexpectedEncryption,
    #[error("the response has neither `vp_token` nor `error`")]
    Empty,
    #[error(
        "vp_token: must be a JSON object mapping Credential Query ids to non-empty arrays of presentations"
    )]
    VpTokenShape,
    #[error("vp_token.{0}: `multiple` is false, so exactly one presentation is allowed")]
    NotMultiple(String),
    #[error("vp_token: {0}")]
    Match(#[from] super::dcql::MatchError),
    #[error("vp_token.{id}: {error}")]
    Presentation {
        id: String,
        error: PresentationError,
    },
    #[error("storage failed: {0}")]
    Store(String),
}

impl From<StoreError> for ResponseError {
    fn from(e: StoreError) -> Self {
        ResponseError::Store(e.to_string())
    }
}

impl ResponseError {
    /// Whether this refusal ends the transaction as `failed`: only when the
    /// answer proved its sender holds the request object (a JWE that
    /// decrypted with the request's key, or the request's `state`). The
    /// others leave it as it was (`Expired` only records the time-out the
    /// status already shows).
    pub fn fails_transaction(&self) -> bool {
        match self {
            ResponseError::UnknownRequest
            | ResponseError::Replay
            | ResponseError::NotRetrieved
            | ResponseError::Expired
            | ResponseError::MissingState
            | ResponseError::WrongState
            | ResponseError::Store(_) => false,
            ResponseError::Jwe(e) => match e {
                JweError::NotJson => true,
                JweError::Malformed
                | JweError::WrongAlg
                | JweError::WrongEnc
                | JweError::WrongKid
                | JweError::Compressed
                | JweError::Decrypt
                | JweError::KeyGeneration => false,
            },
            ResponseError::EncryptedWrongState
            | ResponseError::PlainToEncrypted
            | ResponseError::UnexpectedEncryption
            | ResponseError::Empty
            | ResponseError::VpTokenShape
            | ResponseError::NotMultiple(_)
            | ResponseError::Match(_)
            | ResponseError::Presentation { .. } => true,
        }
    }
}

/// What a valid submission returns to the wallet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Verified,
    /// The wallet reported an error (§8.5); recorded as `failed`.
    WalletError,
}

/// A processed answer: how it ended, the transaction as recorded, and the
/// body of the 200 the wallet gets.
#[derive(Debug, Clone)]
pub struct Responded {
    pub accepted: Accepted,
    pub transaction: Transaction,
    pub body: ResponseBody,
}

/// The 200 answer of the response endpoint (OpenID4VP 1.0 §8.2): `{}`, or
/// for a same-device request the `redirect_uri` the wallet sends the user's
/// browser to.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[schema(as = AuthorizationResponseAccepted)]
pub struct ResponseBody {
    /// Same-device requests only: the request's `redirect_uri` with
    /// `#response_code=<code>` (256 random bits, base64url); the code
    /// reads the result once (`GET /verifier/requests/{id}?response_code=`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        nullable = false,
        example = "https://rp.example.ru/age-checked#response_code=Yk3v9QpL0sHc1TnA7wYb2eQm5xZr8uTi4oPa6sDf0gH"
    )]
    pub redirect_uri: Option<String>,
}

/// The redirect of a same-device transaction with a fresh response code,
/// and the code's stored form.
fn redirect_with_code(redirect_uri: &str) -> (String, ResponseCode) {
    let code = b64url(random_bytes::<32>());
    let stored = ResponseCode::of(&code);
    (format!("{redirect_uri}#response_code={code}"), stored)
}

impl Verifier {
    /// Handles a wallet's POST to the response URI of `response_id`.
    pub async fn respond(
        &self,
        response_id: &str,
        form: WalletResponse,
        now: i64,
    ) -> Result<Responded, ResponseError> {
        let tx = self
            .transaction_at_response(response_id, now)
            .await
            .map_err(|e| match e {
                LookupError::NotFound => ResponseError::UnknownRequest,
                LookupError::Store(e) => e.into(),
            })?;
        // A deleted party's transaction is gone for the wallet too: no
        // answer is taken, no callback sent.
        if !super::parties::party_exists(self, &tx.party, now).await? {
            return Err(ResponseError::UnknownRequest);
        }
        match tx.can_submit(now) {
            Ok(()) => {}
            Err(TransitionError::AlreadySubmitted) => return Err(ResponseError::Replay),
            Err(TransitionError::NotRetrieved) => return Err(ResponseError::NotRetrieved),
            Err(TransitionError::Expired | TransitionError::AlreadyRetrieved) => {
                self.finish(&tx, now, None).await?;
                return Err(ResponseError::Expired);
            }
        }
        let (outcome, result) = match self.evaluate(&tx, form, now).await {
            Ok(Evaluated::Verified(claims)) => {
                (Outcome::Verified { claims }, Ok(Accepted::Verified))
            }
            Ok(Evaluated::WalletError { code, description }) => (
                Outcome::Failed { code, description },
                Ok(Accepted::WalletError),
            ),
            // Not shown to come from the holder of the request object: the
            // transaction stays as it is, for the wallet to answer.
            Err(e) if !e.fails_transaction() => return Err(e),
            Err(e) => (
                Outcome::Failed {
                    code: "invalid_request".into(),
                    description: e.to_string(),
                },
                Err(e),
            ),
        };
        // Same-device: a processed answer (valid, or the wallet's error)
        // redirects with a fresh response code; a refused one does not.
        let redirect = match (&result, &tx.redirect_uri) {
            (Ok(_), Some(uri)) => Some(redirect_with_code(uri)),
            (Ok(_), None) | (Err(_), _) => None,
        };
        let (redirect_uri, code) = redirect.unzip();
        let tx = self.finish(&tx, now, Some((outcome, code))).await?;
        result.map(|accepted| Responded {
            accepted,
            transaction: tx,
            body: ResponseBody { redirect_uri },
        })
    }

    /// Records the outcome (with the response code of a same-device
    /// answer), or the time-out when `None`, atomically; a concurrent
    /// response that got there first makes this one a replay.
    async fn finish(
        &self,
        tx: &Transaction,
        now: i64,
        outcome: Option<(Outcome, Option<ResponseCode>)>,
    ) -> Result<Transaction, ResponseError> {
        let retention = self.settings.retention;
        let apply = move |tx: &mut Transaction,
                          outcome: Option<(Outcome, Option<ResponseCode>)>|
              -> Result<(), TransitionError> {
            match outcome {
                Some((o, code)) => {
                    tx.submit(now, o)?;
                    // The response key is never needed again.
                    tx.response_key = None;
                    tx.response_code = code;
                    Ok(())
                }
                None if tx.time_out(now) => Ok(()),
                None => Err(TransitionError::AlreadySubmitted),
            }
        };
        let o2 = outcome.clone();
        let before = self
            .store()
            .update(
                NS_TRANSACTION,
                tx.id.0.clone(),
                now,
                Box::new(move |cur| {
                    let Some(mut t) = cur.and_then(|b| store::from_bytes::<Transaction>(b).ok())
                    else {
                        return Update::Keep;
                    };
                    match apply(&mut t, o2)
                        .ok()
                        .and_then(|()| store::to_bytes(&t).ok())
                    {
                        Some(value) => Update::Put {
                            value,
                            expires_at: Some(t.retain_until(retention)),
                        },
                        None => Update::Keep,
                    }
                }),
            )
            .await?
            .ok_or(ResponseError::UnknownRequest)?;
        let mut t: Transaction = store::from_bytes(&before)?;
        match apply(&mut t, outcome) {
            Ok(()) => {
                self.send_callback(&t, now);
                Ok(t)
            }
            Err(_) if t.outcome().is_some() => Err(ResponseError::Replay),
            Err(_) => Err(ResponseError::Expired),
        }
    }

    async fn evaluate(
        &self,
        tx: &Transaction,
        form: WalletResponse,
        now: i64,
    ) -> Result<Evaluated, ResponseError> {
        let params = authenticate(tx, form)?;
        if let Some(code) = params.error {
            return Ok(Evaluated::WalletError {
                code: sanitize_code(&code),
                description: params
                    .error_description
                    .map(|d| d.chars().filter(|c| !c.is_control()).take(300).collect())
                    .unwrap_or_else(|| "the wallet returned an error".into()),
            });
        }
        let vp_token = params.vp_token.ok_or(ResponseError::Empty)?;
        let vp = vp_token.as_object().ok_or(ResponseError::VpTokenShape)?;
        let total: usize = vp.values().map(|v| v.as_array().map_or(0, Vec::len)).sum();
        if vp.is_empty() || total > MAX_PRESENTATIONS {
            return Err(ResponseError::VpTokenShape);
        }
        let answered: BTreeSet<String> = vp.keys().cloned().collect();
        tx.dcql_query.check_answered(&answered)?;
        let binding = Binding {
            aud: &tx.client_id,
            nonce: &tx.nonce,
        };
        let mut claims = Map::new();
        for (id, presentations) in vp {
            let list = presentations
                .as_array()
                .filter(|a| !a.is_empty() && a.iter().all(Value::is_string))
                .ok_or(ResponseError::VpTokenShape)?;
            // UNWRAP SAFETY: check_answered refused ids outside the query.
            let query = tx
                .dcql_query
                .credential(id)
                .ok_or(ResponseError::VpTokenShape)?;
            if !query.multiple && list.len() != 1 {
                return Err(ResponseError::NotMultiple(id.clone()));
            }
            let mut out = Vec::with_capacity(list.len());
            for p in list.iter().filter_map(Value::as_str) {
                let c = self
                    .verify_presentation(query, p, binding, now)
                    .await
                    .map_err(|error| ResponseError::Presentation {
                        id: id.clone(),
                        error,
                    })?;
                out.push(Value::Object(c));
            }
            let value = match (query.multiple, out.pop()) {
                (false, Some(one)) => one,
                (true, Some(last)) => {
                    out.push(last);
                    Value::Array(out)
                }
                (_, None) => return Err(ResponseError::VpTokenShape),
            };
            claims.insert(id.clone(), value);
        }
        Ok(Evaluated::Verified(claims))
    }
}

/// Opens the answer and checks that its sender holds the request object
/// (OpenID4VP 1.0 §14.3.2); until that is shown, every error here is one
/// that leaves the transaction alone (see [`ResponseError::fails_transaction`]).
fn authenticate(tx: &Transaction, form: WalletResponse) -> Result<Params, ResponseError> {
    let encrypted = match (tx.response_mode, form.response) {
        (ResponseMode::DirectPostJwt, Some(jwe)) => {
            let key = tx.response_key.as_ref().ok_or(JweError::Decrypt)?;
            // Decrypting proves knowledge of the request's (ephemeral,
            // request-object-only) key; from here on errors are the sender's.
            let params = Params::from_json(jwe::decrypt(&jwe, key)?)?;
            return match params.state.as_deref() {
                Some(s) if state_matches(tx, s) => Ok(params),
                Some(_) | None => Err(ResponseError::EncryptedWrongState),
            };
        }
        (ResponseMode::DirectPost, Some(_)) => true,
        (ResponseMode::DirectPostJwt | ResponseMode::DirectPost, None) => false,
    };
    // Unencrypted: only the request's `state` shows knowledge of it.
    let state = form.state.ok_or(ResponseError::MissingState)?;
    if !state_matches(tx, &state) {
        return Err(ResponseError::WrongState);
    }
    if encrypted {
        return Err(ResponseError::UnexpectedEncryption);
    }
    match (tx.response_mode, &form.error) {
        // §8.3.1: only an error response may come unencrypted.
        (ResponseMode::DirectPostJwt, None) => return Err(ResponseError::PlainToEncrypted),
        (ResponseMode::DirectPostJwt, Some(_)) | (ResponseMode::DirectPost, _) => {}
    }
    let vp_token = match form.vp_token {
        Some(t) => Some(serde_json::from_str(&t).map_err(|_| ResponseError::VpTokenShape)?),
        None => None,
    };
    Ok(Params {
        vp_token,
        state: Some(state),
        error: form.error,
        error_description: form.error_description,
    })
}

/// Compares a received `state` with the request's in constant time (both
/// hashed first, so neither the position of a difference nor the length
/// shows). A transaction without a `state` matches nothing.
fn state_matches(tx: &Transaction, state: &str) -> bool {
    !tx.state.is_empty() && openssl::memcmp::eq(&sha256(state), &sha256(&tx.state))
}

enum Evaluated {
    Verified(Map<String, Value>),
    WalletError { code: String, description: String },
}

/// The Authorization Response parameters, from the form or the JWE payload.
struct Params {
    vp_token: Option<Value>,
    state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

impl Params {
    fn from_json(mut payload: Map<String, Value>) -> Result<Self, ResponseError> {
        let mut text = |name: &str| -> Result<Option<String>, ResponseError> {
            match payload.remove(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(ResponseError::VpTokenShape),
            }
        };
        let state = text("state")?;
        let error = text("error")?;
        let error_description = text("error_description")?;
        Ok(Params {
            vp_token: payload.remove("vp_token"),
            state,
            error,
            error_description,
        })
    }
}

/// A wallet's error code as stored: OAuth codes are `[a-z_]`; anything else
/// becomes `invalid_wallet_error`.
fn sanitize_code(code: &str) -> String {
    if !code.is_empty()
        && code.len() <= 64
        && code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    {
        code.to_owned()
    } else {
        "invalid_wallet_error".into()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::config::{FileConfig, ServeArgs, Settings};
    use crate::crypto::jws::Jws;
    use crate::store::Store;
    use crate::verifier::Status;
    use crate::verifier::request::CreateRequest;

    const T: i64 = 1_700_000_000;

    fn verifier(dir: &std::path::Path, store: Arc<dyn Store>) -> Verifier {
        let args = ServeArgs {
            data_dir: Some(dir.to_owned()),
            public_url: Some("https://id.example.ru".into()),
            ..ServeArgs::default()
        };
        let settings = Settings::from_layers(args, FileConfig::default()).unwrap();
        let outbound = crate::verifier::outbound::Outbound::new(Default::default());
        Verifier::new(&settings, [], store, outbound).unwrap()
    }

    fn wallet_error(state: Option<&str>) -> WalletResponse {
        WalletResponse {
            error: Some("access_denied".into()),
            state: state.map(str::to_owned),
            ..WalletResponse::default()
        }
    }

    /// The response id is an index of its own in the store, next to the
    /// request id, created and deleted with the transaction.
    async fn response_ids_resolve(v: &Verifier) {
        let req = CreateRequest {
            preset: Some("age_over_18".into()),
            response_mode: Some("direct_post".into()),
            ..CreateRequest::default()
        };
        let party = crate::verifier::request::PartyOptions::default();
        let created = v.create(req, false, party, T).await.unwrap();
        let tx_id = created.transaction_id.0;
        let request_id = created.request_uri.rsplit('/').next().unwrap().to_owned();
        let jwt = v.request_object(&request_id, None, T).await.unwrap();
        let ro = Jws::decode(&jwt).unwrap().payload_json().unwrap();
        let state = ro["state"].as_str().unwrap();
        let prefix = v.public_url.join(crate::verifier::RESPONSE_URI_PATH);
        let response_id = ro["response_uri"].as_str().unwrap().strip_prefix(&prefix);
        let response_id = response_id.unwrap().to_owned();
        assert_ne!(response_id, request_id);

        let r = v.respond(&request_id, wallet_error(Some(state)), T).await;
        assert!(matches!(r, Err(ResponseError::UnknownRequest)), "{r:?}");
        let r = v.respond(&response_id, wallet_error(None), T).await;
        assert!(matches!(r, Err(ResponseError::MissingState)), "{r:?}");
        let r = v
            .respond(&response_id, wallet_error(Some("guess")), T)
            .await;
        assert!(matches!(r, Err(ResponseError::WrongState)), "{r:?}");
        let pending = v.transaction(&tx_id, T + 1).await.unwrap().status(T + 1);
        assert_eq!(pending, Status::Pending);

        let r = v
            .respond(&response_id, wallet_error(Some(state)), T + 1)
            .await
            .unwrap();
        assert_eq!(r.accepted, Accepted::WalletError);
        assert_eq!(r.transaction.status(T + 1), Status::Failed);
        assert_eq!(r.body, ResponseBody::default(), "cross-device: no redirect");

        v.delete(&tx_id, T + 2).await.unwrap();
        let r = v
            .respond(&response_id, wallet_error(Some(state)), T + 2)
            .await;
        assert!(matches!(r, Err(ResponseError::UnknownRequest)), "{r:?}");
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn response_ids_resolve_on_redb() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::redb::RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let v = verifier(dir.path(), Arc::new(store));
        block_on(response_ids_resolve(&v));
    }

    /// Against the PostgreSQL at `DATABASE_URL`, in a schema of its own.
    #[test]
    fn response_ids_resolve_on_postgres() {
        let schema = crate::store::postgres::testing::TestSchema::new();
        let dir = tempfile::tempdir().unwrap();
        let store = crate::store::postgres::PostgresStore::connect(&schema.url(), 2).unwrap();
        let v = verifier(dir.path(), Arc::new(store));
        block_on(response_ids_resolve(&v));
    }
}
