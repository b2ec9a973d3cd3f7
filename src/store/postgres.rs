//! The scale-out backend: one PostgreSQL table shared by any number of
//! stateless server processes. PostgreSQL commits concurrent transactions
//! together on its own (group commit in the WAL), so every write here is a
//! plain durable statement or transaction.
//!
//! Connections live on a dedicated runtime thread; requests from the HTTP
//! workers reach them through tokio-postgres' channels.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::Mutex;
use tokio_postgres::{Client, NoTls};

use super::{BoxFut, Entry, Store, StoreError, TxOp, Update, UpdateFn};

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A PostgreSQL error with the server's SQLSTATE and message.
fn pg(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) => {
            StoreError::Backend(format!("PostgreSQL {}: {}", db.code().code(), db.message()))
        }
        None => StoreError::Backend(e.to_string()),
    }
}

/// The statements, written once per table.
#[derive(Debug)]
struct Sql {
    /// `$1 ns, $2 key, $3 now, $4 value, $5 expires_at`: creates the entry
    /// unless a live one exists (0 rows then).
    insert_new: String,
    /// `$1 ns, $2 key, $3 value, $4 expires_at`: creates or replaces.
    upsert: String,
    /// `$1 ns, $2 key, $3 now`: removes a live entry, returning its value.
    take: String,
    /// `$1 ns, $2 key`.
    delete: String,
}

impl Sql {
    fn new(t: &str) -> Self {
        Sql {
            insert_new: format!(
                "INSERT INTO {t} (ns, key, value, expires_at) VALUES ($1, $2, $4, $5)
                 ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at
                 WHERE {t}.expires_at IS NOT NULL AND {t}.expires_at <= $3"
            ),
            upsert: format!(
                "INSERT INTO {t} (ns, key, value, expires_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (ns, key) DO UPDATE SET value = EXCLUDED.value, expires_at = EXCLUDED.expires_at"
            ),
            take: format!("DELETE FROM {t} WHERE ns = $1 AND key = $2 AND {LIVE} RETURNING value"),
            delete: format!("DELETE FROM {t} WHERE ns = $1 AND key = $2"),
        }
    }
}

/// A small pool of connections: plain statements use any of them, an
/// [`Store::update`] transaction locks one.
pub struct PostgresStore {
    clients: Vec<Arc<Mutex<Client>>>,
    next: AtomicUsize,
    sql: Arc<Sql>,
    table: String,
    _runtime: std::thread::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl Drop for PostgresStore {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl PostgresStore {
    /// Connects `connections` clients to `url` and creates `table` if needed.
    /// `table` must be a plain SQL identifier.
    pub fn connect(url: &str, table: &str, connections: usize) -> Result<Self, StoreError> {
        if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StoreError::Backend(
                "the table name must be a plain identifier".into(),
            ));
        }
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let url = url.to_owned();
        let n = connections.max(1);
        let runtime = std::thread::Builder::new()
            .name("postgres".into())
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(backend(e)));
                        return;
                    }
                };
                rt.block_on(async move {
                    let mut clients = Vec::with_capacity(n);
                    for _ in 0..n {
                        match tokio_postgres::connect(&url, NoTls).await {
                            Ok((client, connection)) => {
                                tokio::spawn(async move {
                                    if let Err(e) = connection.await {
                                        tracing::error!(error = %e, "PostgreSQL connection closed");
                                    }
                                });
                                clients.push(client);
                            }
                            Err(e) => {
                                let _ = ready_tx.send(Err(backend(e)));
                                return;
                            }
                        }
                    }
                    let _ = ready_tx.send(Ok(clients));
                    let _ = shutdown_rx.await;
                });
            })
            .map_err(backend)?;
        let clients = ready_rx.recv().map_err(|_| StoreError::Closed)??;
        let store = PostgresStore {
            clients: clients
                .into_iter()
                .map(|c| Arc::new(Mutex::new(c)))
                .collect(),
            next: AtomicUsize::new(0),
            sql: Arc::new(Sql::new(table)),
            table: table.to_owned(),
            _runtime: runtime,
            shutdown: Some(shutdown_tx),
        };
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {t} (ns TEXT NOT NULL, key TEXT NOT NULL, value BYTEA NOT NULL, \
             expires_at BIGINT, PRIMARY KEY (ns, key));
             CREATE INDEX IF NOT EXISTS {t}_expiry ON {t} (expires_at) WHERE expires_at IS NOT NULL;",
            t = store.table
        );
        let client = store.clients[0].clone();
        block_on(async move { client.lock().await.batch_execute(&ddl).await.map_err(pg) })??;
        Ok(store)
    }

    fn client(&self) -> Arc<Mutex<Client>> {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.clients.len();
        self.clients[i].clone()
    }
}

