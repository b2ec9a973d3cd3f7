//! The published form: a `statuslist+jwt` (Token Status List §5.1) with
//! `sub` (the list's URI), `iat`, `exp`, `ttl` and `status_list {bits, lst}`.

use serde_json::{Map, Value, json};

use super::{ListRecord, NS_LIST, StatusError, list::BITS};
use crate::crypto::{SigningKey, jws};
use crate::store::{self, Store};

/// How long a status list token is valid after it was signed. Relying
/// parties refresh after `ttl` (much shorter); `exp` only bounds how stale a
/// cached copy may get when the issuer is unreachable.
pub const TOKEN_LIFETIME: i64 = 24 * 3600;

/// A signed list, ready to serve.
#[derive(Debug, Clone)]
pub struct StatusListToken {
    pub jwt: String,
    /// Seconds a cache may keep it (`ttl`).
    pub ttl: i64,
}

/// Signs the current state of list `id`; `uri` is its public URL (`sub`).
pub async fn status_list_token(
    store: &dyn Store,
    key: &SigningKey,
    id: u32,
    uri: &str,
    ttl: i64,
    now: i64,
) -> Result<StatusListToken, StatusError> {
    let rec: ListRecord = match store.get(NS_LIST, id.to_string(), now).await? {
        Some(b) => store::from_bytes(&b)?,
        None => return Err(StatusError::UnknownList),
    };
    let payload = json!({
        "sub": uri,
        "iat": now,
        "exp": now + TOKEN_LIFETIME,
        "ttl": ttl,
        "status_list": {"bits": BITS, "lst": rec.entries()?.compressed()},
    });
    let mut header = Map::new();
    header.insert("typ".into(), Value::String("statuslist+jwt".into()));
    header.insert("kid".into(), Value::String(key.kid().into()));
    let body = serde_json::to_vec(&payload).map_err(|_| StatusError::Signing)?;
    let jwt = jws::sign(key, &header, &body).map_err(|_| StatusError::Signing)?;
    Ok(StatusListToken { jwt, ttl })
}
