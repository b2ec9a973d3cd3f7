//! Discovery documents: Credential Issuer Metadata (OpenID4VCI 1.0 §12.2),
//! Authorization Server Metadata (RFC 8414 with the OpenID4VCI additions of
//! §12.3), JWT VC Issuer Metadata (SD-JWT VC §5) and SD-JWT VC Type Metadata
//! for every `vct`.

use serde_json::{Value, json};

use super::Ctx;
use crate::catalogue::{self, DocumentType, metadata as type_meta};
use crate::config::PublicUrl;

/// `format` of every configuration (SD-JWT VC, OpenID4VCI Appendix A.3).
pub const FORMAT: &str = "dc+sd-jwt";
/// `typ` of key proofs (OpenID4VCI Appendix F.1).
pub const PROOF_TYP: &str = "openid4vci-proof+jwt";
/// Key proof algorithms accepted by default: ES256 (HAIP) and Ed25519,
/// named fully-specified (RFC 9864) and, since a proof's `alg` must match a
/// listed value (OpenID4VCI 1.0 Appendix F.1), by the older `EdDSA` too.
pub const PROOF_ALGS: &[&str] = &["ES256", "Ed25519", "EdDSA"];

/// Key proof algorithms under `profile`: HAIP 1.0 allows ES256 only.
pub fn proof_algs(profile: crate::config::Profile) -> &'static [&'static str] {
    match profile {
        crate::config::Profile::Default => PROOF_ALGS,
        crate::config::Profile::Haip => &["ES256"],
    }
}
/// Grant type of the pre-authorized code flow (OpenID4VCI §4.1.1).
pub const PRE_AUTHORIZED_GRANT: &str = "urn:ietf:params:oauth:grant-type:pre-authorized_code";

/// Whether a request for a well-known document under `/.well-known/<name>`
/// with the rest of the path `tail` is for this issuer: RFC 8615 path
/// insertion puts the public URL's path after the name (`""` at the root).
pub fn well_known_tail_matches(public_url: &PublicUrl, tail: &str) -> bool {
    tail.is_empty() || tail == public_url.path()
}

/// Where `doc`'s Type Metadata is served.
pub fn type_metadata_url(ctx: &Ctx<'_>, doc: &DocumentType) -> String {
    ctx.url(&format!("/type-metadata/{}", doc.id))
}

/// The served Type Metadata bytes of the document with configuration id
/// `id`; `vct#integrity` in credentials is computed over exactly these.
pub fn type_metadata(id: &str) -> Option<Vec<u8>> {
    catalogue::find(id).map(|d| type_meta::served(d).0.to_vec())
}

/// `GET /.well-known/openid-credential-issuer`.
pub fn credential_issuer(ctx: &Ctx<'_>) -> Value {
    let configurations: serde_json::Map<String, Value> = catalogue::DOCUMENTS
        .iter()
        .map(|d| (d.id.to_owned(), configuration(ctx, d)))
        .collect();
    let mut m = json!({
        "credential_issuer": ctx.issuer_id(),
        "credential_endpoint": ctx.url("/credential"),
        "nonce_endpoint": ctx.url("/nonce"),
        "notification_endpoint": ctx.url("/notification"),
        "display": [
            {"name": "Цифровой ID", "locale": "ru-RU"},
            {"name": "Digital ID", "locale": "en-US"},
        ],
        "credential_configurations_supported": configurations,
    });
    if let (Some(batch), Value::Object(m)) = (batch_credential_issuance(ctx), &mut m) {
        m.insert("batch_credential_issuance".into(), batch);
    }
    m
}

/// `batch_credential_issuance` (OpenID4VCI 1.0 §12.2.4), only when batches
/// are on: its `batch_size` "MUST be 2 or greater", and leaving the object
/// out is how an issuer says it takes one proof per request.
fn batch_credential_issuance(ctx: &Ctx<'_>) -> Option<Value> {
    let size = ctx.settings.issuer.batch_size;
    (size >= 2).then(|| json!({"batch_size": size}))
}

/// One entry of `credential_configurations_supported`. `type_metadata_uri`
/// is our extension: where the `vct`'s Type Metadata is (the `vct` values
/// are URNs, so they do not resolve by themselves).
fn configuration(ctx: &Ctx<'_>, doc: &DocumentType) -> Value {
    let display: Vec<Value> = doc
        .name
        .by_locale()
        .into_iter()
        .zip(doc.description.by_locale())
        .map(|((locale, name), (_, description))| {
            json!({"name": name, "locale": locale, "description": description})
        })
        .collect();
    let claims: Vec<Value> = doc
        .claim_specs()
        .map(|c| {
            let display: Vec<Value> = c
                .label
                .by_locale()
                .into_iter()
                .map(|(locale, name)| json!({"name": name, "locale": locale}))
                .collect();
            json!({"path": c.claim_path(), "mandatory": c.mandatory, "display": display})
        })
        .collect();
    json!({
        "format": FORMAT,
        "scope": doc.id,
        "vct": doc.vct,
        "type_metadata_uri": type_metadata_url(ctx, doc),
        "cryptographic_binding_methods_supported": ["jwk"],
        "credential_signing_alg_values_supported": [ctx.keys.issuer_es256.alg().as_str()],
        "proof_types_supported": proof_types_supported(ctx, doc.id),
        "credential_metadata": {"display": display, "claims": claims},
    })
}

