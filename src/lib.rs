pub mod crypto;
pub mod sdjwt;
