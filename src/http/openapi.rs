//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations; served at `/openapi.json` with Swagger UI at `/docs` (assets
//! built into the binary: utoipa-swagger-ui `vendored`). `openapi/openapi.json`
//! is the committed copy; a test fails when it drifts.

use actix_web::web;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{health, metrics};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "digital-id",
        description = "Issues a citizen's identity documents as SD-JWT VCs (OpenID4VCI 1.0) and verifies \
                       presentations (OpenID4VP 1.0). Errors are `{error, error_description}` JSON with \
                       the spec's error codes. Back-office endpoints need `Authorization: Bearer <API key>`.",
        license(name = "Apache-2.0")
    ),
    paths(health::health, metrics::metrics),
    components(schemas(health::Health)),
    modifiers(&BackOfficeAuth),
    tags(
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// The bearer API key of the back-office endpoints.
struct BackOfficeAuth;

impl Modify for BackOfficeAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "backoffice",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("The back-office API key"))
                        .build(),
                ),
            );
        }
    }
}

/// The OpenAPI document of this build.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
    doc
}

/// The document as committed in `openapi/openapi.json`.
pub fn to_json() -> String {
    let mut s = document().to_pretty_json().unwrap_or_default();
    s.push('\n');
    s
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", document()));
}

#[cfg(test)]
mod tests {
    #[test]
    fn committed_openapi_matches_the_code() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::to_json(),
            "openapi/openapi.json is out of date: run `cargo run -- openapi > openapi/openapi.json`"
        );
    }
}
