//! The OpenAPI document, generated from the handlers' `#[utoipa::path]`
//! annotations; served at `/openapi.json` with Swagger UI at `/docs` (assets
//! built into the binary: utoipa-swagger-ui `vendored`). `openapi/openapi.json`
//! is the committed copy; a test fails when it drifts.
//!
//! The schemas below describe bodies the handlers build as ad-hoc JSON (the
//! error body, discovery documents, the Credential Offer, the demo and
//! holder-link answers); they are never constructed.

use std::collections::BTreeMap;

use actix_web::web;
use serde_json::json;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::security::{
    AuthorizationCode, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Scopes, SecurityScheme,
};
use utoipa::{Modify, OpenApi, PartialSchema, ToSchema};
use utoipa_swagger_ui::SwaggerUi;

use super::{admin, backoffice, health, issuer, metrics, signin, verifier, wallet};
use crate::catalogue;
use crate::registry::{IdentityProofing, SubjectId};
use crate::verifier::presets::Preset;
use crate::verifier::transaction::ResponseMode;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "digital-id",
        description = "Issues a citizen's identity documents as SD-JWT VCs (OpenID4VCI 1.0) and verifies \
                       presentations (OpenID4VP 1.0). Errors are `{error, error_description}` JSON with \
                       the spec's error codes. Back-office endpoints need `Authorization: Bearer <API key>`.",
        license(name = "Apache-2.0")
    ),
    paths(
        health::health,
        health::ready,
        metrics::metrics,
        issuer::credential_issuer,
        issuer::authorization_server,
        issuer::jwt_vc_issuer,
        issuer::type_metadata,
        issuer::credential_offer,
        issuer::par,
        issuer::authorize_page,
        issuer::login,
        issuer::consent,
        signin::callback,
        issuer::token,
        issuer::nonce,
        issuer::challenge,
        issuer::credential,
        issuer::notification,
        issuer::status_list,
        backoffice::subjects,
        backoffice::consents,
        backoffice::credentials,
        backoffice::withdraw,
        backoffice::create_offer,
        backoffice::offer_qr,
        backoffice::credential,
        backoffice::revoke,
        backoffice::suspend,
        backoffice::reinstate,
        admin::register,
        admin::list,
        admin::get,
        admin::patch,
        admin::remove,
        admin::rotate,
        admin::certificate,
        admin::audit_trail,
        verifier::create,
        verifier::status,
        verifier::remove,
        verifier::qr_svg,
        verifier::qr_png,
        verifier::events,
        verifier::scan,
        wallet::request_object_get,
        wallet::request_object_post,
        wallet::response,
        wallet::presentation_nonce,
        wallet::upload,
        wallet::uploaded,
        verifier::demo_page,
        verifier::demo_create,
        verifier::demo_events,
    ),
    components(schemas(health::Health, health::Readiness, ErrorBody)),
    modifiers(&SecuritySchemes, &ExactlyOneQuery, &StoreUnavailable),
    tags(
        (name = "issuer", description = "Wallet-facing OpenID4VCI 1.0 issuer: discovery, offers, authorization, token, nonce, credential, notification, status lists"),
        (name = "back-office", description = "Operator API under /issuer/: subjects, offers, consents, issued credentials and their status"),
        (name = "admin", description = "Operator API under /admin/ (the operator's key only): the relying-party registry — registration with entitlements and quotas, key rotation, deletion, audit trails"),
        (name = "verifier", description = "Relying-party API under /verifier/ (the operator's key, acting as the built-in party `default`, or a registered relying party's own key): OpenID4VP 1.0 presentation requests with DCQL, their QR codes, status, event streams and results, and holder-shown QR scans. A party reaches only its own transactions (another's is 404 `not_found`) and asks only for its entitlements (403 `access_denied`); over its `requests_per_minute`, 429 `rate_limited` with `Retry-After`"),
        (name = "wallet", description = "Wallet-facing OpenID4VP 1.0 endpoints: request URI, response URI, and presentation nonces and uploads for holder-shown QR codes"),
        (name = "demo", description = "Demo mode only (`serve --demo`; 404 `not_found` otherwise): the relying-party demo page and its unauthenticated, preset-only twins of the verifier API"),
        (name = "operations", description = "Health and metrics"),
    )
)]
struct ApiDoc;

