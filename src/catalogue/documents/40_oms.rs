//! `ru.oms`: the compulsory medical insurance policy (полис ОМС).

use serde_json::{Map, json};
use time::Date;

use super::claims::{ClaimSpec, Step::Key, ValueType as T, common};
use super::validate::{self, ValidationError};
use super::{Built, DocumentType, Holder, Localized, Person, Record};

pub static DOCUMENT: DocumentType = DocumentType {
    id: "ru.oms",
    vct: "urn:ru:digital-id:oms:1",
    name: Localized {
        ru: "Полис ОМС",
        en: "Compulsory medical insurance policy (OMS)",
    },
    description: Localized {
        ru: "Полис обязательного медицинского страхования единого образца",
        en: "Single-format compulsory medical insurance policy",
    },
    holder: Holder::Subject,
    claims: &[common::NAMES, common::BIRTHDATE, common::SEX, OWN],
    schema: include_str!("../../../schemas/ru.oms.json"),
    build,
};

const OWN: &[ClaimSpec] = &[
    ClaimSpec::sd(
        &[Key("policy_number")],
        T::String,
        true,
        "Номер полиса",
        "Policy number",
    ),
    ClaimSpec::sd(
        &[Key("insurer")],
        T::Object,
        true,
        "Страховая медицинская организация",
        "Insurer",
    ),
    ClaimSpec::plain(
        &[Key("insurer"), Key("name")],
        T::String,
        "Наименование СМО",
        "Insurer name",
    ),
    ClaimSpec::plain(
        &[Key("insurer"), Key("code")],
        T::String,
        "Код СМО в реестре",
        "Insurer register code",
    ),
    ClaimSpec::sd(
        &[Key("region")],
        T::String,
        true,
        "Субъект РФ страхования",
        "Region of insurance",
    ),
];

fn build(p: &Person, r: &Record, _today: Date) -> Result<Built, ValidationError> {
    let number = r.str("policy_number")?;
    validate::oms_policy_number(&r.field("policy_number"), number)?;
    let insurer = r.object("insurer")?;
    let code = insurer.str("code")?;
    validate::insurer_code(&insurer.field("code"), code)?;
    let mut m = Map::new();
    p.put_names(&mut m);
    p.put_birthdate(&mut m);
    p.put_sex(&mut m);
    m.insert("policy_number".into(), number.into());
    m.insert(
        "insurer".into(),
        json!({"name": insurer.text("name")?, "code": code}),
    );
    m.insert("region".into(), r.text("region")?.into());
    Ok(Built {
        claims: m,
        valid_until: None,
    })
}
