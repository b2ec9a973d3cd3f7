//! Server-rendered pages and their pure helpers (no external assets).

pub mod qr;
pub mod verifier_demo;
