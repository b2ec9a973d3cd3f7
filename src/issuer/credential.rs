//! Credential endpoint (OpenID4VCI 1.0 §8): one SD-JWT VC per key proof, or
//! per attested key of an `attestation` proof (up to `batch_size`; the key
//! attestation checks are in `proof`), each with fresh salts, its own
//! decoys and its own status index, so credentials of one batch cannot be
//! linked. One request is for one Credential Dataset (§8): a holder with
//! several datasets of a configuration (a parent: a birth certificate per
//! child) gets a `credential_identifier` for each, so each key is bound to
//! at most one credential (§8.3). Every error of §8.3.1.2 and RFC 6750
//! §3.1 has its variant.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::proof::{self, AttestationExpectations, ProofError, ProofExpectations};
use super::records::{self, IssuedCredential};
use super::{Ctx, Grant, nonce, notification, token};
use crate::catalogue::{self, Issuable, metadata as type_meta};
use crate::crypto::PublicKey;
use crate::registry::{IssueRefusal, RegistryError};
use crate::sdjwt::RandomSalts;
use crate::status::StatusError;
use crate::store::StoreError;
use crate::trust::dpop::DpopError;
use crate::trust::key_attestation::{KeyAttestation, KeyAttestationError};

/// Tolerated clock skew for a proof's `iat` in the future.
pub const PROOF_FUTURE_SKEW: i64 = 60;

/// The Credential Request body (§8.2).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "credential_configuration_id": "ru.passport",
    "proofs": {"jwt": ["eyJ0eXAiOiJvcGVuaWQ0dmNpLXByb29mK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Li4ufX0.eyJhdWQiOiIuLi4iLCJpYXQiOjAsIm5vbmNlIjoiLi4uIn0.c2ln"]}
}))]
pub struct CredentialRequest {
    /// From the token response's `authorization_details`; required when
    /// the authorization issued credential identifiers. Exactly one of this
    /// and `credential_configuration_id`.
    #[schema(nullable = false)]
    pub credential_identifier: Option<String>,
    /// A configuration the access token covers.
    #[schema(nullable = false, example = "ru.passport")]
    pub credential_configuration_id: Option<String>,
    /// `{"jwt": [<openid4vci-proof+jwt>, …]}`: one key proof per credential,
    /// at most `batch_size`, all with the same `c_nonce`, each for its own key
    /// (with a `key_attestation` header where one is required); or, when
    /// wallet providers are trusted, `{"attestation": [<key-attestation+jwt>]}`:
    /// one key attestation carrying a fresh `c_nonce` as its `nonce`, one
    /// credential per attested key (at most `batch_size`).
    #[schema(value_type = Option<Object>, nullable = false)]
    pub proofs: Option<Value>,
    /// The single `proof` of earlier drafts, replaced by `proofs`.
    #[schema(value_type = Option<Object>, nullable = false, deprecated)]
    pub proof: Option<Value>,
    /// Not supported: refused with `invalid_encryption_parameters`.
    #[schema(value_type = Option<Object>, nullable = false)]
    pub credential_response_encryption: Option<Value>,
}

/// The Credential Response (§8.3).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CredentialResponse {
    /// One credential per key proof, in the order of `proofs.jwt` (or of
    /// the `attested_keys` of `proofs.attestation`).
    pub credentials: Vec<IssuedItem>,
    /// For `POST /notification`.
    pub notification_id: String,
    /// The credential configuration issued (for metrics; not on the wire).
    #[serde(skip)]
    #[schema(ignore)]
    pub configuration: &'static str,
}

/// One issued credential.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct IssuedItem {
    /// The SD-JWT VC (`dc+sd-jwt`): issuer-signed JWT and disclosures,
    /// `~`-separated, ending in `~`.
    pub credential: String,
}

