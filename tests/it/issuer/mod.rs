//! The OpenID4VCI issuer over HTTP, with a wallet written in the test.

mod preauth;
pub mod wallet;
