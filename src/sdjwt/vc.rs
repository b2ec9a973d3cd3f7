//! The SD-JWT VC profile (draft-ietf-oauth-sd-jwt-vc): media types and the
//! claims that must stay in the clear.

/// `typ` of SD-JWT VCs.
pub const TYP: &str = "dc+sd-jwt";
/// The earlier `typ`, still accepted by verifiers (SD-JWT VC §3.2.1).
pub const LEGACY_TYP: &str = "vc+sd-jwt";
/// Both accepted `typ` values.
pub const ACCEPTED_TYPS: &[&str] = &[TYP, LEGACY_TYP];

/// The registered claims SD-JWT VC §3.2.2.2 keeps out of disclosures,
/// followed by `$extra`.
macro_rules! registered_claims {
    ($($extra:literal),*) => {
        &["iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "aka_vcts", "status" $(, $extra)*]
    };
}

/// Registered claims that SD-JWT VC §3.2.2.2 ("Registered JWT Claims")
/// forbids in disclosures, "including any of their sub-claims": a verifier
/// refuses a credential that discloses any of them, or anything inside them.
pub const NEVER_DISCLOSED: &[&str] = registered_claims!();

/// What our issuer never makes selectively disclosable: the SD-JWT VC list
/// ([`NEVER_DISCLOSED`]) and `iat` (DESIGN.md; SD-JWT VC allows disclosing
/// `iat`, so a verifier accepts it from other issuers).
pub const NEVER_DISCLOSABLE: &[&str] = registered_claims!("iat");

/// Whether a claim at `path` lies in (or is) a claim that must never be
/// disclosed: its first step names one of `reserved`.
pub fn is_reserved_path(path: &[super::PathElem], reserved: &[&str]) -> bool {
    matches!(path.first(), Some(super::PathElem::Key(k)) if reserved.contains(&k.as_str()))
}