/// `proof_types_supported` of configuration `id` (OpenID4VCI 1.0 §12.2.4):
/// `jwt` always, `attestation` (Appendix F.3) when wallet providers are
/// trusted, and on each `key_attestations_required` when the configuration
/// requires a key attestation (its policy, or `--profile haip`), with the
/// accepted levels the policy lists.
fn proof_types_supported(ctx: &Ctx<'_>, id: &str) -> Value {
    let algs = proof_algs(ctx.settings.profile);
    let mut proof_type = json!({"proof_signing_alg_values_supported": algs});
    if let Some(policy) = super::proof::required_policy(ctx.settings, id) {
        let mut required = serde_json::Map::new();
        if !policy.key_storage.is_empty() {
            required.insert("key_storage".into(), json!(policy.key_storage));
        }
        if !policy.user_authentication.is_empty() {
            required.insert(
                "user_authentication".into(),
                json!(policy.user_authentication),
            );
        }
        proof_type["key_attestations_required"] = Value::Object(required);
    }
    let mut types = serde_json::Map::new();
    if !ctx.wallet_providers.is_empty() {
        types.insert("attestation".into(), proof_type.clone());
    }
    types.insert("jwt".into(), proof_type);
    Value::Object(types)
}

/// `GET /.well-known/oauth-authorization-server` (RFC 8414 §2; RFC 9126 §5;
/// RFC 9207 §3; OpenID4VCI §12.3; attestation-based client authentication
/// when offered). The authorization endpoint, PAR and the
/// `authorization_code` grant only when citizens can sign in
/// (`Settings::sign_in`); otherwise only the pre-authorized code grant, and
/// no response types (RFC 8414 §2: none use the authorization endpoint).
pub fn authorization_server(ctx: &Ctx<'_>) -> Value {
    let scopes: Vec<&str> = catalogue::DOCUMENTS.iter().map(|d| d.id).collect();
    let mut m = json!({
        "issuer": ctx.issuer_id(),
        "token_endpoint": ctx.url("/token"),
        "response_types_supported": [],
        "grant_types_supported": [PRE_AUTHORIZED_GRANT],
        "token_endpoint_auth_methods_supported": token_endpoint_auth_methods(ctx),
        "scopes_supported": scopes,
        "authorization_details_types_supported": ["openid_credential"],
        "pre-authorized_grant_anonymous_access_supported": true,
        // RFC 9449 §5.1: DPoP-bound access tokens (required under HAIP).
        "dpop_signing_alg_values_supported":
            crate::trust::dpop::alg_names(super::token::dpop_algs(ctx)),
    });
    if let (true, Value::Object(m)) = (super::client_auth::offered(ctx), &mut m) {
        // draft-ietf-oauth-attestation-based-client-auth-10 §5.1, §10.
        let algs = super::client_auth::algs(ctx);
        m.insert("challenge_endpoint".into(), ctx.url("/challenge").into());
        m.insert(
            "client_attestation_signing_alg_values_supported".into(),
            json!(algs),
        );
        m.insert(
            "client_attestation_pop_signing_alg_values_supported".into(),
            json!(algs),
        );
    }
    if let (Some(_), Value::Object(m)) = (ctx.settings.sign_in, &mut m) {
        let code_flow = json!({
            "authorization_endpoint": ctx.url("/authorize"),
            "pushed_authorization_request_endpoint": ctx.url("/par"),
            "require_pushed_authorization_requests": super::authorize::par_required(ctx),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", PRE_AUTHORIZED_GRANT],
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
        });
        if let Value::Object(extra) = code_flow {
            m.extend(extra);
        }
    }
    m
}

/// How wallets authenticate at `/token` and `/par` (RFC 8414 §2, RFC 9126
/// §2): by attestation (`attest_jwt_client_auth`) when it is offered, and
/// as public clients (`none`) unless `--profile haip` requires attestation.
fn token_endpoint_auth_methods(ctx: &Ctx<'_>) -> Vec<&'static str> {
    use super::client_auth::{METHOD, offered, required};
    match (required(ctx), offered(ctx)) {
        (true, _) => vec![METHOD],
        (false, true) => vec!["none", METHOD],
        (false, false) => vec!["none"],
    }
}

/// `GET /.well-known/jwt-vc-issuer` (SD-JWT VC §5): `{issuer, jwks}`, each
/// key with its `kid` (the RFC 7638 thumbprint credentials name).
pub fn jwt_vc_issuer(ctx: &Ctx<'_>) -> Value {
    json!({
        "issuer": ctx.issuer_id(),
        "jwks": {"keys": [
            ctx.keys.issuer_es256.public().jwk_for_publication(),
            ctx.keys.issuer_eddsa.public().jwk_for_publication(),
        ]},
    })
}
