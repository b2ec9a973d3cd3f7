//! Index allocation. Each status list has a random permutation of its
//! indices, drawn when the list is created and stored beside it
//! ([`NS_PERM`](super::NS_PERM)); credentials take the permutation's entries
//! in order, so every credential gets a uniformly random index that was
//! never handed out before, and the next index cannot be guessed from the
//! ones seen.
//!
//! Positions are reserved durably in blocks of [`BLOCK`]: the store's
//! cursor record says how far positions of the current list are reserved,
//! and it moves forward (one atomic update) before any position of a block
//! is used. So an index is never given twice, also across a crash and
//! restart (which wastes at most the rest of a block) and across processes
//! sharing one store, and allocation costs no store write per credential.
//! The next block is reserved while the current one still has positions
//! left, so requests do not wait for that commit; a crash and restart thus
//! wastes at most the rest of two blocks. A full list hands over to the
//! next one.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{ListRecord, NS_LIST, NS_META, NS_PERM, StatusError};
use crate::sdjwt::{RandomSalts, SaltSource};
use crate::store::{self, Store, StoreError, Update};

/// Positions reserved by one durable cursor update.
pub const BLOCK: usize = 128;

/// The cursor's key in [`NS_META`].
const CURSOR: &str = "cursor";

/// A handed-out index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    pub list: u32,
    pub idx: usize,
}

/// The durable cursor: positions `0..next` of `list`'s permutation are
/// reserved (by this process or another one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct Cursor {
    list: u32,
    size: usize,
    next: usize,
}

impl Cursor {
    /// The block this reservation takes and the cursor after it: the next
    /// `BLOCK` positions of the list, or the start of the next list (of
    /// `size` entries) when this one is used up.
    fn reserve(cur: Option<Cursor>, first_list: u32, size: usize) -> (Block, Cursor) {
        let c = match cur {
            Some(c) if c.next < c.size => c,
            Some(c) => Cursor {
                list: c.list + 1,
                size,
                next: 0,
            },
            None => Cursor {
                list: first_list,
                size,
                next: 0,
            },
        };
        let end = (c.next + BLOCK).min(c.size);
        (
            Block {
                list: c.list,
                size: c.size,
                next: c.next,
                end,
            },
            Cursor { next: end, ..c },
        )
    }
}

/// Reserved positions `next..end` of `list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Block {
    list: u32,
    size: usize,
    next: usize,
    end: usize,
}

struct Current {
    block: Block,
    perm: Arc<[u32]>,
}

impl Current {
    fn remaining(&self) -> usize {
        self.block.end - self.block.next
    }
}

/// When the block in use has this many positions left, the next one is
/// reserved, so requests do not wait for the cursor's durable commit.
const LOW_WATER: usize = BLOCK / 2;

/// Positions ready to hand out: the block in use and the one reserved
/// ahead of it.
#[derive(Default)]
struct Ready {
    current: Option<Current>,
    spare: Option<Current>,
    /// A request is reserving the next block.
    refilling: bool,
}

impl Ready {
    /// The next position, if one is ready; and whether the caller should
    /// reserve the next block (only one caller at a time is told so).
    fn take(&mut self) -> (Option<Allocation>, bool) {
        if self.current.as_ref().is_none_or(|c| c.remaining() == 0) {
            if let Some(spare) = self.spare.take() {
                self.current = Some(spare);
            }
        }
        let got = self
            .current
            .as_mut()
            .filter(|c| c.remaining() > 0)
            .map(|c| {
                let idx = c.perm[c.block.next] as usize;
                c.block.next += 1;
                Allocation {
                    list: c.block.list,
                    idx,
                }
            });
        let refill = !self.stocked() && !self.refilling;
        if refill {
            self.refilling = true;
        }
        (got, refill)
    }

    /// Enough is ready that no reservation is needed yet.
    fn stocked(&self) -> bool {
        self.spare.is_some()
            || self
                .current
                .as_ref()
                .is_some_and(|c| c.remaining() > LOW_WATER)
    }

    fn add(&mut self, c: Current) {
        if self.current.as_ref().is_some_and(|c| c.remaining() > 0) {
            self.spare = Some(c);
        } else {
            self.current = Some(c);
        }
    }
}