/// The rule a credential request broke.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("an access token is required (Authorization: Bearer …)")]
    MissingToken,
    #[error("the access token is unknown or expired")]
    InvalidToken,
    #[error("the access token does not cover this credential configuration")]
    InsufficientScope,
    /// A DPoP-bound token sent as a bearer token (RFC 9449 §7.1).
    #[error(
        "this access token is bound to a DPoP key: send it as `Authorization: DPoP <token>` with a DPoP proof"
    )]
    DpopBound { algs: &'static str },
    /// A bearer token sent under the `DPoP` scheme.
    #[error("this access token is not DPoP-bound: send it as `Authorization: Bearer <token>`")]
    NotDpopBound { algs: &'static str },
    /// The DPoP proof of a DPoP-bound token was refused (RFC 9449 §7.1).
    #[error("{error}")]
    Dpop {
        error: crate::trust::dpop::DpopError,
        algs: &'static str,
    },
    #[error("the request body is not a Credential Request JSON object")]
    Malformed,
    #[error("exactly one of `credential_identifier` and `credential_configuration_id` is required")]
    IdentifierChoice,
    #[error("this authorization issued credential identifiers: use `credential_identifier`")]
    IdentifierRequired,
    /// §8: one request, one Credential Dataset; each key binds one credential.
    #[error(
        "this configuration has {0} credential datasets for this holder (one per child): request each with its own `credential_identifier` from the token response's `authorization_details`, one key proof per credential"
    )]
    SeveralDatasets(usize),
    #[error("`proof` was replaced by `proofs` in OpenID4VCI 1.0")]
    SingularProof,
    #[error("`proofs` must be an object with one proof type holding a non-empty array of proofs")]
    MalformedProofs,
    #[error("at most {0} key proof(s) or attested keys per Credential Request (`batch_size`)")]
    BatchTooLarge(usize),
    #[error("credential response encryption is not supported")]
    EncryptionUnsupported,
    #[error("unknown credential configuration")]
    UnknownConfiguration,
    #[error("unknown credential identifier")]
    UnknownIdentifier,
    #[error("`proofs` is missing")]
    MissingProofs,
    #[error(
        "{}",
        if *attestation {
            "only `jwt` and `attestation` key proofs are supported"
        } else {
            "only `jwt` key proofs are supported"
        }
    )]
    UnsupportedProofType {
        /// Whether the `attestation` proof type is (wallet providers are
        /// trusted).
        attestation: bool,
    },
    #[error("the `attestation` proof type takes exactly one key attestation")]
    AttestationCount,
    #[error("proof {index}: {error}")]
    InvalidProof { index: usize, error: ProofError },
    /// The `attestation` proof type's key attestation was refused.
    #[error("{0}")]
    InvalidAttestation(KeyAttestationError),
    #[error("all proofs of one request must carry the same c_nonce")]
    MixedNonces,
    #[error("two proofs name the same key; each credential of a batch needs its own key")]
    DuplicateKey,
    #[error("the c_nonce is unknown, used or expired: get a fresh one from the nonce endpoint")]
    InvalidNonce,
    #[error("{0}")]
    Denied(IssueRefusal),
    #[error("the document has expired; nothing can be issued")]
    DocumentExpired,
    #[error(transparent)]
    Registry(RegistryError),
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("signing the credential failed")]
    Signing,
}

impl crate::http::WireError for CredentialError {
    fn code(&self) -> &'static str {
        use CredentialError::*;
        match self {
            MissingToken | InvalidToken | DpopBound { .. } | NotDpopBound { .. } => "invalid_token",
            Dpop { error, .. } => error.code(),
            InsufficientScope => "insufficient_scope",
            Malformed | IdentifierChoice | IdentifierRequired | SeveralDatasets(_)
            | SingularProof | MalformedProofs | AttestationCount | BatchTooLarge(_) => {
                "invalid_credential_request"
            }
            EncryptionUnsupported => "invalid_encryption_parameters",
            UnknownConfiguration => "unknown_credential_configuration",
            UnknownIdentifier => "unknown_credential_identifier",
            MissingProofs
            | UnsupportedProofType { .. }
            | InvalidProof { .. }
            | InvalidAttestation(_)
            | MixedNonces
            | DuplicateKey => "invalid_proof",
            InvalidNonce => "invalid_nonce",
            Denied(_) | DocumentExpired => "credential_request_denied",
            Registry(_) | Signing => "server_error",
            Status(e) => crate::http::WireError::code(e),
            Store(e) => crate::http::WireError::code(e),
        }
    }
    fn status(&self) -> u16 {
        use CredentialError::*;
        match self {
            MissingToken | InvalidToken | DpopBound { .. } | NotDpopBound { .. } | Dpop { .. } => {
                401
            }
            InsufficientScope => 403,
            Registry(_) => 503,
            Signing => 500,
            Status(e) => crate::http::WireError::status(e),
            Store(e) => crate::http::WireError::status(e),
            Malformed
            | IdentifierChoice
            | IdentifierRequired
            | SeveralDatasets(_)
            | SingularProof
            | MalformedProofs
            | AttestationCount
            | BatchTooLarge(_)
            | EncryptionUnsupported
            | UnknownConfiguration
            | UnknownIdentifier
            | MissingProofs
            | UnsupportedProofType { .. }
            | InvalidProof { .. }
            | InvalidAttestation(_)
            | MixedNonces
            | DuplicateKey
            | InvalidNonce
            | Denied(_)
            | DocumentExpired => 400,
        }
    }
    fn challenge(&self) -> Option<String> {
        match self {
            CredentialError::MissingToken => Some("Bearer realm=\"digital-id\"".into()),
            CredentialError::InvalidToken => Some(format!(
                "Bearer realm=\"digital-id\", error=\"invalid_token\", error_description=\"{self}\""
            )),
            CredentialError::InsufficientScope => Some(format!(
                "Bearer realm=\"digital-id\", error=\"insufficient_scope\", error_description=\"{self}\""
            )),
            // RFC 9449 §7.1: the DPoP scheme with the accepted algorithms.
            CredentialError::DpopBound { algs } | CredentialError::NotDpopBound { algs } => {
                Some(format!(
                    "DPoP error=\"invalid_token\", error_description=\"{self}\", algs=\"{algs}\""
                ))
            }
            CredentialError::Dpop { error, algs } => Some(format!(
                "DPoP error=\"{}\", error_description=\"{self}\", algs=\"{algs}\"",
                error.code()
            )),
            _ => None,
        }
    }
}

