//! Every error leaves the server as `{error, error_description}` JSON with
//! `Cache-Control: no-store` (OAuth 2.0 style), the spec's code and a 4xx
//! status; 401s carry `WWW-Authenticate`. Module errors describe themselves
//! through [`WireError`]; this is the only `ResponseError` implementation.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use serde_json::json;

/// How a domain error appears on the wire. Implemented by the role modules'
/// error enums (which stay free of actix).
pub trait WireError: fmt::Display {
    /// The spec's error code (`invalid_request`, `invalid_proof`, …).
    fn code(&self) -> &'static str;
    /// The HTTP status (400, 401, 403, 404, 409, 429, 500, 503).
    fn status(&self) -> u16;
    /// The `WWW-Authenticate` challenge for a 401 (RFC 6750 §3).
    fn challenge(&self) -> Option<String> {
        None
    }
}

/// An error response.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    description: String,
    challenge: Option<String>,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            description: description.into(),
            challenge: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }

    pub fn not_found(description: impl Into<String>) -> Self {
        Self::new(404, "not_found", description)
    }

    /// A failure of ours: the description is generic; the cause is logged.
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            500,
            "server_error",
            "the server could not complete the request",
        )
    }

    pub fn code(&self) -> &'static str {
        self.code
    }
}

impl<E: WireError> From<E> for ApiError {
    fn from(e: E) -> Self {
        let status = e.status();
        if status >= 500 {
            return ApiError::internal(&e);
        }
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code: e.code(),
            description: e.to_string(),
            challenge: e.challenge(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.description)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut resp = HttpResponse::build(self.status);
        resp.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        if let Some(c) = self
            .challenge
            .as_deref()
            .and_then(|c| HeaderValue::from_str(c).ok())
        {
            resp.insert_header((header::WWW_AUTHENTICATE, c));
        }
        resp.json(json!({"error": self.code, "error_description": self.description}))
    }
}

impl WireError for crate::store::StoreError {
    fn code(&self) -> &'static str {
        match self {
            crate::store::StoreError::Conflict => "conflict",
            crate::store::StoreError::Missing => "not_found",
            crate::store::StoreError::Backend(_) | crate::store::StoreError::Closed => {
                "server_error"
            }
        }
    }
    fn status(&self) -> u16 {
        match self {
            crate::store::StoreError::Conflict => 409,
            crate::store::StoreError::Missing => 404,
            crate::store::StoreError::Backend(_) | crate::store::StoreError::Closed => 503,
        }
    }
}

/// Extractor configuration: malformed JSON, forms, queries and paths become
/// `invalid_request` instead of actix's plain-text errors.
pub fn extractor_config(cfg: &mut actix_web::web::ServiceConfig) {
    use actix_web::web;
    cfg.app_data(
        web::JsonConfig::default()
            .limit(crate::http::MAX_JSON_BODY)
            .error_handler(|e, _| {
                ApiError::invalid_request(format!("the JSON body is invalid: {}", short(&e))).into()
            }),
    )
    .app_data(
        web::FormConfig::default()
            .limit(crate::http::MAX_FORM_BODY)
            .error_handler(|e, _| {
                ApiError::invalid_request(format!("the form body is invalid: {}", short(&e))).into()
            }),
    )
    .app_data(web::QueryConfig::default().error_handler(|e, _| {
        ApiError::invalid_request(format!("the query is invalid: {}", short(&e))).into()
    }))
    .app_data(web::PathConfig::default().error_handler(|e, _| {
        ApiError::invalid_request(format!("the path is invalid: {}", short(&e))).into()
    }));
}

/// An extractor error without echoing large input back.
fn short(e: &dyn fmt::Display) -> String {
    let mut s = e.to_string();
    if s.len() > 200 {
        let mut cut = 200;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
    s
}

/// The fallback for unknown routes.
pub async fn not_found() -> HttpResponse {
    ApiError::not_found("no such endpoint").error_response()
}
