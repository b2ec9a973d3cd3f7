//! What the store keeps, and for how long: verifier results deleted — not
//! just hidden — once their retention window is over, also behind a flood
//! of expired entries, on redb and on PostgreSQL.

use digital_id::clock::Clock;
use digital_id::config::StoreSpec;
use digital_id::crypto::b64url;
use digital_id::sdjwt::{ClaimPath, HolderCredential, KeyBinding};
use digital_id::store::{SWEEP_BATCH, TxOp};
use digital_id::verifier::transaction::NS_TRANSACTION;
use serde_json::{Value, json};

use super::wallet::{self, key};
use crate::fixture::InProc;

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A schema of its own in the PostgreSQL at `DATABASE_URL` for one test
/// server (its table `digital_id_entries` lands there through the
/// connection's `search_path`); dropped with everything in it afterwards.
struct PgSchema {
    admin: String,
    name: String,
}

impl PgSchema {
    fn new() -> Self {
        let admin = std::env::var("DATABASE_URL").expect(
            "DATABASE_URL must point to a PostgreSQL database (scripts/test sets a default)",
        );
        let name = format!(
            "it_{}",
            b64url(digital_id::crypto::random_bytes::<6>())
                .replace('-', "_")
                .to_lowercase()
        );
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
        let (url, sql) = (self.admin.clone(), sql.to_owned());
        block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let conn = tokio::spawn(conn);
            client.batch_execute(&sql).await.unwrap();
            drop(client);
            let _ = conn.await;
        });
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
        block_on(async move {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let conn = tokio::spawn(conn);
            let rows = client.query(&sql, &[]).await.unwrap();
            drop(client);
            let _ = conn.await;
            rows.into_iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect()
        })
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
    assert!(
        stored_transaction(server, &id, t0).is_some(),
        "hidden at once, deleted by the sweeper"
    );
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
    let server = InProc::start();
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
