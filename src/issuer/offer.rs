//! Credential offers (OpenID4VCI 1.0 §4.1), created by the back-office for
//! a registry subject: a pre-authorized code (single use, short-lived,
//! guarded by a 6-digit `tx_code` by default) and an `issuer_state` for
//! wallets that prefer the authorization code flow.
//!
//! At rest an offer is [`StoredOffer`] under the keyed hash of its id, and
//! its code a [`PreAuthorizedCode`] under the keyed hash of the code, with
//! only a keyed hash of the `tx_code` (bound to the code): nothing a copy
//! of the store holds can be redeemed.

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::metadata::PRE_AUTHORIZED_GRANT;
use super::token::{PreAuthorizedCode, tx_code_digest};
use super::{Ctx, ns};
use crate::catalogue;
use crate::registry::{IdentityProofing, IssueRefusal, RegistryError, SubjectId};
use crate::sdjwt::{RandomSalts, SaltSource};
use crate::store::{self, StoreError, TxOp};

/// Digits of a `tx_code`.
pub const TX_CODE_LENGTH: usize = 6;

/// `POST /issuer/offers` body (DESIGN.md).
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferRequest {
    pub subject_id: SubjectId,
    /// Credential configurations to offer: at least one, no repeats.
    #[schema(
        value_type = BTreeSet<crate::http::openapi::CredentialConfigurationId>,
        min_items = 1,
        example = json!(["ru.passport", "ru.snils"])
    )]
    pub credential_configuration_ids: Vec<String>,
    /// Ask for a `tx_code` (default: yes).
    #[serde(default)]
    #[schema(default = true)]
    pub tx_code: Option<bool>,
}

/// `POST /issuer/offers` answer (DESIGN.md).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OfferCreated {
    pub offer_id: String,
    /// The Credential Offer (by value).
    #[schema(value_type = crate::http::openapi::CredentialOffer)]
    pub credential_offer: Value,
    /// The URL that returns `credential_offer` (offer by reference).
    pub credential_offer_uri: String,
    /// `openid-credential-offer://?credential_offer_uri=…`, what a QR carries.
    pub offer_link: String,
    /// Sent to the citizen out of band.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "493021")]
    pub tx_code: Option<String>,
    /// When the offer and its pre-authorized code expire (RFC 3339 UTC).
    #[schema(example = "2026-01-01T12:10:00Z")]
    pub expires_at: String,
}

/// A live offer as the wallet fetches it (`GET /credential-offer/{id}`).
#[derive(Debug, Clone)]
pub struct Offer {
    pub id: String,
    pub subject_id: SubjectId,
    pub credential_configuration_ids: Vec<String>,
    /// The Credential Offer, with its pre-authorized code.
    pub credential_offer: Value,
    pub expires_at: i64,
}

/// What the store keeps of an offer, under the keyed hash of its id. It
/// holds neither the id nor the pre-authorized code: the code is derived
/// from the id with the store secret, so a copy of the store shows no code
/// and no id to fetch one with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredOffer {
    pub subject_id: SubjectId,
    pub credential_configuration_ids: Vec<String>,
    /// Whether the pre-authorized code needs a `tx_code`.
    pub tx_code: bool,
    pub expires_at: i64,
}

/// [`StoreSecret::derive`](crate::keystore::StoreSecret::derive) purpose of
/// an offer's pre-authorized code.
const PRE_AUTHORIZED_CODE: &str = "pre-authorized_code";

/// The pre-authorized code of offer `offer_id` (256 bits, recomputed from
/// the id whenever the offer is fetched).
fn pre_authorized_code(ctx: &Ctx<'_>, offer_id: &str) -> String {
    ctx.keys.store_secret.derive(PRE_AUTHORIZED_CODE, offer_id)
}

/// The Credential Offer object (OpenID4VCI 1.0 §4.1.1) of a stored offer.
fn credential_offer(ctx: &Ctx<'_>, offer_id: &str, offer: &StoredOffer) -> Value {
    let mut pre_auth = json!({"pre-authorized_code": pre_authorized_code(ctx, offer_id)});
    if offer.tx_code {
        pre_auth["tx_code"] = json!({
            "input_mode": "numeric",
            "length": TX_CODE_LENGTH,
            "description": "Код из SMS / The code sent to you by SMS",
        });
    }
    let mut grants = serde_json::Map::new();
    grants.insert(PRE_AUTHORIZED_GRANT.to_owned(), pre_auth);
    // Only offered when citizens can sign in (OpenID4VCI 1.0 §4.1.1: the
    // grants the issuer is prepared to process for this offer).
    if ctx.settings.sign_in.is_some() {
        grants.insert(
            "authorization_code".to_owned(),
            json!({"issuer_state": offer_id}),
        );
    }
    json!({
        "credential_issuer": ctx.issuer_id(),
        "credential_configuration_ids": offer.credential_configuration_ids,
        "grants": grants,
    })
}

