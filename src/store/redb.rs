//! The embedded default: one redb file in the data directory.
//!
//! Reads run on the caller's thread (redb readers never block writers). All
//! writes go to one writer thread that applies every request waiting in its
//! queue in a single write transaction and commits it with
//! `Durability::Immediate` (one fsync) before answering any of them: group
//! commit, so durability costs one fsync per batch, not per request.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::oneshot;

use super::{BoxFut, Entry, Store, StoreError, TxOp, Update, UpdateFn};

/// `"<ns>\0<key>"` → `(expires_at or i64::MAX, value)`.
const ENTRIES: TableDefinition<&str, (i64, &[u8])> = TableDefinition::new("entries");
/// `(expires_at, "<ns>\0<key>")` → `()`: the sweep's index.
const EXPIRY: TableDefinition<(i64, &str), ()> = TableDefinition::new("expiry");

/// Most requests applied in one transaction.
const MAX_BATCH: usize = 256;

const NEVER: i64 = i64::MAX;

fn full_key(ns: &str, key: &str) -> String {
    let mut k = String::with_capacity(ns.len() + 1 + key.len());
    k.push_str(ns);
    k.push('\0');
    k.push_str(key);
    k
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

enum Op {
    Insert {
        key: String,
        value: Vec<u8>,
        expires_at: i64,
        now: i64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Put {
        key: String,
        value: Vec<u8>,
        expires_at: i64,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
    Update {
        key: String,
        now: i64,
        f: UpdateFn,
        reply: oneshot::Sender<Result<Option<Vec<u8>>, StoreError>>,
    },
    Delete {
        key: String,
        reply: oneshot::Sender<Result<bool, StoreError>>,
    },
    Sweep {
        now: i64,
        reply: oneshot::Sender<Result<usize, StoreError>>,
    },
    Transact {
        ops: Vec<TxOp>,
        reply: oneshot::Sender<Result<(), StoreError>>,
    },
}

/// A reply to send once the batch's commit is known.
enum Pending {
    Unit(
        oneshot::Sender<Result<(), StoreError>>,
        Result<(), StoreError>,
    ),
    Value(
        oneshot::Sender<Result<Option<Vec<u8>>, StoreError>>,
        Result<Option<Vec<u8>>, StoreError>,
    ),
    Bool(
        oneshot::Sender<Result<bool, StoreError>>,
        Result<bool, StoreError>,
    ),
    Count(
        oneshot::Sender<Result<usize, StoreError>>,
        Result<usize, StoreError>,
    ),
}

impl Pending {
    /// Sends the result, or the commit error when the batch did not commit.
    fn send(self, commit: &Result<(), String>) {
        let fail = |e: &String| StoreError::Backend(e.clone());
        match self {
            Pending::Unit(tx, r) => drop(tx.send(commit.as_ref().map_err(fail).and(r))),
            Pending::Value(tx, r) => drop(tx.send(commit.as_ref().map_err(fail).and(r))),
            Pending::Bool(tx, r) => drop(tx.send(commit.as_ref().map_err(fail).and(r))),
            Pending::Count(tx, r) => drop(tx.send(commit.as_ref().map_err(fail).and(r))),
        }
    }
}

/// The redb store. Cloning shares the database and its writer.
#[derive(Clone)]
pub struct RedbStore {
    // Dropped first: stopping the writer releases its handle on the file.
    writer: Arc<Writer>,
    db: Arc<Database>,
}

/// The writer thread; dropping the last handle drains it and joins it, so
/// the file can be opened again as soon as the store is gone.
struct Writer {
    queue: Option<mpsc::Sender<Op>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.queue.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedbStore")
    }
}

impl RedbStore {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(backend)?;
        }
        let db = Arc::new(Database::create(path).map_err(backend)?);
        {
            let tx = db.begin_write().map_err(backend)?;
            tx.open_table(ENTRIES).map_err(backend)?;
            tx.open_table(EXPIRY).map_err(backend)?;
            tx.commit().map_err(backend)?;
        }
        let (queue, rx) = mpsc::channel();
        let wdb = db.clone();
        let thread = thread::Builder::new()
            .name("redb-writer".into())
            .spawn(move || write_loop(&wdb, &rx))
            .map_err(backend)?;
        Ok(RedbStore {
            writer: Arc::new(Writer {
                queue: Some(queue),
                thread: Some(thread),
            }),
            db,
        })
    }

    fn send<T: Send + 'static>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T, StoreError>>) -> Op,
    ) -> BoxFut<'_, Result<T, StoreError>> {
        let (tx, rx) = oneshot::channel();
        let sent = match &self.writer.queue {
            Some(q) => q.send(make(tx)).map_err(|_| ()),
            None => Err(()),
        };
        Box::pin(async move {
            sent.map_err(|_| StoreError::Closed)?;
            rx.await.map_err(|_| StoreError::Closed)?
        })
    }

    fn read<T>(
        &self,
        f: impl FnOnce(
            &redb::ReadOnlyTable<&'static str, (i64, &'static [u8])>,
        ) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let tx = self.db.begin_read().map_err(backend)?;
        let table = tx.open_table(ENTRIES).map_err(backend)?;
        f(&table)
    }
}

