//! `ru.pensioner_status`: proof of receiving a state pension. When the
//! pension ends the credential is revoked through the status list; a record
//! whose pension has ended is refused here.

use serde_json::Map;
use time::Date;

use super::claims::{ClaimSpec, Step::Key, ValueType as T, common};
use super::validate::{ValidationError, format_date};
use super::{Built, DocumentType, Holder, Localized, Person, Record};

pub static DOCUMENT: DocumentType = DocumentType {
    id: "ru.pensioner_status",
    vct: "urn:ru:digital-id:pensioner-status:1",
    name: Localized {
        ru: "Статус пенсионера",
        en: "Pensioner status",
    },
    description: Localized {
        ru: "Подтверждение получения пенсии от Социального фонда России",
        en: "Proof of receiving a pension from the Social Fund of Russia",
    },
    holder: Holder::Subject,
    claims: &[common::NAMES, common::BIRTHDATE, OWN],
    schema: include_str!("../../../schemas/ru.pensioner_status.json"),
    build,
};

/// Pension types as the Social Fund records them.
pub const PENSION_TYPES: [&str; 5] = [
    "old_age",
    "disability",
    "survivor",
    "long_service",
    "social",
];

const OWN: &[ClaimSpec] = &[
    ClaimSpec::sd(
        &[Key("pensioner")],
        T::Boolean,
        true,
        "Пенсионер",
        "Pensioner",
    ),
    ClaimSpec::sd(
        &[Key("pension_type")],
        T::String,
        true,
        "Вид пенсии",
        "Pension type",
    ),
    ClaimSpec::sd(
        &[Key("pension_since")],
        T::Date,
        true,
        "Пенсия назначена с",
        "Pension since",
    ),
];

fn build(p: &Person, r: &Record, today: Date) -> Result<Built, ValidationError> {
    let kind = r.str("pension_type")?;
    if !PENSION_TYPES.contains(&kind) {
        return Err(ValidationError::PensionType {
            field: r.field("pension_type"),
        });
    }
    let since = r.past_date("pension_since", today)?;
    if since < p.birthdate {
        return Err(ValidationError::DateOrder {
            field: r.field("pension_since"),
            earlier: "birthdate",
        });
    }
    if !r.bool("active")? {
        return Err(ValidationError::PensionEnded {
            field: r.field("active"),
        });
    }
    let mut m = Map::new();
    p.put_names(&mut m);
    p.put_birthdate(&mut m);
    m.insert("pensioner".into(), true.into());
    m.insert("pension_type".into(), kind.into());
    m.insert("pension_since".into(), format_date(since).into());
    Ok(Built {
        claims: m,
        valid_until: None,
    })
}
