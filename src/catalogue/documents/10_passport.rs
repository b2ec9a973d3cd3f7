//! `ru.passport`: the internal passport of a citizen of the Russian Federation.

use serde_json::{Map, Value, json};
use time::Date;

use super::age::{AGE_CLAIMS, put_age_claims};
use super::claims::{ClaimSpec, Step::Key, ValueType as T, common};
use super::validate::{self, ValidationError, format_date};
use super::{Built, DocumentType, Holder, Localized, Person, Record};

pub static DOCUMENT: DocumentType = DocumentType {
    id: "ru.passport",
    vct: "urn:ru:digital-id:passport:1",
    name: Localized {
        ru: "Паспорт гражданина Российской Федерации",
        en: "Russian internal passport",
    },
    description: Localized {
        ru: "Основной документ, удостоверяющий личность гражданина на территории России",
        en: "The main identity document of a Russian citizen within Russia",
    },
    holder: Holder::Subject,
    claims: &[
        common::NAMES,
        common::SEX,
        common::BIRTHDATE,
        common::PLACE_OF_BIRTH,
        OWN,
        ADDRESS,
        AGE_CLAIMS,
    ],
    schema: include_str!("../../../schemas/ru.passport.json"),
    build,
};

const OWN: &[ClaimSpec] = &[
    ClaimSpec::sd(
        &[Key("nationality")],
        T::String,
        true,
        "Гражданство",
        "Nationality",
    ),
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
        "Кем выдан",
        "Issuing authority",
    ),
    ClaimSpec::sd(
        &[Key("issuing_authority_code")],
        T::String,
        true,
        "Код подразделения",
        "Division code",
    ),
    ClaimSpec::sd(
        &[Key("expiry_date")],
        T::Date,
        false,
        "Действителен до",
        "Valid until",
    ),
];

/// The address object and each of its members are separately disclosable.
const ADDRESS: &[ClaimSpec] = &[
    ClaimSpec::sd(
        &[Key("resident_address")],
        T::Object,
        true,
        "Место жительства",
        "Place of residence",
    ),
    ClaimSpec::sd(
        &[Key("resident_address"), Key("postal_code")],
        T::String,
        true,
        "Индекс",
        "Postal code",
    ),
    ClaimSpec::sd(
        &[Key("resident_address"), Key("region")],
        T::String,
        true,
        "Субъект РФ",
        "Region",
    ),
    ClaimSpec::sd(
        &[Key("resident_address"), Key("locality")],
        T::String,
        true,
        "Населённый пункт",
        "Locality",
    ),
    ClaimSpec::sd(
        &[Key("resident_address"), Key("street_address")],
        T::String,
        true,
        "Улица, дом, квартира",
        "Street address",
    ),
];

fn build(p: &Person, r: &Record, today: Date) -> Result<Built, ValidationError> {
    let series = r.str("series")?;
    validate::passport_series(&r.field("series"), series)?;
    let number = r.str("number")?;
    validate::passport_number(&r.field("number"), number)?;
    let code = r.str("issuing_authority_code")?;
    validate::division_code(&r.field("issuing_authority_code"), code)?;
    let authority = r.text("issuing_authority")?;
    let issued = r.past_date("issue_date", today)?;
    validate::passport_issued_after_14(&r.field("issue_date"), p.birthdate, issued)?;
    let valid_until =
        validate::passport_valid_until(&r.field("issue_date"), p.birthdate, issued, today)?;
    let address = address(&r.object("resident_address")?)?;

    let mut m = Map::new();
    p.put_names(&mut m);
    p.put_sex(&mut m);
    p.put_birthdate(&mut m);
    p.put_place_of_birth(&mut m);
    m.insert("nationality".into(), "RU".into());
    m.insert(
        "document_number".into(),
        format!("{series} {number}").into(),
    );
    m.insert("issue_date".into(), format_date(issued).into());
    m.insert("issuing_authority".into(), authority.into());
    m.insert("issuing_authority_code".into(), code.into());
    if let Some(until) = valid_until {
        m.insert("expiry_date".into(), format_date(until).into());
    }
    m.insert("resident_address".into(), address);
    put_age_claims(&mut m, p.birthdate, today);
    Ok(Built {
        claims: m,
        valid_until,
    })
}

fn address(a: &Record) -> Result<Value, ValidationError> {
    let postal = a.str("postal_code")?;
    validate::postal_code(&a.field("postal_code"), postal)?;
    Ok(json!({
        "postal_code": postal,
        "region": a.text("region")?,
        "locality": a.text("locality")?,
        "street_address": a.text("street_address")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::PersonRecord;
    use crate::sdjwt::ClaimPath;
    use time::macros::date;

    fn person() -> PersonRecord {
        PersonRecord {
            family_name: "Иванов".into(),
            given_name: "Иван".into(),
            patronymic: Some("Иванович".into()),
            birthdate: "1990-05-17".into(),
            sex: "male".into(),
            place_of_birth: "г. Москва".into(),
        }
    }

    fn record() -> Value {
        json!({
            "series": "4510", "number": "345678",
            "issue_date": "2010-06-01",
            "issuing_authority": "ОВД района Тверской г. Москвы",
            "issuing_authority_code": "770-001",
            "resident_address": {"postal_code": "125009", "region": "г. Москва",
                "locality": "Москва", "street_address": "ул. Тверская, д. 1, кв. 2"}
        })
    }

    #[test]
    fn builds_claims_and_disclosable_paths() {
        let out = DOCUMENT
            .issue(&person(), &record(), date!(2026 - 11 - 25))
            .unwrap();
        assert_eq!(out.claims["document_number"], "4510 345678");
        assert_eq!(out.claims["expiry_date"], "2035-08-15");
        assert_eq!(out.claims["age_equal_or_over"]["18"], true);
        assert_eq!(out.claims["age_in_years"], 36);
        assert_eq!(out.valid_until, Some(date!(2035 - 08 - 15)));
        let sd: Vec<String> = out.sd_paths.iter().map(ClaimPath::to_string).collect();
        for p in [
            r#"["family_name"]"#,
            r#"["age_equal_or_over"]"#,
            r#"["age_equal_or_over","18"]"#,
            r#"["resident_address"]"#,
            r#"["resident_address","locality"]"#,
            r#"["expiry_date"]"#,
        ] {
            assert!(sd.contains(&p.to_owned()), "{p} missing from {sd:?}");
        }
        for reserved in ["iss", "vct", "cnf", "iat", "exp", "status"] {
            assert!(out.claims.get(reserved).is_none());
        }
    }

    #[test]
    fn refuses_malformed_and_expired() {
        let today = date!(2026 - 11 - 25);
        let mut bad = record();
        bad["issuing_authority_code"] = "77-0001".into();
        assert_eq!(
            DOCUMENT.issue(&person(), &bad, today),
            Err(ValidationError::DivisionCode {
                field: "issuing_authority_code".into()
            })
        );
        let mut old = person();
        old.birthdate = "1975-04-04".into();
        let mut rec = record();
        rec["issue_date"] = "1995-05-05".into();
        assert_eq!(
            DOCUMENT.issue(&old, &rec, today),
            Err(ValidationError::PassportExpiredByAge {
                field: "issue_date".into(),
                age: 45
            })
        );
        let mut rec = record();
        rec["extra"] = "x".into();
        assert_eq!(
            DOCUMENT.issue(&person(), &rec, today),
            Err(ValidationError::Schema {
                field: "extra".into(),
                keyword: "additionalProperties"
            })
        );
    }
}
