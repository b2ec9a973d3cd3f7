//! Replay markers of single-use proofs (DPoP proofs, RFC 9449 §11.1;
//! client attestation PoPs, draft-ietf-oauth-attestation-based-client-auth
//! §12.1): an empty entry under the proof's replay key, in the store shared
//! by all nodes, until the proof's `iat` has left the window on every node
//! ([`crate::trust::replay_expires_at`]).

use crate::store::{Store, StoreError, TxOp};

/// The marker a proof leaves once used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayMarker {
    /// The namespace of the proof's kind (`ns::DPOP_JTI`, …).
    pub ns: &'static str,
    /// The proof's replay key (a hash of its key and `jti`).
    pub key: String,
    /// Unix seconds.
    pub expires_at: i64,
}

impl ReplayMarker {
    /// Whether the proof is recorded as used.
    pub async fn spent(&self, store: &dyn Store, now: i64) -> Result<bool, StoreError> {
        Ok(store.get(self.ns, self.key.clone(), now).await?.is_some())
    }

    /// The store step that records the proof as used: part of the
    /// transaction that commits what the request achieved, which then
    /// fails with [`StoreError::Conflict`] if the proof was used meanwhile.
    pub fn spend(&self, now: i64) -> TxOp {
        TxOp::Insert {
            ns: self.ns,
            key: self.key.clone(),
            value: Vec::new(),
            expires_at: Some(self.expires_at),
            now,
        }
    }

    /// Records the proof as used, on its own: `Ok(false)` when it already
    /// was (a replay).
    pub async fn record(&self, store: &dyn Store, now: i64) -> Result<bool, StoreError> {
        let inserted = store
            .insert(
                self.ns,
                self.key.clone(),
                Vec::new(),
                Some(self.expires_at),
                now,
            )
            .await;
        match inserted {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::redb::RedbStore;

    #[test]
    fn a_marker_is_spent_once_until_it_expires() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("s.redb")).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let m = ReplayMarker {
            ns: "replay_test",
            key: "k".into(),
            expires_at: 1180,
        };
        let other = ReplayMarker {
            key: "other".into(),
            ..m.clone()
        };
        rt.block_on(async {
            assert!(!m.spent(&store, 1000).await.unwrap());
            // In a transaction: once, then `Conflict`.
            store.transact(vec![m.spend(1000)]).await.unwrap();
            assert!(m.spent(&store, 1000).await.unwrap());
            assert!(matches!(
                store.transact(vec![m.spend(1001)]).await,
                Err(StoreError::Conflict)
            ));
            // On its own: the same.
            assert!(!m.record(&store, 1001).await.unwrap());
            assert!(other.record(&store, 1001).await.unwrap());
            assert!(!other.record(&store, 1002).await.unwrap());
            // Live up to `expires_at`, gone from then on.
            assert!(m.spent(&store, 1179).await.unwrap());
            assert!(!m.spent(&store, 1180).await.unwrap());
            assert!(m.record(&store, 1180).await.unwrap());
        });
    }
}
