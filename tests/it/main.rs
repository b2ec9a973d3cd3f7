//! Integration tests: one binary, each test on its own server process at
//! `127.0.0.1:0`.

mod certs;
mod cli;
mod cors;
mod demo_page;
// The example wallet, run through its command line by `wallet_example`; its
// `main` is the example's own entry point.
#[path = "../../examples/wallet.rs"]
#[allow(dead_code)]
mod example_wallet;
mod fixture;
mod interop;
mod issuer;
mod limits;
mod methods;
mod outbound;
mod party_flows;
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
mod wallet_example;