/// What the reserving request knows from earlier reservations.
#[derive(Default)]
struct Reserver {
    /// The list a cursorless store starts with, once looked up.
    first_list: Option<u32>,
    /// The list this process last reserved in, with its permutation.
    list: Option<(u32, Arc<[u32]>)>,
}

impl Reserver {
    /// Moves the durable cursor by one block and returns that block with
    /// its list's permutation.
    async fn reserve(
        &mut self,
        store: &dyn Store,
        now: i64,
        size: usize,
    ) -> Result<Current, StatusError> {
        let first = match self.first_list {
            Some(f) => f,
            None => first_list(store, now).await?,
        };
        // Once the cursor exists (after the update below), it decides.
        self.first_list = Some(first);
        let decide = move |cur: Option<&[u8]>| -> Result<(Block, Cursor), StoreError> {
            let cur = cur.map(store::from_bytes::<Cursor>).transpose()?;
            Ok(Cursor::reserve(cur, first, size))
        };
        let seen = store
            .update(
                NS_META,
                CURSOR.into(),
                now,
                Box::new(
                    move |cur| match decide(cur).and_then(|(_, c)| store::to_bytes(&c)) {
                        Ok(value) => Update::Put {
                            value,
                            expires_at: None,
                        },
                        Err(_) => Update::Keep,
                    },
                ),
            )
            .await?;
        // Replay the (pure) decision on what the update saw.
        let (block, _) = decide(seen.as_deref())?;
        let perm = match &self.list {
            Some((list, perm)) if *list == block.list => perm.clone(),
            // A list new to this process: make sure its record exists (the
            // process that moved the cursor into it may have crashed first).
            _ => {
                ensure_list(store, block.list, block.size, now).await?;
                let perm = permutation(store, block.list, block.size, now).await?;
                self.list = Some((block.list, perm.clone()));
                perm
            }
        };
        Ok(Current { block, perm })
    }
}

/// Hands out status list indices; one per process, shared by all requests.
pub struct Allocator {
    /// Entries of a new list.
    size: usize,
    ready: std::sync::Mutex<Ready>,
    /// One reservation at a time.
    reserver: tokio::sync::Mutex<Reserver>,
}

impl std::fmt::Debug for Allocator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Allocator")
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

/// Clears [`Ready::refilling`] however the reserving request ends (also
/// when its future is dropped).
struct Refilling<'a>(&'a std::sync::Mutex<Ready>);

impl Drop for Refilling<'_> {
    fn drop(&mut self) {
        lock(self.0).refilling = false;
    }
}

fn lock(m: &std::sync::Mutex<Ready>) -> std::sync::MutexGuard<'_, Ready> {
    // Nothing panics while holding it; a poisoned lock still holds
    // consistent positions.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Allocator {
    /// An allocator whose new lists have `size` entries.
    pub fn new(size: usize) -> Self {
        Allocator {
            size,
            ready: std::sync::Mutex::default(),
            reserver: tokio::sync::Mutex::default(),
        }
    }

    /// A fresh index: never handed out before by any allocator on `store`.
    pub async fn next(&self, store: &dyn Store, now: i64) -> Result<Allocation, StatusError> {
        loop {
            let (got, refill) = lock(&self.ready).take();
            if refill {
                let _flag = Refilling(&self.ready);
                let reserved = self.refill(store, now).await;
                match (&got, reserved) {
                    (_, Ok(())) => {}
                    (None, Err(e)) => return Err(e),
                    // This request has its index; the next one that finds
                    // nothing ready reserves again and reports the error.
                    (Some(_), Err(e)) => {
                        tracing::warn!(error = %e, "reserving status indices ahead failed");
                    }
                }
            } else if got.is_none() {
                // Another request is reserving: wait for it (or take over).
                self.refill(store, now).await?;
            }
            if let Some(a) = got {
                return Ok(a);
            }
        }
    }

    /// Reserves the next block unless enough is ready by now.
    async fn refill(&self, store: &dyn Store, now: i64) -> Result<(), StatusError> {
        let mut reserver = self.reserver.lock().await;
        if lock(&self.ready).stocked() {
            return Ok(());
        }
        let c = reserver.reserve(store, now, self.size).await?;
        lock(&self.ready).add(c);
        Ok(())
    }
}

