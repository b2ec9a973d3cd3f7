//! The behaviour every `Store` implementation must have; each backend's
//! tests run these against a real instance.

use std::sync::Arc;

use super::{SWEEP_BATCH, Store, StoreError, TxOp, Update, UpdateAndFn, sweep_expired};

pub fn run_all(store: Arc<dyn Store>) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        insert_get_take(&*store).await;
        expiry_hides_and_sweep_deletes(&*store).await;
        update_is_read_modify_write(&*store).await;
        scan_by_prefix(&*store).await;
        durable_records(&*store).await;
        transactions_are_all_or_nothing(&*store).await;
        an_update_and_its_steps_commit_together(&*store).await;
        a_sweep_batch_is_bounded_and_a_pass_removes_all(&*store).await;
    });
    racing_takers_exactly_one_wins(store.clone(), &rt);
    racing_updates_lose_nothing(store, &rt);
}

async fn insert_get_take(s: &dyn Store) {
    s.insert("t1", "a".into(), b"1".to_vec(), Some(100), 0)
        .await
        .unwrap();
    assert!(matches!(
        s.insert("t1", "a".into(), b"2".to_vec(), Some(100), 0)
            .await,
        Err(StoreError::Conflict)
    ));
    // Another namespace is another key.
    s.insert("t2", "a".into(), b"3".to_vec(), Some(100), 0)
        .await
        .unwrap();
    assert_eq!(
        s.get("t1", "a".into(), 10).await.unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(
        s.take("t1", "a".into(), 10).await.unwrap(),
        Some(b"1".to_vec())
    );
    assert_eq!(s.take("t1", "a".into(), 10).await.unwrap(), None);
    assert_eq!(s.get("t1", "a".into(), 10).await.unwrap(), None);
    assert_eq!(
        s.get("t2", "a".into(), 10).await.unwrap(),
        Some(b"3".to_vec())
    );
}

async fn expiry_hides_and_sweep_deletes(s: &dyn Store) {
    s.insert("exp", "k".into(), b"v".to_vec(), Some(50), 0)
        .await
        .unwrap();
    assert_eq!(
        s.get("exp", "k".into(), 49).await.unwrap(),
        Some(b"v".to_vec())
    );
    assert_eq!(
        s.get("exp", "k".into(), 50).await.unwrap(),
        None,
        "expired at expires_at"
    );
    assert_eq!(s.take("exp", "k".into(), 50).await.unwrap(), None);
    // An expired entry does not block a new insert.
    s.insert("exp", "k".into(), b"w".to_vec(), Some(200), 60)
        .await
        .unwrap();
    s.insert("exp", "old".into(), b"o".to_vec(), Some(70), 60)
        .await
        .unwrap();
    assert!(s.sweep(100, 10).await.unwrap() >= 1);
    assert_eq!(
        s.get("exp", "k".into(), 100).await.unwrap(),
        Some(b"w".to_vec())
    );
    assert!(
        s.scan("exp", String::new(), 0, 10)
            .await
            .unwrap()
            .iter()
            .all(|e| e.key != "old")
    );
}

async fn update_is_read_modify_write(s: &dyn Store) {
    let bump = || -> super::UpdateFn {
        Box::new(|cur| {
            let n = cur.map_or(0, |c| c[0]);
            if n >= 2 {
                Update::Delete
            } else {
                Update::Put {
                    value: vec![n + 1],
                    expires_at: Some(1000),
                }
            }
        })
    };
    assert_eq!(s.update("ctr", "c".into(), 0, bump()).await.unwrap(), None);
    assert_eq!(
        s.update("ctr", "c".into(), 0, bump()).await.unwrap(),
        Some(vec![1])
    );
    assert_eq!(
        s.update("ctr", "c".into(), 0, bump()).await.unwrap(),
        Some(vec![2])
    );
    assert_eq!(
        s.get("ctr", "c".into(), 0).await.unwrap(),
        None,
        "third bump deletes"
    );
    assert_eq!(
        s.update("ctr", "k".into(), 0, Box::new(|_| Update::Keep))
            .await
            .unwrap(),
        None
    );
    assert_eq!(s.get("ctr", "k".into(), 0).await.unwrap(), None);
}

async fn scan_by_prefix(s: &dyn Store) {
    for k in ["list/1/a", "list/1/b", "list/2/a", "lisx"] {
        s.put("scan", k.into(), k.as_bytes().to_vec(), None)
            .await
            .unwrap();
    }
    let keys: Vec<String> = s
        .scan("scan", "list/1/".into(), 0, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .collect();
    assert_eq!(keys, vec!["list/1/a", "list/1/b"]);
    assert_eq!(s.scan("scan", "list/".into(), 0, 2).await.unwrap().len(), 2);
    assert!(
        s.scan("scan2", String::new(), 0, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn durable_records(s: &dyn Store) {
    s.put("rec", "r".into(), b"1".to_vec(), None).await.unwrap();
    s.put("rec", "r".into(), b"2".to_vec(), None).await.unwrap();
    assert_eq!(
        s.get("rec", "r".into(), i64::MAX - 1).await.unwrap(),
        Some(b"2".to_vec())
    );
    assert!(s.delete("rec", "r".into()).await.unwrap());
    assert!(!s.delete("rec", "r".into()).await.unwrap());
}

async fn transactions_are_all_or_nothing(s: &dyn Store) {
    s.insert("tx", "nonce".into(), b"n".to_vec(), Some(100), 0)
        .await
        .unwrap();
    s.put("tx", "taken-index".into(), b"x".to_vec(), None)
        .await
        .unwrap();
    let ops = |idx: &str| {
        vec![
            TxOp::Take {
                ns: "tx",
                key: "nonce".into(),
                now: 10,
            },
            TxOp::Insert {
                ns: "tx",
                key: idx.into(),
                value: b"alloc".to_vec(),
                expires_at: None,
                now: 10,
            },
            TxOp::Put {
                ns: "tx",
                key: "record".into(),
                value: b"rec".to_vec(),
                expires_at: None,
            },
        ]
    };
    // The index is taken: nothing happens, the nonce stays.
    assert!(matches!(
        s.transact(ops("taken-index")).await,
        Err(StoreError::Conflict)
    ));
    assert_eq!(
        s.get("tx", "nonce".into(), 10).await.unwrap(),
        Some(b"n".to_vec())
    );
    assert_eq!(s.get("tx", "record".into(), 10).await.unwrap(), None);
    // A free index: everything happens at once.
    s.transact(ops("free-index")).await.unwrap();
    assert_eq!(s.get("tx", "nonce".into(), 10).await.unwrap(), None);
    assert_eq!(
        s.get("tx", "free-index".into(), 10).await.unwrap(),
        Some(b"alloc".to_vec())
    );
    assert_eq!(
        s.get("tx", "record".into(), 10).await.unwrap(),
        Some(b"rec".to_vec())
    );
    // The nonce is gone now: a second use fails and writes nothing.
    assert!(matches!(
        s.transact(ops("other-index")).await,
        Err(StoreError::Missing)
    ));
    assert_eq!(s.get("tx", "other-index".into(), 10).await.unwrap(), None);
}

/// Entries of `ns` still in the store, expired or not (read as at time 0,
/// when nothing had expired yet).
async fn present(s: &dyn Store, ns: &'static str) -> usize {
    s.scan(ns, String::new(), 0, usize::MAX)
        .await
        .unwrap()
        .len()
}

/// A flood of expired entries — more than one batch — is gone after one
/// sweeper pass, not just hidden; one `sweep` call deletes one batch.
async fn a_sweep_batch_is_bounded_and_a_pass_removes_all(s: &dyn Store) {
    let expired = SWEEP_BATCH * 5 / 2;
    let mut ops: Vec<TxOp> = (0..expired)
        .map(|i| TxOp::Put {
            ns: "sweep",
            key: format!("gone-{i:05}"),
            value: b"personal data".to_vec(),
            expires_at: Some(5000 + (i % 7) as i64),
        })
        .collect();
    ops.push(TxOp::Put {
        ns: "sweep",
        key: "live".into(),
        value: b"kept".to_vec(),
        expires_at: Some(9000),
    });
    s.transact(ops).await.unwrap();
    assert_eq!(present(s, "sweep").await, expired + 1);
    // Hidden at once, deleted only by a sweep.
    assert_eq!(
        s.scan("sweep", String::new(), 8000, usize::MAX)
            .await
            .unwrap()
            .len(),
        1
    );
    assert_eq!(present(s, "sweep").await, expired + 1);
    assert_eq!(s.sweep(8000, 10).await.unwrap(), 10, "one batch of 10");
    // (Earlier steps may have left an expired entry in another namespace
    // that shares the batch.)
    let left = present(s, "sweep").await;
    assert!((expired + 1 - 10..=expired).contains(&left), "{left}");
    let swept = sweep_expired(s, 8000).await.unwrap();
    assert!(swept >= expired - 10, "{swept}");
    assert_eq!(present(s, "sweep").await, 1, "one pass removes them all");
    assert_eq!(
        s.get("sweep", "live".into(), 8000).await.unwrap(),
        Some(b"kept".to_vec())
    );
    assert_eq!(s.sweep(8000, SWEEP_BATCH).await.unwrap(), 0);
}

fn racing_takers_exactly_one_wins(store: Arc<dyn Store>, rt: &tokio::runtime::Runtime) {
    for round in 0..20 {
        let key = format!("race-{round}");
        rt.block_on(store.insert("race", key.clone(), b"v".to_vec(), Some(1000), 0))
            .unwrap();
        let handles: Vec<_> = (0..16)
            .map(|_| {
                let s = store.clone();
                let k = key.clone();
                rt.spawn(async move { s.take("race", k, 1).await.unwrap().is_some() })
            })
            .collect();
        let wins = rt.block_on(async {
            let mut n = 0;
            for h in handles {
                n += usize::from(h.await.unwrap());
            }
            n
        });
        assert_eq!(wins, 1, "round {round}");
    }
}

/// Concurrent read-modify-writes of one key, starting while it does not
/// exist yet: every increment lands (none is lost to a racing writer).
fn racing_updates_lose_nothing(store: Arc<dyn Store>, rt: &tokio::runtime::Runtime) {
    const WRITERS: u8 = 24;
    let handles: Vec<_> = (0..WRITERS)
        .map(|_| {
            let s = store.clone();
            rt.spawn(async move {
                s.update(
                    "counter",
                    "n".into(),
                    0,
                    Box::new(|cur| Update::Put {
                        value: vec![cur.map_or(0, |c| c[0]) + 1],
                        expires_at: None,
                    }),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut seen: Vec<u8> = rt.block_on(async {
        let mut seen = Vec::new();
        for h in handles {
            seen.push(h.await.unwrap().map_or(0, |c| c[0]));
        }
        seen
    });
    seen.sort_unstable();
    assert_eq!(
        seen,
        (0..WRITERS).collect::<Vec<_>>(),
        "each writer saw its own predecessor"
    );
    assert_eq!(
        rt.block_on(store.get("counter", "n".into(), 0)).unwrap(),
        Some(vec![WRITERS])
    );
}

async fn an_update_and_its_steps_commit_together(s: &dyn Store) {
    s.put("ua", "code".into(), b"1".to_vec(), None)
        .await
        .unwrap();
    s.put("ua", "offer".into(), b"o".to_vec(), None)
        .await
        .unwrap();
    s.put("ua", "taken".into(), b"t".to_vec(), None)
        .await
        .unwrap();
    s.put("ua", "held".into(), b"h".to_vec(), None)
        .await
        .unwrap();
    // A step whose condition fails undoes everything: the entry's change,
    // the deletion and the take before it.
    let redeem = |token: &str| -> UpdateAndFn {
        let token = token.to_owned();
        Box::new(move |cur| {
            assert_eq!(cur, Some(&b"1"[..]));
            (
                Update::Delete,
                vec![
                    TxOp::Delete {
                        ns: "ua",
                        key: "offer".into(),
                    },
                    TxOp::Take {
                        ns: "ua",
                        key: "taken".into(),
                        now: 0,
                    },
                    TxOp::Insert {
                        ns: "ua",
                        key: token,
                        value: b"grant".to_vec(),
                        expires_at: None,
                        now: 0,
                    },
                ],
            )
        })
    };
    assert!(matches!(
        s.update_and("ua", "code".into(), 0, redeem("held")).await,
        Err(StoreError::Conflict)
    ));
    for (key, value) in [("code", "1"), ("offer", "o"), ("taken", "t")] {
        assert_eq!(
            s.get("ua", key.into(), 0).await.unwrap(),
            Some(value.as_bytes().to_vec()),
            "{key} untouched"
        );
    }
    assert_eq!(s.get("ua", "token".into(), 0).await.unwrap(), None);
    // All steps hold: one commit for all of them.
    assert_eq!(
        s.update_and("ua", "code".into(), 0, redeem("token"))
            .await
            .unwrap(),
        Some(b"1".to_vec())
    );
    for key in ["code", "offer", "taken"] {
        assert_eq!(
            s.get("ua", key.into(), 0).await.unwrap(),
            None,
            "{key} gone"
        );
    }
    assert_eq!(
        s.get("ua", "token".into(), 0).await.unwrap(),
        Some(b"grant".to_vec())
    );
    // Steps may not name the updated key itself.
    let own: UpdateAndFn = Box::new(|_| {
        (
            Update::Keep,
            vec![TxOp::Delete {
                ns: "ua",
                key: "token".into(),
            }],
        )
    });
    assert!(matches!(
        s.update_and("ua", "token".into(), 0, own).await,
        Err(StoreError::Backend(_))
    ));
    assert!(s.get("ua", "token".into(), 0).await.unwrap().is_some());
}
