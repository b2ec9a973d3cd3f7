//! The scale-out backend: one PostgreSQL table shared by any number of
//! stateless server processes. PostgreSQL commits concurrent transactions
//! together on its own (group commit in the WAL), so every write here is a
//! plain durable statement or transaction.
//!
//! Connections come from a `deadpool-postgres` pool that lives on a
//! dedicated runtime thread (so they outlive any HTTP worker); every store
//! call runs there. A pooled connection is verified before it is handed
//! out, and one the database dropped (restart, failover,
//! `pg_terminate_backend`) is replaced by a new one. Losing the database
//! mid-call is [`StoreError::Unavailable`]: idempotent reads are retried
//! once on a fresh connection; takes, inserts and transactions are not
//! retried (the first attempt may have committed), so the caller sees the
//! typed error and the client a 503 with `Retry-After`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use tokio_postgres::NoTls;

use super::{BoxFut, Entry, Store, StoreError, TxOp, Update, UpdateFn};

/// How long a new connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a call waits for a free (or new, or re-verified) connection.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);
/// The server-side `statement_timeout` of every pooled connection.
const STATEMENT_TIMEOUT_MS: u32 = 10_000;
/// `application_name` of the pool's connections unless the URL sets one.
const APPLICATION_NAME: &str = "digital-id";

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// A PostgreSQL error: a lost or refused connection (no server answer, or
/// SQLSTATE class 08 connection exception, 53 insufficient resources, 57
/// operator intervention such as `admin_shutdown`) is
/// [`StoreError::Unavailable`]; any other error of the server is a
/// [`StoreError::Backend`] with its SQLSTATE and message.
fn pg(e: tokio_postgres::Error) -> StoreError {
    match e.as_db_error() {
        Some(db) if matches!(&db.code().code()[..2], "08" | "53" | "57") => StoreError::Unavailable,
        Some(db) => {
            StoreError::Backend(format!("PostgreSQL {}: {}", db.code().code(), db.message()))
        }
        None => StoreError::Unavailable,
    }
}

/// No connection could be had from the pool.
fn pool(e: PoolError) -> StoreError {
    match e {
        PoolError::Closed => StoreError::Closed,
        PoolError::Timeout(_)
        | PoolError::Backend(_)
        | PoolError::NoRuntimeSpecified
        | PoolError::PostCreateHook(_) => StoreError::Unavailable,
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
    /// `$1 ns, $2 key, $3 now`: a live entry's value.
    get: String,
    /// `$1 ns, $2 key, $3 now`: the same, row-locked for an update.
    get_for_update: String,
    /// `$1 ns, $2 key, $3 now`: removes a live entry, returning its value.
    take: String,
    /// `$1 ns, $2 key`.
    delete: String,
    /// `$1 ns, $2 prefix, $3 now, $4 limit`.
    scan: String,
    /// `$1 now, $2 limit`.
    sweep: String,
}

const LIVE: &str = "(expires_at IS NULL OR expires_at > $3)";

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
            get: format!("SELECT value FROM {t} WHERE ns = $1 AND key = $2 AND {LIVE}"),
            get_for_update: format!(
                "SELECT value FROM {t} WHERE ns = $1 AND key = $2 AND {LIVE} FOR UPDATE"
            ),
            take: format!("DELETE FROM {t} WHERE ns = $1 AND key = $2 AND {LIVE} RETURNING value"),
            delete: format!("DELETE FROM {t} WHERE ns = $1 AND key = $2"),
            scan: format!(
                "SELECT key, value, expires_at FROM {t} WHERE ns = $1 AND starts_with(key, $2) AND {LIVE}
                 ORDER BY key COLLATE \"C\" LIMIT $4"
            ),
            // `SKIP LOCKED`: rows another node's sweeper (or a writer) holds
            // are left to it instead of waited for.
            sweep: format!(
                "DELETE FROM {t} WHERE (ns, key) IN (
                     SELECT ns, key FROM {t} WHERE expires_at IS NOT NULL AND expires_at <= $1
                     LIMIT $2 FOR UPDATE SKIP LOCKED)
                 AND expires_at <= $1"
            ),
        }
    }
}

/// What every call needs, shared with the tasks on the store's runtime.
struct Shared {
    pool: Pool,
    sql: Sql,
    table: String,
}

impl Shared {
    async fn conn(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(pool)
    }

    async fn get(&self, ns: &str, key: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let c = self.conn().await?;
        let st = c.prepare_cached(&self.sql.get).await.map_err(pg)?;
        let row = c.query_opt(&st, &[&ns, &key, &now]).await.map_err(pg)?;
        Ok(row.map(|r| r.get(0)))
    }