/// Why an offer was not created.
#[derive(Debug, thiserror::Error)]
pub enum OfferError {
    #[error("no subject with this id in the registry")]
    UnknownSubject,
    #[error("`credential_configuration_ids` must name at least one configuration")]
    NoConfigurations,
    #[error("`credential_configuration_ids` names an unknown configuration")]
    UnknownConfiguration,
    #[error("`credential_configuration_ids` names a configuration twice")]
    DuplicateConfiguration,
    #[error("this subject cannot receive the credential: {0}")]
    Refused(IssueRefusal),
    #[error("no such offer, or it has expired")]
    UnknownOffer,
    #[error(transparent)]
    Registry(#[from] RegistryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::http::WireError for OfferError {
    fn code(&self) -> &'static str {
        match self {
            OfferError::UnknownSubject
            | OfferError::UnknownOffer
            | OfferError::Refused(IssueRefusal::UnknownSubject | IssueRefusal::NoDocument) => {
                "not_found"
            }
            OfferError::NoConfigurations | OfferError::DuplicateConfiguration => "invalid_request",
            OfferError::UnknownConfiguration
            | OfferError::Refused(IssueRefusal::UnknownDocument) => {
                "unknown_credential_configuration"
            }
            OfferError::Refused(IssueRefusal::UnderAge | IssueRefusal::Invalid { .. }) => {
                "credential_request_denied"
            }
            OfferError::Refused(IssueRefusal::Registry(_)) => "server_error",
            OfferError::Registry(_) => "server_error",
            OfferError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            // A well-formed offer for a document the registry does not hold
            // for this subject names a missing thing (404); one the rules
            // refuse (under 18, an invalid record) is forbidden (403).
            OfferError::UnknownSubject
            | OfferError::UnknownOffer
            | OfferError::Refused(IssueRefusal::UnknownSubject | IssueRefusal::NoDocument) => 404,
            OfferError::Refused(IssueRefusal::UnderAge | IssueRefusal::Invalid { .. }) => 403,
            OfferError::NoConfigurations
            | OfferError::DuplicateConfiguration
            | OfferError::UnknownConfiguration
            | OfferError::Refused(IssueRefusal::UnknownDocument) => 400,
            OfferError::Refused(IssueRefusal::Registry(_)) => 503,
            OfferError::Registry(_) => 503,
            OfferError::Store(e) => e.status(),
        }
    }
}

/// One row of `GET /issuer/subjects`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SubjectSummary {
    pub id: SubjectId,
    pub family_name: String,
    pub given_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub patronymic: Option<String>,
    /// `YYYY-MM-DD`.
    #[schema(example = "1985-06-15")]
    pub birthdate: String,
    pub identity_proofing: IdentityProofing,
    /// Configuration ids of the documents the registry holds for them.
    #[schema(example = json!(["ru.inn", "ru.passport", "ru.snils"]))]
    pub documents: Vec<String>,
    /// Ids of the subject's children (absent when none).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<SubjectId>,
}

/// `GET /issuer/subjects`.
pub fn subjects(ctx: &Ctx<'_>) -> Result<Vec<SubjectSummary>, OfferError> {
    Ok(ctx
        .registry
        .subjects()?
        .into_iter()
        .map(|s| SubjectSummary {
            family_name: s.person.family_name,
            given_name: s.person.given_name,
            patronymic: s.person.patronymic,
            birthdate: s.person.birthdate,
            identity_proofing: s.identity_proofing,
            documents: s.documents.into_keys().collect(),
            children: s.children,
            id: s.id,
        })
        .collect())
}