/// The `Authorization` scheme an access token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// RFC 6750.
    Bearer,
    /// RFC 9449 §7.1.
    Dpop,
}

/// How a request presents its access token.
#[derive(Debug, Clone, Copy)]
pub struct Presented<'a> {
    /// The `Authorization` header's scheme and token.
    pub authorization: Option<(Scheme, &'a str)>,
    /// The values of the `DPoP` headers.
    pub dpop: &'a [&'a str],
    /// The endpoint's path (for the proof's `htu`).
    pub path: &'static str,
}

impl<'a> Presented<'a> {
    /// `Authorization: Bearer <token>` at `/credential`, without a proof.
    pub fn bearer(token: &'a str) -> Self {
        Presented {
            authorization: Some((Scheme::Bearer, token)),
            dpop: &[],
            path: "/credential",
        }
    }
}

/// The grant behind the presented access token: a bearer token as
/// `Authorization: Bearer`, a DPoP-bound one as `Authorization: DPoP` with
/// a proof by the key it is bound to, carrying its `ath`.
pub async fn authorize(ctx: &Ctx<'_>, presented: Presented<'_>) -> Result<Grant, CredentialError> {
    let (scheme, token) = presented
        .authorization
        .ok_or(CredentialError::MissingToken)?;
    let rec = token::token_of(ctx, token)
        .await?
        .ok_or(CredentialError::InvalidToken)?;
    let algs = if token::dpop_algs(ctx).len() == 1 {
        "ES256"
    } else {
        "ES256 EdDSA"
    };
    match (scheme, rec.cnf_jkt) {
        (Scheme::Bearer, None) => Ok(rec.grant),
        (Scheme::Bearer, Some(_)) => Err(CredentialError::DpopBound { algs }),
        (Scheme::Dpop, None) => Err(CredentialError::NotDpopBound { algs }),
        (Scheme::Dpop, Some(jkt)) => {
            let dpop = |error| CredentialError::Dpop { error, algs };
            let proved = token::check_dpop(ctx, presented.dpop, presented.path, Some(token))
                .await
                .map_err(|e| match e {
                    token::DpopFailure::Proof(e) => dpop(e),
                    token::DpopFailure::Store(e) => CredentialError::Store(e),
                })?
                .ok_or_else(|| dpop(DpopError::Missing))?;
            if !token::digests_equal(&proved, &jkt) {
                return Err(dpop(DpopError::KeyMismatch));
            }
            Ok(rec.grant)
        }
    }
}

