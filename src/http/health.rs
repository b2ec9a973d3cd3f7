//! `GET /health`: liveness for load balancers and the test fixture.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health);
}

#[get("/health")]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}
