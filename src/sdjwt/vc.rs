//! The SD-JWT VC profile (draft-ietf-oauth-sd-jwt-vc): media types and the
//! claims that must stay in the clear.

/// `typ` of SD-JWT VCs.
pub const TYP: &str = "dc+sd-jwt";
/// The earlier `typ`, still accepted by verifiers (SD-JWT VC §3.2.1).
pub const LEGACY_TYP: &str = "vc+sd-jwt";
/// Both accepted `typ` values.
pub const ACCEPTED_TYPS: &[&str] = &[TYP, LEGACY_TYP];

/// Claims that are never selectively disclosable: SD-JWT VC §3.2.2.2 lists
/// `iss`, `nbf`, `exp`, `cnf`, `vct`, `vct#integrity` and `status`; DESIGN.md
/// adds `iat`.
pub const NEVER_DISCLOSABLE: &[&str] = &[
    "iss",
    "nbf",
    "exp",
    "cnf",
    "vct",
    "vct#integrity",
    "status",
    "iat",
];
