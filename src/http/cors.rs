//! Cross-origin access for browser wallets and verifiers, declared in one
//! place: which paths any origin may read or call, and how long the public
//! documents may be cached.
//!
//! - Public documents (discovery metadata with the issuer's JWKS, SD-JWT VC
//!   Type Metadata with its JSON Schema, Status List Tokens) are read by
//!   wallets and verifiers running in browsers: `Access-Control-Allow-Origin:
//!   *` and `Cache-Control: public, max-age=…`.
//! - Wallet endpoints (OpenID4VCI token, nonce, credential, notification,
//!   PAR and offer by reference; the OpenID4VP request and response URIs and
//!   the holder-QR endpoints) are called by wallets that may run in a
//!   browser: they are public clients whose requests carry no cookie and no
//!   ambient credential (an access token is sent explicitly, DPoP-style
//!   headers are allowed), so any origin may call them, as the OAuth
//!   browser-based apps BCP expects of a token endpoint. They stay
//!   `no-store`.
//! - Nothing else (back office, admin, the login and consent pages, the
//!   demo pages) answers cross-origin requests: no CORS header at all.
//!
//! `Access-Control-Allow-Credentials` is never sent, so `*` is safe. A
//! preflight (`OPTIONS`) on a shared path is answered here with 204, before
//! routing; on any other path it is routed like any request.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ResourceDef, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;

/// How long discovery metadata (and so the issuer's JWKS) may be cached: a
/// rotated key reaches every verifier within five minutes.
pub const METADATA_MAX_AGE: u32 = 300;
/// How long Type Metadata may be cached: fixed per release (credentials
/// carry `vct#integrity` over its bytes).
pub const TYPE_METADATA_MAX_AGE: u32 = 86_400;
/// How long a browser may reuse a preflight answer.
pub const PREFLIGHT_MAX_AGE: u32 = 86_400;

/// How one path is shared across origins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    /// A public document read with `GET`; `max_age` is the
    /// `Cache-Control: public, max-age` of a successful answer, or `None`
    /// when the handler sets its own (status lists: their `ttl`).
    Document { max_age: Option<u32> },
    /// A wallet endpoint with these methods; never cached.
    Wallet { methods: &'static str },
}

/// Every path answered cross-origin (actix route patterns, matched against
/// the request path before routing).
pub const SHARED: &[(&str, Shared)] = &[
    (
        "/.well-known/openid-credential-issuer{tail:.*}",
        Shared::Document {
            max_age: Some(METADATA_MAX_AGE),
        },
    ),
    (
        "/.well-known/oauth-authorization-server{tail:.*}",
        Shared::Document {
            max_age: Some(METADATA_MAX_AGE),
        },
    ),
    (
        "/.well-known/jwt-vc-issuer{tail:.*}",
        Shared::Document {
            max_age: Some(METADATA_MAX_AGE),
        },
    ),
    (
        "/type-metadata/{id}",
        Shared::Document {
            max_age: Some(TYPE_METADATA_MAX_AGE),
        },
    ),
    ("/status-lists/{id}", Shared::Document { max_age: None }),
    ("/credential-offer/{id}", Shared::Wallet { methods: "GET" }),
    ("/token", Shared::Wallet { methods: "POST" }),
    ("/nonce", Shared::Wallet { methods: "POST" }),
    ("/credential", Shared::Wallet { methods: "POST" }),
    ("/notification", Shared::Wallet { methods: "POST" }),
    ("/par", Shared::Wallet { methods: "POST" }),
    (
        "/oid4vp/requests/{id}",
        Shared::Wallet {
            methods: "GET, POST",
        },
    ),
    ("/oid4vp/responses/{id}", Shared::Wallet { methods: "POST" }),
    ("/presentation-nonces", Shared::Wallet { methods: "POST" }),
    ("/presentations", Shared::Wallet { methods: "POST" }),
];

/// Request headers a cross-origin caller may send: the bearer token, JSON
/// and form bodies, DPoP (RFC 9449) and OAuth client attestation.
pub const ALLOW_HEADERS: &str =
    "Authorization, Content-Type, DPoP, OAuth-Client-Attestation, OAuth-Client-Attestation-PoP";
/// Response headers a wallet needs to read beyond the CORS-safelisted ones.
pub const EXPOSE_HEADERS: &str = "WWW-Authenticate, DPoP-Nonce, Retry-After, X-Request-Id";

static PATTERNS: LazyLock<Vec<(ResourceDef, Shared)>> = LazyLock::new(|| {
    SHARED
        .iter()
        .map(|(p, s)| (ResourceDef::new(*p), *s))
        .collect()
});

/// How `path` is shared, if at all.
pub fn shared(path: &str) -> Option<Shared> {
    PATTERNS
        .iter()
        .find(|(def, _)| def.is_match(path))
        .map(|(_, s)| *s)
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers.insert(name, HeaderValue::from_static(value));
}

