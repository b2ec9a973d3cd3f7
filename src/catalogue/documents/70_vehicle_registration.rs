//! `ru.vehicle_registration`: the vehicle registration certificate (СТС),
//! issued to the owner.

use serde_json::Map;
use time::Date;

use super::claims::{ClaimSpec, Step::Key, ValueType as T, common};
use super::validate::{self, ValidationError};
use super::{Built, DocumentType, Holder, Localized, Person, Record};

pub static DOCUMENT: DocumentType = DocumentType {
    id: "ru.vehicle_registration",
    vct: "urn:ru:digital-id:vehicle-registration:1",
    name: Localized {
        ru: "Свидетельство о регистрации ТС",
        en: "Vehicle registration certificate",
    },
    description: Localized {
        ru: "Свидетельство о регистрации транспортного средства (СТС) на имя владельца",
        en: "Vehicle registration certificate (STS) in the owner's name",
    },
    holder: Holder::Subject,
    claims: &[common::NAMES, OWN],
    schema: include_str!("../../../schemas/ru.vehicle_registration.json"),
    build,
};

const OWN: &[ClaimSpec] = &[
    ClaimSpec::sd(
        &[Key("document_number")],
        T::String,
        true,
        "Серия и номер СТС",
        "Certificate number",
    ),
    ClaimSpec::sd(
        &[Key("registration_plate")],
        T::String,
        true,
        "Регистрационный знак",
        "Registration plate",
    ),
    ClaimSpec::sd(
        &[Key("vin")],
        T::String,
        true,
        "Идентификационный номер (VIN)",
        "VIN",
    ),
    ClaimSpec::sd(&[Key("make")], T::String, true, "Марка", "Make"),
    ClaimSpec::sd(&[Key("model")], T::String, true, "Модель", "Model"),
    ClaimSpec::sd(
        &[Key("year")],
        T::Integer,
        true,
        "Год выпуска",
        "Year of manufacture",
    ),
    ClaimSpec::sd(&[Key("colour")], T::String, true, "Цвет", "Colour"),
];

fn build(p: &Person, r: &Record, today: Date) -> Result<Built, ValidationError> {
    let number = r.str("document_number")?;
    validate::sts_number(&r.field("document_number"), number)?;
    let plate = r.str("registration_plate")?;
    validate::registration_plate(&r.field("registration_plate"), plate)?;
    let vin = r.str("vin")?;
    validate::vin(&r.field("vin"), vin)?;
    let year = r.int("year")?;
    validate::vehicle_year(&r.field("year"), year, today.year())?;
    let mut m = Map::new();
    p.put_names(&mut m);
    m.insert("document_number".into(), number.into());
    m.insert("registration_plate".into(), plate.into());
    m.insert("vin".into(), vin.into());
    m.insert("make".into(), r.text("make")?.into());
    m.insert("model".into(), r.text("model")?.into());
    m.insert("year".into(), year.into());
    m.insert("colour".into(), r.text("colour")?.into());
    Ok(Built {
        claims: m,
        valid_until: None,
    })
}
