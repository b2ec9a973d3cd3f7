//! The behaviour every `Store` implementation must have; each backend's
//! tests run these against a real instance.

use std::sync::Arc;

use super::{Store, StoreError, Update};

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
    });
    racing_takers_exactly_one_wins(store, &rt);
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
    assert!(s.sweep(100).await.unwrap() >= 1);
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
    use super::TxOp;
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
