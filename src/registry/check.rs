//! `digital-id registry check [PATH]`: every record validated, one line each.

use std::fmt;
use std::path::Path;

use time::Date;

use super::demo::DemoRegistry;
use super::{Registry, RegistryError, record_id};
use crate::catalogue::{self, ValidationError};

/// One record's result: `<id>: OK` or `<id>: <field>: <rule>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckLine {
    /// `<subject>` or `<subject>/<document id>`.
    pub record: String,
    pub result: Result<(), ValidationError>,
}

impl fmt::Display for CheckLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.result {
            Ok(()) => write!(f, "{}: OK", self.record),
            Err(e) => write!(f, "{}: {e}", self.record),
        }
    }
}

/// Loads the demo registry at `path` and checks it as of `today` (which the
/// caller reads from its clock). A file that cannot be loaded is an `Err`.
pub fn check(path: &Path, today: Date) -> Result<Vec<CheckLine>, RegistryError> {
    check_registry(&DemoRegistry::load(path)?, today)
}

/// Checks each subject's own data, then each of their documents, exactly as
/// issuance would (rules, then the JSON Schema).
pub fn check_registry(
    registry: &dyn Registry,
    today: Date,
) -> Result<Vec<CheckLine>, RegistryError> {
    let mut lines = Vec::new();
    for s in registry.subjects()? {
        lines.push(CheckLine {
            record: record_id(&s.id, None),
            result: s.person.validate(today).map(|_| ()),
        });
        for (doc_id, record) in &s.documents {
            let result = match catalogue::find(doc_id) {
                Some(doc) => doc.issue(&s.person, record, today).map(|_| ()),
                None => Err(ValidationError::UnknownDocument {
                    field: "documents".into(),
                }),
            };
            lines.push(CheckLine {
                record: record_id(&s.id, Some(doc_id)),
                result,
            });
        }
    }
    Ok(lines)
}
