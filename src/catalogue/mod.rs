//! The documents: claims, selective-disclosure policy, derived claims and
//! validation of registry records (DESIGN.md "Documents").
//!
//! Each document type is one `static` [`DocumentType`] in its own file, listed
//! once in [`DOCUMENTS`]. A ninth document is a new file, one line in that
//! list, its `schemas/<id>.json` and seed data; nothing else changes.

mod age;
mod birth_certificate;
mod claims;
mod driving_licence;
mod inn;
pub mod metadata;
mod oms;
mod passport;
mod pensioner_status;
mod person;
mod record;
pub mod schema;
mod snils;
pub mod validate;
mod validity;
mod vehicle_registration;

use serde_json::{Map, Value};
use time::Date;

use crate::sdjwt::{ClaimPath, PathElem};

pub use age::{AGE_THRESHOLDS, age_on};
pub use claims::{ClaimSpec, Localized, Sd, Step, ValueType};
pub use person::{Person, PersonRecord};
pub use record::Record;
pub use validate::ValidationError;
pub use validity::exp;

/// Every document type the issuer knows, in display order.
pub static DOCUMENTS: &[&DocumentType] = &[
    &passport::PASSPORT,
    &driving_licence::DRIVING_LICENCE,
    &snils::SNILS,
    &oms::OMS,
    &inn::INN,
    &pensioner_status::PENSIONER_STATUS,
    &vehicle_registration::VEHICLE_REGISTRATION,
    &birth_certificate::BIRTH_CERTIFICATE,
];

/// The document type with this credential configuration id.
pub fn find(id: &str) -> Option<&'static DocumentType> {
    DOCUMENTS.iter().copied().find(|d| d.id == id)
}

/// The document type with this `vct`.
pub fn find_by_vct(vct: &str) -> Option<&'static DocumentType> {
    DOCUMENTS.iter().copied().find(|d| d.vct == vct)
}

/// Whose wallet a credential goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Holder {
    /// The person the document is about (who must be 18 or older).
    Subject,
    /// A parent of the person the document is about (a child's documents).
    Parent,
}

/// What a document's builder makes from a validated record.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// The claims, without `iss`, `vct`, `cnf`, `iat`, `exp` or `status`.
    pub claims: Map<String, Value>,
    /// The last day the document itself is valid, if it ends.
    pub valid_until: Option<Date>,
}

/// A document type: its credential configuration and how a registry record
/// becomes the claims of an SD-JWT VC.
pub struct DocumentType {
    /// Credential configuration id (`ru.passport`).
    pub id: &'static str,
    /// SD-JWT VC type (`urn:ru:digital-id:passport:1`).
    pub vct: &'static str,
    pub name: Localized,
    pub description: Localized,
    pub holder: Holder,
    /// The claims, in groups so that common ones (names) are shared.
    pub claims: &'static [&'static [ClaimSpec]],
    /// JSON Schema (2020-12) of the registry record, `schemas/<id>.json`.
    pub schema: &'static str,
    /// Validates the record (every rule of the document) and makes the claims.
    pub build: fn(&Person, &Record, Date) -> Result<Built, ValidationError>,
}

/// Ready to be signed: claims, which paths to make selectively disclosable
/// (a `null` step meaning each array element separately), and the
/// document's own last valid day, which caps `exp` (see [`exp`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Issuable {
    pub document_id: &'static str,
    pub vct: &'static str,
    pub claims: Value,
    pub sd_paths: Vec<ClaimPath>,
    pub valid_until: Option<Date>,
}

impl DocumentType {
    /// Every claim of the type, in order.
    pub fn claim_specs(&self) -> impl Iterator<Item = &'static ClaimSpec> + use<> {
        self.claims.iter().flat_map(|g| g.iter())
    }

    /// Validates `person` and `record` (rules, then the JSON Schema) and
    /// builds the credential content as of `today`. Nothing invalid gets
    /// through: this is the only way to an [`Issuable`].
    pub fn issue(
        &self,
        person: &PersonRecord,
        record: &Value,
        today: Date,
    ) -> Result<Issuable, ValidationError> {
        let person = person.validate(today)?;
        let built = (self.build)(&person, &Record::root(record)?, today)?;
        schema::validate(self, record)?;
        let claims = Value::Object(built.claims);
        let sd_paths = self
            .claim_specs()
            .filter(|c| c.sd == Sd::Always && is_present(&claims, c.path))
            .map(ClaimSpec::claim_path)
            .collect();
        Ok(Issuable {
            document_id: self.id,
            vct: self.vct,
            claims,
            sd_paths,
            valid_until: built.valid_until,
        })
    }
}

/// Whether `path` selects at least one value in `v`.
fn is_present(v: &Value, path: &[Step]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    match (first, v) {
        (Step::Key(k), Value::Object(m)) => m.get(*k).is_some_and(|x| is_present(x, rest)),
        (Step::All, Value::Array(a)) => a.iter().any(|x| is_present(x, rest)),
        _ => false,
    }
}

impl Step {
    fn to_elem(self) -> PathElem {
        match self {
            Step::Key(k) => PathElem::Key(k.to_owned()),
            Step::All => PathElem::All,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::*;

    #[test]
    fn every_catalogue_entry_has_a_schema_file_and_vice_versa() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("schemas");
        let files: BTreeSet<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let mut expected: BTreeSet<String> =
            DOCUMENTS.iter().map(|d| format!("{}.json", d.id)).collect();
        expected.insert("subject.json".into());
        assert_eq!(files, expected);
        for d in DOCUMENTS {
            let on_disk = std::fs::read_to_string(dir.join(format!("{}.json", d.id))).unwrap();
            assert_eq!(on_disk, d.schema, "{}", d.id);
        }
    }

    #[test]
    fn ids_and_vcts_are_those_of_design_md() {
        let pairs: Vec<(&str, &str)> = DOCUMENTS.iter().map(|d| (d.id, d.vct)).collect();
        assert_eq!(
            pairs,
            [
                ("ru.passport", "urn:ru:digital-id:passport:1"),
                ("ru.driving_licence", "urn:ru:digital-id:driving-licence:1"),
                ("ru.snils", "urn:ru:digital-id:snils:1"),
                ("ru.oms", "urn:ru:digital-id:oms:1"),
                ("ru.inn", "urn:ru:digital-id:inn:1"),
                (
                    "ru.pensioner_status",
                    "urn:ru:digital-id:pensioner-status:1"
                ),
                (
                    "ru.vehicle_registration",
                    "urn:ru:digital-id:vehicle-registration:1"
                ),
                (
                    "ru.birth_certificate",
                    "urn:ru:digital-id:birth-certificate:1"
                ),
            ]
        );
        for d in DOCUMENTS {
            assert_eq!(find(d.id).map(|x| x.vct), Some(d.vct));
            assert_eq!(find_by_vct(d.vct).map(|x| x.id), Some(d.id));
        }
    }
}
