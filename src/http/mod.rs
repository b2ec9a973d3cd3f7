//! The web adapter: routes, JSON errors, limits and the server.

mod admin;
pub mod auth;
mod backoffice;
pub mod cors;
pub mod error;
pub(crate) use error::IgnoredBody;
mod health;
mod issuer;
pub mod limits;
mod methods;
pub mod metrics;
pub mod openapi;
mod signin;
mod verifier;
mod wallet;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{App, HttpServer, dev::Server, web};

pub use error::{ApiError, WireError};

use crate::clock::Clock;
use crate::config::{Secret, Settings, SignIn};
use crate::keystore::KeySet;
use crate::registry::Registry;
use crate::store::Store;

/// Largest JSON body accepted (credential requests with a batch of proofs
/// fit easily; anything bigger is refused with 413 before parsing).
pub const MAX_JSON_BODY: usize = 256 * 1024;
/// Largest form body (token requests, `direct_post` responses with a
/// presentation).
pub const MAX_FORM_BODY: usize = 256 * 1024;

/// Everything handlers need, built once at start-up (no globals).
pub struct AppState {
    pub settings: Settings,
    pub keys: KeySet,
    pub store: Arc<dyn Store>,
    pub registry: Arc<dyn Registry>,
    /// Hands out status list indices to issued credentials.
    pub status: crate::status::Allocator,
    /// The status list tokens this node signed, each kept for its `ttl`.
    pub status_tokens: crate::status::TokenCache,
    pub clock: Arc<dyn Clock>,
    /// The back-office key (from configuration or generated).
    pub api_key: Secret,
    pub metrics: metrics::Metrics,
    pub limiter: limits::RateLimiter,
    /// The OpenID4VP verifier role.
    pub verifier: Arc<crate::verifier::Verifier>,
    /// The registered relying parties (tenants of the verifier).
    pub parties: crate::verifier::parties::Parties,
    /// The upstream OpenID Provider citizens sign in at (`[auth] provider
    /// = "oidc"`).
    pub signin: Option<Arc<crate::signin::Provider>>,
    /// The wallet providers' roots (`[attestation] wallet_provider_roots`):
    /// wallet and key attestations must chain to one of them.
    pub wallet_providers: Arc<crate::crypto::x509::Anchors>,
    /// This node's signed Credential Issuer Metadata.
    pub signed_metadata: crate::issuer::signed_metadata::SignedMetadata,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("public_url", &self.settings.public_url)
            .finish_non_exhaustive()
    }
}

impl AppState {
    pub fn now(&self) -> i64 {
        self.clock.now()
    }
}

/// Which optional routes a server has; a route it lacks answers 404
/// `not_found` like any unknown path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Routes {
    /// `/demo/*` (demo mode only).
    pub demo: bool,
    /// The authorization-code flow (`/authorize`, `/par`, consent) and the
    /// sign-in it uses, if any.
    pub sign_in: Option<SignIn>,
}

impl Routes {
    pub fn of(settings: &Settings) -> Self {
        Routes {
            demo: settings.demo,
            sign_in: settings.sign_in,
        }
    }
}

/// Registers the routes `routes` calls for on an actix `ServiceConfig`.
pub fn configure(cfg: &mut web::ServiceConfig, routes: Routes) {
    error::extractor_config(cfg);
    health::configure(cfg);
    metrics::configure(cfg);
    openapi::configure(cfg);
    issuer::configure(cfg, routes.sign_in);
    backoffice::configure(cfg);
    admin::configure(cfg);
    verifier::configure(cfg, routes.demo);
    wallet::configure(cfg);
}

/// Binds `addr` and returns the running server and the bound address (port
/// 0 picks a free port). Expired entries are swept every 10 s while it runs.
pub fn bind(state: Arc<AppState>, addr: SocketAddr) -> std::io::Result<(Server, SocketAddr)> {
    serve(state, TcpListener::bind(addr)?)
}

/// Serves on an already bound listener.
pub fn serve(state: Arc<AppState>, listener: TcpListener) -> std::io::Result<(Server, SocketAddr)> {
    let local = listener.local_addr()?;
    let data = web::Data::from(state.clone());
    let routes = Routes::of(&state.settings);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .wrap(actix_web::middleware::from_fn(metrics::track))
            .wrap(actix_web::middleware::from_fn(methods::method_not_allowed))
            // Outermost: 413 and 429 answers on shared paths carry CORS too.
            .wrap(actix_web::middleware::from_fn(cors::cors))
            .configure(|cfg| configure(cfg, routes))
            .default_service(web::to(error::not_found))
    })
    .workers(std::thread::available_parallelism().map_or(2, |n| n.get()))
    .listen(listener)?
    .run();
    actix_web::rt::spawn(sweeper(state));
    Ok((server, local))
}

/// Deletes expired entries every [`SWEEP_INTERVAL`](crate::store::SWEEP_INTERVAL)
/// seconds, each pass until none is left.
async fn sweeper(state: Arc<AppState>) {
    let mut tick =
        tokio::time::interval(std::time::Duration::from_secs(crate::store::SWEEP_INTERVAL));
    // A pass that overran its interval is followed by one pass, not a burst.
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match crate::store::sweep_expired(&*state.store, state.now()).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(removed = n, "swept expired entries"),
            Err(e) => tracing::warn!(error = %e, "sweeping expired entries failed"),
        }
    }
}