/// The 204 answer to a preflight.
fn preflight(shared: Shared) -> HttpResponse {
    let methods = match shared {
        Shared::Document { .. } => "GET",
        Shared::Wallet { methods } => methods,
    };
    let mut resp = HttpResponse::NoContent().finish();
    let h = resp.headers_mut();
    set(h, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    set(h, header::ACCESS_CONTROL_ALLOW_METHODS, methods);
    set(h, header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS);
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from(PREFLIGHT_MAX_AGE),
    );
    h.insert(
        header::ALLOW,
        HeaderValue::from_str(&format!("{methods}, OPTIONS"))
            .unwrap_or_else(|_| HeaderValue::from_static("OPTIONS")),
    );
    resp
}

/// The CORS (and, for documents, caching) headers of an actual answer.
fn decorate(shared: Shared, method: &Method, status: StatusCode, headers: &mut HeaderMap) {
    set(headers, header::ACCESS_CONTROL_ALLOW_ORIGIN, "*");
    set(
        headers,
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        EXPOSE_HEADERS,
    );
    let Shared::Document {
        max_age: Some(max_age),
    } = shared
    else {
        return;
    };
    let cacheable = (*method == Method::GET || *method == Method::HEAD)
        && status.is_success()
        && !headers.contains_key(header::CACHE_CONTROL);
    if cacheable {
        if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={max_age}")) {
            headers.insert(header::CACHE_CONTROL, v);
        }
    }
}

/// Middleware: answers preflights on shared paths and adds the CORS and
/// caching headers to every answer there (errors and 429s included).
pub async fn cors(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    // The path as the router decodes it (`/t%6Fken` is `/token`), like
    // the limiter and the metrics.
    let Some(how) = shared(req.match_info().as_str()) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    if req.method() == Method::OPTIONS {
        return Ok(req.into_response(preflight(how)).map_into_right_body());
    }
    let method = req.method().clone();
    // Handlers, extractors and the limiter answer with responses, so every
    // answer passes here (an inner `Err` would bypass any middleware).
    let mut res = next.call(req).await?.map_into_left_body();
    let status = res.status();
    decorate(how, &method, status, res.headers_mut());
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_documents_wallet_endpoints_and_nothing_else() {
        for p in [
            "/.well-known/openid-credential-issuer",
            "/.well-known/openid-credential-issuer/tenant",
            "/.well-known/oauth-authorization-server",
            "/.well-known/jwt-vc-issuer",
            "/type-metadata/ru.passport",
            "/status-lists/3",
        ] {
            assert!(matches!(shared(p), Some(Shared::Document { .. })), "{p}");
        }
        for p in [
            "/token",
            "/nonce",
            "/credential",
            "/notification",
            "/par",
            "/credential-offer/abc",
            "/oid4vp/requests/abc",
            "/oid4vp/responses/abc",
            "/presentation-nonces",
            "/presentations",
        ] {
            assert!(matches!(shared(p), Some(Shared::Wallet { .. })), "{p}");
        }
        for p in [
            "/issuer/offers",
            "/issuer/subjects",
            "/verifier/requests",
            "/verifier/scan",
            "/admin/relying-parties",
            "/authorize",
            "/authorize/login",
            "/metrics",
            "/p/abc",
            "/token/x",
            "/",
        ] {
            assert_eq!(shared(p), None, "{p}");
        }
    }

    #[test]
    fn documents_get_a_lifetime_unless_the_handler_set_one() {
        let doc = Shared::Document {
            max_age: Some(METADATA_MAX_AGE),
        };
        let mut ok = HeaderMap::new();
        decorate(doc, &Method::GET, StatusCode::OK, &mut ok);
        assert_eq!(
            ok.get(header::CACHE_CONTROL).unwrap(),
            "public, max-age=300"
        );
        let mut own = HeaderMap::new();
        own.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=60"),
        );
        decorate(doc, &Method::GET, StatusCode::OK, &mut own);
        assert_eq!(
            own.get(header::CACHE_CONTROL).unwrap(),
            "public, max-age=60"
        );
        let mut missing = HeaderMap::new();
        missing.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        decorate(doc, &Method::GET, StatusCode::NOT_FOUND, &mut missing);
        assert_eq!(missing.get(header::CACHE_CONTROL).unwrap(), "no-store");
        assert_eq!(
            missing.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).unwrap(),
            "*"
        );
        let mut wallet = HeaderMap::new();
        decorate(
            Shared::Wallet { methods: "POST" },
            &Method::POST,
            StatusCode::OK,
            &mut wallet,
        );
        assert!(wallet.get(header::CACHE_CONTROL).is_none());
        assert!(
            wallet
                .get(header::ACCESS_CONTROL_ALLOW_CREDENTIALS)
                .is_none()
        );
    }
}
