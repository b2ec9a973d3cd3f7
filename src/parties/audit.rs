//! The audit trail of a relying party's verifications: when, which
//! transaction, how it was asked (request/response or holder QR), how it
//! ended and — for a failure — the error code and a reason from a fixed
//! set. Never claims, descriptions or anything else a person could be
//! recognised by.

use serde::{Deserialize, Serialize};

/// Seconds an entry is kept (30 days); the store's sweeper deletes it then.
pub const RETENTION: i64 = 30 * 86_400;
/// Entries one listing returns by default, and at most.
pub const DEFAULT_LIMIT: usize = 100;
pub const MAX_LIMIT: usize = 1000;
/// Longest error code kept (a wallet's own code is free text of `[a-z_]`).
const MAX_CODE: usize = 64;

/// How the verification was asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    /// `POST /verifier/requests`, answered at the response URI.
    Request,
    /// `POST /verifier/scan` (a holder-shown QR).
    Scan,
}

/// How it ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditOutcome {
    Verified,
    Failed,
}

/// Why a verification failed, from a fixed set (also the `reason` label
/// of the per-party Prometheus counter, so its cardinality stays bounded).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    /// The wallet answered with an error (OpenID4VP 1.0 §8.5), e.g. the
    /// person declined.
    WalletError,
    /// A presentation did not verify: signature, issuer trust, status,
    /// Key Binding JWT, disclosures.
    InvalidPresentation,
    /// The presentations do not answer the query (a credential, claim,
    /// value or credential set missing).
    QueryUnmet,
    /// The response is not shaped as OpenID4VP asks (no `vp_token`, wrong
    /// structure, several presentations where one is allowed).
    MalformedResponse,
    /// Plain where encryption was asked for, or the other way round; an
    /// encrypted payload that is not JSON or has the wrong `state`.
    Encryption,
}

impl FailureReason {
    pub fn label(self) -> &'static str {
        match self {
            FailureReason::WalletError => "wallet_error",
            FailureReason::InvalidPresentation => "invalid_presentation",
            FailureReason::QueryUnmet => "query_unmet",
            FailureReason::MalformedResponse => "malformed_response",
            FailureReason::Encryption => "encryption",
        }
    }
}

/// One verification in the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEntry {
    /// When it ended, RFC 3339.
    #[schema(example = "2026-11-26T10:15:00Z")]
    pub at: String,
    #[schema(example = "q1Xb8c0fT2yJv6mWnKp3Rg")]
    pub transaction_id: String,
    pub kind: AuditKind,
    pub outcome: AuditOutcome,
    /// The transaction's `error.code` when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "invalid_request")]
    pub code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub reason: Option<FailureReason>,
}

impl AuditEntry {
    pub fn new(
        at: i64,
        transaction_id: &str,
        kind: AuditKind,
        failure: Option<(&str, FailureReason)>,
    ) -> Self {
        AuditEntry {
            at: crate::clock::rfc3339(at),
            transaction_id: transaction_id.to_owned(),
            kind,
            outcome: match failure {
                None => AuditOutcome::Verified,
                Some(_) => AuditOutcome::Failed,
            },
            code: failure.map(|(c, _)| {
                c.chars()
                    .filter(|c| c.is_ascii_lowercase() || *c == '_')
                    .take(MAX_CODE)
                    .collect()
            }),
            reason: failure.map(|(_, r)| r),
        }
    }
}

/// The store key of an entry: the party, then the time counted down, so a
/// prefix scan lists the newest first.
pub fn key(party: &super::PartyId, at: i64, transaction_id: &str) -> String {
    format!(
        "{}/{:019}/{transaction_id}",
        party.as_str(),
        i64::MAX - at.max(0)
    )
}

/// The key prefix of a party's entries.
pub fn prefix(party: &super::PartyId) -> String {
    format!("{}/", party.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parties::PartyId;

    #[test]
    fn newer_entries_sort_first_and_parties_do_not_mix() {
        let a = PartyId::parse("a").unwrap();
        let ab = PartyId::parse("ab").unwrap();
        assert!(key(&a, 2_000, "t") < key(&a, 1_000, "t"));
        assert!(key(&a, 1, "t").starts_with(&prefix(&a)));
        assert!(!key(&ab, 1, "t").starts_with(&prefix(&a)));
    }

    #[test]
    fn an_entry_keeps_only_a_code_shaped_code() {
        let e = AuditEntry::new(
            0,
            "t",
            AuditKind::Request,
            Some(("Иванов access_denied\n", FailureReason::WalletError)),
        );
        assert_eq!(e.code.as_deref(), Some("access_denied"));
        assert_eq!(e.outcome, AuditOutcome::Failed);
        let ok = AuditEntry::new(0, "t", AuditKind::Scan, None);
        assert_eq!(
            serde_json::to_value(&ok).unwrap(),
            serde_json::json!({
                "at": "1970-01-01T00:00:00Z", "transaction_id": "t", "kind": "scan", "outcome": "verified"
            })
        );
    }
}
