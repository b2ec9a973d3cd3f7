//! An in-memory [`Store`] for the fuzz harness: the same contract as the
//! redb store (live entries only, `take` once, all-or-nothing `transact`),
//! without disk I/O, so one fuzz input costs microseconds and the harness
//! can clear what an input wrote before the next one.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use digital_id::store::{BoxFut, Entry, Store, StoreError, TxOp, Update, UpdateAndFn};

/// (namespace, key).
type Slot = (&'static str, String);
/// The value and its expiry.
type Value = (Vec<u8>, Option<i64>);
type Map = BTreeMap<Slot, Value>;

/// Entries by (namespace, key), each with its expiry.
#[derive(Debug, Default)]
pub struct MemStore(Mutex<Map>);

fn live(entry: &Value, now: i64) -> bool {
    entry.1.is_none_or(|exp| exp > now)
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFut<'a, T> {
    Box::pin(std::future::ready(value))
}

impl MemStore {
    fn map(&self) -> MutexGuard<'_, Map> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes every entry of these namespaces.
    pub fn clear(&self, namespaces: &[&str]) {
        self.map().retain(|(ns, _), _| !namespaces.contains(ns));
    }

    /// How many live entries `ns` holds.
    pub fn count(&self, ns: &str, now: i64) -> usize {
        self.map()
            .iter()
            .filter(|((n, _), e)| *n == ns && live(e, now))
            .count()
    }

    fn read(map: &Map, ns: &'static str, key: &str, now: i64) -> Option<Vec<u8>> {
        map.get(&(ns, key.to_owned()))
            .filter(|e| live(e, now))
            .map(|e| e.0.clone())
    }
}

impl Store for MemStore {
    fn insert(
        &self,
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
        now: i64,
    ) -> BoxFut<'_, Result<(), StoreError>> {
        let mut map = self.map();
        let result = if Self::read(&map, ns, &key, now).is_some() {
            Err(StoreError::Conflict)
        } else {
            map.insert((ns, key), (value, expires_at));
            Ok(())
        };
        ready(result)
    }

    fn put(
        &self,
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
    ) -> BoxFut<'_, Result<(), StoreError>> {
        self.map().insert((ns, key), (value, expires_at));
        ready(Ok(()))
    }

    fn get(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        ready(Ok(Self::read(&self.map(), ns, &key, now)))
    }

    fn take(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        let mut map = self.map();
        let value = Self::read(&map, ns, &key, now);
        map.remove(&(ns, key));
        ready(Ok(value))
    }

    fn update_and(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
        f: UpdateAndFn,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        let mut map = self.map();
        let before = Self::read(&map, ns, &key, now);
        let (decision, then) = f(before.as_deref());
        if then.iter().any(|op| op.target() == (ns, key.as_str())) {
            return ready(Err(StoreError::Backend(
                "an update's steps name the updated key".into(),
            )));
        }
        if let Err(e) = apply(&mut map, then) {
            return ready(Err(e));
        }
        match decision {
            Update::Keep => {}
            Update::Put { value, expires_at } => {
                map.insert((ns, key), (value, expires_at));
            }
            Update::Delete => {
                map.remove(&(ns, key));
            }
        }
        ready(Ok(before))
    }

    fn delete(&self, ns: &'static str, key: String) -> BoxFut<'_, Result<bool, StoreError>> {
        ready(Ok(self.map().remove(&(ns, key)).is_some()))
    }

    fn scan(
        &self,
        ns: &'static str,
        prefix: String,
        now: i64,
        limit: usize,
    ) -> BoxFut<'_, Result<Vec<Entry>, StoreError>> {
        let entries = self
            .map()
            .range((ns, prefix.clone())..)
            .take_while(|((n, k), _)| *n == ns && k.starts_with(&prefix))
            .filter(|(_, e)| live(e, now))
            .take(limit)
            .map(|((_, k), (value, expires_at))| Entry {
                key: k.clone(),
                value: value.clone(),
                expires_at: *expires_at,
            })
            .collect();
        ready(Ok(entries))
    }

    fn transact(&self, ops: Vec<TxOp>) -> BoxFut<'_, Result<(), StoreError>> {
        ready(apply(&mut self.map(), ops))
    }

    fn ping(&self) -> BoxFut<'_, Result<(), StoreError>> {
        ready(Ok(()))
    }

    fn sweep(&self, now: i64, limit: usize) -> BoxFut<'_, Result<usize, StoreError>> {
        let mut map = self.map();
        let expired: Vec<_> = map
            .iter()
            .filter(|(_, e)| !live(e, now))
            .map(|(k, _)| k.clone())
            .take(limit)
            .collect();
        for k in &expired {
            map.remove(k);
        }
        ready(Ok(expired.len()))
    }
}

/// Every step or none: each step's condition is checked as it comes, and a
/// failing one undoes the steps before it.
fn apply(map: &mut Map, ops: Vec<TxOp>) -> Result<(), StoreError> {
    // What each step replaced, to put back when a later step fails.
    let mut undo: Vec<(Slot, Option<Value>)> = Vec::new();
    let mut failed = None;
    for op in ops {
        let (slot, value, check) = match op {
            TxOp::Take { ns, key, now } => {
                let missing = MemStore::read(map, ns, &key, now).is_none();
                ((ns, key), None, missing.then_some(StoreError::Missing))
            }
            TxOp::Insert {
                ns,
                key,
                value,
                expires_at,
                now,
            } => {
                let exists = MemStore::read(map, ns, &key, now).is_some();
                (
                    (ns, key),
                    Some((value, expires_at)),
                    exists.then_some(StoreError::Conflict),
                )
            }
            TxOp::Put {
                ns,
                key,
                value,
                expires_at,
            } => ((ns, key), Some((value, expires_at)), None),
            TxOp::Delete { ns, key } => ((ns, key), None, None),
        };
        if let Some(e) = check {
            failed = Some(e);
            break;
        }
        let old = match value {
            Some(v) => map.insert(slot.clone(), v),
            None => map.remove(&slot),
        };
        undo.push((slot, old));
    }
    let Some(e) = failed else {
        return Ok(());
    };
    for (slot, old) in undo.into_iter().rev() {
        match old {
            Some(v) => map.insert(slot, v),
            None => map.remove(&slot),
        };
    }
    Err(e)
}
