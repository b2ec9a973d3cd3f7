//! Integration tests: one binary, each test on its own server process at
//! `127.0.0.1:0`.

mod cli;
mod demo_page;
mod fixture;
mod interop;
mod issuer;
mod methods;
mod schemathesis;
mod server;
mod verifier;