fn write_loop(db: &Database, rx: &mpsc::Receiver<Op>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut replies = Vec::with_capacity(batch.len());
        let commit = apply(db, batch, &mut replies);
        if let Err(e) = &commit {
            tracing::error!(error = %e, "store commit failed");
        }
        for r in replies {
            r.send(&commit);
        }
    }
}

fn apply(db: &Database, batch: Vec<Op>, replies: &mut Vec<Pending>) -> Result<(), String> {
    let tx = db.begin_write().map_err(|e| e.to_string())?;
    {
        let mut entries = tx.open_table(ENTRIES).map_err(|e| e.to_string())?;
        let mut expiry = tx.open_table(EXPIRY).map_err(|e| e.to_string())?;
        let mut t = Tables {
            entries: &mut entries,
            expiry: &mut expiry,
        };
        for op in batch {
            replies.push(match op {
                Op::Insert {
                    key,
                    value,
                    expires_at,
                    now,
                    reply,
                } => Pending::Unit(reply, t.insert(&key, &value, expires_at, now)),
                Op::Put {
                    key,
                    value,
                    expires_at,
                    reply,
                } => Pending::Unit(reply, t.put(&key, &value, expires_at)),
                Op::Update { key, now, f, reply } => Pending::Value(reply, t.update(&key, now, f)),
                Op::Delete { key, reply } => {
                    Pending::Bool(reply, t.remove(&key).map(|old| old.is_some()))
                }
                Op::Sweep { now, reply } => Pending::Count(reply, t.sweep(now)),
                Op::Transact { ops, reply } => Pending::Unit(reply, t.transact(ops)),
            });
        }
    }
    tx.commit().map_err(|e| e.to_string())
}

struct Tables<'a, 't> {
    entries: &'a mut redb::Table<'t, &'static str, (i64, &'static [u8])>,
    expiry: &'a mut redb::Table<'t, (i64, &'static str), ()>,
}

impl Tables<'_, '_> {
    /// The live value of `key`, if any.
    fn live(&self, key: &str, now: i64) -> Result<Option<Vec<u8>>, StoreError> {
        let found = self.entries.get(key).map_err(backend)?;
        Ok(found.and_then(|g| {
            let (exp, v) = g.value();
            (exp > now).then(|| v.to_vec())
        }))
    }

    fn remove(&mut self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let old = self.entries.remove(key).map_err(backend)?.map(|g| {
            let (exp, v) = g.value();
            (exp, v.to_vec())
        });
        match old {
            Some((exp, v)) => {
                if exp != NEVER {
                    self.expiry.remove((exp, key)).map_err(backend)?;
                }
                Ok(Some(v))
            }
            None => Ok(None),
        }
    }

