//! `ru.driving_licence`: the Russian national driving licence.

use std::collections::BTreeSet;

use serde_json::{Map, Value, json};
use time::Date;

use super::claims::{ClaimSpec, Step::*, ValueType as T, common};
use super::validate::{self, ValidationError, format_date};
use super::{Built, DocumentType, Holder, Localized, Person, Record};

pub static DOCUMENT: DocumentType = DocumentType {
    id: "ru.driving_licence",
    vct: "urn:ru:digital-id:driving-licence:1",
    name: Localized {
        ru: "Водительское удостоверение",
        en: "Driving licence",
    },
    description: Localized {
        ru: "Российское национальное водительское удостоверение",
        en: "Russian national driving licence",
    },
    holder: Holder::Subject,
    claims: &[
        common::NAMES,
        common::BIRTHDATE,
        common::PLACE_OF_BIRTH,
        OWN,
        PRIVILEGES,
    ],
    schema: include_str!("../../../schemas/ru.driving_licence.json"),
    build,
};

const OWN: &[ClaimSpec] = &[
    ClaimSpec::sd(
        &[Key("document_number")],
        T::String,
        true,
        "Номер удостоверения",
        "Licence number",
    ),
    ClaimSpec::sd(
        &[Key("issue_date")],
        T::Date,
        true,
        "Дата выдачи",
        "Date of issue",
    ),
    ClaimSpec::sd(
        &[Key("expiry_date")],
        T::Date,
        true,
        "Действительно до",
        "Valid until",
    ),
    ClaimSpec::sd(
        &[Key("issuing_authority")],
        T::String,
        true,
        "Кем выдано",
        "Issuing authority",
    ),
];

/// The list and each element are separately disclosable; an element's
/// members are plain inside it.
const PRIVILEGES: &[ClaimSpec] = &[
    ClaimSpec::sd(
        &[Key("driving_privileges")],
        T::Array,
        true,
        "Категории",
        "Driving privileges",
    ),
    ClaimSpec::sd(
        &[Key("driving_privileges"), All],
        T::Object,
        true,
        "Категория",
        "Driving privilege",
    ),
    ClaimSpec::plain(
        &[Key("driving_privileges"), All, Key("category")],
        T::String,
        "Категория",
        "Category",
    ),
    ClaimSpec::plain(
        &[Key("driving_privileges"), All, Key("issue_date")],
        T::Date,
        "Дата открытия",
        "Date of issue",
    ),
    ClaimSpec::plain(
        &[Key("driving_privileges"), All, Key("expiry_date")],
        T::Date,
        "Действительна до",
        "Valid until",
    ),
];

fn build(p: &Person, r: &Record, today: Date) -> Result<Built, ValidationError> {
    let number = validate::licence_number(&r.field("document_number"), r.str("document_number")?)?;
    let issued = r.past_date("issue_date", today)?;
    let expires = valid_dates(r, issued, today)?;
    let authority = r.text("issuing_authority")?;
    let items = r.objects("driving_privileges")?;
    if items.is_empty() {
        return Err(ValidationError::Empty {
            field: r.field("driving_privileges"),
        });
    }
    let mut seen = BTreeSet::new();
    let mut privileges = Vec::with_capacity(items.len());
    for item in &items {
        let category = item.str("category")?;
        validate::licence_category(&item.field("category"), category)?;
        if !seen.insert(category) {
            return Err(ValidationError::DuplicateCategory {
                field: item.field("category"),
            });
        }
        let since = item.past_date("issue_date", today)?;
        let until = valid_dates(item, since, today)?;
        privileges.push(json!({
            "category": category,
            "issue_date": format_date(since),
            "expiry_date": format_date(until),
        }));
    }
    let mut m = Map::new();
    p.put_names(&mut m);
    p.put_birthdate(&mut m);
    p.put_place_of_birth(&mut m);
    m.insert("document_number".into(), number.into());
    m.insert("issue_date".into(), format_date(issued).into());
    m.insert("expiry_date".into(), format_date(expires).into());
    m.insert("issuing_authority".into(), authority.into());
    m.insert("driving_privileges".into(), Value::Array(privileges));
    Ok(Built {
        claims: m,
        valid_until: Some(expires),
    })
}

/// `expiry_date` of `r`: a real date, not before `issued`, not passed
/// (an expired licence or category is refused).
fn valid_dates(r: &Record, issued: Date, today: Date) -> Result<Date, ValidationError> {
    let expires = r.date("expiry_date")?;
    if expires < issued {
        return Err(ValidationError::DateOrder {
            field: r.field("expiry_date"),
            earlier: "issue_date",
        });
    }
    if expires < today {
        return Err(ValidationError::Expired {
            field: r.field("expiry_date"),
        });
    }
    Ok(expires)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::PersonRecord;
    use time::macros::date;

    fn person() -> PersonRecord {
        PersonRecord {
            family_name: "Петрова".into(),
            given_name: "Анна".into(),
            patronymic: None,
            birthdate: "1985-03-02".into(),
            sex: "female".into(),
            place_of_birth: "г. Казань".into(),
        }
    }

    fn record() -> Value {
        json!({
            "document_number": "1623456789", "issue_date": "2022-04-01", "expiry_date": "2032-04-01",
            "issuing_authority": "ГИБДД 1601",
            "driving_privileges": [
                {"category": "B", "issue_date": "2005-04-01", "expiry_date": "2032-04-01"},
                {"category": "B1", "issue_date": "2005-04-01", "expiry_date": "2032-04-01"}
            ]
        })
    }

    #[test]
    fn each_privilege_is_disclosable() {
        let out = DOCUMENT
            .issue(&person(), &record(), date!(2026 - 11 - 25))
            .unwrap();
        let sd: Vec<String> = out.sd_paths.iter().map(|p| p.to_string()).collect();
        assert!(
            sd.contains(&r#"["driving_privileges",null]"#.to_owned()),
            "{sd:?}"
        );
        assert!(!sd.iter().any(|p| p.contains("category")));
        assert!(out.claims.get("patronymic").is_none());
        assert!(!sd.contains(&r#"["patronymic"]"#.to_owned()));
        assert_eq!(out.valid_until, Some(date!(2032 - 04 - 01)));
    }

    #[test]
    fn refuses_expired_and_unknown_categories() {
        let today = date!(2026 - 11 - 25);
        let mut r = record();
        r["expiry_date"] = "2026-11-24".into();
        assert_eq!(
            DOCUMENT.issue(&person(), &r, today),
            Err(ValidationError::Expired {
                field: "expiry_date".into()
            })
        );
        let mut r = record();
        r["driving_privileges"][1]["category"] = "E".into();
        assert_eq!(
            DOCUMENT.issue(&person(), &r, today),
            Err(ValidationError::LicenceCategory {
                field: "driving_privileges/1/category".into()
            })
        );
        let mut r = record();
        r["driving_privileges"][1]["category"] = "B".into();
        assert_eq!(
            DOCUMENT.issue(&person(), &r, today),
            Err(ValidationError::DuplicateCategory {
                field: "driving_privileges/1/category".into()
            })
        );
    }
}
