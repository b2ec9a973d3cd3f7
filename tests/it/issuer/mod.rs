//! The OpenID4VCI issuer over HTTP, with a wallet written in the test.

mod at_rest;
pub mod authcode;
mod authz_conformance;
pub mod backoffice;
mod birth_certificate;
pub mod client_attestation;
mod client_id;
mod clients;
mod concurrency;
pub mod crash;
mod credential_errors;
pub mod dpop;
pub mod key_attestation;
mod metadata;
mod preauth;
mod token_errors;
pub mod wallet;
mod x5c;
