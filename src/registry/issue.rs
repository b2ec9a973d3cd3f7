//! What a holder may receive: the gate in front of the issuer. Validation
//! runs here, before anything could be signed.

use time::Date;

use super::{Registry, RegistryError, SubjectId, record_id};
use crate::catalogue::{self, Holder, Issuable, ValidationError, age_on};

/// Age from which a person receives credentials in their own wallet.
pub const MIN_HOLDER_AGE: u16 = 18;

/// Why nothing is issued.
#[derive(Debug, thiserror::Error)]
pub enum IssueRefusal {
    #[error("no subject with this id in the registry")]
    UnknownSubject,
    #[error("the holder is under 18: a child's documents go to a parent's wallet")]
    UnderAge,
    #[error("unknown credential configuration")]
    UnknownDocument,
    #[error("the registry holds no such document for this holder")]
    NoDocument,
    #[error("{record}: {error}")]
    Invalid {
        record: String,
        error: ValidationError,
    },
    #[error(transparent)]
    Registry(#[from] RegistryError),
}

impl IssueRefusal {
    /// The OpenID4VCI 1.0 §8.3.1.2 `error` code, or `None` for a server-side
    /// failure (the registry could not be read).
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            IssueRefusal::UnknownDocument => Some("unknown_credential_configuration"),
            IssueRefusal::UnknownSubject
            | IssueRefusal::UnderAge
            | IssueRefusal::NoDocument
            | IssueRefusal::Invalid { .. } => Some("credential_request_denied"),
            IssueRefusal::Registry(_) => None,
        }
    }
}

/// The credentials of type `document_id` that `holder` may receive on
/// `today`: one for their own document, or one per child for a document
/// held by a parent (`ru.birth_certificate`). The holder must be 18 or older;
/// every record is validated first, and an invalid one refuses the request.
pub fn issuable(
    registry: &dyn Registry,
    holder: &SubjectId,
    document_id: &str,
    today: Date,
) -> Result<Vec<Issuable>, IssueRefusal> {
    let doc = catalogue::find(document_id).ok_or(IssueRefusal::UnknownDocument)?;
    let subject = registry
        .subject(holder)?
        .ok_or(IssueRefusal::UnknownSubject)?;
    let person = subject
        .person
        .validate(today)
        .map_err(|error| IssueRefusal::Invalid {
            record: record_id(holder, None),
            error,
        })?;
    if age_on(person.birthdate, today) < MIN_HOLDER_AGE {
        return Err(IssueRefusal::UnderAge);
    }
    let about = match doc.holder {
        Holder::Subject => vec![subject],
        Holder::Parent => registry.children(holder)?,
    };
    let mut out = Vec::new();
    for s in &about {
        if let Some(record) = s.documents.get(doc.id) {
            let issued =
                doc.issue(&s.person, record, today)
                    .map_err(|error| IssueRefusal::Invalid {
                        record: record_id(&s.id, Some(doc.id)),
                        error,
                    })?;
            out.push(issued);
        }
    }
    if out.is_empty() {
        return Err(IssueRefusal::NoDocument);
    }
    Ok(out)
}
