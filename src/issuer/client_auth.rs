//! Wallet client authentication at `/par` and `/token`: OAuth 2.0
//! Attestation-Based Client Authentication
//! (draft-ietf-oauth-attestation-based-client-auth-10, `attest_jwt_client_auth`)
//! with the `OAuth-Client-Attestation` and `OAuth-Client-Attestation-PoP`
//! headers, as OpenID4VC HAIP 1.0 §4.3 requires of wallets (DESIGN.md
//! "Wallet clients"). The wallet attestation must chain to `[attestation]
//! wallet_provider_roots`; the checks themselves are
//! [`crate::trust::client_attestation`].
//!
//! Under `--profile haip` every request to `/par` and `/token` must
//! authenticate so. Otherwise attestation is offered when wallet providers
//! are configured and honoured whenever a wallet sends it, and a request
//! without it is a public client's, as before. A challenge (`POST
//! /challenge`, or the `OAuth-Client-Attestation-Challenge` header of an
//! answer) is checked when the PoP carries one, and required with
//! `[attestation] challenge_required = true` (a missing or stale one is
//! `use_attestation_challenge` with a fresh challenge).
//!
//! Replay protection: the PoP's `jti` is looked up first (a replay is
//! refused before anything is spent) and recorded, until the PoP's `iat`
//! leaves the window on every node, by the caller in the same store
//! transaction that commits what the request achieved ([`Client::replay`],
//! [`ReplayMarker::spend`]), so a refused request writes nothing and the
//! record holds across nodes.

use super::replay::ReplayMarker;
use super::{Ctx, nonce, ns};
use crate::config::Profile;
use crate::store::StoreError;
use crate::trust::client_attestation::{self, ClientAttestationError};

/// The `token_endpoint_auth_methods_supported` value (draft §10).
pub const METHOD: &str = "attest_jwt_client_auth";
/// Request header carrying the wallet attestation.
pub const ATTESTATION_HEADER: &str = "oauth-client-attestation";
/// Request header carrying its proof of possession.
pub const POP_HEADER: &str = "oauth-client-attestation-pop";
/// Response header carrying a fresh challenge (draft §5.2).
pub const CHALLENGE_HEADER: &str = "oauth-client-attestation-challenge";

/// The values of a request's attestation headers (every occurrence).
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    pub attestation: &'a [&'a str],
    pub pop: &'a [&'a str],
}

/// Whether every request to `/par` and `/token` must authenticate with a
/// wallet attestation: under `--profile haip` (HAIP 1.0 §4.3).
pub fn required(ctx: &Ctx<'_>) -> bool {
    ctx.settings.profile == Profile::Haip
}

/// Whether attestation-based client authentication is advertised: when it
/// is required, or when wallet providers are configured.
pub fn offered(ctx: &Ctx<'_>) -> bool {
    required(ctx) || !ctx.wallet_providers.is_empty()
}

/// JOSE algorithms accepted for wallet attestations and their PoPs (and
/// advertised): ES256 only under `--profile haip` (HAIP 1.0 §7).
pub fn algs(ctx: &Ctx<'_>) -> &'static [&'static str] {
    super::metadata::proof_algs(ctx.settings.profile)
}

/// An authenticated wallet instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Client {
    /// The client id the wallet provider attested (`sub`).
    pub client_id: String,
    /// The wallet provider: the subject of its attestation certificate.
    pub provider: String,
    /// RFC 7638 thumbprint of the wallet instance's key (`cnf.jwk`).
    pub instance_jkt: String,
    /// The PoP's replay marker, not yet recorded: the caller spends it in
    /// the transaction that commits the request
    /// ([`ReplayMarker::spend`]).
    pub replay: ReplayMarker,
}

