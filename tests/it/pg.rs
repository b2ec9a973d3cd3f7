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
