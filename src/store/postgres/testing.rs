//! Unit tests' PostgreSQL: a schema of its own in the database at
//! `DATABASE_URL` (`scripts/test` sets it), dropped afterwards.

use tokio_postgres::{Client, NoTls, Row};

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A fresh schema; [`TestSchema::url`] makes it the connection's
/// `search_path`, so the store's tables land there.
pub struct TestSchema {
    admin: String,
    pub name: String,
}

impl TestSchema {
    pub fn new() -> Self {
        let admin = std::env::var("DATABASE_URL").expect(
            "DATABASE_URL must point to a PostgreSQL database (scripts/test sets a default)",
        );
        let name = format!(
            "unit_{}",
            crate::crypto::b64url(crate::crypto::random_bytes::<6>())
                .replace('-', "_")
                .to_lowercase()
        );
        let s = TestSchema { admin, name };
        s.execute(&format!("CREATE SCHEMA {}", s.name));
        s
    }

    /// The store URL: `DATABASE_URL` with this schema as `search_path`.
    pub fn url(&self) -> String {
        let sep = if self.admin.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.admin, self.name
        )
    }

    /// A connection working in this schema, driven on the current runtime.
    pub async fn client(&self) -> Client {
        let (client, conn) = tokio_postgres::connect(&self.url(), NoTls).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        client
    }

    /// `sql` (simple protocol) on an administrative connection.
    pub fn execute(&self, sql: &str) {
        let admin = self.admin.clone();
        block_on(async move {
            let (client, conn) = tokio_postgres::connect(&admin, NoTls).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client.batch_execute(sql).await.unwrap();
        });
    }

    /// The rows of `sql` on an administrative connection.
    pub fn query(&self, sql: &str) -> Vec<Row> {
        let admin = self.admin.clone();
        block_on(async move {
            let (client, conn) = tokio_postgres::connect(&admin, NoTls).await.unwrap();
            tokio::spawn(async move {
                let _ = conn.await;
            });
            client.query(sql, &[]).await.unwrap()
        })
    }
}

impl Drop for TestSchema {
    fn drop(&mut self) {
        self.execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
    }
}
