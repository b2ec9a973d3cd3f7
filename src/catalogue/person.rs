//! The person a document is about, as the registry holds them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::Date;

use super::age::age_on;
use super::validate::{self, ValidationError, format_date};

/// A person's registry data as stored (strings; not yet validated).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRecord {
    pub family_name: String,
    pub given_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patronymic: Option<String>,
    pub birthdate: String,
    pub sex: String,
    pub place_of_birth: String,
}

/// A validated person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub family_name: String,
    pub given_name: String,
    pub patronymic: Option<String>,
    pub birthdate: Date,
    /// `male` or `female`.
    pub sex: &'static str,
    pub place_of_birth: String,
}

impl PersonRecord {
    /// Names are Cyrillic, the birthdate real and not after `today`, sex
    /// `male`/`female`, the place of birth non-empty.
    pub fn validate(&self, today: Date) -> Result<Person, ValidationError> {
        validate::name("family_name", &self.family_name)?;
        validate::name("given_name", &self.given_name)?;
        if let Some(p) = &self.patronymic {
            validate::name("patronymic", p)?;
        }
        let birthdate = validate::past_date("birthdate", &self.birthdate, today)?;
        validate::sex("sex", &self.sex)?;
        let sex = if self.sex == "male" { "male" } else { "female" };
        if self.place_of_birth.trim().is_empty() {
            return Err(ValidationError::Empty {
                field: "place_of_birth".into(),
            });
        }
        Ok(Person {
            family_name: self.family_name.clone(),
            given_name: self.given_name.clone(),
            patronymic: self.patronymic.clone(),
            birthdate,
            sex,
            place_of_birth: self.place_of_birth.clone(),
        })
    }

    /// Age in full years on `today`, if the birthdate is a real date.
    pub fn age_on(&self, today: Date) -> Option<u16> {
        validate::date("birthdate", &self.birthdate)
            .ok()
            .map(|b| age_on(b, today))
    }
}

impl Person {
    /// Puts family_name, given_name and (when there is one) patronymic.
    pub fn put_names(&self, m: &mut Map<String, Value>) {
        m.insert("family_name".into(), self.family_name.clone().into());
        m.insert("given_name".into(), self.given_name.clone().into());
        if let Some(p) = &self.patronymic {
            m.insert("patronymic".into(), p.clone().into());
        }
    }

    pub fn put_birthdate(&self, m: &mut Map<String, Value>) {
        m.insert("birthdate".into(), format_date(self.birthdate).into());
    }

    pub fn put_sex(&self, m: &mut Map<String, Value>) {
        m.insert("sex".into(), self.sex.into());
    }

    pub fn put_place_of_birth(&self, m: &mut Map<String, Value>) {
        m.insert("place_of_birth".into(), self.place_of_birth.clone().into());
    }
}
