pub mod catalogue;
pub mod crypto;
pub mod registry;
pub mod sdjwt;
