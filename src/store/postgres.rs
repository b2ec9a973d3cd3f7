//! The scale-out backend: one PostgreSQL table shared by any number of
//! stateless server processes. PostgreSQL commits concurrent transactions
//! together on its own (group commit in the WAL), so every write here is a
//! plain durable statement or transaction.
//!
//! Connections come from a `deadpool-postgres` pool that lives on a
//! dedicated runtime thread (so they outlive any HTTP worker); every store
//! call runs there. A connection the database dropped (restart, failover,
//! `pg_terminate_backend`) is marked closed by its connection task and
//! replaced by a new one at checkout. Losing the database
//! mid-call is [`StoreError::Unavailable`]: idempotent reads are retried
//! once on a fresh connection; takes, inserts and transactions are not
//! retried (the first attempt may have committed), so the caller sees the
//! typed error and the client a 503 with `Retry-After`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod};
use futures_util::{FutureExt, TryFutureExt};
use tokio_postgres::{NoTls, Statement};

use super::{BoxFut, Entry, Store, StoreError, TxOp, Update, UpdateAndFn};

pub mod migrate;
mod setup;
#[cfg(test)]
pub(crate) mod testing;
pub mod tls;

pub use setup::ConnectError;

/// The store's table (created by migration 0001). Deployments and tests
/// that share a database keep apart by schema (`search_path`).
const TABLE: &str = "digital_id_entries";

/// How long a new connection may take to open.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long a call waits for a free (or new) connection.
const POOL_TIMEOUT: Duration = Duration::from_secs(3);
/// The server-side `statement_timeout` of every pooled connection.
const STATEMENT_TIMEOUT_MS: u32 = 10_000;
/// The longest a store call may take from start to end: a checkout, the
/// statements and a COMMIT, each bounded on its own as well.
const CALL_TIMEOUT: Duration =
    Duration::from_millis(POOL_TIMEOUT.as_millis() as u64 + STATEMENT_TIMEOUT_MS as u64 + 2_000);
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
    pg_ref(&e)
}

/// [`pg`] of an error the caller keeps.
fn pg_ref(e: &tokio_postgres::Error) -> StoreError {
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

/// Takes the transaction-scoped lock of one key: `$1` the key's name.
const LOCK: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

/// Polls every future to its end, always in the list's order. tokio-postgres
/// sends a request when its future is first polled and pipelines requests
/// polled together, so the statements go out in this order in one round
/// trip and are executed in it.
async fn in_order<'a, T>(mut futs: Vec<BoxFut<'a, T>>) -> Vec<T> {
    let mut done: Vec<Option<T>> = futs.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (fut, out) in futs.iter_mut().zip(done.iter_mut()) {
            if out.is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *out = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    done.into_iter().flatten().collect()
}

/// The statements a transaction uses, prepared on (and cached by) its
/// connection.
struct Prepared {
    lock: Statement,
    get_for_update: Statement,
    take: Statement,
    insert: Statement,
    upsert: Statement,
    delete: Statement,
}

impl Prepared {
    async fn new(c: &Object, sql: &Sql) -> Result<Self, StoreError> {
        let prep = |q: &str| {
            let q = q.to_owned();
            async move { c.prepare_cached(&q).await.map_err(pg) }
        };
        Ok(Prepared {
            lock: prep(LOCK).await?,
            get_for_update: prep(&sql.get_for_update).await?,
            take: prep(&sql.take).await?,
            insert: prep(&sql.insert_new).await?,
            upsert: prep(&sql.upsert).await?,
            delete: prep(&sql.delete).await?,
        })
    }

    /// One transaction step; answers its row count.
    fn step<'a>(
        &'a self,
        c: &'a Object,
        op: &'a TxOp,
    ) -> BoxFut<'a, Result<u64, tokio_postgres::Error>> {
        async move {
            match op {
                TxOp::Take { ns, key, now } => c.execute(&self.take, &[ns, key, now]).await,
                TxOp::Insert {
                    ns,
                    key,
                    value,
                    expires_at,
                    now,
                } => {
                    c.execute(&self.insert, &[ns, key, now, value, expires_at])
                        .await
                }
                TxOp::Put {
                    ns,
                    key,
                    value,
                    expires_at,
                } => c.execute(&self.upsert, &[ns, key, value, expires_at]).await,
                TxOp::Delete { ns, key } => c.execute(&self.delete, &[ns, key]).await,
            }
        }
        .boxed()
    }
}

/// The first step that failed or whose condition did not hold, in order.
fn first_failure<'a>(
    ops: &[TxOp],
    answers: impl Iterator<Item = &'a Result<u64, tokio_postgres::Error>>,
) -> Option<StoreError> {
    ops.iter().zip(answers).find_map(|(op, n)| match (op, n) {
        (_, Err(e)) => Some(pg_ref(e)),
        (TxOp::Take { .. }, Ok(n)) if *n != 1 => Some(StoreError::Missing),
        (TxOp::Insert { .. }, Ok(n)) if *n != 1 => Some(StoreError::Conflict),
        _ => None,
    })
}