/// The list a store without a cursor starts with: after every list already
/// there (data written before cursors existed), so no index is reused.
async fn first_list(store: &dyn Store, now: i64) -> Result<u32, StatusError> {
    if store.get(NS_META, CURSOR.into(), now).await?.is_some() {
        return Ok(1); // unused: the cursor decides
    }
    let lists = store.scan(NS_LIST, String::new(), now, usize::MAX).await?;
    Ok(lists
        .iter()
        .filter_map(|e| e.key.parse::<u32>().ok())
        .max()
        .map_or(1, |m| m + 1))
}

/// The list's permutation: drawn and stored by whoever needs it first.
async fn permutation(
    store: &dyn Store,
    list: u32,
    size: usize,
    now: i64,
) -> Result<Arc<[u32]>, StatusError> {
    let key = list.to_string();
    if let Some(bytes) = store.get(NS_PERM, key.clone(), now).await? {
        return decode_perm(&bytes, size);
    }
    let perm = shuffled(size);
    let bytes: Vec<u8> = perm.iter().flat_map(|i| i.to_le_bytes()).collect();
    match store.insert(NS_PERM, key.clone(), bytes, None, now).await {
        Ok(()) => Ok(perm.into()),
        // Another process drew it first: use theirs.
        Err(StoreError::Conflict) => match store.get(NS_PERM, key, now).await? {
            Some(bytes) => decode_perm(&bytes, size),
            None => Err(StoreError::Missing.into()),
        },
        Err(e) => Err(e.into()),
    }
}

fn decode_perm(bytes: &[u8], size: usize) -> Result<Arc<[u32]>, StatusError> {
    if bytes.len() != size * 4 {
        return Err(StoreError::Backend("a status list permutation is unreadable".into()).into());
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect())
}

/// `0..size` in uniformly random order (Fisher–Yates with the CSPRNG).
fn shuffled(size: usize) -> Vec<u32> {
    // Lists are far smaller than 2^32 entries (checked by the settings).
    let mut perm: Vec<u32> = (0..size as u32).collect();
    let mut rng = RandomSalts;
    for i in (1..perm.len()).rev() {
        let j = rng.below(i as u32 + 1) as usize;
        perm.swap(i, j);
    }
    perm
}

