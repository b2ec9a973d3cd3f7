//! The documents: claims, selective-disclosure policy, derived claims and
//! validation of registry records (DESIGN.md "Documents").

pub mod validate;