/// `POST /credential`.
pub async fn issue(
    ctx: &Ctx<'_>,
    presented: Presented<'_>,
    body: &[u8],
) -> Result<CredentialResponse, CredentialError> {
    let grant = authorize(ctx, presented).await?;
    let req: CredentialRequest =
        serde_json::from_slice(body).map_err(|_| CredentialError::Malformed)?;
    let (configuration, dataset) = configuration(&grant, &req)?;
    let attestations = !ctx.wallet_providers.is_empty();
    let proven = match request_proofs(&req, ctx.settings.issuer.batch_size, attestations)? {
        RequestProofs::Jwt(jwts) => verify_proofs(ctx, &grant, configuration, &jwts)?,
        RequestProofs::Attestation(jwt) => verify_attestation(ctx, configuration, jwt)?,
    };
    // Authentic and unexpired (no store read); it is used up in the
    // transaction below, which fails as a whole when another request used
    // it first.
    let c_nonce = nonce::check(ctx, &proven.nonce).ok_or(CredentialError::InvalidNonce)?;
    let documents = ctx
        .registry
        .issuable(&grant.subject_id, configuration, ctx.today())
        .map_err(|e| match e {
            IssueRefusal::Registry(e) => CredentialError::Registry(e),
            IssueRefusal::UnknownDocument => CredentialError::UnknownConfiguration,
            refusal => CredentialError::Denied(refusal),
        })?;
    let document = one_dataset(&documents, dataset)?;
    let notification_id = crate::crypto::ordered_token();
    // Signed credentials and their records (with their status indices), the
    // c_nonce and the notification record go to the store in ONE durable
    // transaction: all of it or none (and one commit instead of five).
    let mut ops = vec![nonce::consume_op(ctx, &c_nonce)];
    // One credential per key: no key is bound to two credentials.
    let mut credentials = Vec::with_capacity(proven.keys.len());
    let mut ids = Vec::with_capacity(proven.keys.len());
    let mut last_exp = ctx.now;
    for (key, attestation) in &proven.keys {
        let (credential, rec) = sign_one(
            ctx,
            &grant,
            document,
            key,
            attestation.as_deref(),
            &notification_id,
        )
        .await?;
        ops.extend(records::save_ops(ctx, &rec)?);
        last_exp = last_exp.max(rec.exp);
        ids.push(rec.id);
        credentials.push(IssuedItem { credential });
    }
    ops.push(notification::save_op(
        ctx,
        &notification_id,
        &grant,
        ids,
        last_exp,
    )?);
    match ctx.store.transact(ops).await {
        Ok(()) => {}
        // Indices handed out to a transaction that failed stay unused. The
        // only step that can conflict is the nonce's spent marker (the
        // other keys are fresh random ids).
        Err(StoreError::Conflict) => return Err(CredentialError::InvalidNonce),
        Err(e) => return Err(e.into()),
    }
    tracing::info!(
        configuration,
        count = credentials.len(),
        key_attested = proven.keys.iter().any(|(_, a)| a.is_some()),
        "credentials issued"
    );
    Ok(CredentialResponse {
        credentials,
        notification_id,
        configuration,
    })
}

/// The credential configuration the request is for, checked against the
/// grant, and the Credential Dataset its `credential_identifier` names.
fn configuration<'g>(
    grant: &'g Grant,
    req: &CredentialRequest,
) -> Result<(&'static str, Option<&'g str>), CredentialError> {
    if req.credential_response_encryption.is_some() {
        return Err(CredentialError::EncryptionUnsupported);
    }
    let (id, dataset) = match (&req.credential_identifier, &req.credential_configuration_id) {
        (Some(ident), None) => (
            grant
                .credential_identifiers
                .get(ident)
                .ok_or(CredentialError::UnknownIdentifier)?,
            grant.datasets.get(ident).map(String::as_str),
        ),
        (None, Some(_)) if !grant.credential_identifiers.is_empty() => {
            return Err(CredentialError::IdentifierRequired);
        }
        (None, Some(cfg)) => (cfg, None),
        _ => return Err(CredentialError::IdentifierChoice),
    };
    let doc = catalogue::find(id).ok_or(CredentialError::UnknownConfiguration)?;
    if !grant
        .credential_configuration_ids
        .iter()
        .any(|c| c == doc.id)
    {
        return Err(CredentialError::InsufficientScope);
    }
    Ok((doc.id, dataset))
}

/// The one document a request is for: the named dataset, or the only one.
fn one_dataset<'d>(
    documents: &'d [Issuable],
    dataset: Option<&str>,
) -> Result<&'d Issuable, CredentialError> {
    match (dataset, documents) {
        (Some(name), _) => documents
            .iter()
            .find(|d| d.dataset.as_deref() == Some(name))
            // The registry no longer holds it (a record removed since).
            .ok_or(CredentialError::UnknownIdentifier),
        (None, [only]) => Ok(only),
        (None, many) => Err(CredentialError::SeveralDatasets(many.len())),
    }
}