/// Every operation that can fail on the server's side (it documents a 500
/// `server_error`) reads or writes the store, so it answers 503
/// `temporarily_unavailable` with `Retry-After` while the store cannot be
/// reached (`StoreError::Unavailable`): documented once here rather than
/// on each path.
struct StoreUnavailable;

impl Modify for StoreUnavailable {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::header::HeaderBuilder;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let response = ResponseBuilder::new()
            .description(
                "`temporarily_unavailable`: the store cannot be reached (database restart, \
                 failover, network); nothing was done unless the request was a write the \
                 store may have committed before the connection was lost",
            )
            .header(
                "Retry-After",
                HeaderBuilder::new()
                    .schema(Some(u32::schema()))
                    .description(Some("Seconds to wait"))
                    .build(),
            )
            .content(
                "application/json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("ErrorBody")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for op in operations.into_iter().flatten() {
                let responses = &mut op.responses.responses;
                if responses.contains_key("500") && !responses.contains_key("503") {
                    responses.insert("503".to_owned(), response.clone().into());
                }
            }
        }
    }
}

/// The bearer schemes: the back-office API key and the wallet's access
/// token from `/token`.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
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
            // An OAuth 2.0 access token (sent as `Bearer`, RFC 6750): the
            // authorization code flow below, or the pre-authorized code
            // grant at the same token endpoint, which OpenAPI has no flow for.
            let scopes = Scopes::from_iter(catalogue::DOCUMENTS.iter().map(|d| {
                (
                    d.id.to_owned(),
                    format!("Issue the `{}` credential configuration", d.id),
                )
            }));
            components.add_security_scheme(
                "access_token",
                SecurityScheme::OAuth2(OAuth2::with_description(
                    [Flow::AuthorizationCode(AuthorizationCode::new(
                        "/authorize",
                        "/token",
                        scopes,
                    ))],
                    "The OpenID4VCI access token from `POST /token` (authorization code grant, \
                     or the pre-authorized code grant of a Credential Offer), sent as \
                     `Authorization: Bearer` (RFC 6750), or, when `/token` answered \
                     `token_type: DPoP`, as `Authorization: DPoP` with a `DPoP` proof header \
                     (RFC 9449 §7.1; always under `--profile haip`)",
                )),
            );
        }
    }
}

/// `POST /verifier/requests` and `POST /verifier/scan` take exactly one of
/// `preset` and `dcql_query` (and no other member): the derived object
/// becomes a `oneOf` of two closed objects, one requiring each, so a body
/// with both or neither matches no branch — as the server rules.
struct ExactlyOneQuery;

/// The components whose objects get this treatment, and the alternatives.
const EXACTLY_ONE_OF: &[(&str, [&str; 2])] = &[
    ("CreatePresentationRequest", ["preset", "dcql_query"]),
    ("ScanRequest", ["preset", "dcql_query"]),
];

impl Modify for ExactlyOneQuery {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else {
            return;
        };
        for (name, alternatives) in EXACTLY_ONE_OF {
            if let Some(schema) = components.schemas.get_mut(*name) {
                *schema = exactly_one_of(schema, alternatives);
            }
        }
    }
}

/// `oneOf` branches of a closed object: branch *i* requires alternative
/// *i* and allows the others only as `null` (which the server reads as
/// absent).
fn exactly_one_of(schema: &RefOr<Schema>, alternatives: &[&str]) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(object)) = schema else {
        return schema.clone();
    };
    let mut one_of = OneOfBuilder::new()
        .description(object.description.clone())
        .examples(object.example.clone());
    for chosen in alternatives {
        let mut branch = object.clone();
        branch.description = None;
        branch.example = None;
        for other in alternatives.iter().filter(|a| *a != chosen) {
            branch.properties.insert(
                (*other).to_owned(),
                ObjectBuilder::new().schema_type(Type::Null).into(),
            );
        }
        branch.required.push((*chosen).to_owned());
        one_of = one_of.item(branch);
    }
    one_of.into()
}

