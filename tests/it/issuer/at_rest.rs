//! What the store keeps, and for how long: no value at rest that a copy of
//! the store (a backup) could redeem, on redb and on PostgreSQL; verifier
//! results deleted — not just hidden — once their retention window is over,
//! also behind a flood of expired entries; notification records bounded
//! and tied to their credentials' lifetime; status list tokens signed once
//! per `ttl` with a status change shown at once.

use digital_id::clock::Clock;
use digital_id::config::StoreSpec;
use digital_id::crypto::jws::Jws;
use digital_id::crypto::{b64url, sha256};
use digital_id::issuer::ns;
use digital_id::sdjwt::{ClaimPath, HolderCredential, KeyBinding};
use digital_id::store::{SWEEP_BATCH, TxOp};
use digital_id::verifier::transaction::NS_TRANSACTION;
use serde_json::{Value, json};

use super::authcode;
use super::backoffice::status_entries;
use super::wallet::{self, key};
use crate::fixture::{InProc, agent};
use crate::pg::{self, block_on};

/// A schema of its own in the PostgreSQL at `DATABASE_URL` for one test
/// server (its table `digital_id_entries` lands there through the
/// connection's `search_path`); dropped with everything in it afterwards.
struct PgSchema {
    admin: String,
    name: String,
}

impl PgSchema {
    fn new() -> Self {
        let (admin, name) = (pg::admin_url(), pg::unique_name());
        let s = PgSchema { admin, name };
        s.execute(&format!("CREATE SCHEMA {}", s.name));
        s
    }

    /// The store URL for the server: `search_path` set to this schema.
    fn store_url(&self) -> String {
        let sep = if self.admin.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.admin, self.name
        )
    }

    fn execute(&self, sql: &str) {
        pg::simple_query(&self.admin, sql);
    }

    /// Every row of the store's table: `(ns, key, value)`.
    fn rows(&self) -> Vec<(String, String, Vec<u8>)> {
        let (url, sql) = (
            self.admin.clone(),
            format!(
                "SELECT ns, key, value FROM {}.digital_id_entries",
                self.name
            ),
        );
        pg::query(&url, &sql)
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }

    /// The table as one byte string (keys and values), for searching.
    fn dump(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (ns, key, value) in self.rows() {
            out.extend_from_slice(ns.as_bytes());
            out.extend_from_slice(key.as_bytes());
            out.extend_from_slice(&value);
        }
        out
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        self.execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}

fn on_postgres(schema: &PgSchema) -> InProc {
    let url = schema.store_url();
    InProc::start_with(move |s| s.store = StoreSpec::Postgres(url))
}

/// A server on redb also on the PostgreSQL leg of the suite.
fn on_redb() -> InProc {
    InProc::start_with(|s| s.store = StoreSpec::Redb)
}

