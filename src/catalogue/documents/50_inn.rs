//! `ru.inn`: the taxpayer identification number of a person (ИНН).

use serde_json::Map;
use time::Date;

use super::claims::{ClaimSpec, Step::Key, ValueType as T, common};
use super::validate::{self, ValidationError, format_date};
use super::{Built, DocumentType, Holder, Localized, Person, Record};

pub static DOCUMENT: DocumentType = DocumentType {
    id: "ru.inn",
    vct: "urn:ru:digital-id:inn:1",
    name: Localized {
        ru: "ИНН",
        en: "INN (taxpayer identification number)",
    },
    description: Localized {
        ru: "Идентификационный номер налогоплательщика — физического лица",
        en: "Taxpayer identification number of a natural person",
    },
    holder: Holder::Subject,
    claims: &[common::NAMES, common::BIRTHDATE, OWN],
    schema: include_str!("../../../schemas/ru.inn.json"),
    build,
};

const OWN: &[ClaimSpec] = &[
    ClaimSpec::sd(&[Key("inn")], T::String, true, "ИНН", "INN"),
    ClaimSpec::sd(
        &[Key("tax_authority_code")],
        T::String,
        true,
        "Код налогового органа",
        "Tax office code",
    ),
    ClaimSpec::sd(
        &[Key("registration_date")],
        T::Date,
        true,
        "Дата постановки на учёт",
        "Registration date",
    ),
];

fn build(p: &Person, r: &Record, today: Date) -> Result<Built, ValidationError> {
    let inn = r.str("inn")?;
    validate::person_inn(&r.field("inn"), inn)?;
    let office = r.str("tax_authority_code")?;
    validate::tax_authority_code(&r.field("tax_authority_code"), office)?;
    let registered = r.past_date("registration_date", today)?;
    let mut m = Map::new();
    p.put_names(&mut m);
    p.put_birthdate(&mut m);
    m.insert("inn".into(), inn.into());
    m.insert("tax_authority_code".into(), office.into());
    m.insert("registration_date".into(), format_date(registered).into());
    Ok(Built {
        claims: m,
        valid_until: None,
    })
}