/// `preset`: the names of the built-in DCQL queries, from
/// [`Preset::ALL`].
impl PartialSchema for Preset {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "A built-in DCQL query (DESIGN.md \"Presets\"): one Credential Query, \
                 with the id `credential`",
            ))
            .enum_values(Some(Preset::ALL.map(Preset::name)))
            .into()
    }
}

impl ToSchema for Preset {}

/// `response_mode` of a presentation request (OpenID4VP 1.0 §8.2, §8.3.1).
impl PartialSchema for ResponseMode {
    fn schema() -> RefOr<Schema> {
        // A new mode does not compile here until it is listed below.
        let listed = |m: ResponseMode| match m {
            ResponseMode::DirectPostJwt | ResponseMode::DirectPost => m.as_str(),
        };
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "`direct_post.jwt` (an encrypted response, OpenID4VP 1.0 §8.3.1) or \
                 `direct_post` (§8.2)",
            ))
            .enum_values(Some([
                listed(ResponseMode::DirectPostJwt),
                listed(ResponseMode::DirectPost),
            ]))
            .into()
    }
}

impl ToSchema for ResponseMode {}

/// A credential configuration id: one of the catalogue's documents.
pub struct CredentialConfigurationId;

impl PartialSchema for CredentialConfigurationId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A credential configuration id of this issuer"))
            .enum_values(Some(catalogue::DOCUMENTS.iter().map(|d| d.id)))
            .into()
    }
}

impl ToSchema for CredentialConfigurationId {}

/// The error body of every endpoint (RFC 6749 §5.2 style, `Cache-Control:
/// no-store`); each operation lists the codes it uses.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// The spec's error code.
    #[schema(example = "invalid_request")]
    pub error: String,
    /// What was wrong, in English.
    #[schema(example = "`grant_type` is missing")]
    pub error_description: String,
}

impl PartialSchema for SubjectId {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("A subject's id in the registry"))
            .examples([json!("belova-svetlana")])
            .into()
    }
}

impl ToSchema for SubjectId {}

impl PartialSchema for IdentityProofing {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "How the person's identity was proofed: against the unified biometric system, \
                 by reading the passport chip over NFC, through a bank, or not at all",
            ))
            .enum_values(Some(["biometric", "nfc_passport", "bank", "none"]))
            .into()
    }
}

impl ToSchema for IdentityProofing {}

/// Credential Issuer Metadata (OpenID4VCI 1.0 §12.2.4).
#[derive(ToSchema)]
pub struct CredentialIssuerMetadata {
    /// The Credential Issuer Identifier: the public URL, byte for byte.
    #[schema(example = "https://id.example.ru")]
    pub credential_issuer: String,
    #[schema(example = "https://id.example.ru/credential")]
    pub credential_endpoint: String,
    #[schema(example = "https://id.example.ru/nonce")]
    pub nonce_endpoint: String,
    #[schema(example = "https://id.example.ru/notification")]
    pub notification_endpoint: String,
    /// Absent when batch issuance is off (`issuer.batch_size = 1`).
    #[schema(nullable = false)]
    pub batch_credential_issuance: Option<BatchCredentialIssuance>,
    /// The issuer's name per locale (`ru-RU`, `en-US`).
    pub display: Vec<NameDisplay>,
    /// Keyed by credential configuration id (`ru.passport`, `ru.snils`, …).
    pub credential_configurations_supported: BTreeMap<String, CredentialConfiguration>,
}

/// `batch_credential_issuance` (OpenID4VCI 1.0 §12.2.4).
#[derive(ToSchema)]
pub struct BatchCredentialIssuance {
    /// Most key proofs (and so credentials) per Credential Request; at
    /// least 2.
    #[schema(example = 10, minimum = 2)]
    pub batch_size: usize,
}

/// A name for one locale.
#[derive(ToSchema)]
pub struct NameDisplay {
    pub name: String,
    #[schema(example = "ru-RU")]
    pub locale: String,
}