/// Gives `grant` credential identifiers (OpenID4VCI 1.0 §6.2) when the
/// wallet asked through `authorization_details` (`always`) or when the
/// subject holds several Credential Datasets of a granted configuration
/// (a parent with several children): then one identifier per dataset, so
/// each Credential Request, and each key, gets one child's certificate.
/// Otherwise the grant stays without identifiers (`credential_configuration_id`
/// requests). A configuration the registry refuses gets one identifier; the
/// refusal is reported at the credential endpoint.
pub fn assign_identifiers(ctx: &Ctx<'_>, grant: &mut Grant, always: bool) {
    let datasets: Vec<(String, Vec<Option<String>>)> = grant
        .credential_configuration_ids
        .iter()
        .map(|cfg| {
            let names = match ctx.registry.issuable(&grant.subject_id, cfg, ctx.today()) {
                Ok(docs) if docs.len() > 1 => docs.iter().map(|d| d.dataset.clone()).collect(),
                _ => vec![None],
            };
            (cfg.clone(), names)
        })
        .collect();
    if !always && datasets.iter().all(|(_, names)| names.len() == 1) {
        return;
    }
    for (cfg, names) in datasets {
        for name in names {
            let ident = crate::crypto::random_token();
            if let Some(name) = name {
                grant.datasets.insert(ident.clone(), name);
            }
            grant.credential_identifiers.insert(ident, cfg.clone());
        }
    }
}

/// The proofs of a request (§8.2 `proofs`).
enum RequestProofs<'r> {
    /// `jwt` key proofs (Appendix F.1), one per credential.
    Jwt(Vec<&'r str>),
    /// One key attestation (Appendix F.3), one credential per attested key.
    Attestation(&'r str),
}

/// The keys a request's proofs bound, each with the key attestation that
/// vouched for it, and the c_nonce they carried.
struct Proven {
    keys: Vec<(PublicKey, Option<Arc<KeyAttestation>>)>,
    nonce: String,
}

/// The proofs of the request: one proof type with a non-empty array, at
/// most `batch_size` `jwt` proofs or exactly one `attestation` (only when
/// wallet providers are trusted, `attestation`).
fn request_proofs(
    req: &CredentialRequest,
    batch_size: usize,
    attestation: bool,
) -> Result<RequestProofs<'_>, CredentialError> {
    if req.proof.is_some() {
        return Err(CredentialError::SingularProof);
    }
    let proofs = req
        .proofs
        .as_ref()
        .ok_or(CredentialError::MissingProofs)?
        .as_object()
        .filter(|o| o.len() == 1)
        .ok_or(CredentialError::MalformedProofs)?;
    let (kind, list) = proofs
        .iter()
        .next()
        .ok_or(CredentialError::MalformedProofs)?;
    let attestation_type = match kind.as_str() {
        "jwt" => false,
        "attestation" if attestation => true,
        _ => return Err(CredentialError::UnsupportedProofType { attestation }),
    };
    let jwts = list
        .as_array()
        .filter(|l| !l.is_empty())
        .ok_or(CredentialError::MalformedProofs)?
        .iter()
        .map(|j| j.as_str().ok_or(CredentialError::MalformedProofs))
        .collect::<Result<Vec<_>, _>>()?;
    if attestation_type {
        return match jwts[..] {
            [one] => Ok(RequestProofs::Attestation(one)),
            _ => Err(CredentialError::AttestationCount),
        };
    }
    if jwts.len() > batch_size {
        return Err(CredentialError::BatchTooLarge(batch_size));
    }
    Ok(RequestProofs::Jwt(jwts))
}

/// What key attestations must be for `configuration`.
fn attestation_expectations<'c>(
    ctx: &'c Ctx<'_>,
    configuration: &'c str,
) -> AttestationExpectations<'c> {
    AttestationExpectations {
        roots: ctx.wallet_providers,
        required: proof::required_policy(ctx.settings, configuration),
        algs: super::metadata::proof_algs(ctx.settings.profile),
        now: ctx.now,
        skew: PROOF_FUTURE_SKEW,
    }
}

