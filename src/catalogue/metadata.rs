//! SD-JWT VC Type Metadata (draft-ietf-oauth-sd-jwt-vc, "SD-JWT VC Type
//! Metadata": `vct`, `name`, `description`, `display`, `claims`).
//!
//! Since draft -12 the specification no longer defines a `schema` member;
//! a Type Metadata document may carry additional members, which consumers
//! ignore when not understood. We add `schema` (the JSON Schema of the
//! registry record) as such an extension, because DESIGN.md promises it to
//! integrators.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::DocumentType;

/// The Type Metadata document of `doc`.
pub fn type_metadata(doc: &DocumentType) -> Value {
    let display: Vec<Value> = doc
        .name
        .by_locale()
        .into_iter()
        .zip(doc.description.by_locale())
        .map(|((locale, name), (_, description))| {
            json!({"locale": locale, "name": name, "description": description})
        })
        .collect();
    let claims: Vec<Value> = doc
        .claim_specs()
        .map(|c| {
            let display: Vec<Value> = c
                .label
                .by_locale()
                .into_iter()
                .map(|(locale, label)| json!({"locale": locale, "label": label}))
                .collect();
            json!({
                "path": c.claim_path(),
                "display": display,
                "sd": c.sd.as_str(),
                "mandatory": c.mandatory,
            })
        })
        .collect();
    // The schema text is compiled in and checked by the tests; an unparsable
    // one would show as `null` rather than take the server down.
    let schema: Value = serde_json::from_str(doc.schema).unwrap_or(Value::Null);
    json!({
        "vct": doc.vct,
        "name": doc.name.en,
        "description": doc.description.en,
        "display": display,
        "claims": claims,
        "schema": schema,
    })
}

/// The bytes to serve for `doc`'s Type Metadata; `vct#integrity` is computed
/// over exactly these.
pub fn type_metadata_bytes(doc: &DocumentType) -> Vec<u8> {
    // Serialising a `Value` cannot fail.
    serde_json::to_vec(&type_metadata(doc)).unwrap_or_default()
}

/// The served Type Metadata of `doc` and its `vct#integrity`, built once
/// per document type: every credential carries the integrity value, and
/// building the document (schema included) per credential cost more than
/// signing it.
pub fn served(doc: &DocumentType) -> (&'static [u8], &'static str) {
    use std::collections::HashMap;
    use std::sync::LazyLock;
    static SERVED: LazyLock<HashMap<&'static str, (Vec<u8>, String)>> = LazyLock::new(|| {
        super::DOCUMENTS
            .iter()
            .map(|d| {
                let bytes = type_metadata_bytes(d);
                let sri = integrity(&bytes);
                (d.id, (bytes, sri))
            })
            .collect()
    });
    match SERVED.get(doc.id) {
        Some((bytes, sri)) => (bytes.as_slice(), sri.as_str()),
        None => (&[], ""),
    }
}

/// W3C Subresource Integrity metadata (`sha256-<base64>`), the form of
/// `vct#integrity` (SD-JWT VC "Integrity of Referenced Documents").
pub fn integrity(bytes: &[u8]) -> String {
    format!("sha256-{}", STANDARD.encode(openssl::sha::sha256(bytes)))
}

#[cfg(test)]
mod tests {
    use super::super::{DOCUMENTS, Sd};
    use super::*;

    const META_SCHEMA: &str =
        include_str!("../../tests/vectors/sd-jwt-vc/type-metadata.schema.json");

    #[test]
    fn every_type_metadata_document_validates() {
        let mut compiler = boon::Compiler::new();
        let mut schemas = boon::Schemas::new();
        let url = "urn:digital-id:test:type-metadata";
        compiler
            .add_resource(url, serde_json::from_str(META_SCHEMA).unwrap())
            .unwrap();
        let idx = compiler.compile(url, &mut schemas).unwrap();
        for doc in DOCUMENTS {
            let meta = type_metadata(doc);
            if let Err(e) = schemas.validate(&meta, idx) {
                panic!("{}: {e:#}", doc.id);
            }
            assert_eq!(meta["vct"], doc.vct);
            assert!(meta["schema"].is_object(), "{}", doc.id);
        }
    }

    #[test]
    fn display_names_in_both_languages() {
        for doc in DOCUMENTS {
            let meta = type_metadata(doc);
            let locales: Vec<&str> = meta["display"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["locale"].as_str().unwrap())
                .collect();
            assert_eq!(locales, ["ru-RU", "en-US"], "{}", doc.id);
            for l in [doc.name, doc.description] {
                assert!(
                    l.ru.chars().any(|c| matches!(c, 'А'..='я')),
                    "{}: {}",
                    doc.id,
                    l.ru
                );
                assert!(l.en.is_ascii() && !l.en.is_empty(), "{}: {}", doc.id, l.en);
            }
            for c in doc.claim_specs() {
                assert!(
                    c.label.ru.chars().any(|ch| matches!(ch, 'А'..='я')),
                    "{}: {:?}",
                    doc.id,
                    c.path
                );
                assert!(
                    c.label.en.is_ascii() && !c.label.en.is_empty(),
                    "{}: {:?}",
                    doc.id,
                    c.path
                );
            }
        }
    }

    #[test]
    fn registered_claims_are_never_emitted_or_disclosable() {
        for doc in DOCUMENTS {
            for c in doc.claim_specs() {
                let first = c.claim_path().0[0].clone();
                for reserved in [
                    "iss",
                    "vct",
                    "cnf",
                    "iat",
                    "exp",
                    "status",
                    "nbf",
                    "sub",
                    "vct#integrity",
                ] {
                    assert_ne!(
                        first,
                        crate::sdjwt::PathElem::Key(reserved.into()),
                        "{}",
                        doc.id
                    );
                }
                if c.path.len() == 1 {
                    assert_eq!(
                        c.sd,
                        Sd::Always,
                        "{}: top-level personal claims are SD",
                        doc.id
                    );
                }
            }
        }
    }

    #[test]
    fn integrity_is_sri_sha256() {
        // SHA-256 of the empty string.
        assert_eq!(
            integrity(b""),
            "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        let doc = DOCUMENTS[0];
        assert_eq!(
            integrity(&type_metadata_bytes(doc)),
            integrity(&type_metadata_bytes(doc))
        );
    }

    #[test]
    fn served_bytes_and_integrity_are_the_built_ones() {
        for doc in DOCUMENTS {
            let (bytes, sri) = served(doc);
            assert_eq!(bytes, type_metadata_bytes(doc).as_slice());
            assert_eq!(sri, integrity(bytes));
            assert!(sri.starts_with("sha256-"));
        }
    }
}