async fn ensure_list(store: &dyn Store, id: u32, size: usize, now: i64) -> Result<(), StatusError> {
    let rec = store::to_bytes(&ListRecord::new(id, size, now))?;
    match store.insert(NS_LIST, id.to_string(), rec, None, now).await {
        Ok(()) => {
            tracing::info!(list = id, "new status list");
            Ok(())
        }
        Err(StoreError::Conflict) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::sync::Arc;

    use super::*;
    use crate::status::{self, Status};
    use crate::store::redb::RedbStore;

    fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let s = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        (dir, Arc::new(s))
    }

    #[test]
    fn shuffled_is_a_permutation_and_not_the_identity() {
        let p = shuffled(1 << 12);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..1 << 12).collect::<Vec<u32>>());
        assert_ne!(p, sorted);
    }

    #[test]
    fn cursor_reserves_blocks_then_moves_to_the_next_list() {
        let (b, c) = Cursor::reserve(None, 3, 300);
        assert_eq!((b.list, b.next, b.end), (3, 0, BLOCK));
        let (b, c) = Cursor::reserve(Some(c), 9, 300);
        assert_eq!((b.list, b.next, b.end), (3, BLOCK, 2 * BLOCK));
        let (b, c) = Cursor::reserve(Some(c), 9, 300);
        assert_eq!((b.list, b.next, b.end), (3, 2 * BLOCK, 300));
        let (b, _) = Cursor::reserve(Some(c), 9, 500);
        assert_eq!((b.list, b.size, b.next, b.end), (4, 500, 0, BLOCK));
    }

    #[tokio::test]
    async fn every_index_once_then_the_next_list() {
        let (_d, s) = store();
        // A tiny list so that it fills: every index of list 1 is handed out
        // exactly once, then list 2 takes over.
        let size = 200;
        let alloc = Allocator::new(size);
        let mut seen = HashSet::new();
        for _ in 0..size + 10 {
            let a = alloc.next(&*s, 0).await.unwrap();
            assert!(a.idx < size);
            assert!(seen.insert((a.list, a.idx)), "{a:?} handed out twice");
        }
        assert_eq!(seen.iter().filter(|(l, _)| *l == 1).count(), size);
        assert_eq!(seen.iter().filter(|(l, _)| *l == 2).count(), 10);
        // Not handed out in index order.
        let first: Vec<usize> = {
            let fresh = Allocator::new(size);
            let (_d2, s2) = store();
            let mut v = Vec::new();
            for _ in 0..20 {
                v.push(fresh.next(&*s2, 0).await.unwrap().idx);
            }
            v
        };
        assert_ne!(first, (0..20).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn concurrent_allocations_and_two_allocators_never_collide() {
        let (_d, s) = store();
        // Two allocators on one store stand for two processes.
        let allocators = [
            Arc::new(Allocator::new(1000)),
            Arc::new(Allocator::new(1000)),
        ];
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let (s, a) = (s.clone(), allocators[i % 2].clone());
                tokio::spawn(async move {
                    let mut got = Vec::new();
                    for _ in 0..40 {
                        got.push(a.next(&*s, 0).await.unwrap());
                    }
                    got
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for t in tasks {
            for a in t.await.unwrap() {
                assert!(seen.insert((a.list, a.idx)), "{a:?} handed out twice");
            }
        }
        assert_eq!(seen.len(), 64 * 40);
    }

    #[tokio::test]
    async fn a_restart_continues_after_the_reserved_block() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.redb");
        let mut seen = HashSet::new();
        for _ in 0..3 {
            // Each round is a process that hands out a few indices and stops.
            let s = RedbStore::open(&path).unwrap();
            let alloc = Allocator::new(1 << 10);
            for _ in 0..5 {
                let a = alloc.next(&s, 0).await.unwrap();
                assert!(seen.insert((a.list, a.idx)), "{a:?} handed out twice");
            }
        }
        let s = RedbStore::open(&path).unwrap();
        let cur: Cursor =
            store::from_bytes(&s.get(NS_META, CURSOR.into(), 0).await.unwrap().unwrap()).unwrap();
        assert_eq!((cur.list, cur.next), (1, 3 * BLOCK));
    }

    #[tokio::test]
    async fn the_next_block_is_reserved_before_the_current_one_runs_out() {
        let (_d, s) = store();
        let alloc = Allocator::new(1 << 12);
        let cursor = |s: Arc<dyn Store>| async move {
            let c: Cursor =
                store::from_bytes(&s.get(NS_META, CURSOR.into(), 0).await.unwrap().unwrap())
                    .unwrap();
            c.next
        };
        for _ in 0..BLOCK - LOW_WATER - 1 {
            alloc.next(&*s, 0).await.unwrap();
        }
        assert_eq!(cursor(s.clone()).await, BLOCK);
        // The request that leaves LOW_WATER positions reserves the next block.
        alloc.next(&*s, 0).await.unwrap();
        assert_eq!(cursor(s.clone()).await, 2 * BLOCK);
        // Then nothing more is reserved until that block is in use.
        for _ in 0..LOW_WATER {
            alloc.next(&*s, 0).await.unwrap();
        }
        assert_eq!(cursor(s.clone()).await, 2 * BLOCK);
    }

    #[tokio::test]
    async fn lists_written_before_cursors_are_skipped() {
        let (_d, s) = store();
        ensure_list(&*s, 1, 1 << 17, 0).await.unwrap();
        ensure_list(&*s, 2, 1 << 17, 0).await.unwrap();
        let a = Allocator::new(1 << 17).next(&*s, 0).await.unwrap();
        assert_eq!(a.list, 3);
    }

    #[tokio::test]
    async fn set_and_get_status() {
        let (_d, s) = store();
        let a = Allocator::new(1 << 17).next(&*s, 0).await.unwrap();
        assert_eq!(
            status::get(&*s, a.list, a.idx, 0).await.unwrap(),
            Status::Valid
        );
        status::set(&*s, a.list, a.idx, Status::Suspended, 0)
            .await
            .unwrap();
        assert_eq!(
            status::get(&*s, a.list, a.idx, 0).await.unwrap(),
            Status::Suspended
        );
        status::set(&*s, a.list, a.idx, Status::Invalid, 0)
            .await
            .unwrap();
        assert!(matches!(
            status::set(&*s, a.list, a.idx, Status::Valid, 0).await,
            Err(StatusError::RevokedIsFinal)
        ));
        assert!(matches!(
            status::get(&*s, 99, 0, 0).await,
            Err(StatusError::UnknownList)
        ));
    }
}
