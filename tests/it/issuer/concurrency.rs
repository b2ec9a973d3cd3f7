//! Single use under contention: exactly one winner.

use std::sync::Arc;

use serde_json::json;

use super::wallet::{self, credential, key, nonce, proof};
use crate::fixture::InProc;

const RACERS: usize = 16;

#[test]
fn sixteen_redemptions_of_one_pre_authorized_code_give_one_token() {
    let server = Arc::new(InProc::start());
    let o = Arc::new(wallet::offer(
        &server,
        "ivanov-ivan",
        &["ru.passport"],
        true,
    ));
    let barrier = Arc::new(std::sync::Barrier::new(RACERS));
    let handles: Vec<_> = (0..RACERS)
        .map(|_| {
            let (server, o, barrier) = (server.clone(), o.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                wallet::token_for(&server, &o)
            })
        })
        .collect();
    let replies: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 1);
    assert!(
        replies
            .iter()
            .filter(|r| r.status != 200)
            .all(|r| r.error() == "invalid_grant")
    );
}

#[test]
fn sixteen_credential_requests_with_one_c_nonce_give_one_credential() {
    let server = Arc::new(InProc::start());
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], true);
    let token = Arc::new(wallet::access_token(&server, &o));
    let n = nonce(&server);
    let bodies: Vec<_> = (0..RACERS)
        .map(|_| {
            json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": [proof(&server, &key(), &n)]}})
        })
        .collect();
    let barrier = Arc::new(std::sync::Barrier::new(RACERS));
    let handles: Vec<_> = bodies
        .into_iter()
        .map(|body| {
            let (server, token, barrier) = (server.clone(), token.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                credential(&server, &token, &body)
            })
        })
        .collect();
    let replies: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(replies.iter().filter(|r| r.status == 200).count(), 1);
    assert!(
        replies
            .iter()
            .filter(|r| r.status != 200)
            .all(|r| r.error() == "invalid_nonce")
    );
}
