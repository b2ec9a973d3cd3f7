//! JSON Schema (2020-12) validation of registry records with `boon`.
//!
//! The schemas are the files in `schemas/`, compiled into the binary; they are
//! compiled once, on first use.

use std::sync::OnceLock;

use boon::{Compiler, ErrorKind, SchemaIndex, Schemas};
use serde_json::Value;

use super::{DOCUMENTS, DocumentType, ValidationError};

/// Schema of a subject record in the demo registry (`schemas/subject.json`).
pub const SUBJECT_SCHEMA: &str = include_str!("../../schemas/subject.json");

/// Name under which the subject schema is compiled.
const SUBJECT: &str = "subject";

struct Compiled {
    schemas: Schemas,
    index: Vec<(&'static str, SchemaIndex)>,
}

fn compiled() -> Result<&'static Compiled, ValidationError> {
    static COMPILED: OnceLock<Option<Compiled>> = OnceLock::new();
    COMPILED
        .get_or_init(|| compile_all().ok())
        .as_ref()
        .ok_or(ValidationError::Schema {
            field: "(schema)".into(),
            keyword: "$schema",
        })
}

/// Compiles every schema; the error names the schema that failed.
fn compile_all() -> Result<Compiled, String> {
    let mut compiler = Compiler::new();
    let mut schemas = Schemas::new();
    let mut index = Vec::new();
    let sources = DOCUMENTS
        .iter()
        .map(|d| (d.id, d.schema))
        .chain([(SUBJECT, SUBJECT_SCHEMA)]);
    for (name, text) in sources {
        let url = format!("urn:digital-id:schema:{name}");
        let json: Value = serde_json::from_str(text).map_err(|e| format!("{name}: {e}"))?;
        compiler
            .add_resource(&url, json)
            .map_err(|e| format!("{name}: {e}"))?;
        let idx = compiler
            .compile(&url, &mut schemas)
            .map_err(|e| format!("{name}: {e}"))?;
        index.push((name, idx));
    }
    Ok(Compiled { schemas, index })
}

/// Validates a document record against `schemas/<id>.json`.
pub fn validate(doc: &DocumentType, record: &Value) -> Result<(), ValidationError> {
    validate_named(doc.id, record)
}

/// Validates a subject record against `schemas/subject.json`.
pub fn validate_subject(subject: &Value) -> Result<(), ValidationError> {
    validate_named(SUBJECT, subject)
}

fn validate_named(name: &str, v: &Value) -> Result<(), ValidationError> {
    let c = compiled()?;
    let Some((_, idx)) = c.index.iter().find(|(n, _)| *n == name) else {
        return Err(ValidationError::Schema {
            field: "(schema)".into(),
            keyword: "$id",
        });
    };
    c.schemas.validate(v, *idx).map_err(|e| to_error(&e))
}

/// The first leaf error, as the field it is about and the keyword it broke.
fn to_error(e: &boon::ValidationError) -> ValidationError {
    let mut leaf = e;
    while let Some(c) = leaf.causes.first() {
        leaf = c;
    }
    let loc = leaf.instance_location.to_string();
    let (field, keyword) = match &leaf.kind {
        ErrorKind::Required { want } => (
            format!("{loc}/{}", want.first().copied().unwrap_or("")),
            "required",
        ),
        ErrorKind::AdditionalProperties { got } => (
            format!("{loc}/{}", got.first().map(|s| s.as_ref()).unwrap_or("")),
            "additionalProperties",
        ),
        other => (loc, keyword(other)),
    };
    let field = field.trim_start_matches('/');
    ValidationError::Schema {
        field: if field.is_empty() {
            "(record)".into()
        } else {
            field.to_owned()
        },
        keyword,
    }
}

fn keyword(kind: &ErrorKind) -> &'static str {
    match kind {
        ErrorKind::Type { .. } => "type",
        ErrorKind::Enum { .. } => "enum",
        ErrorKind::Const { .. } => "const",
        ErrorKind::Format { .. } => "format",
        ErrorKind::Pattern { .. } => "pattern",
        ErrorKind::MinLength { .. } => "minLength",
        ErrorKind::MaxLength { .. } => "maxLength",
        ErrorKind::MinItems { .. } => "minItems",
        ErrorKind::MaxItems { .. } => "maxItems",
        ErrorKind::UniqueItems { .. } => "uniqueItems",
        ErrorKind::Minimum { .. } | ErrorKind::ExclusiveMinimum { .. } => "minimum",
        ErrorKind::Maximum { .. } | ErrorKind::ExclusiveMaximum { .. } => "maximum",
        ErrorKind::MinProperties { .. } => "minProperties",
        ErrorKind::MaxProperties { .. } => "maxProperties",
        ErrorKind::Required { .. } => "required",
        ErrorKind::AdditionalProperties { .. } => "additionalProperties",
        ErrorKind::OneOf(..) => "oneOf",
        ErrorKind::AnyOf => "anyOf",
        ErrorKind::Not => "not",
        // boon's remaining kinds (references, groups, content, dependencies)
        // are not used by our schemas; report them generically.
        _ => "schema",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_compiles() {
        if let Err(e) = compile_all() {
            panic!("{e}");
        }
    }
}
