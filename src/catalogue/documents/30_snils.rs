//! `ru.snils`: the individual insurance account number (СНИЛС).

use serde_json::Map;
use time::Date;

use super::claims::{ClaimSpec, Step::Key, ValueType as T, common};
use super::validate::{self, ValidationError};
use super::{Built, DocumentType, Holder, Localized, Person, Record};

pub static DOCUMENT: DocumentType = DocumentType {
    id: "ru.snils",
    vct: "urn:ru:digital-id:snils:1",
    name: Localized {
        ru: "СНИЛС",
        en: "SNILS (individual insurance account number)",
    },
    description: Localized {
        ru: "Страховой номер индивидуального лицевого счёта в Социальном фонде России",
        en: "Individual insurance account number in the Social Fund of Russia",
    },
    holder: Holder::Subject,
    claims: &[common::NAMES, common::BIRTHDATE, common::SEX, OWN],
    schema: include_str!("../../../schemas/ru.snils.json"),
    build,
};

const OWN: &[ClaimSpec] = &[ClaimSpec::sd(
    &[Key("snils")],
    T::String,
    true,
    "СНИЛС",
    "SNILS",
)];

fn build(p: &Person, r: &Record, _today: Date) -> Result<Built, ValidationError> {
    let snils = validate::snils(&r.field("snils"), r.str("snils")?)?;
    let mut m = Map::new();
    p.put_names(&mut m);
    p.put_birthdate(&mut m);
    p.put_sex(&mut m);
    m.insert("snils".into(), snils.into());
    Ok(Built {
        claims: m,
        valid_until: None,
    })
}