    fn put(&mut self, key: &str, value: &[u8], expires_at: i64) -> Result<(), StoreError> {
        // One B-tree descent: the insert hands back what it replaced.
        let old = self
            .entries
            .insert(key, (expires_at, value))
            .map_err(backend)?
            .map(|g| g.value().0);
        if let Some(old) = old.filter(|&e| e != NEVER && e != expires_at) {
            self.expiry.remove((old, key)).map_err(backend)?;
        }
        if expires_at != NEVER && old != Some(expires_at) {
            self.expiry.insert((expires_at, key), ()).map_err(backend)?;
        }
        Ok(())
    }

    /// Whether `key` holds a live entry (without copying its value).
    fn is_live(&self, key: &str, now: i64) -> Result<bool, StoreError> {
        Ok(self
            .entries
            .get(key)
            .map_err(backend)?
            .is_some_and(|g| g.value().0 > now))
    }

    fn insert(
        &mut self,
        key: &str,
        value: &[u8],
        expires_at: i64,
        now: i64,
    ) -> Result<(), StoreError> {
        if self.is_live(key, now)? {
            return Err(StoreError::Conflict);
        }
        self.put(key, value, expires_at)
    }

    fn update(&mut self, key: &str, now: i64, f: UpdateFn) -> Result<Option<Vec<u8>>, StoreError> {
        let current = self.live(key, now)?;
        match f(current.as_deref()) {
            Update::Keep => {}
            Update::Put { value, expires_at } => {
                self.put(key, &value, expires_at.unwrap_or(NEVER))?
            }
            Update::Delete => {
                self.remove(key)?;
            }
        }
        Ok(current)
    }

    /// All conditions are checked first, against the state this write
    /// transaction sees (earlier requests of the batch included); only then
    /// is anything changed, so a failed step leaves no trace.
    fn transact(&mut self, ops: Vec<TxOp>) -> Result<(), StoreError> {
        let mut keys: Vec<String> = Vec::with_capacity(ops.len());
        for op in &ops {
            let (ns, key) = match op {
                TxOp::Take { ns, key, .. }
                | TxOp::Insert { ns, key, .. }
                | TxOp::Put { ns, key, .. } => (ns, key),
            };
            let k = full_key(ns, key);
            match op {
                TxOp::Take { now, .. } if !self.is_live(&k, *now)? => {
                    return Err(StoreError::Missing);
                }
                TxOp::Insert { now, .. } if self.is_live(&k, *now)? => {
                    return Err(StoreError::Conflict);
                }
                _ => {}
            }
            // Two steps on one key would see each other's effects only
            // partly: refuse that instead of guessing.
            if keys.contains(&k) {
                return Err(StoreError::Backend(
                    "a transaction names one key twice".into(),
                ));
            }
            keys.push(k);
        }
        for (op, k) in ops.into_iter().zip(keys) {
            match op {
                TxOp::Take { .. } => {
                    self.remove(&k)?;
                }
                TxOp::Insert {
                    value, expires_at, ..
                }
                | TxOp::Put {
                    value, expires_at, ..
                } => {
                    self.put(&k, &value, expires_at.unwrap_or(NEVER))?;
                }
            }
        }
        Ok(())
    }

    fn sweep(&mut self, now: i64) -> Result<usize, StoreError> {
        let expired: Vec<(i64, String)> = self
            .expiry
            .range(..=(now, "\u{10ffff}"))
            .map_err(backend)?
            .filter_map(Result::ok)
            .map(|(k, _)| {
                let (exp, key) = k.value();
                (exp, key.to_owned())
            })
            .take(10_000)
            .collect();
        for (exp, key) in &expired {
            self.expiry.remove((*exp, key.as_str())).map_err(backend)?;
            // The entry may have been replaced with a later expiry meanwhile.
            let same = self
                .entries
                .get(key.as_str())
                .map_err(backend)?
                .is_some_and(|g| g.value().0 == *exp);
            if same {
                self.entries.remove(key.as_str()).map_err(backend)?;
            }
        }
        Ok(expired.len())
    }
}

