//! Start-up: from checked [`Settings`] to a ready [`AppState`] (store, keys,
//! registry, back-office key).

use std::path::Path;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::{Secret, Settings, StoreSpec};
use crate::crypto::x509::{AnchorError, Anchors};
use crate::http::AppState;
use crate::http::limits::{Rate, RateLimiter};
use crate::keystore::{self, KeySet, KeyStoreError};
use crate::registry::RegistryError;
use crate::registry::demo::DemoRegistry;
use crate::store::{Store, StoreError, postgres::PostgresStore, redb::RedbStore};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Keys(#[from] KeyStoreError),
    #[error("cannot open the store: {0}")]
    Store(#[from] StoreError),
    #[error("cannot open the PostgreSQL store: {0}")]
    Postgres(#[from] crate::store::postgres::ConnectError),
    #[error("cannot load the registry: {0}")]
    Registry(#[from] RegistryError),
    #[error("cannot set up the issuer's certificate chain: {0}")]
    IssuerCertificates(#[from] crate::issuer::certificate::CertificateError),
    #[error("cannot set up the verifier identity: {0}")]
    VerifierKeys(#[from] crate::verifier::VerifierKeyError),
    #[error("cannot set up outbound connections: {0}")]
    Outbound(#[from] crate::verifier::outbound::OutboundError),
    #[error("cannot load the verifier's trust anchors ([verifier.trust] anchors): {0}")]
    Anchors(#[from] AnchorError),
    #[error("cannot load the wallet providers' roots ([attestation] wallet_provider_roots): {0}")]
    WalletProviders(AnchorError),
}

/// Builds the state the server runs with. `generated_key` is called with a
/// newly generated back-office key (to print it once).
pub fn build_state(
    settings: Settings,
    clock: Arc<dyn Clock>,
    generated_key: impl FnOnce(&str),
) -> Result<AppState, StartError> {
    if settings.demo {
        tracing::warn!(
            "demo mode: the pick-your-record login, the /demo/* pages and the verifier's demo CA \
             are on; anyone can sign in as any registry subject. Never use it in production"
        );
    }
    let keys = certify_issuer_key(
        KeySet::load_or_generate(&settings.data_dir)?,
        &settings,
        clock.now(),
    )?;
    let store: Arc<dyn Store> = match &settings.store {
        StoreSpec::Redb => Arc::new(RedbStore::open_with_cache(
            &settings.data_dir.join("store.redb"),
            settings.store_tuning.redb_cache_mib << 20,
        )?),
        StoreSpec::Postgres(url) => Arc::new(PostgresStore::connect(
            url,
            settings.store_tuning.postgres_connections,
        )?),
    };
    let registry = Arc::new(open_registry(
        &*store,
        settings.registry.as_deref(),
        clock.now(),
    )?);
    let api_key = match &settings.api_key {
        Some(k) => k.clone(),
        None => load_or_generate_api_key(&settings.data_dir, generated_key)?,
    };
    let limits = settings.limits.clone();
    let verifier = Arc::new(
        crate::verifier::Verifier::new(
            &settings,
            [
                keys.issuer_es256.public().clone(),
                keys.issuer_eddsa.public().clone(),
            ],
            store.clone(),
            crate::verifier::outbound::Outbound::from_settings(&settings.verifier)?,
        )?
        .with_anchors(load_anchors(&settings.verifier.trust.anchors)?),
    );
    let wallet_providers = Arc::new(
        load_anchors(&settings.attestation.wallet_provider_roots)
            .map_err(StartError::WalletProviders)?,
    );
    if settings.profile == crate::config::Profile::Haip && wallet_providers.is_empty() {
        tracing::warn!(
            "--profile haip requires wallet (client) attestation at /par and /token, but no \
             [attestation] wallet_provider_roots are configured: every /par and /token request \
             will be refused (invalid_client: no wallet provider is trusted), so no wallet can \
             get a credential"
        );
    }
    verifier.attach_registry(keys.store_secret.clone());
    let status = crate::status::Allocator::new(settings.issuer.status_list_size);
    // The provider's TLS trusts what the verifier's outbound calls trust
    // (bundled roots plus `[verifier] ca_file`).
    let signin = settings.oidc.clone().map(|oidc| {
        let tls = crate::verifier::outbound::Outbound::from_settings(&settings.verifier)
            .map(|o| o.tls_config());
        tls.map(|tls| Arc::new(crate::signin::Provider::new(oidc, tls)))
    });
    let signin = signin.transpose()?;
    Ok(AppState {
        signin,
        wallet_providers,
        verifier,
        parties: crate::verifier::parties::Parties::new(store.clone()),
        settings,
        keys,
        store,
        registry,
        status,
        status_tokens: Default::default(),
        signed_metadata: Default::default(),
        clock,
        api_key,
        metrics: Default::default(),
        limiter: RateLimiter::new(
            Rate {
                per_second: limits.per_client_rate,
                burst: limits.per_client_burst,
            },
            Rate {
                per_second: limits.global_rate,
                burst: limits.global_burst,
            },
        ),
    })
}

/// Attaches the issuer's certificate chain to its ES256 key, so what that
/// key signs carries `x5c` (see [`crate::issuer::certificate`]).
fn certify_issuer_key(keys: KeySet, settings: &Settings, now: i64) -> Result<KeySet, StartError> {
    use crate::issuer::certificate::{self, Certificates};
    let chain = certificate::load_or_generate(
        &settings.data_dir,
        &settings.public_url,
        &keys.issuer_es256,
        Certificates::from_settings(settings),
        now,
    )?;
    Ok(match chain {
        Some(chain) => KeySet {
            issuer_es256: keys.issuer_es256.with_certificates(&chain.der),
            ..keys
        },
        None => keys,
    })
}

/// Reads the PEM files of `[verifier.trust] anchors` or `[attestation]
/// wallet_provider_roots`.
pub fn load_anchors(paths: &[std::path::PathBuf]) -> Result<Anchors, AnchorError> {
    let mut anchors = Anchors::default();
    for path in paths {
        let name = path.display().to_string();
        let pem = std::fs::read(path).map_err(|source| AnchorError::Read {
            path: name.clone(),
            source,
        })?;
        let n = anchors.add_pem(&name, &pem)?;
        tracing::info!(file = %name, certificates = n, "loaded trust anchors");
    }
    Ok(anchors)
}

/// The demo registry lives in the store: `--registry DIR` (re)seeds it;
/// without it the stored registry is used, seeded on first start from the
/// demo registry embedded in the binary ([`DemoRegistry::embedded`]).
fn open_registry(
    store: &dyn Store,
    seed: Option<&Path>,
    now: i64,
) -> Result<DemoRegistry, RegistryError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .map_err(|e| StoreError::Backend(e.to_string()))?;
    rt.block_on(async {
        match seed {
            Some(dir) => {
                let n = DemoRegistry::seed_store(store, &DemoRegistry::load(dir)?, now).await?;
                tracing::info!(subjects = n, dir = %dir.display(), "seeded the demo registry");
            }
            None if store
                .scan(crate::registry::demo::STORE_NS, String::new(), now, 1)
                .await?
                .is_empty() =>
            {
                let n = DemoRegistry::seed_store(store, &DemoRegistry::embedded()?, now).await?;
                tracing::info!(subjects = n, "seeded the embedded demo registry");
            }
            None => {}
        }
        DemoRegistry::from_store(store, now).await
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
