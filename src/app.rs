//! Start-up: from checked [`Settings`] to a ready [`AppState`] (store, keys,
//! registry, back-office key).

use std::path::Path;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Secret, Settings, StoreSpec};
use crate::http::AppState;
use crate::keystore::{self, KeySet, KeyStoreError};
use crate::registry::RegistryError;
use crate::registry::demo::DemoRegistry;
use crate::store::{Store, StoreError, redb::RedbStore};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Keys(#[from] KeyStoreError),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot load the registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("cannot set up the verifier identity: {0}")]
    VerifierKeys(#[from] crate::verifier::VerifierKeyError),
    #[error("the PostgreSQL store is not available in this build; use --store redb")]
    PostgresUnavailable,
}

/// Builds the state the server runs with. `generated_key` is called with a
/// newly generated back-office key (to print it once).
pub fn build_state(
    settings: Settings,
    clock: Arc<dyn Clock>,
    generated_key: impl FnOnce(&str),
) -> Result<AppState, StartError> {
    let keys = KeySet::load_or_generate(&settings.data_dir)?;
    let store: Arc<dyn Store> = match &settings.store {
        StoreSpec::Redb => Arc::new(RedbStore::open(&settings.data_dir.join("store.redb"))?),
        StoreSpec::Postgres(_) => return Err(StartError::PostgresUnavailable),
    };
    let registry = Arc::new(DemoRegistry::load(&settings.registry)?);
    let api_key = match &settings.api_key {
        Some(k) => k.clone(),
        None => load_or_generate_api_key(&settings.data_dir, generated_key)?,
    };
    let verifier = Arc::new(crate::verifier::Verifier::new(
        &settings,
        [
            keys.issuer_es256.public().clone(),
            keys.issuer_eddsa.public().clone(),
        ],
        store.clone(),
    )?);
    Ok(AppState {
        verifier,
        public_create_limit: crate::http::limit::RateLimiter::new(
            crate::http::limit::PUBLIC_CREATE,
        ),
        settings,
        keys,
        store,
        registry,
        clock,
        api_key,
    })
}

/// The back-office key in `<data_dir>/api-key` (0600), generated on first
/// start.
fn load_or_generate_api_key(
    data_dir: &Path,
    generated: impl FnOnce(&str),
) -> Result<Secret, KeyStoreError> {
    let path = data_dir.join("api-key");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(Secret::new(text.trim())),
        _ => {
            let key = format!(
                "dk_{}",
                crate::crypto::b64url(crate::crypto::random_bytes::<32>())
            );
            std::fs::create_dir_all(data_dir).map_err(|source| KeyStoreError::Io {
                path: data_dir.to_owned(),
                source,
            })?;
            keystore::write_private_atomically(&path, key.as_bytes())?;
            generated(&key);
            Ok(Secret::new(key))
        }
    }
}
