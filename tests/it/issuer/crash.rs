//! Crash safety of the real binary: issue, SIGKILL, restart on the same data
//! directory. Records and status allocations survive, revocation works, and
//! no status index is handed out twice.

use std::collections::HashSet;

use digital_id::crypto::jws::Jws;
use serde_json::{Value, json};

use super::wallet::{PRE_AUTH, key, proof_with};
use crate::fixture::{API_KEY, Server, agent};

fn json_of(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> (u16, Value) {
    let mut r = r.unwrap();
    let status = r.status().as_u16();
    (status, r.body_mut().read_json().unwrap_or(Value::Null))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Offer → token → nonce → credential with `n` keys; the status slots.
pub fn issue(server: &Server, n: usize) -> Vec<(String, u64)> {
    let a = agent();
    let bearer = format!("Bearer {API_KEY}");
    let (s, offer) = json_of(
        a.post(&server.url("/issuer/offers"))
            .header("Authorization", &bearer)
            .send_json(json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": ["ru.passport"]})),
    );
    assert_eq!(s, 201, "{offer:?}");
    let code = offer["credential_offer"]["grants"][PRE_AUTH]["pre-authorized_code"]
        .as_str()
        .unwrap();
    let tx = offer["tx_code"].as_str().unwrap();
    let (s, token) = json_of(a.post(&server.url("/token")).send_form([
        ("grant_type", PRE_AUTH),
        ("pre-authorized_code", code),
        ("tx_code", tx),
    ]));
    assert_eq!(s, 200, "{token:?}");
    let (_, nonce) = json_of(a.post(&server.url("/nonce")).send_empty());
    let proofs: Vec<String> = (0..n)
        .map(|_| {
            proof_with(
                &key(),
                json!({}),
                // The wallet takes the audience from the offer (with
                // `--bind 127.0.0.1:0` the public URL is not the bound one).
                json!({"aud": offer["credential_offer"]["credential_issuer"], "iat": now(), "nonce": nonce["c_nonce"]}),
            )
        })
        .collect();
    let (s, creds) = json_of(
        a.post(&server.url("/credential"))
            .header(
                "Authorization",
                &format!("Bearer {}", token["access_token"].as_str().unwrap()),
            )
            .send_json(
                json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": proofs}}),
            ),
    );
    assert_eq!(s, 200, "{creds:?}");
    creds["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let jwt = c["credential"].as_str().unwrap().split('~').next().unwrap();
            let payload = Jws::decode(jwt).unwrap().payload_json().unwrap();
            let sl = &payload["status"]["status_list"];
            (
                sl["uri"].as_str().unwrap().to_owned(),
                sl["idx"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn records(server: &Server) -> Vec<Value> {
    let (s, list) = json_of(
        agent()
            .get(&server.url("/issuer/subjects/ivanov-ivan/credentials"))
            .header("Authorization", &format!("Bearer {API_KEY}"))
            .call(),
    );
    assert_eq!(s, 200);
    list.as_array().unwrap().clone()
}

#[test]
fn records_and_status_allocations_survive_sigkill() {
    let data = tempfile::tempdir().unwrap();
    let first = Server::start_in(data.path());
    let mut slots: Vec<(String, u64)> = Vec::new();
    for _ in 0..3 {
        slots.extend(issue(&first, 3));
    }
    let before = records(&first);
    assert_eq!(before.len(), 9);
    first.sigkill();

    let second = Server::start_in(data.path());
    let after = records(&second);
    assert_eq!(after, before, "every record survives the crash");
    let recorded: HashSet<(u64, u64)> = after
        .iter()
        .map(|r| {
            (
                r["status_list"].as_u64().unwrap(),
                r["status_index"].as_u64().unwrap(),
            )
        })
        .collect();
    for (uri, idx) in &slots {
        let list: u64 = uri.rsplit('/').next().unwrap().parse().unwrap();
        assert!(recorded.contains(&(list, *idx)));
    }

    // Revocation works after the restart and shows in the status list.
    let victim = &after[0];
    let (s, revoked) = json_of(
        agent()
            .post(&second.url(&format!(
                "/issuer/credentials/{}/revoke",
                victim["id"].as_str().unwrap()
            )))
            .header("Authorization", &format!("Bearer {API_KEY}"))
            .send_empty(),
    );
    assert_eq!((s, revoked["status"].as_str()), (200, Some("invalid")));
    let list = super::backoffice::status_entries(
        &agent()
            .get(&second.url(&format!("/status-lists/{}", victim["status_list"])))
            .call()
            .unwrap()
            .body_mut()
            .read_to_string()
            .unwrap(),
    );
    let idx = victim["status_index"].as_u64().unwrap() as usize;
    assert_eq!((list[idx / 4] >> ((idx % 4) * 2)) & 3, 1);

    // New credentials never reuse an index handed out before the crash.
    let mut seen: HashSet<(String, u64)> = slots.into_iter().collect();
    for _ in 0..3 {
        for slot in issue(&second, 3) {
            assert!(seen.insert(slot.clone()), "{slot:?} handed out twice");
        }
    }
}
