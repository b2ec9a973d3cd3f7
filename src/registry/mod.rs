//! The authoritative registry of citizens and their documents (in production
//! the state services portal; here [`demo::DemoRegistry`]).

mod check;
pub mod demo;
mod issue;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::catalogue::{PersonRecord, ValidationError};

pub use check::{CheckLine, check, check_registry};
pub use issue::{IssueRefusal, issuable};

/// A subject's id in the registry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SubjectId(pub String);

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How the person's identity was proofed when they enrolled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityProofing {
    /// In person or remotely against the unified biometric system.
    Biometric,
    /// Reading the chip of the biometric passport by NFC.
    NfcPassport,
    /// Through a bank that had identified the person in person.
    Bank,
    /// Not proofed.
    None,
}

/// A person in the registry with their documents' records (keyed by
/// credential configuration id; a child's birth certificate sits on the
/// child's record).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    pub id: SubjectId,
    #[serde(flatten)]
    pub person: PersonRecord,
    pub identity_proofing: IdentityProofing,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<SubjectId>,
    #[serde(default)]
    pub documents: BTreeMap<String, Value>,
    /// What a synthetic record is for (demo data only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A pension as the registry records it (validated when issued).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PensionStatus {
    pub pension_type: String,
    pub since: String,
    pub active: bool,
}

/// The registry could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: not a subject record: {source}")]
    Json {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("{path}: {error}")]
    Schema {
        path: PathBuf,
        error: ValidationError,
    },
    #[error("subject id {id} appears twice")]
    DuplicateId { id: SubjectId },
    #[error("subject {parent} lists an unknown child {child}")]
    UnknownChild { parent: SubjectId, child: SubjectId },
    #[error("the registry store failed: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("the registry is unavailable")]
    Unavailable,
}

/// Read access to the registry. Methods beyond [`Registry::subject`] and
/// [`Registry::subjects`] have defaults built on them; a remote registry can
/// answer them directly.
pub trait Registry: Send + Sync {
    /// The subject with this id.
    fn subject(&self, id: &SubjectId) -> Result<Option<Subject>, RegistryError>;

    /// Every subject, ordered by id.
    fn subjects(&self) -> Result<Vec<Subject>, RegistryError>;

    /// [`issuable`] for this registry. A registry whose records do not
    /// change while the server runs may remember the answers (per day).
    fn issuable(
        &self,
        holder: &SubjectId,
        document_id: &str,
        today: time::Date,
    ) -> Result<std::sync::Arc<[crate::catalogue::Issuable]>, IssueRefusal> {
        issue::issuable(self, holder, document_id, today).map(Into::into)
    }

    /// The subject's document records, keyed by credential configuration id.
    fn documents(&self, id: &SubjectId) -> Result<BTreeMap<String, Value>, RegistryError> {
        Ok(self.subject(id)?.map(|s| s.documents).unwrap_or_default())
    }

    /// The subject's pension, if the registry records one.
    fn pension_status(&self, id: &SubjectId) -> Result<Option<PensionStatus>, RegistryError> {
        let docs = self.documents(id)?;
        let Some(p) = docs.get("ru.pensioner_status") else {
            return Ok(None);
        };
        let text = |k: &str| {
            p.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        Ok(Some(PensionStatus {
            pension_type: text("pension_type"),
            since: text("pension_since"),
            active: p.get("active").and_then(Value::as_bool).unwrap_or(false),
        }))
    }

    /// The subject's children.
    fn children(&self, id: &SubjectId) -> Result<Vec<Subject>, RegistryError> {
        let Some(parent) = self.subject(id)? else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(parent.children.len());
        for child in &parent.children {
            if let Some(c) = self.subject(child)? {
                out.push(c);
            }
        }
        Ok(out)
    }
}

/// The id of a record in messages: `<subject>` for the person's own data,
/// `<subject>/<document id>` for a document.
pub fn record_id(subject: &SubjectId, document_id: Option<&str>) -> String {
    match document_id {
        Some(d) => format!("{subject}/{d}"),
        None => subject.0.clone(),
    }
}