/// A document's name and description for one locale.
#[derive(ToSchema)]
pub struct DocumentDisplay {
    pub name: String,
    #[schema(example = "en-US")]
    pub locale: String,
    pub description: String,
}

/// A claim's label for one locale (Type Metadata).
#[derive(ToSchema)]
pub struct LabelDisplay {
    #[schema(example = "en-US")]
    pub locale: String,
    pub label: String,
}

/// One entry of `credential_configurations_supported` (OpenID4VCI 1.0
/// §12.2.4, Appendix A.3 for `dc+sd-jwt`).
#[derive(ToSchema)]
pub struct CredentialConfiguration {
    #[schema(example = "dc+sd-jwt")]
    pub format: String,
    /// The configuration id, usable as an OAuth scope.
    #[schema(example = "ru.passport")]
    pub scope: String,
    #[schema(example = "urn:ru:digital-id:passport:1")]
    pub vct: String,
    /// Extension: where this `vct`'s Type Metadata is served (the `vct`
    /// URNs do not resolve by themselves).
    #[schema(example = "https://id.example.ru/type-metadata/ru.passport")]
    pub type_metadata_uri: String,
    #[schema(example = json!(["jwk"]))]
    pub cryptographic_binding_methods_supported: Vec<String>,
    #[schema(example = json!(["ES256"]))]
    pub credential_signing_alg_values_supported: Vec<String>,
    pub proof_types_supported: ProofTypesSupported,
    pub credential_metadata: CredentialMetadata,
}

/// `proof_types_supported`: `jwt` key proofs, and key attestations
/// (`attestation`, OpenID4VCI 1.0 Appendix F.3) when wallet providers are
/// trusted (`[attestation] wallet_provider_roots`).
#[derive(ToSchema)]
pub struct ProofTypesSupported {
    pub jwt: ProofTypeMetadata,
    #[schema(nullable = false)]
    pub attestation: Option<ProofTypeMetadata>,
}

/// Algorithms accepted for one proof type, and the key attestation it
/// must carry, if any.
#[derive(ToSchema)]
pub struct ProofTypeMetadata {
    #[schema(example = json!(["ES256", "Ed25519", "EdDSA"]))]
    pub proof_signing_alg_values_supported: Vec<String>,
    /// Present when a key attestation is required (`[key_attestation."<id>"]`,
    /// or every configuration under `--profile haip`); empty when any
    /// level is accepted.
    #[schema(nullable = false)]
    pub key_attestations_required: Option<KeyAttestationsRequired>,
}

/// `key_attestations_required` (OpenID4VCI 1.0 §12.2.4): the accepted
/// attack potential resistance levels (Appendix D.2); the attestation must
/// assert one of each list given.
#[derive(ToSchema)]
pub struct KeyAttestationsRequired {
    #[schema(nullable = false, example = json!(["iso_18045_high"]))]
    pub key_storage: Option<Vec<String>>,
    #[schema(nullable = false, example = json!(["iso_18045_high"]))]
    pub user_authentication: Option<Vec<String>>,
}

/// `credential_metadata` (OpenID4VCI 1.0 Appendix B.2).
#[derive(ToSchema)]
pub struct CredentialMetadata {
    pub display: Vec<DocumentDisplay>,
    pub claims: Vec<ClaimMetadata>,
}

/// One claim's description (OpenID4VCI 1.0 Appendix B.2).
#[derive(ToSchema)]
pub struct ClaimMetadata {
    /// Claims path pointer: keys, `null` for every element of an array.
    #[schema(example = json!(["driving_privileges", null, "category"]))]
    pub path: Vec<Option<String>>,
    pub mandatory: bool,
    pub display: Vec<NameDisplay>,
}

