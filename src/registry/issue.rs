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
pub fn issuable<R: Registry + ?Sized>(
    registry: &R,
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
            let mut issued =
                doc.issue(&s.person, record, today)
                    .map_err(|error| IssueRefusal::Invalid {
                        record: record_id(&s.id, Some(doc.id)),
                        error,
                    })?;
            issued.dataset = Some(record_id(&s.id, Some(doc.id)));
            out.push(issued);
        }
    }
    if out.is_empty() {
        return Err(IssueRefusal::NoDocument);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::registry::demo::DemoRegistry;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 25);

    fn reg() -> DemoRegistry {
        DemoRegistry::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/registry"))
            .unwrap()
    }

    fn id(s: &str) -> SubjectId {
        SubjectId(s.into())
    }

    #[test]
    fn ordinary_adult_gets_all_five() {
        let r = reg();
        for doc in [
            "ru.passport",
            "ru.driving_licence",
            "ru.snils",
            "ru.oms",
            "ru.inn",
        ] {
            let out = issuable(&r, &id("ivanov-ivan"), doc, TODAY).unwrap();
            assert_eq!(out.len(), 1);
            assert_eq!(out[0].document_id, doc);
            assert!(!out[0].sd_paths.is_empty());
        }
    }

    #[test]
    fn minors_get_nothing_in_their_own_wallet() {
        let r = reg();
        for (who, doc) in [
            ("zaitsev-timur", "ru.passport"),
            ("popov-artyom", "ru.snils"),
            ("popova-sofia", "ru.birth_certificate"),
        ] {
            let err = issuable(&r, &id(who), doc, TODAY).unwrap_err();
            assert!(matches!(err, IssueRefusal::UnderAge), "{who}: {err}");
            assert_eq!(err.error_code(), Some("credential_request_denied"));
        }
    }

    #[test]
    fn parent_receives_a_birth_certificate_per_child() {
        let r = reg();
        let out = issuable(&r, &id("popova-maria"), "ru.birth_certificate", TODAY).unwrap();
        let names: Vec<&str> = out
            .iter()
            .map(|c| c.claims["given_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Артём", "София"]);
        assert_eq!(out[0].claims["mother"]["family_name"], "Попова");
        let one = issuable(&r, &id("zaitseva-irina"), "ru.birth_certificate", TODAY).unwrap();
        assert_eq!(one.len(), 1);
        assert!(matches!(
            issuable(&r, &id("ivanov-ivan"), "ru.birth_certificate", TODAY),
            Err(IssueRefusal::NoDocument)
        ));
    }

    #[test]
    fn invalid_records_are_refused_naming_field_and_rule() {
        let r = reg();
        let err = issuable(&r, &id("fedorov-nikolay"), "ru.snils", TODAY).unwrap_err();
        assert_eq!(
            err.to_string(),
            "fedorov-nikolay/ru.snils: snils: SNILS check number does not match (digits 1-9 x weights 9..1, mod 101)"
        );
        assert_eq!(err.error_code(), Some("credential_request_denied"));
        assert!(matches!(
            issuable(&r, &id("egorova-tatiana"), "ru.inn", TODAY),
            Err(IssueRefusal::Invalid {
                error: ValidationError::InnCheckDigit { .. },
                ..
            })
        ));
        assert!(matches!(
            issuable(&r, &id("volkov-sergey"), "ru.driving_licence", TODAY),
            Err(IssueRefusal::Invalid {
                error: ValidationError::Expired { .. },
                ..
            })
        ));
    }

    #[test]
    fn other_refusals() {
        let r = reg();
        assert!(matches!(
            issuable(&r, &id("nobody"), "ru.passport", TODAY),
            Err(IssueRefusal::UnknownSubject)
        ));
        let err = issuable(&r, &id("ivanov-ivan"), "ru.diploma", TODAY).unwrap_err();
        assert_eq!(err.error_code(), Some("unknown_credential_configuration"));
        assert!(matches!(
            issuable(&r, &id("sokolov-dmitry"), "ru.driving_licence", TODAY),
            Err(IssueRefusal::NoDocument)
        ));
    }

    #[test]
    fn leap_day_adult_and_pensioner() {
        let r = reg();
        let out = issuable(&r, &id("leapday-vasilisa"), "ru.passport", TODAY).unwrap();
        assert_eq!(out[0].claims["age_equal_or_over"]["18"], true);
        assert_eq!(out[0].claims["age_in_years"], 18);
        let before = issuable(
            &r,
            &id("leapday-vasilisa"),
            "ru.passport",
            date!(2026 - 02 - 27),
        )
        .unwrap_err();
        assert!(matches!(before, IssueRefusal::UnderAge));
        let p = issuable(&r, &id("smirnova-olga"), "ru.pensioner_status", TODAY).unwrap();
        assert_eq!(p[0].claims["pensioner"], true);
    }
}