    async fn scan(
        &self,
        ns: &str,
        prefix: &str,
        now: i64,
        limit: i64,
    ) -> Result<Vec<Entry>, StoreError> {
        let c = self.conn().await?;
        let st = c.prepare_cached(&self.sql.scan).await.map_err(pg)?;
        let rows = c
            .query(&st, &[&ns, &prefix, &now, &limit])
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
    }
}

/// Runs an idempotent read, and once more on a fresh connection when the
/// first attempt lost the database: the pool has discarded the dead
/// connection by then, so a restart or failover costs no error.
async fn read_twice<T, F, Fut>(read: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    match read().await {
        Err(StoreError::Unavailable) => read().await,
        other => other,
    }
}

/// A pool of PostgreSQL connections behind the [`Store`] trait.
pub struct PostgresStore {
    shared: Arc<Shared>,
    runtime: tokio::runtime::Handle,
    _thread: std::thread::JoinHandle<()>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("table", &self.shared.table)
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
    /// A pool of at most `connections` connections to `url`; creates
    /// `table` if needed. `table` must be a plain SQL identifier. The URL's
    /// `application_name` and `options` are kept; the pool adds its
    /// `statement_timeout` and names its connections `digital-id` unless the
    /// URL names them.
    pub fn connect(url: &str, table: &str, connections: usize) -> Result<Self, StoreError> {
        if table.is_empty() || !table.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(StoreError::Backend(
                "the table name must be a plain identifier".into(),
            ));
        }
        // The parser's message may quote the URL (and its password).
        let mut config: tokio_postgres::Config = url
            .parse()
            .map_err(|_| StoreError::Backend("the PostgreSQL URL is invalid".into()))?;
        config.connect_timeout(CONNECT_TIMEOUT);
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        let options = format!(
            "{} -c statement_timeout={STATEMENT_TIMEOUT_MS}",
            config.get_options().unwrap_or_default()
        );
        config.options(options.trim_start());
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Verified,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(backend)?;

        let store = Self::start(pool, table)?;
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {t} (ns TEXT NOT NULL, key TEXT NOT NULL, value BYTEA NOT NULL, \
             expires_at BIGINT, PRIMARY KEY (ns, key));
             CREATE INDEX IF NOT EXISTS {t}_expiry ON {t} (expires_at) WHERE expires_at IS NOT NULL;",
            t = table
        );
        store
            .wait(move |s| async move { s.conn().await?.batch_execute(&ddl).await.map_err(pg) })?;
        Ok(store)
    }

    /// Starts the store's runtime thread around `pool`.
    fn start(pool: Pool, table: &str) -> Result<Self, StoreError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("postgres".into())
            .spawn(move || {
                match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => {
                        let _ = ready_tx.send(Ok(rt.handle().clone()));
                        rt.block_on(async move {
                            let _ = shutdown_rx.await;
                        });
                    }
                    Err(e) => {
                        let _ = ready_tx.send(Err(backend(e)));
                    }
                }
            })
            .map_err(backend)?;
        let runtime = ready_rx.recv().map_err(|_| StoreError::Closed)??;
        let store = PostgresStore {
            shared: Arc::new(Shared {
                pool,
                sql: Sql::new(table),
                table: table.to_owned(),
            }),
            runtime,
            _thread: thread,
            shutdown: Some(shutdown_tx),
        };
        Ok(store)
    }

    /// Runs `f` on the store's runtime, where the pool's connections live.
    fn run<T, F, Fut>(&self, f: F) -> BoxFut<'_, Result<T, StoreError>>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Shared>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let task = self.runtime.spawn(f(self.shared.clone()));
        Box::pin(async move { task.await.map_err(|_| StoreError::Closed)? })
    }

    /// [`Self::run`] from outside any runtime (start-up, tests).
    fn wait<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<Shared>) -> Fut,
        Fut: Future<Output = Result<T, StoreError>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::channel();
        let fut = f(self.shared.clone());
        self.runtime.spawn(async move {
            let _ = tx.send(fut.await);
        });
        rx.recv().map_err(|_| StoreError::Closed)?
    }
}

