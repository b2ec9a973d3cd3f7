//! digital-id: issues identity documents as SD-JWT VCs (OpenID4VCI 1.0) and
//! verifies presentations (OpenID4VP 1.0).
//!
//! Pure protocol code lives in [`crypto`], [`sdjwt`] and [`catalogue`];
//! [`registry`], [`keystore`] and [`http`] are the I/O edges; [`cli`] is the
//! command line.

/// mimalloc instead of glibc's allocator: issuance allocates and frees many
/// short-lived JSON values and B-tree pages from several threads, and
/// glibc's consolidation showed up as 31 % of the CPU profile (5.6k → 8.2k
/// credentials/s in `benches/issuance.rs`).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod app;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod http;
pub mod issuer;
pub mod keystore;
pub mod parties;
pub mod registry;
pub mod sdjwt;
pub mod signin;
pub mod status;
pub mod store;
pub mod trust;
pub mod verifier;
pub mod web;