/// `POST /issuer/offers`: checks that the subject may receive every
/// configuration today, then stores the offer and its pre-authorized code.
pub async fn create(ctx: &Ctx<'_>, req: OfferRequest) -> Result<OfferCreated, OfferError> {
    check(ctx, &req)?;
    let subject = ctx
        .registry
        .subject(&req.subject_id)?
        .ok_or(OfferError::UnknownSubject)?;
    let offer_id = crate::crypto::random_token();
    let code = pre_authorized_code(ctx, &offer_id);
    let tx_code = req.tx_code.unwrap_or(true).then(new_tx_code);
    let expires_at = ctx.now + ctx.settings.issuer.offer_ttl;
    let offer = StoredOffer {
        subject_id: req.subject_id.clone(),
        credential_configuration_ids: req.credential_configuration_ids.clone(),
        tx_code: tx_code.is_some(),
        expires_at,
    };
    let credential_offer = credential_offer(ctx, &offer_id, &offer);
    let offer_key = ctx.secret_key(&offer_id);
    let record = PreAuthorizedCode {
        subject_id: req.subject_id,
        credential_configuration_ids: req.credential_configuration_ids,
        identity_proofing: subject.identity_proofing,
        offer_key: offer_key.clone(),
        tx_code_digest: tx_code.as_deref().map(|t| tx_code_digest(ctx, &code, t)),
        failed_attempts: 0,
        expires_at,
    };
    // Both or neither, in one commit.
    ctx.store
        .transact(vec![
            TxOp::Insert {
                ns: ns::PRE_AUTHORIZED_CODE,
                key: ctx.secret_key(&code),
                value: store::to_bytes(&record)?,
                expires_at: Some(expires_at),
                now: ctx.now,
            },
            TxOp::Insert {
                ns: ns::OFFER,
                key: offer_key,
                value: store::to_bytes(&offer)?,
                expires_at: Some(expires_at),
                now: ctx.now,
            },
        ])
        .await?;
    tracing::info!(tx_code = tx_code.is_some(), "credential offer created");
    let credential_offer_uri = offer_uri(ctx, &offer_id);
    Ok(OfferCreated {
        offer_link: offer_link(&credential_offer_uri),
        credential_offer_uri,
        credential_offer,
        tx_code,
        expires_at: crate::clock::rfc3339(expires_at),
        offer_id,
    })
}

fn check(ctx: &Ctx<'_>, req: &OfferRequest) -> Result<(), OfferError> {
    let ids = &req.credential_configuration_ids;
    if ids.is_empty() {
        return Err(OfferError::NoConfigurations);
    }
    if ids.iter().any(|id| catalogue::find(id).is_none()) {
        return Err(OfferError::UnknownConfiguration);
    }
    if ids.iter().enumerate().any(|(i, id)| ids[..i].contains(id)) {
        return Err(OfferError::DuplicateConfiguration);
    }
    for id in ids {
        match ctx.registry.issuable(&req.subject_id, id, ctx.today()) {
            Ok(_) => {}
            Err(IssueRefusal::UnknownSubject) => return Err(OfferError::UnknownSubject),
            Err(IssueRefusal::Registry(e)) => return Err(e.into()),
            Err(refusal) => return Err(OfferError::Refused(refusal)),
        }
    }
    Ok(())
}

/// `GET /credential-offer/{id}`: the offer while it is live.
pub async fn get(ctx: &Ctx<'_>, offer_id: &str) -> Result<Offer, OfferError> {
    let stored: StoredOffer = match ctx
        .store
        .get(ns::OFFER, ctx.secret_key(offer_id), ctx.now)
        .await?
    {
        Some(b) => store::from_bytes(&b)?,
        None => return Err(OfferError::UnknownOffer),
    };
    Ok(Offer {
        id: offer_id.to_owned(),
        credential_offer: credential_offer(ctx, offer_id, &stored),
        subject_id: stored.subject_id,
        credential_configuration_ids: stored.credential_configuration_ids,
        expires_at: stored.expires_at,
    })
}

pub fn offer_uri(ctx: &Ctx<'_>, offer_id: &str) -> String {
    ctx.url(&format!("/credential-offer/{offer_id}"))
}

/// The deep link a QR code carries (OpenID4VCI §4.1.3).
pub fn offer_link(credential_offer_uri: &str) -> String {
    let query = serde_urlencoded::to_string([("credential_offer_uri", credential_offer_uri)])
        .unwrap_or_default();
    format!("openid-credential-offer://?{query}")
}

/// A uniformly random 6-digit code.
fn new_tx_code() -> String {
    let n = RandomSalts.below(1_000_000);
    format!("{n:0width$}", width = TX_CODE_LENGTH)
}
