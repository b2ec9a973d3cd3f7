//! Claim descriptions: path, type, selective disclosure, labels.

use crate::sdjwt::ClaimPath;

/// A text in the two display locales, `ru-RU` and `en-US`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Localized {
    pub ru: &'static str,
    pub en: &'static str,
}

impl Localized {
    /// `(locale, text)` pairs, Russian first.
    pub fn by_locale(&self) -> [(&'static str, &'static str); 2] {
        [("ru-RU", self.ru), ("en-US", self.en)]
    }
}

/// One step of a claim path known at compile time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Key(&'static str),
    /// Every element of an array (`null` in a claims path).
    All,
}

/// The JSON type of a claim's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    String,
    /// A `YYYY-MM-DD` string.
    Date,
    Integer,
    Boolean,
    Object,
    Array,
}

/// Selective disclosure policy, as `sd` in SD-JWT VC type metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sd {
    /// The issuer makes the claim selectively disclosable.
    Always,
    /// Plain inside its (selectively disclosable) parent.
    Never,
}

impl Sd {
    pub fn as_str(self) -> &'static str {
        match self {
            Sd::Always => "always",
            Sd::Never => "never",
        }
    }
}

/// One claim of a document type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimSpec {
    pub path: &'static [Step],
    pub value_type: ValueType,
    pub sd: Sd,
    /// Always present in an issued credential.
    pub mandatory: bool,
    pub label: Localized,
}

impl ClaimSpec {
    /// A selectively disclosable claim.
    pub const fn sd(
        path: &'static [Step],
        value_type: ValueType,
        mandatory: bool,
        ru: &'static str,
        en: &'static str,
    ) -> Self {
        ClaimSpec {
            path,
            value_type,
            sd: Sd::Always,
            mandatory,
            label: Localized { ru, en },
        }
    }

    /// A claim inside a disclosed parent, not disclosable on its own.
    pub const fn plain(
        path: &'static [Step],
        value_type: ValueType,
        ru: &'static str,
        en: &'static str,
    ) -> Self {
        ClaimSpec {
            path,
            value_type,
            sd: Sd::Never,
            mandatory: false,
            label: Localized { ru, en },
        }
    }

    pub fn claim_path(&self) -> ClaimPath {
        ClaimPath(self.path.iter().map(|s| s.to_elem()).collect())
    }
}

/// Claims every document about a person starts with.
pub mod common {
    use super::{ClaimSpec, Step::Key, ValueType as T};

    /// family_name, given_name, patronymic ("names" in DESIGN.md).
    pub const NAMES: &[ClaimSpec] = &[
        ClaimSpec::sd(
            &[Key("family_name")],
            T::String,
            true,
            "Фамилия",
            "Family name",
        ),
        ClaimSpec::sd(&[Key("given_name")], T::String, true, "Имя", "Given name"),
        ClaimSpec::sd(
            &[Key("patronymic")],
            T::String,
            false,
            "Отчество",
            "Patronymic",
        ),
    ];
    pub const BIRTHDATE: &[ClaimSpec] = &[ClaimSpec::sd(
        &[Key("birthdate")],
        T::Date,
        true,
        "Дата рождения",
        "Date of birth",
    )];
    pub const SEX: &[ClaimSpec] = &[ClaimSpec::sd(&[Key("sex")], T::String, true, "Пол", "Sex")];
    pub const PLACE_OF_BIRTH: &[ClaimSpec] = &[ClaimSpec::sd(
        &[Key("place_of_birth")],
        T::String,
        true,
        "Место рождения",
        "Place of birth",
    )];
}
