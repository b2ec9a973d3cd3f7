//! JWTs a wallet provider signs about a wallet: wallet attestations (OAuth
//! 2.0 Attestation-Based Client Authentication,
//! `oauth-client-attestation+jwt`) and key attestations (OpenID4VCI 1.0
//! Appendix D, `key-attestation+jwt`). Both are trusted the same way: the
//! header's `x5c` chains to a configured wallet provider root
//! (`[attestation] wallet_provider_roots`), the leaf is no CA, the chain is
//! valid at the attestation's `iat`, the leaf's key verifies the signature,
//! and the attestation has not expired. What each kind then requires of
//! its claims is the caller's (`key_attestation`, the token endpoint).

use serde_json::{Map, Value};

use crate::crypto::jws::{Jws, JwsError};
use crate::crypto::x509::{Anchors, ChainError};

/// Why an attestation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttestationError {
    #[error("the {kind} is not a compact JWS: {source}")]
    Malformed {
        kind: &'static str,
        source: JwsError,
    },
    #[error("the {kind}'s `typ` must be `{typ}`")]
    WrongTyp {
        kind: &'static str,
        typ: &'static str,
    },
    #[error("the {kind}'s `alg` is not one this server accepts ({accepted})")]
    AlgNotAllowed {
        kind: &'static str,
        accepted: String,
    },
    #[error("the {kind} has no `x5c` header: it must carry the wallet provider's certificate")]
    NoX5c { kind: &'static str },
    #[error("the {kind} is not from a trusted wallet provider: {source}")]
    Untrusted {
        kind: &'static str,
        source: ChainError,
    },
    #[error("the {kind}'s signature does not verify with its certificate's key: {source}")]
    Signature {
        kind: &'static str,
        source: JwsError,
    },
    #[error("the {kind} has no numeric `{claim}`")]
    MissingClaim {
        kind: &'static str,
        claim: &'static str,
    },
    #[error("the {kind} has expired")]
    Expired { kind: &'static str },
    #[error("the {kind}'s `iat` is in the future")]
    FromTheFuture { kind: &'static str },
}

impl AttestationError {
    /// The failed step, as a stable machine-readable name.
    pub fn reason(&self) -> &'static str {
        match self {
            AttestationError::Malformed { .. } => "malformed",
            AttestationError::WrongTyp { .. } => "wrong_typ",
            AttestationError::AlgNotAllowed { .. } => "alg_not_allowed",
            AttestationError::NoX5c { .. } => "no_x5c",
            AttestationError::Untrusted { .. } => "untrusted_wallet_provider",
            AttestationError::Signature { .. } => "bad_signature",
            AttestationError::MissingClaim { .. } => "missing_claim",
            AttestationError::Expired { .. } => "expired",
            AttestationError::FromTheFuture { .. } => "from_the_future",
        }
    }
}

/// Which attestation is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    /// Its name in messages ("wallet attestation", "key attestation").
    pub name: &'static str,
    /// The JOSE `typ` it must carry.
    pub typ: &'static str,
}

/// `oauth-client-attestation+jwt`.
pub const WALLET: Kind = Kind {
    name: "wallet attestation",
    typ: "oauth-client-attestation+jwt",
};

/// `key-attestation+jwt` (OpenID4VCI 1.0 Appendix D.1).
pub const KEY: Kind = Kind {
    name: "key attestation",
    typ: "key-attestation+jwt",
};

/// What the caller expects of an attestation.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub kind: Kind,
    /// The trusted wallet provider roots.
    pub roots: &'a Anchors,
    /// Accepted `alg` values.
    pub algs: &'a [&'a str],
    /// Unix seconds.
    pub now: i64,
    /// Clock skew tolerated for an `iat` in the future and an `exp` in
    /// the past.
    pub skew: i64,
}

/// An attestation whose signature and chain were checked.
#[derive(Debug, Clone)]
pub struct Attested {
    /// The JWT's claims.
    pub claims: Map<String, Value>,
    /// Who signed it: the subject of the provider's leaf certificate
    /// (RFC 4514-like, e.g. `CN=Example Wallet attestations`).
    pub provider: String,
    pub iat: i64,
    pub exp: i64,
}

/// Checks an attestation JWT from the wallet provider's signature to its
/// lifetime (see the module docs).
pub fn verify(jwt: &str, e: &Expect<'_>) -> Result<Attested, AttestationError> {
    let kind = e.kind.name;
    let jws = Jws::decode(jwt).map_err(|source| AttestationError::Malformed { kind, source })?;
    if jws.typ() != Some(e.kind.typ) {
        return Err(AttestationError::WrongTyp {
            kind,
            typ: e.kind.typ,
        });
    }
    if !jws.alg().is_some_and(|a| e.algs.contains(&a)) {
        return Err(AttestationError::AlgNotAllowed {
            kind,
            accepted: e.algs.join(", "),
        });
    }
    let claims = jws
        .payload_json()
        .map_err(|source| AttestationError::Malformed { kind, source })?;
    let number = |claim| {
        claims
            .get(claim)
            .and_then(Value::as_i64)
            .ok_or(AttestationError::MissingClaim { kind, claim })
    };
    let (iat, exp) = (number("iat")?, number("exp")?);
    let x5c = jws
        .header
        .get("x5c")
        .ok_or(AttestationError::NoX5c { kind })?;
    // The provider's certificate must have been valid when it signed.
    let chain = e
        .roots
        .validate(x5c, iat)
        .map_err(|source| AttestationError::Untrusted { kind, source })?;
    jws.verify(chain.leaf_key())
        .map_err(|source| AttestationError::Signature { kind, source })?;
    if iat > e.now + e.skew {
        return Err(AttestationError::FromTheFuture { kind });
    }
    if exp + e.skew <= e.now {
        return Err(AttestationError::Expired { kind });
    }
    let provider = chain
        .path()
        .first()
        .map(|leaf| subject(leaf))
        .unwrap_or_default();
    Ok(Attested {
        claims,
        provider,
        iat,
        exp,
    })
}

/// `CN=…, O=…` of a certificate's subject.
fn subject(cert: &openssl::x509::X509Ref) -> String {
    cert.subject_name()
        .entries()
        .filter_map(|e| {
            let key = e.object().nid().short_name().ok()?;
            let value = e.data().to_string().ok()?;
            Some(format!("{key}={value}"))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