/// Authorization Server Metadata (RFC 8414 §2 with RFC 9126 §5, RFC 9207 §3,
/// RFC 9396 §10 and OpenID4VCI 1.0 §12.3).
#[derive(ToSchema)]
pub struct AuthorizationServerMetadata {
    #[schema(example = "https://id.example.ru")]
    pub issuer: String,
    /// Only when citizens can sign in (`--demo`), as every member of the
    /// authorization-code flow.
    #[schema(nullable = false, example = "https://id.example.ru/authorize")]
    pub authorization_endpoint: Option<String>,
    #[schema(example = "https://id.example.ru/token")]
    pub token_endpoint: String,
    /// Only when citizens can sign in.
    #[schema(nullable = false, example = "https://id.example.ru/par")]
    pub pushed_authorization_request_endpoint: Option<String>,
    /// Only when citizens can sign in.
    #[schema(nullable = false, example = false)]
    pub require_pushed_authorization_requests: Option<bool>,
    /// `["code"]` when citizens can sign in, else empty.
    #[schema(example = json!(["code"]))]
    pub response_types_supported: Vec<String>,
    /// Only when citizens can sign in.
    #[schema(nullable = false, example = json!(["query"]))]
    pub response_modes_supported: Option<Vec<String>>,
    /// `authorization_code` only when citizens can sign in.
    #[schema(example = json!(["authorization_code", "urn:ietf:params:oauth:grant-type:pre-authorized_code"]))]
    pub grant_types_supported: Vec<String>,
    /// Only when citizens can sign in.
    #[schema(nullable = false, example = json!(["S256"]))]
    pub code_challenge_methods_supported: Option<Vec<String>>,
    /// `none` (public clients) and, when wallet providers are configured,
    /// `attest_jwt_client_auth` (OAuth 2.0 Attestation-Based Client
    /// Authentication, at `/token` and `/par`); under `--profile haip` only
    /// `attest_jwt_client_auth`.
    #[schema(example = json!(["none", "attest_jwt_client_auth"]))]
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// Where to get a challenge for the client attestation PoP
    /// (`POST /challenge`); only when `attest_jwt_client_auth` is offered.
    #[schema(nullable = false, example = "https://id.example.ru/challenge")]
    pub challenge_endpoint: Option<String>,
    /// Wallet attestation algorithms accepted; only when
    /// `attest_jwt_client_auth` is offered.
    #[schema(nullable = false, example = json!(["ES256"]))]
    pub client_attestation_signing_alg_values_supported: Option<Vec<String>>,
    /// Client attestation PoP algorithms accepted; only when
    /// `attest_jwt_client_auth` is offered.
    #[schema(nullable = false, example = json!(["ES256"]))]
    pub client_attestation_pop_signing_alg_values_supported: Option<Vec<String>>,
    /// Every credential configuration id.
    #[schema(example = json!(["ru.passport", "ru.snils"]))]
    pub scopes_supported: Vec<String>,
    #[schema(example = json!(["openid_credential"]))]
    pub authorization_details_types_supported: Vec<String>,
    /// Only when citizens can sign in.
    #[schema(nullable = false, example = true)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    #[schema(
        rename = "pre-authorized_grant_anonymous_access_supported",
        example = true
    )]
    pub pre_authorized_grant_anonymous_access_supported: bool,
    /// DPoP proof algorithms accepted (RFC 9449 §5.1): `ES256` under
    /// `--profile haip` (where DPoP is required at `/token`), else `ES256`
    /// and `EdDSA`.
    #[schema(example = json!(["ES256"]))]
    pub dpop_signing_alg_values_supported: Vec<String>,
}

/// JWT VC Issuer Metadata (SD-JWT VC §5.2).
#[derive(ToSchema)]
pub struct JwtVcIssuerMetadata {
    #[schema(example = "https://id.example.ru")]
    pub issuer: String,
    pub jwks: Jwks,
}

/// A JWK Set (RFC 7517 §5): the ES256 and the EdDSA issuer key.
#[derive(ToSchema)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

