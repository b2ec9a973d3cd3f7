//! `GET /health`: liveness for load balancers and the test fixture.

use actix_web::{HttpResponse, web};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/health").get(health));
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
