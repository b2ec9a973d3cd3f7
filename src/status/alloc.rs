//! Index allocation: a uniformly random index of the current list, claimed
//! by inserting `"<list>/<index>"` into [`NS_ALLOC`](super::NS_ALLOC). The
//! insert is durable and fails when the index was ever handed out, so no
//! index is given twice, also across a crash and restart. When
//! [`PROBES`] random indices in a row are taken (the list is about 90 %
//! full), new credentials move to the next list.

use super::{ListRecord, NS_ALLOC, NS_LIST, NS_META, StatusError};
use crate::sdjwt::{RandomSalts, SaltSource};
use crate::store::{self, Store, StoreError, TxOp, Update};

/// Random probes in one list before moving to the next.
pub const PROBES: usize = 32;

/// A claimed index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allocation {
    pub list: u32,
    pub idx: usize,
}

/// Claims a fresh index for `credential_id`.
pub async fn allocate(
    store: &dyn Store,
    size: usize,
    credential_id: &str,
    now: i64,
) -> Result<Allocation, StatusError> {
    let mut rng = RandomSalts::default();
    let mut list = current(store, size, now).await?;
    loop {
        for _ in 0..PROBES {
            let idx = random_below(&mut rng, size);
            let key = format!("{list}/{idx}");
            match store
                .insert(NS_ALLOC, key, credential_id.as_bytes().to_vec(), None, now)
                .await
            {
                Ok(()) => return Ok(Allocation { list, idx }),
                Err(StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        list = advance(store, list, size, now).await?;
    }
}

/// An index that is free now, not yet claimed: the caller claims it with
/// [`claim_op`] inside the transaction that also stores the credential
/// record, so a credential and its index are written together or not at all.
/// `avoid` holds indices already chosen for the same transaction.
pub async fn candidate(
    store: &dyn Store,
    size: usize,
    now: i64,
    avoid: &[Allocation],
) -> Result<Allocation, StatusError> {
    let mut rng = RandomSalts::default();
    let mut list = current(store, size, now).await?;
    loop {
        for _ in 0..PROBES {
            let a = Allocation {
                list,
                idx: random_below(&mut rng, size),
            };
            if avoid.contains(&a) {
                continue;
            }
            if store
                .get(NS_ALLOC, format!("{}/{}", a.list, a.idx), now)
                .await?
                .is_none()
            {
                return Ok(a);
            }
        }
        list = advance(store, list, size, now).await?;
    }
}

/// The transaction step claiming `a` for `credential_id`; the transaction
/// fails with `Conflict` when someone claimed it meanwhile.
pub fn claim_op(a: Allocation, credential_id: &str, now: i64) -> TxOp {
    TxOp::Insert {
        ns: NS_ALLOC,
        key: format!("{}/{}", a.list, a.idx),
        value: credential_id.as_bytes().to_vec(),
        expires_at: None,
        now,
    }
}

fn random_below(rng: &mut RandomSalts, size: usize) -> usize {
    // Lists are far smaller than 2^32 entries (checked by the settings).
    rng.below(u32::try_from(size).unwrap_or(u32::MAX)) as usize
}

/// The list new credentials go to, created (list 1) on first use.
async fn current(store: &dyn Store, size: usize, now: i64) -> Result<u32, StatusError> {
    match store.get(NS_META, "current".into(), now).await? {
        Some(b) => Ok(store::from_bytes(&b)?),
        None => advance(store, 0, size, now).await,
    }
}

/// Moves "current" from `full` to the next list (or follows whoever moved it
/// first) and makes sure that list exists.
async fn advance(store: &dyn Store, full: u32, size: usize, now: i64) -> Result<u32, StatusError> {
    let next = full + 1;
    ensure_list(store, next, size, now).await?;
    let decide = move |cur: Option<&[u8]>| -> Option<u32> {
        let current = cur
            .and_then(|b| store::from_bytes::<u32>(b).ok())
            .unwrap_or(0);
        (current <= full).then_some(next)
    };
    let seen = store
        .update(
            NS_META,
            "current".into(),
            now,
            Box::new(move |cur| match decide(cur).map(|n| store::to_bytes(&n)) {
                Some(Ok(value)) => Update::Put {
                    value,
                    expires_at: None,
                },
                _ => Update::Keep,
            }),
        )
        .await?;
    match decide(seen.as_deref()) {
        Some(n) => {
            tracing::info!(list = n, "new status list");
            Ok(n)
        }
        // Someone else moved on first; use their list.
        None => Ok(seen
            .as_deref()
            .and_then(|b| store::from_bytes::<u32>(b).ok())
            .unwrap_or(next)),
    }
}

async fn ensure_list(store: &dyn Store, id: u32, size: usize, now: i64) -> Result<(), StatusError> {
    let rec = store::to_bytes(&ListRecord::new(id, size, now))?;
    match store.insert(NS_LIST, id.to_string(), rec, None, now).await {
        Ok(()) | Err(StoreError::Conflict) => Ok(()),
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

    #[tokio::test]
    async fn indices_are_unique_and_lists_roll_over_when_full() {
        let (_d, s) = store();
        // A tiny list so that it fills: every index of list 1 is handed out
        // once, then list 2 takes over.
        let size = 64;
        let mut seen = HashSet::new();
        for i in 0..200 {
            let a = allocate(&*s, size, &format!("c{i}"), 0).await.unwrap();
            assert!(a.idx < size);
            assert!(seen.insert((a.list, a.idx)), "{a:?} handed out twice");
        }
        assert!(seen.iter().any(|(l, _)| *l > 1));
    }

    #[tokio::test]
    async fn concurrent_allocations_never_collide() {
        let (_d, s) = store();
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move { allocate(&*s, 128, &format!("c{i}"), 0).await.unwrap() })
            })
            .collect();
        let mut seen = HashSet::new();
        for t in tasks {
            let a = t.await.unwrap();
            assert!(seen.insert((a.list, a.idx)));
        }
    }

    #[tokio::test]
    async fn set_and_get_status() {
        let (_d, s) = store();
        let a = allocate(&*s, 1 << 17, "c1", 0).await.unwrap();
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
