//! The PostgreSQL at `DATABASE_URL`, for tests that give a server a schema
//! or a database of its own.

use tokio_postgres::{Client, NoTls, Row, SimpleQueryMessage};

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// `DATABASE_URL`: the connection the tests administer from.
pub fn admin_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL must point to a PostgreSQL database (scripts/test sets a default)")
}

/// A fresh lower-case identifier `it_…` for a schema or database.
pub fn unique_name() -> String {
    format!(
        "it_{}",
        digital_id::crypto::b64url(digital_id::crypto::random_bytes::<6>())
            .replace('-', "_")
            .to_lowercase()
    )
}

async fn connect(url: &str) -> (Client, tokio::task::JoinHandle<()>) {
    let (client, conn) = tokio_postgres::connect(url, NoTls).await.unwrap();
    let conn = tokio::spawn(async move {
        let _ = conn.await;
    });
    (client, conn)
}

/// `sql` (one or more statements, simple protocol) on a connection of its own.
pub fn simple_query(url: &str, sql: &str) -> Vec<SimpleQueryMessage> {
    block_on(async {
        let (client, conn) = connect(url).await;
        let out = client.simple_query(sql).await.unwrap();
        drop(client);
        let _ = conn.await;
        out
    })
}

/// The rows of `sql` (extended protocol, so typed columns) on a connection
/// of its own.
pub fn query(url: &str, sql: &str) -> Vec<Row> {
    block_on(async {
        let (client, conn) = connect(url).await;
        let rows = client.query(sql, &[]).await.unwrap();
        drop(client);
        let _ = conn.await;
        rows
    })
}

/// A schema of its own in the PostgreSQL at `DATABASE_URL` for one test
/// server: its store URL sets the connection's `search_path`, so the
/// server's tables (its migrations) land there. Dropped with everything in
/// it afterwards.
pub struct Schema {
    admin: String,
    pub name: String,
}

impl Schema {
    pub fn new() -> Self {
        let (admin, name) = (admin_url(), unique_name());
        simple_query(&admin, &format!("CREATE SCHEMA {name}"));
        Schema { admin, name }
    }

    /// The store URL for a server: `search_path` set to this schema.
    pub fn store_url(&self) -> String {
        let sep = if self.admin.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.admin, self.name
        )
    }

    /// The rows of `sql` (with `{schema}` replaced by the schema's name).
    pub fn query(&self, sql: &str) -> Vec<Row> {
        query(&self.admin, &sql.replace("{schema}", &self.name))
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // No panic here: a drop during a failed test's unwinding would abort.
        let (admin, sql) = (
            self.admin.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
        let _ = std::thread::spawn(move || {
            block_on(async {
                if let Ok((client, conn)) = tokio_postgres::connect(&admin, NoTls).await {
                    let conn = tokio::spawn(conn);
                    let _ = client.batch_execute(&sql).await;
                    drop(client);
                    let _ = conn.await;
                }
            })
        })
        .join();
    }
}