/// A pooled connection inside a transaction begun by hand (so BEGIN travels
/// in one pipeline with the first statements). Unless the transaction was
/// closed (committed or rolled back), dropping it takes the connection out
/// of the pool for good, so no later call finds it mid-transaction: a call
/// cut off or failed half-way costs one connection, never a leaked
/// transaction.
struct InTx(Option<Object>);

impl InTx {
    fn new(c: Object) -> Self {
        InTx(Some(c))
    }

    fn client(&self) -> &Object {
        self.0
            .as_ref()
            .expect("an InTx holds its connection until closed")
    }

    /// The transaction is over: the connection goes back to the pool.
    fn close(mut self) {
        self.0.take();
    }

    /// Rolls back; a connection that cannot is not returned to the pool.
    async fn rollback(self) {
        if self.client().batch_execute("ROLLBACK").await.is_ok() {
            self.close();
        }
    }
}

impl Drop for InTx {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            drop(Object::take(c));
        }
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
            .field("table", &TABLE)
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
    /// A pool of at most `connections` connections to `url`, a libpq-style
    /// URL whose `sslmode` and `sslrootcert` choose TLS ([`tls`]); brings
    /// the schema up to date ([`migrate`]) on the first connection, so a
    /// database that cannot be reached, verified or migrated is an error
    /// here, at start. The URL's `application_name` and `options` are kept;
    /// the pool adds its `statement_timeout` and names its connections
    /// `digital-id` unless the URL names them.
    pub fn connect(url: &str, connections: usize) -> Result<Self, ConnectError> {
        let tls::StoreUrl { mut config, tls } = tls::StoreUrl::parse(url)?;
        // Bounds the TCP connect; `create_timeout` below bounds the whole
        // of a new connection, TLS handshake and log-in included.
        config.connect_timeout(CONNECT_TIMEOUT);
        // A connection whose peer went silent (a partition sends no error)
        // is declared dead by the kernel within seconds, so its connection
        // task ends and the pool drops it, instead of after TCP's default of
        // two hours.
        config.keepalives_idle(Duration::from_secs(10));
        config.keepalives_interval(Duration::from_secs(2));
        config.keepalives_retries(3);
        config.tcp_user_timeout(Duration::from_secs(15));
        if config.get_application_name().is_none() {
            config.application_name(APPLICATION_NAME);
        }
        let options = format!(
            "{} -c statement_timeout={STATEMENT_TIMEOUT_MS}",
            config.get_options().unwrap_or_default()
        );
        config.options(options.trim_start());
        let manager_config = || ManagerConfig {
            // A connection the database closed (restart, failover,
            // `pg_terminate_backend`) is noticed by its connection task and
            // discarded here; a round trip per checkout to prove a live one
            // would cost more than the rare retry it saves.
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match tls.connector()? {
            tls::Connector::Plain => Manager::from_config(config, NoTls, manager_config()),
            tls::Connector::Tls(tls) => Manager::from_config(config, tls, manager_config()),
        };
        let pool = Pool::builder(manager)
            .max_size(connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .build()
            .map_err(backend)?;

        let store = Self::start(pool)?;
        let applied = store.wait(move |s| async move {
            let mut c = s
                .pool
                .get()
                .await
                .map_err(|e| setup::first_connection(e, CONNECT_TIMEOUT))?;
            Ok::<_, ConnectError>(migrate::migrate(&mut c).await?)
        })?;
        for m in applied {
            tracing::info!(
                version = m.version,
                name = m.name,
                "applied a schema migration"
            );
        }
        Ok(store)
    }

    /// Starts the store's runtime thread around `pool`.
    fn start(pool: Pool) -> Result<Self, StoreError> {
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
                sql: Sql::new(TABLE),
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
        let call = f(self.shared.clone());
        // The database's own `statement_timeout` ends a slow statement; this
        // one ends a call whose connection went silent (a network partition
        // sends no error). The call's connection is dropped with it.
        let task = self
            .runtime
            .spawn(async move { tokio::time::timeout(CALL_TIMEOUT, call).await });
        Box::pin(async move {
            task.await
                .map_err(|_| StoreError::Closed)?
                .unwrap_or(Err(StoreError::Unavailable))
        })
    }

    /// [`Self::run`] from outside any runtime (start-up, tests).
    fn wait<T, E, F, Fut>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(Arc<Shared>) -> Fut,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
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

    fn update_and(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
        f: UpdateAndFn,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        self.run(move |s| async move {
            let c = s.conn().await?;
            let st = Prepared::new(&c, &s.sql).await?;
            let tx = InTx::new(c);
            // Serializes updates of one key, also while it does not exist yet.
            let lock_key = format!("{TABLE}:{}:{ns}:{key}", ns.len());
            // BEGIN, the lock and the read: one round trip.
            let mut answers = {
                let c = tx.client();
                in_order(vec![
                    c.batch_execute("BEGIN").map_ok(|()| None).boxed(),
                    async { c.execute(&st.lock, &[&lock_key]).await.map(|_| None) }.boxed(),
                    async { c.query_opt(&st.get_for_update, &[&ns, &key, &now]).await }.boxed(),
                ])
                .await
            };
            let row = answers.pop().unwrap_or(Ok(None));
            let current: Option<Vec<u8>> =
                match answers.into_iter().collect::<Result<Vec<_>, _>>().and(row) {
                    Ok(row) => row.map(|r| r.get(0)),
                    Err(e) => {
                        tx.rollback().await;
                        return Err(pg(e));
                    }
                };
            let (decision, then) = f(current.as_deref());
            if then.iter().any(|op| op.target() == (ns, key.as_str())) {
                tx.rollback().await;
                return Err(StoreError::Backend(
                    "an update's steps name the updated key".into(),
                ));
            }
            let entry = match decision {
                Update::Keep => None,
                Update::Put { value, expires_at } => Some(TxOp::Put {
                    ns,
                    key,
                    value,
                    expires_at,
                }),
                Update::Delete => Some(TxOp::Delete { ns, key }),
            };
            let ops: Vec<TxOp> = entry.into_iter().chain(then).collect();
            // Unconditional steps and COMMIT: one round trip (a failed
            // write aborts the transaction, so the COMMIT behind it rolls
            // back). Conditional ones are checked before the COMMIT.
            let conditional = ops
                .iter()
                .any(|op| matches!(op, TxOp::Take { .. } | TxOp::Insert { .. }));
            let answers = {
                let c = tx.client();
                let mut steps: Vec<_> = ops.iter().map(|op| st.step(c, op)).collect();
                if !conditional {
                    steps.push(c.batch_execute("COMMIT").map_ok(|()| 0).boxed());
                }
                in_order(steps).await
            };
            if let Some(e) = first_failure(&ops, answers.iter()) {
                tx.rollback().await;
                return Err(e);
            }
            if conditional {
                tx.client().batch_execute("COMMIT").await.map_err(pg)?;
            }
            tx.close();
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
            let c = s.conn().await?;
            let st = Prepared::new(&c, &s.sql).await?;
            let tx = InTx::new(c);
            // BEGIN and every step: one round trip. Each step's condition is
            // checked on its row count once all have answered; COMMIT goes
            // out only when every one held.
            let mut answers = {
                let c = tx.client();
                let mut steps = Vec::with_capacity(ops.len() + 1);
                steps.push(c.batch_execute("BEGIN").map_ok(|()| 0).boxed());
                steps.extend(ops.iter().map(|op| st.step(c, op)));
                in_order(steps).await.into_iter()
            };
            let begun = answers.next().and_then(Result::err).map(pg);
            if let Some(e) = begun.or_else(|| first_failure(&ops, answers.as_slice().iter())) {
                tx.rollback().await;
                return Err(e);
            }
            tx.client().batch_execute("COMMIT").await.map_err(pg)?;
            tx.close();
            Ok(())
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

    /// `SELECT 1` on a pooled (or new) connection.
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
    /// (`.ci/run` and `scripts/test` set it) in a schema of its own.
    #[test]
    fn contract() {
        let schema = testing::TestSchema::new();
        let store = Arc::new(PostgresStore::connect(&schema.url(), 4).unwrap());
        super::super::contract::run_all(store);
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

    /// A transaction that fails half-way is rolled back before its
    /// connection serves the next call: with a pool of one connection, a
    /// write after a failed `transact` and a failed `update` is committed
    /// (another store sees it), not left inside an open transaction.
    #[test]
    fn a_failed_transaction_leaves_its_connection_clean() {
        let schema = testing::TestSchema::new();
        let one = PostgresStore::connect(&schema.url(), 1).unwrap();
        let other = PostgresStore::connect(&schema.url(), 1).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let failed = one
                .transact(vec![
                    TxOp::Put {
                        ns: "t",
                        key: "half".into(),
                        value: b"x".to_vec(),
                        expires_at: None,
                    },
                    TxOp::Take {
                        ns: "t",
                        key: "absent".into(),
                        now: 0,
                    },
                ])
                .await;
            assert!(matches!(failed, Err(StoreError::Missing)), "{failed:?}");
            assert_eq!(other.get("t", "half".into(), 0).await.unwrap(), None);
            one.insert("t", "after".into(), b"1".to_vec(), None, 0)
                .await
                .unwrap();
            assert_eq!(
                other.get("t", "after".into(), 0).await.unwrap(),
                Some(b"1".to_vec())
            );
            // A key the database refuses (text cannot hold NUL) fails the
            // update inside its transaction.
            let refused = one
                .update(
                    "t",
                    "bad\0key".into(),
                    0,
                    Box::new(|_| Update::Put {
                        value: b"v".to_vec(),
                        expires_at: None,
                    }),
                )
                .await;
            assert!(refused.is_err(), "{refused:?}");
            one.insert("t", "later".into(), b"2".to_vec(), None, 0)
                .await
                .unwrap();
            assert_eq!(
                other.get("t", "later".into(), 0).await.unwrap(),
                Some(b"2".to_vec())
            );
        });
    }
}