/// The redb database file and its write-ahead log, as a backup would copy
/// them.
fn redb_dump(server: &InProc) -> Vec<u8> {
    let dir = &server.state.settings.data_dir;
    let mut out = std::fs::read(dir.join("store.redb")).unwrap();
    out.extend(std::fs::read(dir.join("store.redb-wal")).unwrap());
    out
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// The forms in which `secret` must not appear at rest: in the clear and
/// as its unkeyed SHA-256 (base64url and hex).
fn forms(secret: &str) -> [String; 3] {
    let digest = sha256(secret);
    [
        secret.to_owned(),
        b64url(digest),
        digest.iter().map(|b| format!("{b:02x}")).collect(),
    ]
}

fn assert_absent(dump: &[u8], what: &str, secret: &str) {
    for form in forms(secret) {
        assert!(
            !contains(dump, &form),
            "the store holds the {what} (as {form})"
        );
    }
}

/// Creates an offer with a `tx_code`, redeems it, pushes an authorization
/// request, and checks after each step that nothing redeemable is in
/// `dump()`.
fn no_redeemable_secret_at_rest(server: &InProc, dump: impl Fn() -> Vec<u8>) {
    let o = wallet::offer(server, "ivanov-ivan", &["ru.inn"], true);
    let code = wallet::pre_authorized_code(&o);
    let tx_code = o["tx_code"].as_str().unwrap().to_owned();
    let offer_id = o["offer_id"].as_str().unwrap().to_owned();
    // The wallet still gets the same code by reference.
    let fetched = wallet::get(
        server,
        o["credential_offer_uri"]
            .as_str()
            .unwrap()
            .strip_prefix(&server.base)
            .unwrap(),
    );
    assert_eq!(fetched.status, 200);
    assert_eq!(fetched.body, o["credential_offer"]);

    let d = dump();
    assert!(contains(&d, "ivanov-ivan"), "the dump shows the store");
    assert_absent(&d, "pre-authorized code", &code);
    assert_absent(&d, "offer id", &offer_id);
    assert_absent(&d, "tx_code's SHA-256", &tx_code);
    assert!(
        !contains(&d, &format!("\"{tx_code}\"")),
        "the store holds the tx_code"
    );

    let token = wallet::access_token(server, &o);
    let pushed = authcode::push(server, &[("scope", "ru.inn")]);
    assert_eq!(pushed.status, 201, "{:?}", pushed.body);
    let request_uri = pushed.body["request_uri"].as_str().unwrap();
    let par_id = request_uri.rsplit(':').next().unwrap();
    let d = dump();
    assert_absent(&d, "access token", &token);
    assert_absent(&d, "PAR request_uri", par_id);
    // The redeemed code stays unusable.
    let again = wallet::token_for(server, &o);
    assert_eq!((again.status, again.error()), (400, "invalid_grant"));
}

#[test]
fn no_redeemable_secret_at_rest_in_redb() {
    let server = on_redb();
    no_redeemable_secret_at_rest(&server, || redb_dump(&server));
}

#[test]
fn no_redeemable_secret_at_rest_in_postgres() {
    let schema = PgSchema::new();
    let server = on_postgres(&schema);
    no_redeemable_secret_at_rest(&server, || schema.dump());
}

/// A verified holder-QR scan of the `identity` preset: the stored
/// transaction holds personal data. Returns its id.
fn verified_scan(server: &InProc) -> String {
    let holder = key();
    let r = wallet::issue_one(server, "ivanov-ivan", "ru.passport", &holder);
    assert_eq!(r.status, 200, "{:?}", r.body);
    let cred = r.body["credentials"][0]["credential"].as_str().unwrap();
    let n = wallet::post_json(server, "/presentation-nonces", None, &Value::Null);
    assert_eq!(n.status, 200);
    let selection: Vec<ClaimPath> = [
        "family_name",
        "given_name",
        "patronymic",
        "birthdate",
        "document_number",
    ]
    .iter()
    .map(|c| ClaimPath::keys([*c]))
    .collect();
    let qr = HolderCredential::parse(cred)
        .unwrap()
        .present(
            &selection,
            Some(&KeyBinding {
                holder: &holder,
                aud: n.body["audience"].as_str().unwrap(),
                nonce: n.body["nonce"].as_str().unwrap(),
                iat: server.clock.now(),
            }),
        )
        .unwrap();
    let s = wallet::post_json(
        server,
        "/verifier/scan",
        Some(&server.bearer()),
        &json!({"qr": qr, "preset": "identity"}),
    );
    assert_eq!(s.status, 200);
    assert_eq!(s.body["status"], "verified", "{:?}", s.body);
    assert_eq!(s.body["claims"]["credential"]["family_name"], "Иванов");
    s.body["transaction_id"].as_str().unwrap().to_owned()
}

/// The stored transaction as at `at`: `Some` while it is in the store,
/// expired or not. (Never printed: it holds personal data.)
fn stored_transaction(server: &InProc, id: &str, at: i64) -> Option<Vec<u8>> {
    block_on(server.state.store.get(NS_TRANSACTION, id.to_owned(), at)).unwrap()
}

/// A verified result is readable during its retention window; after it,
/// one sweeper pass deletes it from the store even when more than ten
/// batches of entries expired before it (a flood of nonces, say).
fn results_are_deleted_after_retention(server: &InProc) -> String {
    let t0 = server.clock.now();
    let id = verified_scan(server);
    let status = wallet::get_authorized(server, &format!("/verifier/requests/{id}"));
    assert_eq!(status.body["status"], "verified");
    let retention = server.state.settings.verifier.retention;
    assert_eq!(retention, 600, "the default retention window");
    server.clock.advance(retention - 1);
    let store = &*server.state.store;
    block_on(digital_id::store::sweep_expired(store, server.clock.now())).unwrap();
    let live = wallet::get_authorized(server, &format!("/verifier/requests/{id}"));
    assert_eq!(live.body["status"], "verified", "kept for the window");

    // Then a flood expires before it.
    let flood: Vec<TxOp> = (0..SWEEP_BATCH * 10 + 500)
        .map(|i| TxOp::Put {
            ns: "flood",
            key: format!("n{i:06}"),
            value: Vec::new(),
            expires_at: Some(t0 + 30),
        })
        .collect();
    block_on(server.state.store.transact(flood)).unwrap();

    server.clock.advance(1);
    let gone = wallet::get_authorized(server, &format!("/verifier/requests/{id}"));
    assert_eq!((gone.status, gone.error()), (404, "not_found"));
    // Hidden at once; deleted by the next sweeper pass. (The server's own
    // sweeper runs every few seconds of real time with the moved clock, so
    // on a loaded machine it may get there before the pass below: both
    // are the same one-pass guarantee.)
    block_on(digital_id::store::sweep_expired(store, server.clock.now())).unwrap();
    assert!(
        stored_transaction(server, &id, t0).is_none(),
        "the result is gone from the store after one sweeper pass"
    );
    assert!(
        block_on(store.scan("flood", String::new(), t0, 10))
            .unwrap()
            .is_empty()
    );
    id
}

#[test]
fn verifier_results_are_deleted_after_retention_in_redb() {
    let server = on_redb();
    results_are_deleted_after_retention(&server);
}

#[test]
fn verifier_results_are_deleted_after_retention_in_postgres() {
    let schema = PgSchema::new();
    let server = on_postgres(&schema);
    let id = results_are_deleted_after_retention(&server);
    let rows = schema.rows();
    assert!(
        !rows
            .iter()
            .any(|(ns, key, _)| ns == NS_TRANSACTION && *key == id),
        "no row of the transaction in the table"
    );
    assert!(!rows.iter().any(|(ns, _, _)| ns == "flood"));
}

#[test]
fn notification_records_are_capped_and_expire_with_their_credentials() {
    let server = InProc::start();
    let o = wallet::offer(&server, "ivanov-ivan", &["ru.snils"], false);
    let token = wallet::access_token(&server, &o);
    let n = wallet::nonce(&server);
    let r = wallet::credential(
        &server,
        &token,
        &json!({"credential_configuration_id": "ru.snils",
                "proofs": {"jwt": [wallet::proof(&server, &key(), &n)]}}),
    );
    assert_eq!(r.status, 200, "{:?}", r.body);
    let notification_id = r.body["notification_id"].as_str().unwrap().to_owned();
    let cred = r.body["credentials"][0]["credential"].as_str().unwrap();
    let jwt = cred.split('~').next().unwrap();
    let exp = Jws::decode(jwt).unwrap().payload_json().unwrap()["exp"]
        .as_i64()
        .unwrap();
    let auth = format!("Bearer {token}");
    let events = [
        "credential_accepted",
        "credential_failure",
        "credential_deleted",
    ];
    for i in 0..40 {
        let ok = wallet::post_json(
            &server,
            "/notification",
            Some(&auth),
            &json!({"notification_id": notification_id, "event": events[i % 3]}),
        );
        assert_eq!(ok.status, 204);
    }
    let now = server.clock.now();
    let stored = block_on(server.state.store.scan(
        ns::NOTIFICATION,
        notification_id.clone(),
        now,
        2,
    ))
    .unwrap();
    assert_eq!(stored.len(), 1);
    let rec: Value = serde_json::from_slice(&stored[0].value).unwrap();
    let kept = rec["events"].as_array().unwrap();
    assert_eq!(kept.len(), 8, "only the last events are kept");
    // The 40th event (index 39) was `credential_accepted`.
    assert_eq!(kept.last().unwrap()[0], "credential_accepted");
    assert_eq!(
        stored[0].expires_at,
        Some(exp),
        "lives as long as the credential"
    );
}

/// The token at `path` and its `Cache-Control` `max-age`.
fn status_list(server: &InProc, path: &str) -> (String, i64) {
    let mut resp = agent().get(&server.url(path)).call().unwrap();
    assert_eq!(resp.status(), 200);
    let cc = resp.headers()["cache-control"].to_str().unwrap().to_owned();
    let age = cc.split("max-age=").nth(1).unwrap().parse().unwrap();
    (resp.body_mut().read_to_string().unwrap(), age)
}

fn entry(jwt: &str, idx: usize) -> u8 {
    (status_entries(jwt)[idx / 4] >> ((idx % 4) * 2)) & 3
}

fn iat(jwt: &str) -> i64 {
    Jws::decode(jwt).unwrap().payload_json().unwrap()["iat"]
        .as_i64()
        .unwrap()
}

#[test]
fn status_list_is_signed_once_per_ttl_and_a_revocation_shows_at_once() {
    let server = InProc::start();
    let r = wallet::issue_one(&server, "ivanov-ivan", "ru.inn", &key());
    let cred = r.body["credentials"][0]["credential"].as_str().unwrap();
    let v = wallet::verify(&server, cred);
    let uri = v.claims["status"]["status_list"]["uri"].as_str().unwrap();
    let idx = v.claims["status"]["status_list"]["idx"].as_u64().unwrap() as usize;
    let path = uri.strip_prefix(&server.base).unwrap().to_owned();
    let ttl = server.state.settings.issuer.status_list_ttl;
    let t0 = server.clock.now();

    let (first, age) = status_list(&server, &path);
    assert_eq!((iat(&first), age), (t0, ttl));
    let (second, _) = status_list(&server, &path);
    assert_eq!(second, first, "served again, not signed again");
    server.clock.advance(100);
    let (later, age) = status_list(&server, &path);
    assert_eq!(later, first, "the same token while its ttl runs");
    assert_eq!(age, ttl - 100, "cacheable only for what is left of its ttl");
    assert_eq!(entry(&later, idx), 0);

    let records = wallet::get_authorized(&server, "/issuer/subjects/ivanov-ivan/credentials");
    let id = records.body[0]["id"].as_str().unwrap();
    let revoked = wallet::post_json(
        &server,
        &format!("/issuer/credentials/{id}/revoke"),
        Some(&server.bearer()),
        &Value::Null,
    );
    assert_eq!(revoked.status, 200);
    let (after, age) = status_list(&server, &path);
    assert_eq!(entry(&after, idx), 1, "the revocation shows at once");
    assert_eq!((iat(&after), age), (t0 + 100, ttl));

    server.clock.advance(ttl);
    let (renewed, age) = status_list(&server, &path);
    assert_eq!(
        (iat(&renewed), age),
        (t0 + 100 + ttl, ttl),
        "signed again after its ttl"
    );
    assert_eq!(entry(&renewed, idx), 1);
}
