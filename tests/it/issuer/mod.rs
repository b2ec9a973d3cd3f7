//! The OpenID4VCI issuer over HTTP, with a wallet written in the test.

mod authcode;
mod concurrency;
mod credential_errors;
mod preauth;
mod token_errors;
pub mod wallet;
