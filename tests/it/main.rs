//! Integration tests: one binary, each test on its own server process at
//! `127.0.0.1:0`.

mod certs;
mod cli;
mod cors;
mod demo_page;
mod fixture;
mod interop;
mod issuer;
mod limits;
mod methods;
mod outbound;
mod pg;
mod pg_tls;
mod production;
mod relying_parties;
mod rp_identity;
mod same_device;
mod schemathesis;
mod server;
mod signin;
mod store_recovery;
mod torture;
mod two_nodes;
mod verifier;
mod verifier_anchors;
mod verifier_outsider;
