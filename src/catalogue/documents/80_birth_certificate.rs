//! `ru.birth_certificate`: a child's birth certificate, issued to a parent's
//! wallet (DESIGN.md: a child's documents go to a parent).

use serde_json::{Map, Value, json};
use time::Date;

use super::claims::{ClaimSpec, Step::Key, ValueType as T, common};
use super::validate::{self, ValidationError, format_date};
use super::{Built, DocumentType, Holder, Localized, Person, Record};

pub static DOCUMENT: DocumentType = DocumentType {
    id: "ru.birth_certificate",
    vct: "urn:ru:digital-id:birth-certificate:1",
    name: Localized {
        ru: "Свидетельство о рождении",
        en: "Birth certificate",
    },
    description: Localized {
        ru: "Свидетельство о рождении ребёнка, выдаётся в кошелёк родителя",
        en: "A child's birth certificate, issued to a parent's wallet",
    },
    holder: Holder::Parent,
    claims: &[
        common::NAMES,
        common::BIRTHDATE,
        common::PLACE_OF_BIRTH,
        PARENTS,
        OWN,
    ],
    schema: include_str!("../../../schemas/ru.birth_certificate.json"),
    build,
};

const PARENTS: &[ClaimSpec] = &[
    ClaimSpec::sd(&[Key("mother")], T::Object, false, "Мать", "Mother"),
    ClaimSpec::plain(
        &[Key("mother"), Key("family_name")],
        T::String,
        "Фамилия матери",
        "Mother's family name",
    ),
    ClaimSpec::plain(
        &[Key("mother"), Key("given_name")],
        T::String,
        "Имя матери",
        "Mother's given name",
    ),
    ClaimSpec::plain(
        &[Key("mother"), Key("patronymic")],
        T::String,
        "Отчество матери",
        "Mother's patronymic",
    ),
    ClaimSpec::sd(&[Key("father")], T::Object, false, "Отец", "Father"),
    ClaimSpec::plain(
        &[Key("father"), Key("family_name")],
        T::String,
        "Фамилия отца",
        "Father's family name",
    ),
    ClaimSpec::plain(
        &[Key("father"), Key("given_name")],
        T::String,
        "Имя отца",
        "Father's given name",
    ),
    ClaimSpec::plain(
        &[Key("father"), Key("patronymic")],
        T::String,
        "Отчество отца",
        "Father's patronymic",
    ),
];

const OWN: &[ClaimSpec] = &[
    ClaimSpec::sd(
        &[Key("document_number")],
        T::String,
        true,
        "Серия и номер",
        "Series and number",
    ),
    ClaimSpec::sd(
        &[Key("issue_date")],
        T::Date,
        true,
        "Дата выдачи",
        "Date of issue",
    ),
    ClaimSpec::sd(
        &[Key("issuing_authority")],
        T::String,
        true,
        "Орган ЗАГС",
        "Registry office",
    ),
];

/// `p` is the child; the record is the child's certificate.
fn build(p: &Person, r: &Record, today: Date) -> Result<Built, ValidationError> {
    let number = r.str("document_number")?;
    validate::birth_certificate_number(&r.field("document_number"), number)?;
    let issued = r.past_date("issue_date", today)?;
    if issued < p.birthdate {
        return Err(ValidationError::DateOrder {
            field: r.field("issue_date"),
            earlier: "birthdate",
        });
    }
    let mut m = Map::new();
    p.put_names(&mut m);
    p.put_birthdate(&mut m);
    p.put_place_of_birth(&mut m);
    for parent in ["mother", "father"] {
        if r.opt_object(parent).is_some() {
            m.insert(parent.into(), names(&r.object(parent)?)?);
        }
    }
    m.insert("document_number".into(), number.into());
    m.insert("issue_date".into(), format_date(issued).into());
    m.insert(
        "issuing_authority".into(),
        r.text("issuing_authority")?.into(),
    );
    Ok(Built {
        claims: m,
        valid_until: None,
    })
}

fn names(r: &Record) -> Result<Value, ValidationError> {
    let family = r.str("family_name")?;
    validate::name(&r.field("family_name"), family)?;
    let given = r.str("given_name")?;
    validate::name(&r.field("given_name"), given)?;
    let mut v = json!({"family_name": family, "given_name": given});
    if let Some(p) = r.opt_str("patronymic")? {
        validate::name(&r.field("patronymic"), p)?;
        v["patronymic"] = p.into();
    }
    Ok(v)
}