/// A public issuer key (RFC 7517); `kid` is its RFC 7638 thumbprint.
#[derive(ToSchema)]
#[schema(example = json!({
    "crv": "P-256", "kty": "EC",
    "x": "DREA4G5qXztvUjtOkjxKvp3F9zMSdjCt3lFFSlV3KzA",
    "y": "79UKbyO3KfVvRY4NDf3uhGrOjRhfP0m9VyZdanz2DGM",
    "kid": "xtu9XIfOFBl3M0W8AMzW_6rX1djB5Oc3At5cBi_Q51o", "alg": "ES256", "use": "sig"
}))]
pub struct PublicJwk {
    /// `EC` (P-256) or `OKP` (Ed25519).
    pub kty: String,
    /// `P-256` or `Ed25519`.
    pub crv: String,
    pub x: String,
    /// EC keys only.
    #[schema(nullable = false)]
    pub y: Option<String>,
    pub kid: String,
    /// `ES256` or `EdDSA`.
    pub alg: String,
    /// Always `sig`.
    #[schema(rename = "use")]
    pub use_: String,
}

/// SD-JWT VC Type Metadata (SD-JWT VC §6) of one credential configuration.
#[derive(ToSchema)]
pub struct TypeMetadata {
    #[schema(example = "urn:ru:digital-id:snils:1")]
    pub vct: String,
    /// The English name.
    #[schema(example = "SNILS (individual insurance account number)")]
    pub name: String,
    /// The English description.
    pub description: String,
    pub display: Vec<DocumentDisplay>,
    pub claims: Vec<TypeMetadataClaim>,
    /// Extension: the JSON Schema (2020-12) of the registry record.
    #[schema(value_type = Object)]
    pub schema: serde_json::Value,
}

/// One claim of the Type Metadata (SD-JWT VC §6 "Claim Metadata").
#[derive(ToSchema)]
pub struct TypeMetadataClaim {
    /// Claims path pointer: keys, `null` for every element of an array.
    #[schema(example = json!(["family_name"]))]
    pub path: Vec<Option<String>>,
    pub display: Vec<LabelDisplay>,
    pub sd: SelectiveDisclosure,
    pub mandatory: bool,
}

/// Whether the issuer makes the claim selectively disclosable.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum SelectiveDisclosure {
    Always,
    Never,
}

/// A Credential Offer (OpenID4VCI 1.0 §4.1.1).
#[derive(ToSchema)]
#[schema(example = json!({
    "credential_issuer": "https://id.example.ru",
    "credential_configuration_ids": ["ru.passport"],
    "grants": {
        "urn:ietf:params:oauth:grant-type:pre-authorized_code": {
            "pre-authorized_code": "Lw3Ez8lS9zXfP2R1h7kG0vQmYtN5cJbA4uD6eHiKoUs",
            "tx_code": {
                "input_mode": "numeric",
                "length": 6,
                "description": "Код из SMS / The code sent to you by SMS"
            }
        },
        "authorization_code": {"issuer_state": "3mRkq0mV2b8TQz2l1aQk7g"}
    }
}))]
pub struct CredentialOffer {
    #[schema(example = "https://id.example.ru")]
    pub credential_issuer: String,
    pub credential_configuration_ids: Vec<String>,
    pub grants: OfferGrants,
}

/// The grants of an offer: the pre-authorized code always; the
/// authorization code only when citizens can sign in (`--demo`).
#[derive(ToSchema)]
pub struct OfferGrants {
    #[schema(rename = "urn:ietf:params:oauth:grant-type:pre-authorized_code")]
    pub pre_authorized_code: PreAuthorizedCodeGrant,
    /// Only when citizens can sign in (`--demo`).
    #[schema(nullable = false)]
    pub authorization_code: Option<AuthorizationCodeGrant>,
}

/// The pre-authorized code grant of an offer (OpenID4VCI 1.0 §4.1.1).
#[derive(ToSchema)]
pub struct PreAuthorizedCodeGrant {
    /// Single use, redeemed at `POST /token`.
    #[schema(rename = "pre-authorized_code")]
    pub pre_authorized_code: String,
    /// Present when the token request must carry a `tx_code`.
    #[schema(nullable = false)]
    pub tx_code: Option<TxCode>,
}

