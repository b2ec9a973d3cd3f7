//! `405 Method Not Allowed` for a known path asked with a method it does not
//! have (RFC 9110 §15.5.6); unknown paths stay 404.
//!
//! Every path is registered as one actix resource holding a route per method
//! (`web::resource(path).get(..).post(..)`); such a resource answers any
//! other method with an empty 405 whose `Allow` header lists exactly the
//! methods of its routes. A route added to the resource (a CORS `OPTIONS`
//! preflight, say) appears in `Allow` by itself. The middleware below only
//! gives that answer the `{error, error_description}` body and
//! `Cache-Control: no-store` of every other error.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};

use super::ApiError;

/// The error code of a 405 (like `not_found`, not an OAuth code).
pub const CODE: &str = "method_not_allowed";

/// Middleware: the resource's empty 405 becomes the JSON error, `Allow`
/// kept.
pub async fn method_not_allowed(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let res = next.call(req).await?;
    if res.status() != StatusCode::METHOD_NOT_ALLOWED {
        return Ok(res.map_into_left_body());
    }
    let allow = res.headers().get(header::ALLOW).cloned();
    let description = match allow.as_ref().and_then(|a| a.to_str().ok()) {
        Some(methods) => format!("this endpoint does not answer this method; it answers {methods}"),
        None => "this endpoint does not answer this method".to_owned(),
    };
    let (req, _) = res.into_parts();
    let mut resp: HttpResponse = ApiError::new(405, CODE, description).error_response();
    if let Some(allow) = allow {
        resp.headers_mut().insert(header::ALLOW, allow);
    }
    Ok(ServiceResponse::new(req, resp).map_into_right_body())
}
