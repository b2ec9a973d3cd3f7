//! A node on PostgreSQL survives losing its database connections (what a
//! restart, a failover or a network blip does): the pool replaces them,
//! `/health/ready` says 503 while the database refuses connections and 200
//! once it is back, and store-backed requests answer 503 with `Retry-After`
//! in between instead of a 500, then succeed again.

use std::time::{Duration, Instant};

use digital_id::config::StoreSpec;
use serde_json::Value;

use crate::fixture::{InProc, agent};
use crate::issuer::wallet::{self, Reply};
use crate::pg;

/// A database of its own in the PostgreSQL at `DATABASE_URL`, so the test
/// can refuse connections to it (`ALLOW_CONNECTIONS false`) without
/// touching any other session; the server's connections carry the
/// database's name as `application_name`, and only those are terminated.
struct PgDatabase {
    admin: String,
    name: String,
}

impl PgDatabase {
    fn new() -> Self {
        let (admin, name) = (pg::admin_url(), pg::unique_name());
        let db = PgDatabase { admin, name };
        db.execute(&format!("CREATE DATABASE {}", db.name));
        db
    }

    /// The server's store URL: this database, its name as `application_name`.
    fn store_url(&self) -> String {
        let (base, query) = match self.admin.split_once('?') {
            Some((b, q)) => (b, format!("&{q}")),
            None => (self.admin.as_str(), String::new()),
        };
        let server = base.rsplit_once('/').map_or(base, |(s, _)| s);
        format!("{server}/{n}?application_name={n}{query}", n = self.name)
    }

    /// Runs `sql`; the first column of its first row as a number (0 if none).
    fn execute(&self, sql: &str) -> u64 {
        pg::simple_query(&self.admin, sql)
            .iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse().ok(),
                _ => None,
            })
            .next()
            .unwrap_or(0)
    }

    /// Terminates the server's connections (only those: its database and
    /// its `application_name`); returns how many.
    fn terminate(&self) -> u64 {
        self.execute(&format!(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = '{n}' AND application_name = '{n}' AND pid <> pg_backend_pid()",
            n = self.name
        ))
    }

    fn allow_connections(&self, allow: bool) {
        self.execute(&format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}",
            self.name
        ));
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        self.allow_connections(true);
        self.execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ));
    }
}

fn ready(server: &InProc) -> (u16, Value, Option<String>) {
    let mut r = agent().get(&server.url("/health/ready")).call().unwrap();
    let retry = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = r.body_mut().read_json().unwrap();
    (r.status().as_u16(), body, retry)
}

/// A store-backed request: `POST /issuer/offers` (an insert).
fn new_offer(server: &InProc) -> Reply {
    wallet::post_json(
        server,
        "/issuer/offers",
        Some(&server.bearer()),
        &serde_json::json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": ["ru.passport"]}),
    )
}

/// Polls until `ok` holds, at most 3 s (a bound on recovery, not a
/// performance figure); returns how many polls failed.
fn within_3s(mut ok: impl FnMut() -> bool) -> usize {
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut failures = 0;
    while !ok() {
        failures += 1;
        assert!(Instant::now() < deadline, "not recovered within 3 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    failures
}

#[test]
fn lost_database_connections_are_replaced() {
    let db = PgDatabase::new();
    let url = db.store_url();
    let server = InProc::start_with(move |s| s.store = StoreSpec::Postgres(url));
    assert_eq!(ready(&server).0, 200);
    let offer = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    assert_eq!(wallet::token_for(&server, &offer).status, 200);

    // The connections die while the database stays up: the next requests
    // run on new connections (at most one is cut off mid-call).
    assert!(
        db.terminate() >= 1,
        "the server's connections were not found"
    );
    let failed = within_3s(|| {
        let r = new_offer(&server);
        assert!(matches!(r.status, 201 | 503), "{} {:?}", r.status, r.body);
        r.status == 201
    });
    assert!(
        failed <= 1,
        "{failed} requests failed after the connections were replaced"
    );
    let offer = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    assert_eq!(wallet::token_for(&server, &offer).status, 200);

    // The database refuses connections: not ready, and a store-backed
    // request is a 503 with `Retry-After`, never a 500; the code a refused
    // token request tried to redeem is still there afterwards.
    let pending = wallet::offer(&server, "ivanov-ivan", &["ru.passport"], false);
    db.allow_connections(false);
    db.terminate();
    let (status, body, retry) = ready(&server);
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(retry.as_deref(), Some("1"));
    let r = new_offer(&server);
    assert_eq!(r.status, 503, "{:?}", r.body);
    assert_eq!(r.error(), "temporarily_unavailable");
    assert!(r.headers.contains_key("retry-after"));
    let r = wallet::token_for(&server, &pending);
    assert_eq!((r.status, r.error()), (503, "temporarily_unavailable"));

    // Back: ready again, and the flows work within 3 s.
    db.allow_connections(true);
    within_3s(|| ready(&server).0 == 200);
    within_3s(|| new_offer(&server).status == 201);
    let r = wallet::token_for(&server, &pending);
    assert_eq!(r.status, 200, "{:?}", r.body);
}
