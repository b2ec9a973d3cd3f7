//! Why the PostgreSQL store could not start, in one clear sentence for the
//! operator: the URL, the TLS settings, the first connection, the schema.
//! No message quotes the store URL or its password.

use std::path::PathBuf;

use deadpool_postgres::PoolError;

use super::migrate::MigrateError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("the PostgreSQL URL is invalid{}", .0.as_ref().map(|w| format!(": {w}")).unwrap_or_default())]
    Url(Option<String>),
    #[error(
        "the PostgreSQL URL's sslmode must be disable, prefer, require, verify-ca or verify-full"
    )]
    SslMode,
    #[error("the PostgreSQL URL's sslrootcert=system needs sslmode=verify-full (as libpq)")]
    WeakSystemRoots,
    #[error("cannot use the CA file {} (sslrootcert): {reason}", .path.display())]
    CaFile { path: PathBuf, reason: String },
    #[error("cannot set up TLS for PostgreSQL: {0}")]
    TlsSetup(String),
    #[error("cannot reach PostgreSQL: {0}")]
    Unreachable(String),
    #[error("the TLS connection to PostgreSQL failed: {0}")]
    Tls(String),
    #[error("PostgreSQL refused the connection: {0}")]
    Refused(String),
    #[error("cannot bring the PostgreSQL schema up to date: {0}")]
    Migration(#[from] MigrateError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A PostgreSQL error as one line: the server's SQLSTATE and message, or
/// the client's error and its causes (TLS and I/O errors carry their
/// reason only in the causes). A cause that repeats the next one's text
/// (postgres-openssl prints the OpenSSL error, then the certificate check's
/// verdict) keeps only its own words; OpenSSL's error stacks are reduced to
/// their reasons.
pub fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{} (SQLSTATE {})", db.message(), db.code().code());
    }
    let mut parts: Vec<String> = Vec::new();
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = current {
        let next = c.source();
        let text = match c.downcast_ref::<openssl::error::ErrorStack>() {
            Some(stack) => reasons(stack),
            None => {
                let mut text = c.to_string();
                if let Some(inner) = next.map(|n| n.to_string()).filter(|i| !i.is_empty()) {
                    text = text.replace(&inner, "");
                }
                text.trim_matches(|ch: char| ch == ':' || ch.is_whitespace())
                    .to_owned()
            }
        };
        if !text.is_empty() && !parts.contains(&text) {
            parts.push(text);
        }
        current = next;
    }
    parts.join(": ")
}

/// `certificate verify failed` rather than OpenSSL's
/// `error:0A000086:SSL routines:…:../ssl/statem/statem_clnt.c:1889:`.
fn reasons(stack: &openssl::error::ErrorStack) -> String {
    let mut out: Vec<&str> = Vec::new();
    for reason in stack.errors().iter().filter_map(|e| e.reason()) {
        if !out.contains(&reason) {
            out.push(reason);
        }
    }
    if out.is_empty() {
        stack.to_string()
    } else {
        out.join("; ")
    }
}

/// The first connection at start failed.
pub fn first_connection(e: PoolError, timeout: std::time::Duration) -> ConnectError {
    match e {
        PoolError::Timeout(_) => ConnectError::Unreachable(format!(
            "no connection within {} s (connect, TLS handshake and log-in)",
            timeout.as_secs()
        )),
        PoolError::Backend(e) if e.as_db_error().is_some() => ConnectError::Refused(describe(&e)),
        // tokio-postgres says "error performing TLS handshake", the cause
        // says why (an unverifiable certificate, no TLS on the server).
        PoolError::Backend(e) if e.to_string().contains("TLS") => ConnectError::Tls(describe(&e)),
        PoolError::Backend(e) => ConnectError::Unreachable(describe(&e)),
        PoolError::Closed => ConnectError::Store(StoreError::Closed),
        e @ (PoolError::NoRuntimeSpecified | PoolError::PostCreateHook(_)) => {
            ConnectError::Unreachable(e.to_string())
        }
    }
}