/// Why client authentication failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientAuthError {
    #[error(
        "client authentication is required (HAIP 1.0): send the wallet attestation in \
         `OAuth-Client-Attestation` and its proof of possession in `OAuth-Client-Attestation-PoP`"
    )]
    Missing,
    #[error(
        "`OAuth-Client-Attestation-PoP` is missing: a wallet attestation authenticates only \
         with its proof of possession"
    )]
    MissingPop,
    #[error(
        "`OAuth-Client-Attestation` is missing: the proof of possession has no wallet attestation"
    )]
    MissingAttestation,
    #[error(
        "send exactly one `OAuth-Client-Attestation` and one `OAuth-Client-Attestation-PoP` header"
    )]
    Several,
    #[error(transparent)]
    Invalid(#[from] ClientAttestationError),
    #[error("the client attestation PoP was used before (same `jti`)")]
    Replayed,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ClientAuthError {
    /// Whether the answer carries a fresh `OAuth-Client-Attestation-Challenge`.
    pub fn wants_challenge(&self) -> bool {
        matches!(self, ClientAuthError::Invalid(e) if e.wants_challenge())
    }
}

impl crate::http::WireError for ClientAuthError {
    fn code(&self) -> &'static str {
        match self {
            ClientAuthError::Invalid(e) if e.wants_challenge() => "use_attestation_challenge",
            ClientAuthError::Invalid(e) if e.wants_fresh_attestation() => "use_fresh_attestation",
            ClientAuthError::Store(e) => e.code(),
            ClientAuthError::Missing
            | ClientAuthError::MissingPop
            | ClientAuthError::MissingAttestation
            | ClientAuthError::Several
            | ClientAuthError::Invalid(_)
            | ClientAuthError::Replayed => "invalid_client",
        }
    }

    fn status(&self) -> u16 {
        match self.code() {
            // RFC 6749 §5.2: a failed client authentication may be a 401.
            "invalid_client" => 401,
            _ => match self {
                ClientAuthError::Store(e) => e.status(),
                _ => 400,
            },
        }
    }

    fn challenge(&self) -> Option<String> {
        // RFC 9110 §15.5.2: a 401 names how to authenticate. The draft
        // registers no HTTP authentication scheme; the header's name says
        // what is expected.
        (self.status() == 401).then(|| "OAuth-Client-Attestation realm=\"digital-id\"".to_owned())
    }
}

/// Authenticates the wallet behind a request's attestation headers, whose
/// `client_id` parameter (if any) must be the attested one. `None`: no
/// headers, a public client (refused with [`ClientAuthError::Missing`]
/// when authentication is [`required`]). Nothing is written; the caller
/// records the PoP by spending [`Client::replay`].
pub async fn authenticate(
    ctx: &Ctx<'_>,
    presented: Presented<'_>,
    client_id: Option<&str>,
) -> Result<Option<Client>, ClientAuthError> {
    let (attestation, pop) = match (presented.attestation, presented.pop) {
        ([], []) if required(ctx) => return Err(ClientAuthError::Missing),
        ([], []) => return Ok(None),
        ([a], [p]) => (*a, *p),
        ([_], []) => return Err(ClientAuthError::MissingPop),
        ([], [_]) => return Err(ClientAuthError::MissingAttestation),
        _ => return Err(ClientAuthError::Several),
    };
    let challenge_ok = |c: &str| nonce::attestation_challenge_ok(ctx, c);
    let v = client_attestation::verify(
        attestation,
        pop,
        &client_attestation::Expect {
            roots: ctx.wallet_providers,
            algs: algs(ctx),
            audience: ctx.issuer_id(),
            client_id,
            now: ctx.now,
            challenge_required: ctx.settings.attestation.challenge_required,
            challenge_ok: &challenge_ok,
        },
    )
    .inspect_err(|e| tracing::info!(reason = e.reason(), "client attestation refused"))?;
    let client = Client {
        replay: ReplayMarker {
            ns: ns::CLIENT_ATTESTATION_JTI,
            key: v.replay_key(),
            expires_at: v.replay_expires_at(),
        },
        client_id: v.client_id,
        provider: v.provider,
        instance_jkt: v.instance_jkt,
    };
    if client.replay.spent(ctx.store, ctx.now).await? {
        return Err(ClientAuthError::Replayed);
    }
    Ok(Some(client))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::WireError;
    use crate::trust::attestation::AttestationError;

    #[test]
    fn each_failure_has_its_code_and_status() {
        use ClientAttestationError as E;
        let cases: Vec<(ClientAuthError, &str, u16)> = vec![
            (ClientAuthError::Missing, "invalid_client", 401),
            (ClientAuthError::MissingPop, "invalid_client", 401),
            (ClientAuthError::Several, "invalid_client", 401),
            (ClientAuthError::Replayed, "invalid_client", 401),
            (E::PopSignature.into(), "invalid_client", 401),
            (
                E::Attestation(AttestationError::NoX5c {
                    kind: "wallet attestation",
                })
                .into(),
                "invalid_client",
                401,
            ),
            (
                E::Attestation(AttestationError::Expired {
                    kind: "wallet attestation",
                })
                .into(),
                "use_fresh_attestation",
                400,
            ),
            (
                E::ChallengeRequired.into(),
                "use_attestation_challenge",
                400,
            ),
            (E::StaleChallenge.into(), "use_attestation_challenge", 400),
            (
                StoreError::Unavailable.into(),
                "temporarily_unavailable",
                503,
            ),
        ];
        for (e, code, status) in cases {
            assert_eq!((e.code(), e.status()), (code, status), "{e:?}");
            // Every 401 says how to authenticate (RFC 9110 §15.5.2).
            assert_eq!(e.challenge().is_some(), status == 401, "{e:?}");
            assert_eq!(e.wants_challenge(), code == "use_attestation_challenge");
        }
    }
}
