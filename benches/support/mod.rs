//! What the in-process benches share: a pre-authorized grant for the demo
//! passport of `ivanov-ivan`, driven through the issuer's own functions.

use digital_id::crypto::{SigningKey, jws};
use digital_id::http::AppState;
use digital_id::issuer::{nonce, offer, token};
use serde_json::{Map, Value, json};

/// A Credential Request ready to send: the access token and the body, with
/// a fresh c_nonce and a key proof by `holder`.
pub struct PassportRequest {
    pub bearer: String,
    pub body: Vec<u8>,
}

/// Offer → token → c_nonce → key proof, as a wallet would.
pub async fn passport_request(state: &AppState, holder: &SigningKey) -> PassportRequest {
    let ctx = state.issuer();
    let req: offer::OfferRequest = serde_json::from_value(
        json!({"subject_id": "ivanov-ivan", "credential_configuration_ids": ["ru.passport"], "tx_code": false}),
    )
    .unwrap();
    let created = offer::create(&ctx, req).await.unwrap();
    let code =
        created.credential_offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]
            ["pre-authorized_code"]
            .as_str()
            .unwrap()
            .to_owned();
    let treq: token::TokenRequest = serde_json::from_value(json!({
        "grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
        "pre-authorized_code": code,
    }))
    .unwrap();
    let bearer = token::token(&ctx, treq, false, Default::default(), &[])
        .await
        .unwrap()
        .access_token;
    let c_nonce = nonce::issue(&ctx).c_nonce;
    let mut header = Map::new();
    header.insert("typ".into(), json!("openid4vci-proof+jwt"));
    header.insert("jwk".into(), Value::Object(holder.public().jwk().clone()));
    let claims = json!({"aud": ctx.issuer_id(), "iat": ctx.now, "nonce": c_nonce});
    let proof = jws::sign(holder, &header, &serde_json::to_vec(&claims).unwrap()).unwrap();
    let body = json!({"credential_configuration_id": "ru.passport", "proofs": {"jwt": [proof]}});
    PassportRequest {
        bearer,
        body: serde_json::to_vec(&body).unwrap(),
    }
}
