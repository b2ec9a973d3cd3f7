//! Every error leaves the server as `{error, error_description}` JSON with
//! `Cache-Control: no-store` (OAuth 2.0 style), the spec's code and a 4xx
//! status; 401s carry `WWW-Authenticate`. Module errors describe themselves
//! through [`WireError`]; this is the only `ResponseError` implementation.
//! Every description passes [`error_description`] on its way out, so none
//! can leave the RFC 6749 §5.2 character set, whatever it was built from.

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
    /// `Retry-After` seconds of a 429 (a 503 always gets [`RETRY_AFTER`]).
    fn retry_after(&self) -> Option<u32> {
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
    /// `Retry-After` seconds of a 503 or 429.
    retry_after: Option<u32>,
}

/// `Retry-After` of a 503: the store's pool replaces a lost connection
/// within its connect timeout, so a second later is a fair next try.
pub const RETRY_AFTER: u32 = 1;

/// Longest `error_description` sent, in bytes (longer ones end in `...`).
pub const MAX_DESCRIPTION: usize = 512;

/// `text` as an `error_description` of RFC 6749 §5.2: only `%x20-21 /
/// %x23-5B / %x5D-7E` (printable ASCII without `"` and `\`). `"` becomes
/// `'`, `\` becomes `/`, control characters become spaces, and any other
/// character is written as the percent-encoded bytes of its UTF-8 (so a
/// Cyrillic name stays recoverable); at most [`MAX_DESCRIPTION`] bytes.
pub fn error_description(text: &str) -> String {
    const CUT: &str = "...";
    let mut out = String::with_capacity(text.len().min(MAX_DESCRIPTION));
    let mut utf8 = [0u8; 4];
    for c in text.chars() {
        let piece: &str = match c {
            '"' => "'",
            '\\' => "/",
            ' '..='~' => c.encode_utf8(&mut utf8),
            c if c.is_ascii_control() => " ",
            c => {
                let mut enc = String::with_capacity(12);
                for b in c.encode_utf8(&mut utf8).bytes() {
                    enc.push_str(&format!("%{b:02X}"));
                }
                if out.len() + enc.len() > MAX_DESCRIPTION - CUT.len() {
                    out.push_str(CUT);
                    return out;
                }
                out.push_str(&enc);
                continue;
            }
        };
        if out.len() + piece.len() > MAX_DESCRIPTION - CUT.len() {
            out.push_str(CUT);
            return out;
        }
        out.push_str(piece);
    }
    out
}

/// Whether `text` may be sent as an `error_description` (RFC 6749 §5.2).
pub fn is_error_description(text: &str) -> bool {
    text.bytes()
        .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
}

/// A `WWW-Authenticate` challenge that is always a valid header value: any
/// byte outside printable ASCII becomes `?`.
fn challenge_value(c: &str) -> String {
    c.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '?' })
        .collect()
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, description: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code,
            description: error_description(&description.into()),
            challenge: None,
            retry_after: None,
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

    /// The `error_description` as sent.
    pub fn description(&self) -> &str {
        &self.description
    }
}