/// How the wallet asks the citizen for the Transaction Code.
#[derive(ToSchema)]
pub struct TxCode {
    #[schema(example = "numeric")]
    pub input_mode: String,
    #[schema(example = 6)]
    pub length: usize,
    #[schema(example = "Код из SMS / The code sent to you by SMS")]
    pub description: String,
}

/// The authorization code grant of an offer.
#[derive(ToSchema)]
pub struct AuthorizationCodeGrant {
    /// For `issuer_state` in the authorization request: binds it to the
    /// offer's subject.
    pub issuer_state: String,
}

/// What `POST /demo/verifier/requests` returns.
#[derive(ToSchema)]
pub struct DemoCreated {
    #[schema(example = "q1Xb8c0fT2yJv6mWnKp3Rg")]
    pub transaction_id: String,
    /// The `openid4vp://` link the QR carries.
    #[schema(
        example = "openid4vp://?client_id=x509_hash%3AUvRWDK3mZ6t0Zc4yZ2f6OBrNtl1kmKZbW3Dr_Xx0nFA&request_uri=https%3A%2F%2Fid.example.ru%2Foid4vp%2Frequests%2FZk3v9QpL0sHc1TnA7wYb2e"
    )]
    pub authorization_request: String,
    /// RFC 3339.
    #[schema(example = "2025-06-01T12:00:30Z")]
    pub expires_at: String,
    /// Seconds (30 by default).
    #[schema(example = 30)]
    pub expires_in: i64,
    /// The QR code of `authorization_request` as an SVG document.
    pub qr_svg: String,
}

/// What the holder short link `/p/{id}` says about itself.
#[derive(ToSchema)]
pub struct UploadLink {
    #[schema(
        example = "a holder-shown presentation; a relying party posts this link to /verifier/scan"
    )]
    pub description: String,
}

/// A PNG image as a response body (raw bytes; OpenAPI 3.1 describes
/// binary content with `contentMediaType`).
pub struct PngImage;

impl PartialSchema for PngImage {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("image/png")
            .description(Some("A PNG image"))
            .into()
    }
}

impl ToSchema for PngImage {}

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
    use serde_json::{Value, json};

    fn schemas() -> Value {
        let doc: Value = serde_json::from_str(&super::to_json()).unwrap();
        doc["components"]["schemas"].clone()
    }

    #[test]
    fn preset_and_dcql_query_are_exactly_one_of() {
        let s = schemas();
        for name in ["CreatePresentationRequest", "ScanRequest"] {
            let branches = s[name]["oneOf"].as_array().unwrap();
            assert_eq!(branches.len(), 2, "{name}");
            for (branch, chosen, other) in [
                (&branches[0], "preset", "dcql_query"),
                (&branches[1], "dcql_query", "preset"),
            ] {
                assert_eq!(branch["additionalProperties"], false, "{name}");
                let required = branch["required"].as_array().unwrap();
                assert!(required.contains(&json!(chosen)), "{name}");
                assert!(!required.contains(&json!(other)), "{name}");
                // The other one only as `null`, which the server reads as absent.
                assert_eq!(
                    branch["properties"][other],
                    json!({"type": "null"}),
                    "{name}"
                );
            }
        }
    }

    #[test]
    fn enums_come_from_the_presets_and_the_catalogue() {
        let s = schemas();
        let presets: Vec<&str> = crate::verifier::presets::Preset::ALL
            .iter()
            .map(|p| p.name())
            .collect();
        assert_eq!(s["Preset"]["enum"], json!(presets));
        let ids: Vec<&str> = crate::catalogue::DOCUMENTS.iter().map(|d| d.id).collect();
        assert_eq!(s["CredentialConfigurationId"]["enum"], json!(ids));
        let offered = &s["OfferRequest"]["properties"]["credential_configuration_ids"];
        assert_eq!(
            offered["items"]["$ref"],
            "#/components/schemas/CredentialConfigurationId"
        );
        assert_eq!(
            (&offered["minItems"], &offered["uniqueItems"]),
            (&json!(1), &json!(true))
        );
        assert_eq!(
            s["DemoCreateRequest"]["properties"]["preset"]["$ref"],
            "#/components/schemas/Preset"
        );
    }

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