impl Store for RedbStore {
    fn insert(
        &self,
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
        now: i64,
    ) -> BoxFut<'_, Result<(), StoreError>> {
        let key = full_key(ns, &key);
        self.send(move |reply| Op::Insert {
            key,
            value,
            expires_at: expires_at.unwrap_or(NEVER),
            now,
            reply,
        })
    }

    fn put(
        &self,
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
    ) -> BoxFut<'_, Result<(), StoreError>> {
        let key = full_key(ns, &key);
        self.send(move |reply| Op::Put {
            key,
            value,
            expires_at: expires_at.unwrap_or(NEVER),
            reply,
        })
    }

    fn get(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        let result = self.read(|t| {
            let found = t.get(full_key(ns, &key).as_str()).map_err(backend)?;
            Ok(found.and_then(|g| {
                let (exp, v) = g.value();
                (exp > now).then(|| v.to_vec())
            }))
        });
        Box::pin(async move { result })
    }

    fn take(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        self.update(
            ns,
            key,
            now,
            Box::new(|cur| {
                if cur.is_some() {
                    Update::Delete
                } else {
                    Update::Keep
                }
            }),
        )
    }

    fn update(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
        f: UpdateFn,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        let key = full_key(ns, &key);
        self.send(move |reply| Op::Update { key, now, f, reply })
    }

    fn delete(&self, ns: &'static str, key: String) -> BoxFut<'_, Result<bool, StoreError>> {
        let key = full_key(ns, &key);
        self.send(move |reply| Op::Delete { key, reply })
    }

    fn scan(
        &self,
        ns: &'static str,
        prefix: String,
        now: i64,
        limit: usize,
    ) -> BoxFut<'_, Result<Vec<Entry>, StoreError>> {
        let start = full_key(ns, &prefix);
        let result = self.read(|t| {
            let mut out = Vec::new();
            for item in t.range(start.as_str()..).map_err(backend)? {
                let (k, v) = item.map_err(backend)?;
                let Some(key) = k.value().strip_prefix(start.as_str()) else {
                    break;
                };
                let (exp, value) = v.value();
                if exp > now {
                    out.push(Entry {
                        key: format!("{prefix}{key}"),
                        value: value.to_vec(),
                        expires_at: (exp != NEVER).then_some(exp),
                    });
                    if out.len() >= limit {
                        break;
                    }
                }
            }
            Ok(out)
        });
        Box::pin(async move { result })
    }

    fn sweep(&self, now: i64) -> BoxFut<'_, Result<usize, StoreError>> {
        self.send(move |reply| Op::Sweep { now, reply })
    }

    fn transact(&self, ops: Vec<TxOp>) -> BoxFut<'_, Result<(), StoreError>> {
        self.send(move |reply| Op::Transact { ops, reply })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("store.redb")).unwrap();
        super::super::contract::run_all(Arc::new(store));
    }

    #[test]
    fn a_taken_value_stays_taken_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.redb");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        {
            let store = RedbStore::open(&path).unwrap();
            rt.block_on(async {
                store
                    .insert("nonce", "n1".into(), b"x".to_vec(), Some(1000), 0)
                    .await
                    .unwrap();
                store
                    .insert("nonce", "n2".into(), b"y".to_vec(), Some(1000), 0)
                    .await
                    .unwrap();
                assert!(store.take("nonce", "n1".into(), 1).await.unwrap().is_some());
            });
        }
        let store = RedbStore::open(&path).unwrap();
        rt.block_on(async {
            assert_eq!(store.take("nonce", "n1".into(), 2).await.unwrap(), None);
            assert_eq!(
                store.take("nonce", "n2".into(), 2).await.unwrap(),
                Some(b"y".to_vec())
            );
        });
    }
}
