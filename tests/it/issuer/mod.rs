//! The OpenID4VCI issuer over HTTP, with a wallet written in the test.

mod authcode;
mod preauth;
pub mod wallet;