impl<E: WireError> From<E> for ApiError {
    fn from(e: E) -> Self {
        let status = e.status();
        if status == 503 {
            // A dependency is down for now: say so (with the code) and when
            // to come back; the cause is logged, not sent.
            tracing::warn!(error = %e, "service unavailable");
            return ApiError {
                retry_after: Some(RETRY_AFTER),
                ..ApiError::new(
                    503,
                    e.code(),
                    "the service is temporarily unavailable; retry later",
                )
            };
        }
        if status >= 500 {
            return ApiError::internal(&e);
        }
        ApiError {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            code: e.code(),
            description: error_description(&e.to_string()),
            challenge: e.challenge().as_deref().map(challenge_value),
            retry_after: e.retry_after(),
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
        if let Some(s) = self.retry_after {
            resp.insert_header((header::RETRY_AFTER, s));
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
            crate::store::StoreError::Unavailable => "temporarily_unavailable",
        }
    }
    fn status(&self) -> u16 {
        match self {
            crate::store::StoreError::Conflict => 409,
            crate::store::StoreError::Missing => 404,
            crate::store::StoreError::Backend(_) | crate::store::StoreError::Closed => 500,
            crate::store::StoreError::Unavailable => 503,
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

/// A request body a handler has no use for, read to its end anyway: a body
/// left unread when the answer goes out makes actix close the connection
/// after it, and a client that reuses the connection (as HTTP/1.1 clients
/// do) fails its next request. One that cannot be read (over the payload
/// limit, cut off) is `invalid_request`, as for the other extractors.
pub(crate) struct IgnoredBody;

impl actix_web::FromRequest for IgnoredBody {
    type Error = actix_web::Error;
    type Future = futures_util::future::LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(
        req: &actix_web::HttpRequest,
        payload: &mut actix_web::dev::Payload,
    ) -> Self::Future {
        let body = actix_web::web::Bytes::from_request(req, payload);
        Box::pin(async move {
            body.await.map(|_| IgnoredBody).map_err(|e| {
                ApiError::invalid_request(format!("the body is invalid: {}", short(&e))).into()
            })
        })
    }
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

#[cfg(test)]
mod tests {
    use actix_web::ResponseError as _;
    use actix_web::body::MessageBody;
    use proptest::prelude::*;

    use super::*;
    use crate::catalogue::ValidationError;
    use crate::issuer::authorize::AuthorizeError;
    use crate::issuer::client_auth::ClientAuthError;
    use crate::issuer::consent::ConsentError;
    use crate::issuer::credential::CredentialError;
    use crate::issuer::notification::NotificationError;
    use crate::issuer::offer::OfferError;
    use crate::issuer::proof::ProofError;
    use crate::issuer::records::RecordError;
    use crate::issuer::token::TokenError;
    use crate::registry::{IssueRefusal, RegistryError};
    use crate::sdjwt::VerifyError;
    use crate::status::StatusError;
    use crate::store::StoreError;
    use crate::trust::attestation::AttestationError;
    use crate::trust::client_attestation::ClientAttestationError;
    use crate::trust::key_attestation::KeyAttestationError;
    use crate::verifier::dcql::MatchError;
    use crate::verifier::jwe::JweError;
    use crate::verifier::presentation::PresentationError;
    use crate::verifier::request::CreateError;
    use crate::verifier::request_object::RequestObjectError;
    use crate::verifier::response::ResponseError;
    use crate::verifier::scan::ScanError;
    use crate::verifier::view::LookupError;

    /// Text a client controls, with everything RFC 6749 §5.2 forbids.
    const HOSTILE: &str = "Иванов \"q\" \\ \n\r\t\u{7f}\u{0}😀 end";

    fn store_error(i: usize) -> StoreError {
        match i {
            0 => StoreError::Conflict,
            1 => StoreError::Missing,
            2 => StoreError::Backend(HOSTILE.into()),
            3 => StoreError::Unavailable,
            _ => StoreError::Closed,
        }
    }

    /// Every error the server can send, sent: the body and the challenge
    /// stay inside the character set.
    fn assert_wire(e: ApiError, what: &str) {
        assert!(
            is_error_description(e.description()),
            "{what}: {:?}",
            e.description()
        );
        assert!(e.description().len() <= MAX_DESCRIPTION, "{what}");
        let resp = e.error_response();
        if let Some(c) = resp.headers().get(header::WWW_AUTHENTICATE) {
            assert!(c.to_str().is_ok(), "{what}: {c:?}");
        }
        let body = resp.into_body().try_into_bytes().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let d = v["error_description"].as_str().unwrap();
        assert!(is_error_description(d), "{what}: {d:?}");
    }

    macro_rules! sweep {
        ($($e:expr),* $(,)?) => {{
            let mut n = 0;
            $( assert_wire(ApiError::from($e), stringify!($e)); n += 1; )*
            n
        }};
    }

    #[test]
    fn every_constructible_error_sends_a_valid_description() {
        let refusals = || {
            vec![
                IssueRefusal::UnknownSubject,
                IssueRefusal::UnderAge,
                IssueRefusal::UnknownDocument,
                IssueRefusal::NoDocument,
                IssueRefusal::Invalid {
                    record: "иванов-иван/ru.passport".into(),
                    error: ValidationError::Missing {
                        field: HOSTILE.into(),
                    },
                },
                IssueRefusal::Registry(RegistryError::Unavailable),
            ]
        };
        let mut n = 0;
        for i in 0..5 {
            let s = || store_error(i);
            n += sweep!(
                s(),
                OfferError::Store(s()),
                RecordError::Store(s()),
                ConsentError::Store(s()),
                NotificationError::Store(s()),
                TokenError::Store(s()),
                StatusError::Store(s()),
                RequestObjectError::Store(s()),
                CreateError::Store(s()),
                ScanError::Store(s()),
                LookupError::Store(s()),
                AuthorizeError::Store(s()),
                CredentialError::Store(s()),
                ResponseError::from(s()),
                crate::verifier::parties::RegistryError::Store(s()),
                crate::verifier::parties::AccessError::Store(s()),
            );
        }
        for r in refusals() {
            n += sweep!(OfferError::Refused(r));
        }
        for r in refusals() {
            n += sweep!(CredentialError::Denied(r));
        }
        n += sweep!(
            crate::http::auth::AuthError::Missing,
            crate::http::auth::AuthError::Invalid,
            crate::http::auth::AuthError::NotOperator,
            crate::verifier::parties::RegistryError::NotFound,
            crate::parties::PartyError::Name {
                member: HOSTILE.into()
            },
            crate::parties::PartyError::UnknownPreset { index: 3 },
            crate::parties::PartyError::ClaimsShape,
            crate::parties::PartyError::Paths {
                vct: HOSTILE.into()
            },
            crate::parties::PartyError::Path {
                vct: HOSTILE.into(),
                index: 1
            },
            crate::parties::PartyError::TooManyUris {
                member: "redirect_uris"
            },
            crate::parties::PartyError::Uri {
                member: "callback_urls",
                index: 0
            },
            crate::parties::PartyError::RequestsPerMinute,
            crate::parties::PartyError::Builtin,
            crate::parties::Denied::Preset("age_over_18"),
            crate::parties::Denied::Claim {
                index: 0,
                vct: HOSTILE.into(),
                path: HOSTILE.into()
            },
            crate::parties::Denied::WholeCredential {
                index: 1,
                vct: HOSTILE.into()
            },
            crate::parties::Denied::NoVct { index: 2 },
            crate::parties::Denied::CallbackUrl,
            crate::verifier::parties::AccessError::Quota(crate::parties::quota::RetryAfter(7)),
            crate::verifier::parties::AccessError::Denied(crate::parties::Denied::CallbackUrl),
            crate::verifier::parties::AccessError::Query(CreateError::UnknownPreset),
            OfferError::UnknownSubject,
            OfferError::NoConfigurations,
            OfferError::UnknownConfiguration,
            OfferError::DuplicateConfiguration,
            OfferError::UnknownOffer,
            OfferError::Registry(RegistryError::Unavailable),
            RecordError::UnknownCredential,
            RecordError::Status(StatusError::RevokedIsFinal),
            ConsentError::UnknownConsent,
            NotificationError::Token(CredentialError::InvalidToken),
            NotificationError::InvalidRequest,
            NotificationError::InvalidNotificationId,
            TokenError::MissingGrantType,
            TokenError::UnsupportedGrantType,
            TokenError::MissingPreAuthorizedCode,
            TokenError::TxCodeMissing,
            TokenError::TxCodeNotExpected,
            TokenError::UnknownPreAuthorizedCode,
            TokenError::WrongTxCode { left: 3 },
            TokenError::TxCodeAttemptsExhausted,
            TokenError::MissingCode,
            TokenError::MissingCodeVerifier,
            TokenError::MalformedCodeVerifier,
            TokenError::MissingRedirectUri,
            TokenError::MissingClientId,
            TokenError::MalformedClientId,
            TokenError::ClientAuthenticationUnsupported,
            TokenError::UnknownAuthorizationCode,
            TokenError::ClientMismatch,
            TokenError::ClientInstanceMismatch,
            TokenError::Client(ClientAuthError::Missing),
            TokenError::Client(ClientAuthError::MissingPop),
            TokenError::Client(ClientAuthError::MissingAttestation),
            TokenError::Client(ClientAuthError::Several),
            TokenError::Client(ClientAuthError::Replayed),
            TokenError::Client(ClientAuthError::Invalid(
                ClientAttestationError::ChallengeRequired
            )),
            TokenError::Client(ClientAuthError::Invalid(
                ClientAttestationError::PopAlgNotAllowed(HOSTILE.into())
            )),
            AuthorizeError::Client(ClientAuthError::Invalid(
                ClientAttestationError::StaleChallenge
            )),
            AuthorizeError::Client(ClientAuthError::Store(store_error(2))),
            TokenError::RedirectUriMismatch,
            TokenError::PkceMismatch,
            TokenError::BadAuthorizationDetails,
            TokenError::AuthorizationDetailsNotGranted,
            StatusError::UnknownList,
            StatusError::IndexOutOfRange,
            StatusError::RevokedIsFinal,
            StatusError::Signing,
            RequestObjectError::UnknownRequest,
            RequestObjectError::Expired,
            RequestObjectError::AlreadyRetrieved,
            RequestObjectError::BadWalletNonce,
            RequestObjectError::Signing,
            CreateError::PresetOrQuery,
            CreateError::UnknownPreset,
            CreateError::ResponseMode,
            CreateError::HaipNeedsEncryption,
            CreateError::CallbackUrl(crate::verifier::callback::CallbackUrlError::TooLong),
            CreateError::Key,
            ScanError::Query(CreateError::UnknownPreset),
            ScanError::OneCredential,
            ScanError::QrSize,
            ScanError::UnknownNonce,
            ScanError::NonceUsed,
            LookupError::NotFound,
            AuthorizeError::MissingClientId,
            AuthorizeError::MalformedClientId,
            AuthorizeError::MissingRedirectUri,
            AuthorizeError::BadRedirectUri,
            AuthorizeError::UnsupportedResponseType,
            AuthorizeError::MissingCodeChallenge,
            AuthorizeError::ChallengeMethodNotS256,
            AuthorizeError::MalformedCodeChallenge,
            AuthorizeError::NothingRequested,
            AuthorizeError::UnknownScope,
            AuthorizeError::BadAuthorizationDetails,
            AuthorizeError::UnknownIssuerState,
            AuthorizeError::UnknownRequestUri,
            AuthorizeError::NestedRequestUri,
            AuthorizeError::ClientMismatch,
            AuthorizeError::UnknownSession,
            AuthorizeError::UnknownSubject,
            AuthorizeError::SubjectNotOffered,
            AuthorizeError::NotProofed,
            AuthorizeError::NoSubjectChosen,
            AuthorizeError::ConsentDenied,
            AuthorizeError::Registry(RegistryError::Unavailable),
            CredentialError::MissingToken,
            CredentialError::InvalidToken,
            CredentialError::InsufficientScope,
            CredentialError::Malformed,
            CredentialError::IdentifierChoice,
            CredentialError::IdentifierRequired,
            CredentialError::SeveralDatasets(2),
            CredentialError::SingularProof,
            CredentialError::MalformedProofs,
            CredentialError::BatchTooLarge(10),
            CredentialError::EncryptionUnsupported,
            CredentialError::UnknownConfiguration,
            CredentialError::UnknownIdentifier,
            CredentialError::MissingProofs,
            CredentialError::UnsupportedProofType { attestation: false },
            CredentialError::UnsupportedProofType { attestation: true },
            CredentialError::AttestationCount,
            CredentialError::InvalidProof {
                index: 0,
                error: ProofError::WrongTyp,
            },
            CredentialError::InvalidProof {
                index: 1,
                error: ProofError::KeyAttestationRequired {
                    configuration: HOSTILE.into(),
                },
            },
            CredentialError::InvalidProof {
                index: 0,
                error: ProofError::KeyAttestation(KeyAttestationError::BelowPolicy {
                    claim: "key_storage",
                    asserted: HOSTILE.into(),
                    configuration: "ru.passport".into(),
                    required: "iso_18045_high".into(),
                }),
            },
            CredentialError::InvalidAttestation(KeyAttestationError::MissingNonce),
            CredentialError::InvalidAttestation(KeyAttestationError::Attestation(
                AttestationError::Expired {
                    kind: "key attestation"
                }
            )),
            CredentialError::MixedNonces,
            CredentialError::DuplicateKey,
            CredentialError::InvalidNonce,
            CredentialError::DocumentExpired,
            CredentialError::Registry(RegistryError::Unavailable),
            CredentialError::Status(StatusError::IndexOutOfRange),
            CredentialError::Signing,
            ResponseError::UnknownRequest,
            ResponseError::Replay,
            ResponseError::NotRetrieved,
            ResponseError::Expired,
            ResponseError::PlainToEncrypted,
            ResponseError::UnexpectedEncryption,
            ResponseError::Jwe(JweError::Malformed),
            ResponseError::WrongState,
            ResponseError::Empty,
            ResponseError::VpTokenShape,
            ResponseError::NotMultiple(HOSTILE.into()),
            ResponseError::Match(MatchError::UnknownQueryId(HOSTILE.into())),
            ResponseError::Match(MatchError::WrongVct(HOSTILE.into())),
            ResponseError::Presentation {
                id: HOSTILE.into(),
                error: PresentationError::SdJwt(VerifyError::DisclosedReservedClaim(
                    crate::sdjwt::ClaimPath::keys(["cnf", HOSTILE])
                )),
            },
            ResponseError::Presentation {
                id: "q".into(),
                error: PresentationError::Malformed,
            },
        );
        assert!(n > 150, "{n} errors swept");
    }

    /// A party's identity on the wire: a store outage is 503 with
    /// `Retry-After` on `POST /verifier/requests` and on the request
    /// object; a party gone is 403 there and 400 here; a broken identity
    /// is ours (500); a party without a certificate is 409.
    #[test]
    fn identity_errors_have_their_own_status() {
        use crate::keystore::SealError;
        use crate::verifier::IdentityError;
        let wire = |e: ApiError| {
            let resp = e.error_response();
            let retry = resp
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap().to_owned());
            (resp.status().as_u16(), e.code(), retry)
        };
        let outage = || IdentityError::Store(StoreError::Unavailable);
        let unavailable = (503, "temporarily_unavailable", Some("1".to_owned()));
        assert_eq!(wire(CreateError::Identity(outage()).into()), unavailable);
        assert_eq!(
            wire(RequestObjectError::of_identity(outage()).into()),
            unavailable
        );
        let gone = || IdentityError::UnknownParty("x".into());
        assert_eq!(
            wire(CreateError::Identity(gone()).into()),
            (403, "access_denied", None)
        );
        assert_eq!(
            wire(RequestObjectError::of_identity(gone()).into()),
            (400, "invalid_request", None)
        );
        assert_eq!(
            wire(CreateError::Identity(IdentityError::NotCertified).into()),
            (409, "invalid_request", None)
        );
        for broken in [
            IdentityError::Sealed(SealError::Forged),
            IdentityError::Malformed("key"),
            IdentityError::Crypto,
        ] {
            assert_eq!(
                wire(RequestObjectError::of_identity(broken).into()),
                (500, "server_error", None)
            );
        }
    }

    #[test]
    fn hand_made_errors_are_sanitized_too() {
        for e in [
            ApiError::invalid_request(HOSTILE),
            ApiError::not_found(HOSTILE),
            ApiError::new(409, "conflict", "x".repeat(10_000)),
            ApiError::internal(HOSTILE),
        ] {
            assert_wire(e, "hand-made");
        }
    }

    #[test]
    fn descriptions_keep_ascii_and_encode_the_rest() {
        assert_eq!(
            error_description("`proofs` is missing"),
            "`proofs` is missing"
        );
        assert_eq!(error_description("a \"b\" c\\d"), "a 'b' c/d");
        assert_eq!(error_description("line\nbreak\ttab"), "line break tab");
        assert_eq!(error_description("Ия"), "%D0%98%D1%8F");
        let long = error_description(&"Я".repeat(1000));
        assert!(long.ends_with("...") && long.len() <= MAX_DESCRIPTION);
        assert!(!long.trim_end_matches("...").ends_with('%'));
    }

    proptest! {
        #[test]
        fn any_text_becomes_a_valid_description(s in any::<String>()) {
            let d = error_description(&s);
            prop_assert!(is_error_description(&d), "{:?}", d);
            prop_assert!(d.len() <= MAX_DESCRIPTION);
        }

        #[test]
        fn valid_short_text_is_unchanged(s in "[ !#-\\[\\]-~]{0,200}") {
            prop_assert_eq!(error_description(&s), s);
        }
    }
}