/// Runs a future to completion on a throw-away runtime (start-up only).
fn block_on<F: std::future::Future + Send + 'static>(f: F) -> Result<F::Output, StoreError>
where
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|rt| rt.block_on(f))
    })
    .join()
    .map_err(|_| StoreError::Closed)?
    .map_err(backend)
}

const LIVE: &str = "(expires_at IS NULL OR expires_at > $3)";

impl Store for PostgresStore {
    fn insert(
        &self,
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
        now: i64,
    ) -> BoxFut<'_, Result<(), StoreError>> {
        let sql = self.sql.clone();
        let client = self.client();
        Box::pin(async move {
            let c = client.lock().await;
            let n = c
                .execute(&sql.insert_new, &[&ns, &key, &now, &value, &expires_at])
                .await
                .map_err(pg)?;
            if n == 1 {
                Ok(())
            } else {
                Err(StoreError::Conflict)
            }
        })
    }

    fn put(
        &self,
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
    ) -> BoxFut<'_, Result<(), StoreError>> {
        let sql = self.sql.clone();
        let client = self.client();
        Box::pin(async move {
            let c = client.lock().await;
            c.execute(&sql.upsert, &[&ns, &key, &value, &expires_at])
                .await
                .map_err(pg)?;
            Ok(())
        })
    }

    fn get(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        let sql = format!(
            "SELECT value FROM {} WHERE ns = $1 AND key = $2 AND {LIVE}",
            self.table
        );
        let client = self.client();
        Box::pin(async move {
            let c = client.lock().await;
            let row = c.query_opt(&sql, &[&ns, &key, &now]).await.map_err(pg)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn take(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        // One DELETE … RETURNING: of racing takers exactly one gets the row.
        let sql = self.sql.clone();
        let client = self.client();
        Box::pin(async move {
            let c = client.lock().await;
            let row = c
                .query_opt(&sql.take, &[&ns, &key, &now])
                .await
                .map_err(pg)?;
            Ok(row.map(|r| r.get(0)))
        })
    }

    fn update(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
        f: UpdateFn,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        let t = self.table.clone();
        let sql = self.sql.clone();
        let client = self.client();
        Box::pin(async move {
            let mut c = client.lock().await;
            let tx = c.transaction().await.map_err(pg)?;
            // Serializes updates of one key, also while it does not exist yet.
            let lock_key = format!("{t}:{}:{ns}:{key}", ns.len());
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[&lock_key],
            )
            .await
            .map_err(pg)?;
            let row = tx
                .query_opt(
                    &format!(
                        "SELECT value FROM {t} WHERE ns = $1 AND key = $2 AND {LIVE} FOR UPDATE"
                    ),
                    &[&ns, &key, &now],
                )
                .await
                .map_err(backend)?;
            let current: Option<Vec<u8>> = row.map(|r| r.get(0));
            match f(current.as_deref()) {
                Update::Keep => {}
                Update::Put { value, expires_at } => {
                    tx.execute(&sql.upsert, &[&ns, &key, &value, &expires_at])
                        .await
                        .map_err(backend)?;
                }
                Update::Delete => {
                    tx.execute(&sql.delete, &[&ns, &key]).await.map_err(pg)?;
                }
            }
            tx.commit().await.map_err(pg)?;
            Ok(current)
        })
    }

    fn delete(&self, ns: &'static str, key: String) -> BoxFut<'_, Result<bool, StoreError>> {
        let sql = self.sql.clone();
        let client = self.client();
        Box::pin(async move {
            let c = client.lock().await;
            Ok(c.execute(&sql.delete, &[&ns, &key]).await.map_err(pg)? > 0)
        })
    }

    fn scan(
        &self,
        ns: &'static str,
        prefix: String,
        now: i64,
        limit: usize,
    ) -> BoxFut<'_, Result<Vec<Entry>, StoreError>> {
        let sql = format!(
            "SELECT key, value, expires_at FROM {} WHERE ns = $1 AND starts_with(key, $2) AND {LIVE}
             ORDER BY key COLLATE \"C\" LIMIT $4",
            self.table
        );
        let client = self.client();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Box::pin(async move {
            let c = client.lock().await;
            let rows = c
                .query(&sql, &[&ns, &prefix, &now, &limit])
                .await
                .map_err(pg)?;
            Ok(rows
                .into_iter()
                .map(|r| Entry {
                    key: r.get(0),
                    value: r.get(1),
                    expires_at: r.get(2),
                })
                .collect())
        })
    }

    fn transact(&self, ops: Vec<TxOp>) -> BoxFut<'_, Result<(), StoreError>> {
        let sql = self.sql.clone();
        let client = self.client();
        Box::pin(async move {
            let mut c = client.lock().await;
            let tx = c.transaction().await.map_err(pg)?;
            for op in ops {
                // Each step checks its own condition; returning drops `tx`,
                // which rolls everything back.
                match op {
                    TxOp::Take { ns, key, now } => {
                        let n = tx
                            .execute(&sql.take, &[&ns, &key, &now])
                            .await
                            .map_err(pg)?;
                        if n != 1 {
                            return Err(StoreError::Missing);
                        }
                    }
                    TxOp::Insert {
                        ns,
                        key,
                        value,
                        expires_at,
                        now,
                    } => {
                        let n = tx
                            .execute(&sql.insert_new, &[&ns, &key, &now, &value, &expires_at])
                            .await
                            .map_err(pg)?;
                        if n != 1 {
                            return Err(StoreError::Conflict);
                        }
                    }
                    TxOp::Put {
                        ns,
                        key,
                        value,
                        expires_at,
                    } => {
                        tx.execute(&sql.upsert, &[&ns, &key, &value, &expires_at])
                            .await
                            .map_err(pg)?;
                    }
                }
            }
            tx.commit().await.map_err(pg)
        })
    }

    /// One batch in one statement. `SKIP LOCKED`: rows another node's
    /// sweeper (or a writer) holds are left to it instead of waited for.
    fn sweep(&self, now: i64, limit: usize) -> BoxFut<'_, Result<usize, StoreError>> {
        let sql = format!(
            "DELETE FROM {t} WHERE (ns, key) IN (
                 SELECT ns, key FROM {t} WHERE expires_at IS NOT NULL AND expires_at <= $1
                 LIMIT $2 FOR UPDATE SKIP LOCKED)
             AND expires_at <= $1",
            t = self.table
        );
        let client = self.client();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        Box::pin(async move {
            let c = client.lock().await;
            let n = c.execute(&sql, &[&now, &limit]).await.map_err(pg)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs the store contract against the PostgreSQL at `DATABASE_URL`
    /// (`.ci/run` and `scripts/test` set it) in a table of its own.
    #[test]
    fn contract() {
        let url = std::env::var("DATABASE_URL").expect(
            "DATABASE_URL must point to a PostgreSQL database (scripts/test sets a default)",
        );
        let table = format!(
            "digital_id_test_{}",
            crate::crypto::b64url(crate::crypto::random_bytes::<6>())
                .replace('-', "_")
                .to_lowercase()
        );
        let store = Arc::new(PostgresStore::connect(&url, &table, 4).unwrap());
        super::super::contract::run_all(store.clone());
        let c = store.clients[0].clone();
        let drop_sql = format!("DROP TABLE {table}");
        block_on(async move { c.lock().await.batch_execute(&drop_sql).await })
            .unwrap()
            .unwrap();
    }
}