impl Store for PostgresStore {
    fn insert(
        &self,
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
        now: i64,
    ) -> BoxFut<'_, Result<(), StoreError>> {
        self.run(move |s| async move {
            let c = s.conn().await?;
            let st = c.prepare_cached(&s.sql.insert_new).await.map_err(pg)?;
            let n = c
                .execute(&st, &[&ns, &key, &now, &value, &expires_at])
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
        self.run(move |s| async move {
            let c = s.conn().await?;
            let st = c.prepare_cached(&s.sql.upsert).await.map_err(pg)?;
            c.execute(&st, &[&ns, &key, &value, &expires_at])
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
        self.run(move |s| async move { read_twice(|| s.get(ns, &key, now)).await })
    }

    fn take(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        // One DELETE … RETURNING: of racing takers exactly one gets the row.
        // Not retried: a lost answer may hide a committed take.
        self.run(move |s| async move {
            let c = s.conn().await?;
            let st = c.prepare_cached(&s.sql.take).await.map_err(pg)?;
            let row = c.query_opt(&st, &[&ns, &key, &now]).await.map_err(pg)?;
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
        self.run(move |s| async move {
            let mut c = s.conn().await?;
            let tx = c.transaction().await.map_err(pg)?;
            // Serializes updates of one key, also while it does not exist yet.
            let lock_key = format!("{}:{}:{ns}:{key}", s.table, ns.len());
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))",
                &[&lock_key],
            )
            .await
            .map_err(pg)?;
            let row = tx
                .query_opt(&s.sql.get_for_update, &[&ns, &key, &now])
                .await
                .map_err(pg)?;
            let current: Option<Vec<u8>> = row.map(|r| r.get(0));
            match f(current.as_deref()) {
                Update::Keep => {}
                Update::Put { value, expires_at } => {
                    tx.execute(&s.sql.upsert, &[&ns, &key, &value, &expires_at])
                        .await
                        .map_err(pg)?;
                }
                Update::Delete => {
                    tx.execute(&s.sql.delete, &[&ns, &key]).await.map_err(pg)?;
                }
            }
            tx.commit().await.map_err(pg)?;
            Ok(current)
        })
    }

    fn delete(&self, ns: &'static str, key: String) -> BoxFut<'_, Result<bool, StoreError>> {
        self.run(move |s| async move {
            let c = s.conn().await?;
            let st = c.prepare_cached(&s.sql.delete).await.map_err(pg)?;
            Ok(c.execute(&st, &[&ns, &key]).await.map_err(pg)? > 0)
        })
    }

    fn scan(
        &self,
        ns: &'static str,
        prefix: String,
        now: i64,
        limit: usize,
    ) -> BoxFut<'_, Result<Vec<Entry>, StoreError>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |s| async move { read_twice(|| s.scan(ns, &prefix, now, limit)).await })
    }

    fn transact(&self, ops: Vec<TxOp>) -> BoxFut<'_, Result<(), StoreError>> {
        self.run(move |s| async move {
            let mut c = s.conn().await?;
            let tx = c.transaction().await.map_err(pg)?;
            for op in ops {
                // Each step checks its own condition; returning drops `tx`,
                // which rolls everything back.
                match op {
                    TxOp::Take { ns, key, now } => {
                        let n = tx
                            .execute(&s.sql.take, &[&ns, &key, &now])
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
                            .execute(&s.sql.insert_new, &[&ns, &key, &now, &value, &expires_at])
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
                        tx.execute(&s.sql.upsert, &[&ns, &key, &value, &expires_at])
                            .await
                            .map_err(pg)?;
                    }
                }
            }
            tx.commit().await.map_err(pg)
        })
    }

    /// One batch in one statement.
    fn sweep(&self, now: i64, limit: usize) -> BoxFut<'_, Result<usize, StoreError>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |s| async move {
            let c = s.conn().await?;
            let n = c.execute(&s.sql.sweep, &[&now, &limit]).await.map_err(pg)?;
            Ok(usize::try_from(n).unwrap_or(usize::MAX))
        })
    }

    /// `SELECT 1` on a pooled (verified or new) connection.
    fn ping(&self) -> BoxFut<'_, Result<(), StoreError>> {
        self.run(move |s| async move {
            s.conn().await?.simple_query("SELECT 1").await.map_err(pg)?;
            Ok(())
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
        let drop_sql = format!("DROP TABLE {table}");
        store
            .wait(
                move |s| async move { s.conn().await?.batch_execute(&drop_sql).await.map_err(pg) },
            )
            .unwrap();
    }

    /// With no database to reach (a port where nothing listens), a take is
    /// the typed `Unavailable` (a 503 with `Retry-After`), not a panic, and
    /// readiness says so too.
    #[test]
    fn take_without_database_is_unavailable() {
        let store = PostgresStore::start(
            Pool::builder(Manager::from_config(
                "postgres://postgres@127.0.0.1:9/none".parse().unwrap(),
                NoTls,
                ManagerConfig::default(),
            ))
            .max_size(1)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(CONNECT_TIMEOUT))
            .wait_timeout(Some(POOL_TIMEOUT))
            .build()
            .unwrap(),
            "t",
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        assert!(matches!(
            rt.block_on(store.take("ns", "k".into(), 0)),
            Err(StoreError::Unavailable)
        ));
        assert!(matches!(
            rt.block_on(store.ping()),
            Err(StoreError::Unavailable)
        ));
    }
}
