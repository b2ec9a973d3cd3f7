//! `GET /health`: liveness; `GET /health/ready`: readiness, for load
//! balancers and the test fixture.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use super::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").get(health))
        .service(web::resource("/health/ready").get(ready));
}

/// Liveness.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    status: &'static str,
}

/// Liveness probe.
#[utoipa::path(get, path = "/health", tag = "operations",
    responses(
        (status = 200, description = "The server is up: `{\"status\": \"ok\"}`", body = Health),
    ))]
pub(crate) async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// Readiness: whether this node can serve requests now.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ok`, or `unavailable` while a dependency is down.
    #[schema(example = "unavailable")]
    status: &'static str,
    /// The store: `ok` or `unavailable`.
    store: &'static str,
}

/// Readiness probe: a round trip to the store (`SELECT 1` on PostgreSQL).
#[utoipa::path(get, path = "/health/ready", tag = "operations",
    responses(
        (status = 200, description = "Ready: `{\"status\": \"ok\", \"store\": \"ok\"}`", body = Readiness),
        (status = 503, description = "Not ready while the store cannot be reached; \
            `Retry-After` says when to ask again", body = Readiness,
            headers(("Retry-After" = u32, description = "Seconds until the next try"))),
    ))]
pub(crate) async fn ready(state: web::Data<AppState>) -> HttpResponse {
    match state.store.ping().await {
        Ok(()) => HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(Readiness {
                status: "ok",
                store: "ok",
            }),
        Err(e) => {
            tracing::warn!(error = %e, "not ready: the store is unavailable");
            HttpResponse::ServiceUnavailable()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .insert_header((header::RETRY_AFTER, super::error::RETRY_AFTER))
                .json(Readiness {
                    status: "unavailable",
                    store: "unavailable",
                })
        }
    }
}
