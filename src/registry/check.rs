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

/// Loads the demo registry at `path` (the embedded one when `None`) and
/// checks it as of `today` (which the caller reads from its clock). A file
/// that cannot be loaded is an `Err`.
pub fn check(path: Option<&Path>, today: Date) -> Result<Vec<CheckLine>, RegistryError> {
    let registry = match path {
        Some(dir) => DemoRegistry::load(dir)?,
        None => DemoRegistry::embedded()?,
    };
    check_registry(&registry, today)
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

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 25);

    fn seed() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registry")
    }

    #[test]
    fn seed_data_reports_exactly_the_deliberately_broken_records() {
        let lines = check(Some(&seed()), TODAY).unwrap();
        let failing: Vec<(String, ValidationError)> = lines
            .iter()
            .filter_map(|l| l.result.clone().err().map(|e| (l.record.clone(), e)))
            .collect();
        let f = |s: &str| s.to_owned();
        assert_eq!(
            failing,
            vec![
                (
                    f("egorova-tatiana/ru.inn"),
                    ValidationError::InnCheckDigit { field: f("inn") }
                ),
                (
                    f("fedorov-nikolay/ru.snils"),
                    ValidationError::SnilsCheckNumber { field: f("snils") }
                ),
                (
                    f("grigoriev-oleg/ru.passport"),
                    ValidationError::PassportSeries { field: f("series") }
                ),
                (
                    f("lebedev-kirill/ru.passport"),
                    ValidationError::PassportExpiredByAge {
                        field: f("issue_date"),
                        age: 45
                    }
                ),
                (
                    f("morozova-anna/ru.passport"),
                    ValidationError::PassportExpiredByAge {
                        field: f("issue_date"),
                        age: 20
                    }
                ),
                (
                    f("volkov-sergey/ru.driving_licence"),
                    ValidationError::Expired {
                        field: f("expiry_date")
                    }
                ),
            ]
        );
        // Every subject and every document has its line.
        assert!(lines.len() > 100, "{}", lines.len());
    }

    #[test]
    fn lines_read_id_field_rule() {
        let lines = check(Some(&seed()), TODAY).unwrap();
        let text: Vec<String> = lines.iter().map(ToString::to_string).collect();
        assert!(text.contains(&"ivanov-ivan/ru.passport: OK".to_owned()));
        assert!(text.contains(&"ivanov-ivan: OK".to_owned()));
        assert!(text.contains(
            &"fedorov-nikolay/ru.snils: snils: SNILS check number does not match (digits 1-9 x weights 9..1, mod 101)"
                .to_owned()
        ));
    }

    #[test]
    fn unreadable_directory_is_an_error() {
        assert!(matches!(
            check(Some(Path::new("/nonexistent/registry")), TODAY),
            Err(RegistryError::Io { .. })
        ));
    }
}
