//! Issued-credential records: what the issuer keeps about each credential
//! (never the credential or its claim values), and the back-office status
//! changes (revoke, suspend, reinstate) that act on them.

use serde::{Deserialize, Serialize};

use super::{Ctx, ns};
use crate::registry::{IdentityProofing, SubjectId};
use crate::status::{self, Status, StatusError};
use crate::store::{self, StoreError, TxOp};

/// One issued credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct IssuedCredential {
    pub id: String,
    pub credential_configuration_id: String,
    pub vct: String,
    pub subject_id: SubjectId,
    /// RFC 7638 thumbprint of the holder key (`cnf.jwk`).
    pub holder_key_thumbprint: String,
    /// Id of the status list (`/status-lists/{id}`).
    pub status_list: u32,
    /// Index in that list (`status.status_list.idx`).
    pub status_index: usize,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    pub notification_id: String,
    pub identity_proofing: IdentityProofing,
    /// The wallet's client id (absent for anonymous pre-authorized access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub client_id: Option<String>,
    /// The wallet provider whose wallet attestation authenticated the
    /// client at the token endpoint (the subject of its certificate), when
    /// the wallet authenticated so (`attest_jwt_client_auth`); absent in
    /// records of public clients and in records made before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "CN=Example Wallet attestations")]
    pub client_wallet_provider: Option<String>,
    /// The key attestation that vouched for the holder key (OpenID4VCI 1.0
    /// Appendix D), when the wallet sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub key_attestation: Option<AttestedKey>,
}

/// What a wallet provider attested about a holder key (OpenID4VCI 1.0
/// Appendix D.1, levels of Appendix D.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AttestedKey {
    /// The wallet provider that signed the attestation: the subject of its
    /// certificate.
    #[schema(example = "CN=Example Wallet attestations")]
    pub wallet_provider: String,
    /// The attested `key_storage` levels (empty when it asserted none).
    #[serde(default)]
    #[schema(example = json!(["iso_18045_high"]))]
    pub key_storage: Vec<String>,
    /// The attested `user_authentication` levels (empty when it asserted
    /// none).
    #[serde(default)]
    #[schema(example = json!(["iso_18045_high"]))]
    pub user_authentication: Vec<String>,
}

/// A record with its current status, as the back-office sees it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CredentialView {
    #[serde(flatten)]
    pub record: IssuedCredential,
    pub status: Status,
}

/// Why a back-office credential operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("no issued credential with this id")]
    UnknownCredential,
    #[error(transparent)]
    Status(#[from] StatusError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::http::WireError for RecordError {
    fn code(&self) -> &'static str {
        match self {
            RecordError::UnknownCredential => "not_found",
            RecordError::Status(e) => e.code(),
            RecordError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            RecordError::UnknownCredential => 404,
            RecordError::Status(e) => e.status(),
            RecordError::Store(e) => e.status(),
        }
    }
}

/// Stores a record and its by-subject index entry durably (before the
/// credential is returned).
pub async fn save(ctx: &Ctx<'_>, rec: &IssuedCredential) -> Result<(), StoreError> {
    ctx.store.transact(save_ops(ctx, rec)?).await
}

/// The transaction steps storing `rec` and its by-subject index entry.
pub fn save_ops(ctx: &Ctx<'_>, rec: &IssuedCredential) -> Result<Vec<TxOp>, StoreError> {
    Ok(vec![
        TxOp::Insert {
            ns: ns::CREDENTIAL,
            key: rec.id.clone(),
            value: store::to_bytes(rec)?,
            expires_at: None,
            now: ctx.now,
        },
        TxOp::Put {
            ns: ns::CREDENTIAL_BY_SUBJECT,
            key: format!("{}/{}", rec.subject_id, rec.id),
            value: Vec::new(),
            expires_at: None,
        },
    ])
}

/// Most records listed per subject.
pub const LIST_LIMIT: usize = 1000;

/// `GET /issuer/subjects/{id}/credentials`: the subject's records, oldest
/// first.
pub async fn of_subject(
    ctx: &Ctx<'_>,
    subject: &SubjectId,
) -> Result<Vec<CredentialView>, RecordError> {
    let prefix = format!("{subject}/");
    let entries = ctx
        .store
        .scan(
            ns::CREDENTIAL_BY_SUBJECT,
            prefix.clone(),
            ctx.now,
            LIST_LIMIT,
        )
        .await?;
    let mut out = Vec::with_capacity(entries.len());
    for e in entries {
        out.push(view(ctx, &e.key[prefix.len()..]).await?);
    }
    out.sort_by_key(|v| v.record.iat);
    Ok(out)
}

pub async fn load(ctx: &Ctx<'_>, id: &str) -> Result<IssuedCredential, RecordError> {
    match ctx
        .store
        .get(ns::CREDENTIAL, id.to_owned(), ctx.now)
        .await?
    {
        Some(b) => Ok(store::from_bytes(&b)?),
        None => Err(RecordError::UnknownCredential),
    }
}

/// `GET /issuer/credentials/{id}`.
pub async fn view(ctx: &Ctx<'_>, id: &str) -> Result<CredentialView, RecordError> {
    let record = load(ctx, id).await?;
    let status = status::get(ctx.store, record.status_list, record.status_index, ctx.now).await?;
    Ok(CredentialView { record, status })
}

/// `POST /issuer/credentials/{id}/revoke|suspend|reinstate`.
pub async fn set_status(
    ctx: &Ctx<'_>,
    id: &str,
    next: Status,
) -> Result<CredentialView, RecordError> {
    let record = load(ctx, id).await?;
    let before = status::set(
        ctx.store,
        record.status_list,
        record.status_index,
        next,
        ctx.now,
    )
    .await?;
    // This node serves the change at once; others within the list's `ttl`.
    ctx.status_tokens.invalidate(record.status_list);
    tracing::info!(credential = %record.id, ?before, after = ?next, "credential status changed");
    Ok(CredentialView {
        record,
        status: next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A record stored before `client_wallet_provider` was kept reads
    /// without one, and a record without one is stored without the member.
    #[test]
    fn client_wallet_provider_is_optional_at_rest() {
        let old = serde_json::json!({
            "id": "c1", "credential_configuration_id": "ru.passport",
            "vct": "urn:ru:digital-id:passport:1", "subject_id": "ivanov-ivan",
            "holder_key_thumbprint": "t", "status_list": 0, "status_index": 7,
            "iat": 1, "exp": 2, "notification_id": "n",
            "identity_proofing": "biometric", "client_id": "wallet-app",
        });
        let rec: IssuedCredential = serde_json::from_value(old.clone()).unwrap();
        assert_eq!(rec.client_wallet_provider, None);
        assert_eq!(serde_json::to_value(&rec).unwrap(), old);
        let attested = IssuedCredential {
            client_wallet_provider: Some("CN=Wallet".into()),
            ..rec
        };
        let stored = store::to_bytes(&attested).unwrap();
        let back: IssuedCredential = store::from_bytes(&stored).unwrap();
        assert_eq!(back.client_wallet_provider.as_deref(), Some("CN=Wallet"));
    }
}
