//! Derived age claims, computed from the birthdate at issuance (DESIGN.md:
//! fixed thresholds only, never "over my exact age").

use serde_json::{Map, Value};
use time::Date;

use super::claims::{ClaimSpec, Step::Key, ValueType as T};
use super::validate::anniversary;

/// The only ages a relying party can ask about.
pub const AGE_THRESHOLDS: [u16; 5] = [14, 16, 18, 21, 65];

/// Full years on `today` (a 29 February birthday counts on 28 February in
/// common years, see [`anniversary`]).
pub fn age_on(birthdate: Date, today: Date) -> u16 {
    let years = today.year() - birthdate.year();
    let Ok(years) = u16::try_from(years) else {
        return 0;
    };
    if anniversary(birthdate, years) > today {
        years.saturating_sub(1)
    } else {
        years
    }
}

/// `age_equal_or_over` {14,16,18,21,65}, `age_in_years`, `age_birth_year`.
pub fn put_age_claims(m: &mut Map<String, Value>, birthdate: Date, today: Date) {
    let age = age_on(birthdate, today);
    let over: Map<String, Value> = AGE_THRESHOLDS
        .iter()
        .map(|t| (t.to_string(), Value::Bool(age >= *t)))
        .collect();
    m.insert("age_equal_or_over".into(), Value::Object(over));
    m.insert("age_in_years".into(), age.into());
    m.insert("age_birth_year".into(), birthdate.year().into());
}

/// The object and each threshold are separately disclosable.
pub const AGE_CLAIMS: &[ClaimSpec] = &[
    ClaimSpec::sd(
        &[Key("age_equal_or_over")],
        T::Object,
        true,
        "Возраст не менее",
        "Age at least",
    ),
    ClaimSpec::sd(
        &[Key("age_equal_or_over"), Key("14")],
        T::Boolean,
        true,
        "Есть 14 лет",
        "Aged 14 or over",
    ),
    ClaimSpec::sd(
        &[Key("age_equal_or_over"), Key("16")],
        T::Boolean,
        true,
        "Есть 16 лет",
        "Aged 16 or over",
    ),
    ClaimSpec::sd(
        &[Key("age_equal_or_over"), Key("18")],
        T::Boolean,
        true,
        "Есть 18 лет",
        "Aged 18 or over",
    ),
    ClaimSpec::sd(
        &[Key("age_equal_or_over"), Key("21")],
        T::Boolean,
        true,
        "Есть 21 год",
        "Aged 21 or over",
    ),
    ClaimSpec::sd(
        &[Key("age_equal_or_over"), Key("65")],
        T::Boolean,
        true,
        "Есть 65 лет",
        "Aged 65 or over",
    ),
    ClaimSpec::sd(
        &[Key("age_in_years")],
        T::Integer,
        true,
        "Возраст (полных лет)",
        "Age in years",
    ),
    ClaimSpec::sd(
        &[Key("age_birth_year")],
        T::Integer,
        true,
        "Год рождения",
        "Year of birth",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    #[test]
    fn ages_around_birthdays() {
        let b = date!(2008 - 02 - 29);
        for (today, age) in [
            (date!(2026 - 02 - 27), 17),
            (date!(2026 - 02 - 28), 18),
            (date!(2026 - 03 - 01), 18),
            (date!(2024 - 02 - 28), 15),
            (date!(2024 - 02 - 29), 16),
            (date!(2008 - 02 - 29), 0),
        ] {
            assert_eq!(age_on(b, today), age, "{today}");
        }
        assert_eq!(age_on(date!(1990 - 05 - 17), date!(2026 - 05 - 16)), 35);
        assert_eq!(age_on(date!(1990 - 05 - 17), date!(2026 - 05 - 17)), 36);
        assert_eq!(age_on(date!(2030 - 01 - 01), date!(2026 - 05 - 17)), 0);
    }

    #[test]
    fn derived_claims_for_leap_day_birthday() {
        let mut m = Map::new();
        put_age_claims(&mut m, date!(2008 - 02 - 29), date!(2026 - 02 - 28));
        assert_eq!(
            Value::Object(m),
            json!({
                "age_equal_or_over": {"14": true, "16": true, "18": true, "21": false, "65": false},
                "age_in_years": 18,
                "age_birth_year": 2008
            })
        );
        let mut m = Map::new();
        put_age_claims(&mut m, date!(2008 - 02 - 29), date!(2026 - 02 - 27));
        assert_eq!(m["age_equal_or_over"]["18"], json!(false));
    }
}
