//! Storage behind one small trait: single-use entries with a lifetime, taken
//! atomically, and durable records. [`redb`] is the embedded
//! default; a PostgreSQL implementation fits the same trait.
//!
//! Every write is durable before its future resolves: a consumed code or
//! nonce never becomes valid again, also across a crash. Implementations
//! share one commit among concurrent writers (group commit), so durability
//! does not cost one fsync per request.
//!
//! An expired entry is invisible at once and deleted by the next sweeper
//! pass ([`sweep_expired`], every [`SWEEP_INTERVAL`] seconds): so data with
//! a retention window (verifier results) is gone from the store at most a
//! pass later.

pub mod postgres;
pub mod redb;
mod wal;

use std::future::Future;
use std::pin::Pin;

/// A boxed future, so `Store` stays object-safe (`Arc<dyn Store>`).
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Why a store operation failed. Callers map these to a 5xx (or 409 for
/// `Conflict`); descriptions never carry keys or values.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the entry already exists")]
    Conflict,
    #[error("a required entry does not exist")]
    Missing,
    #[error("the storage backend failed: {0}")]
    Backend(String),
    #[error("the storage is closed")]
    Closed,
    /// The database cannot be reached right now (connection lost, refused
    /// or timed out). An operation cut off mid-call may or may not have
    /// taken effect; it is worth retrying a little later.
    #[error("the storage is temporarily unavailable")]
    Unavailable,
}

/// What an [`Store::update`] closure decides about an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// Leave the entry as it is.
    Keep,
    /// Replace (or create) the entry.
    Put {
        value: Vec<u8>,
        expires_at: Option<i64>,
    },
    /// Remove the entry.
    Delete,
}

/// The decision function of an update: sees the current value (`None` when
/// absent or expired) and returns what to do. It runs inside the write
/// transaction, so no other writer sees a state in between.
pub type UpdateFn = Box<dyn FnOnce(Option<&[u8]>) -> Update + Send>;

/// The decision function of an [`Store::update_and`]: the entry's fate, and
/// further steps for the same transaction.
pub type UpdateAndFn = Box<dyn FnOnce(Option<&[u8]>) -> (Update, Vec<TxOp>) + Send>;

/// One step of an all-or-nothing [`Store::transact`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxOp {
    /// Removes a live entry; the transaction fails with
    /// [`StoreError::Missing`] when there is none.
    Take {
        ns: &'static str,
        key: String,
        now: i64,
    },
    /// Creates an entry; the transaction fails with [`StoreError::Conflict`]
    /// when a live one exists.
    Insert {
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
        now: i64,
    },
    /// Creates or replaces an entry.
    Put {
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
    },
    /// Removes an entry if there is one (no condition).
    Delete { ns: &'static str, key: String },
}

impl TxOp {
    /// The namespace and key the step names.
    pub fn target(&self) -> (&'static str, &str) {
        match self {
            TxOp::Take { ns, key, .. }
            | TxOp::Insert { ns, key, .. }
            | TxOp::Put { ns, key, .. }
            | TxOp::Delete { ns, key } => (ns, key),
        }
    }
}

/// One stored entry as returned by scans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub value: Vec<u8>,
    pub expires_at: Option<i64>,
}

/// Storage for everything the server keeps. Keys live in namespaces
/// (`ns`, a constant of the caller); times are Unix seconds supplied by the
/// caller's clock; an entry whose `expires_at <= now` is treated as absent
/// and is deleted by [`Store::sweep`].
pub trait Store: Send + Sync + 'static {
    /// Creates an entry; [`StoreError::Conflict`] when a live one exists.
    fn insert(
        &self,
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
        now: i64,
    ) -> BoxFut<'_, Result<(), StoreError>>;

    /// Creates or replaces an entry.
    fn put(
        &self,
        ns: &'static str,
        key: String,
        value: Vec<u8>,
        expires_at: Option<i64>,
    ) -> BoxFut<'_, Result<(), StoreError>>;

    /// Reads a live entry.
    fn get(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>>;

    /// Removes and returns a live entry, atomically: of two racing takers
    /// exactly one gets `Some`.
    fn take(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>>;

    /// Read-modify-write in one transaction. Returns the value the closure
    /// saw (`None` when absent or expired), so the caller can replay its
    /// (pure) decision to learn the outcome.
    fn update(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
        f: UpdateFn,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>> {
        self.update_and(ns, key, now, Box::new(move |cur| (f(cur), Vec::new())))
    }

    /// [`Store::update`] whose closure also returns steps (as in
    /// [`Store::transact`]) for the same durable transaction: one commit for
    /// a decision and what follows from it. A step whose condition fails
    /// aborts everything, the entry's change included, with that step's
    /// error. The steps must not name the updated key.
    fn update_and(
        &self,
        ns: &'static str,
        key: String,
        now: i64,
        f: UpdateAndFn,
    ) -> BoxFut<'_, Result<Option<Vec<u8>>, StoreError>>;

    /// Removes an entry; `true` if one was there.
    fn delete(&self, ns: &'static str, key: String) -> BoxFut<'_, Result<bool, StoreError>>;

    /// Live entries of `ns` whose key starts with `prefix`, in key order, at
    /// most `limit`.
    fn scan(
        &self,
        ns: &'static str,
        prefix: String,
        now: i64,
        limit: usize,
    ) -> BoxFut<'_, Result<Vec<Entry>, StoreError>>;

    /// Applies every step in one durable transaction, or none of them: the
    /// first step whose condition fails aborts it with that step's error.
    fn transact(&self, ops: Vec<TxOp>) -> BoxFut<'_, Result<(), StoreError>>;

    /// Deletes at most `limit` entries expired at `now`, in one write
    /// transaction; returns how many it looked at (fewer than `limit`: none
    /// are left). [`sweep_expired`] repeats it until then.
    fn sweep(&self, now: i64, limit: usize) -> BoxFut<'_, Result<usize, StoreError>>;

    /// A cheap round trip to the storage (readiness):
    /// [`StoreError::Unavailable`] while it cannot be reached.
    fn ping(&self) -> BoxFut<'_, Result<(), StoreError>>;
}

/// Entries one [`Store::sweep`] transaction deletes at most: small enough
/// that the store is never locked for long (a few milliseconds), large
/// enough that a pass keeps up with any creation rate the limits admit.
pub const SWEEP_BATCH: usize = 1000;

/// One sweeper pass: deletes every entry expired at `now`, a batch of
/// [`SWEEP_BATCH`] per write transaction, until a batch comes back short.
/// Other writers get their turn between batches. Returns how many entries
/// were looked at.
pub async fn sweep_expired(store: &dyn Store, now: i64) -> Result<usize, StoreError> {
    let mut total = 0;
    loop {
        let n = store.sweep(now, SWEEP_BATCH).await?;
        total += n;
        if n < SWEEP_BATCH {
            return Ok(total);
        }
        tokio::task::yield_now().await;
    }
}

/// Seconds between two sweeper passes.
pub const SWEEP_INTERVAL: u64 = 10;

/// Serializes a value for the store.
pub fn to_bytes<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(value)
        .map_err(|e| StoreError::Backend(format!("cannot encode a record: {e}")))
}

/// Deserializes a stored value.
pub fn from_bytes<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Backend(format!("a stored record is unreadable: {e}")))
}

#[cfg(test)]
pub(crate) mod contract;