/// `jwt` proofs: each checked (Appendix F.4), one c_nonce for all, each
/// for its own key, with their key attestations.
fn verify_proofs(
    ctx: &Ctx<'_>,
    grant: &Grant,
    configuration: &str,
    jwts: &[&str],
) -> Result<Proven, CredentialError> {
    let exp = ProofExpectations {
        audience: ctx.issuer_id(),
        client_id: grant.client_id.as_deref(),
        now: ctx.now,
        max_age: ctx.settings.issuer.c_nonce_ttl,
        future_skew: PROOF_FUTURE_SKEW,
        algs: super::metadata::proof_algs(ctx.settings.profile),
    };
    let proofs = jwts
        .iter()
        .enumerate()
        .map(|(index, jwt)| {
            proof::verify(jwt, &exp).map_err(|error| CredentialError::InvalidProof { index, error })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if proofs.iter().any(|p| p.nonce != proofs[0].nonce) {
        return Err(CredentialError::MixedNonces);
    }
    for (i, p) in proofs.iter().enumerate() {
        if proofs[..i]
            .iter()
            .any(|q| q.key.thumbprint() == p.key.thumbprint())
        {
            return Err(CredentialError::DuplicateKey);
        }
    }
    let attestations =
        proof::check_key_attestations(&proofs, &attestation_expectations(ctx, configuration))
            .map_err(|(index, error)| CredentialError::InvalidProof { index, error })?;
    let nonce = proofs[0].nonce.clone();
    Ok(Proven {
        keys: proofs
            .into_iter()
            .map(|p| p.key)
            .zip(attestations)
            .collect(),
        nonce,
    })
}

/// The `attestation` proof type: the attested keys (at most `batch_size`,
/// as many as `jwt` proofs may be), its `nonce` the c_nonce.
fn verify_attestation(
    ctx: &Ctx<'_>,
    configuration: &str,
    jwt: &str,
) -> Result<Proven, CredentialError> {
    let ka = proof::verify_attestation_proof(jwt, &attestation_expectations(ctx, configuration))
        .map_err(CredentialError::InvalidAttestation)?;
    let batch_size = ctx.settings.issuer.batch_size;
    if ka.keys.len() > batch_size {
        return Err(CredentialError::BatchTooLarge(batch_size));
    }
    let nonce = ka.nonce.clone().unwrap_or_default();
    let ka = Arc::new(ka);
    let keys = ka
        .keys
        .iter()
        .map(|k| (k.clone(), Some(ka.clone())))
        .collect();
    Ok(Proven { keys, nonce })
}

/// Takes a status index and signs one credential; returns it with its
/// record (which the caller stores before the credential leaves).
async fn sign_one(
    ctx: &Ctx<'_>,
    grant: &Grant,
    doc: &Issuable,
    holder: &PublicKey,
    attestation: Option<&KeyAttestation>,
    notification_id: &str,
) -> Result<(String, IssuedCredential), CredentialError> {
    let settings = &ctx.settings.issuer;
    let iat = ctx.now;
    let exp = catalogue::exp(iat, settings.credential_days * 86_400, doc.valid_until)
        .ok_or(CredentialError::DocumentExpired)?;
    let id = crate::crypto::ordered_token();
    let slot = ctx.status.next(ctx.store, ctx.now).await?;
    let (_, vct_integrity) = catalogue::find(doc.document_id)
        .map(type_meta::served)
        .unwrap_or_default();
    // The claims of this credential alone; the document's own come
    // prepared from the template.
    let mut head = Map::with_capacity(7);
    head.insert("iss".into(), ctx.issuer_id().into());
    head.insert("iat".into(), iat.into());
    head.insert("exp".into(), exp.into());
    head.insert("vct".into(), doc.vct.into());
    head.insert("vct#integrity".into(), vct_integrity.into());
    let mut cnf = Map::with_capacity(1);
    cnf.insert("jwk".into(), Value::Object(holder.jwk().clone()));
    head.insert("cnf".into(), Value::Object(cnf));
    head.insert(
        "status".into(),
        json!({"status_list": {"idx": slot.idx, "uri": ctx.url(&format!("/status-lists/{}", slot.list))}}),
    );
    let credential = doc
        .template()
        .and_then(|t| t.issue(&ctx.keys.issuer_es256, &head, &mut RandomSalts))
        .map_err(|_| CredentialError::Signing)?;
    let rec = IssuedCredential {
        id,
        credential_configuration_id: doc.document_id.to_owned(),
        vct: doc.vct.to_owned(),
        subject_id: grant.subject_id.clone(),
        holder_key_thumbprint: holder.thumbprint().to_owned(),
        status_list: slot.list,
        status_index: slot.idx,
        iat,
        exp,
        notification_id: notification_id.to_owned(),
        identity_proofing: grant.identity_proofing,
        client_wallet_provider: grant.wallet_provider.clone(),
        client_id: grant.client_id.clone(),
        key_attestation: attestation.map(|a| records::AttestedKey {
            wallet_provider: a.provider.clone(),
            key_storage: a.key_storage.clone(),
            user_authentication: a.user_authentication.clone(),
        }),
    };
    Ok((credential, rec))
}
