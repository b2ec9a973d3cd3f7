//! Token Status List (draft-ietf-oauth-status-list): every issued credential
//! gets a random, never reused index in a list of at least 2^17 2-bit
//! entries; the back-office revokes, suspends and reinstates; lists are
//! published as signed `statuslist+jwt` tokens.

mod alloc;
pub mod list;
mod token;

pub use alloc::{Allocation, Allocator};
pub use list::{Entries, Status};
pub use token::{StatusListToken, TokenCache, status_list_token};

use serde::{Deserialize, Serialize};

use crate::store::{self, Store, StoreError, Update};

/// `list id` → [`ListRecord`].
pub const NS_LIST: &str = "status_list";
/// `list id` → the list's index permutation (`u32` little-endian each).
pub const NS_PERM: &str = "status_perm";
/// `"cursor"` → how far the current list's permutation is reserved.
pub const NS_META: &str = "status_meta";

/// A stored status list.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ListRecord {
    pub id: u32,
    pub size: usize,
    pub created_at: i64,
    /// The entries, base64url.
    pub entries: String,
}

impl ListRecord {
    fn new(id: u32, size: usize, now: i64) -> Self {
        ListRecord {
            id,
            size,
            created_at: now,
            entries: crate::crypto::b64url(Entries::new(size).as_bytes()),
        }
    }

    pub fn entries(&self) -> Result<Entries, StoreError> {
        crate::crypto::b64url_decode(&self.entries)
            .map(Entries::from_bytes)
            .map_err(|_| StoreError::Backend("a status list record is unreadable".into()))
    }
}

/// Why a status could not be changed or read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("no such status list")]
    UnknownList,
    #[error("the status list has no entry at this index")]
    IndexOutOfRange,
    #[error("a revoked credential stays revoked")]
    RevokedIsFinal,
    #[error("signing the status list failed")]
    Signing,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl crate::http::WireError for StatusError {
    fn code(&self) -> &'static str {
        match self {
            StatusError::UnknownList => "not_found",
            StatusError::IndexOutOfRange => "invalid_request",
            StatusError::RevokedIsFinal => "conflict",
            StatusError::Signing => "server_error",
            StatusError::Store(e) => e.code(),
        }
    }
    fn status(&self) -> u16 {
        match self {
            StatusError::UnknownList => 404,
            StatusError::IndexOutOfRange => 400,
            StatusError::RevokedIsFinal => 409,
            StatusError::Signing => 500,
            StatusError::Store(e) => e.status(),
        }
    }
}

/// The current status at `list`/`idx`.
pub async fn get(
    store: &dyn Store,
    list: u32,
    idx: usize,
    now: i64,
) -> Result<Status, StatusError> {
    let rec: ListRecord = match store.get(NS_LIST, list.to_string(), now).await? {
        Some(b) => store::from_bytes(&b)?,
        None => return Err(StatusError::UnknownList),
    };
    rec.entries()?.get(idx).ok_or(StatusError::IndexOutOfRange)
}

/// Sets the status at `list`/`idx` (revoked stays revoked) in one write
/// transaction; returns the status before.
pub async fn set(
    store: &dyn Store,
    list: u32,
    idx: usize,
    next: Status,
    now: i64,
) -> Result<Status, StatusError> {
    let decide = move |cur: Option<&[u8]>| -> Result<(Status, Option<Vec<u8>>), StatusError> {
        let rec: ListRecord = store::from_bytes(cur.ok_or(StatusError::UnknownList)?)?;
        let mut entries = rec.entries()?;
        let before = entries.get(idx).ok_or(StatusError::IndexOutOfRange)?;
        if !before.may_become(next) {
            return Err(StatusError::RevokedIsFinal);
        }
        if before == next {
            return Ok((before, None));
        }
        entries.set(idx, next);
        let updated = ListRecord {
            entries: crate::crypto::b64url(entries.as_bytes()),
            ..rec
        };
        Ok((before, Some(store::to_bytes(&updated)?)))
    };
    let seen = store
        .update(
            NS_LIST,
            list.to_string(),
            now,
            Box::new(move |cur| match decide(cur) {
                Ok((_, Some(value))) => Update::Put {
                    value,
                    expires_at: None,
                },
                _ => Update::Keep,
            }),
        )
        .await?;
    // Replay the (pure) decision on what the transaction saw.
    decide(seen.as_deref()).map(|(before, _)| before)
}
