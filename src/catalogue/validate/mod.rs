//! Validation of registry records before anything can be signed (DESIGN.md
//! "Documents": a record that fails is refused with a clear error, never issued).
//!
//! Each validator is a pure function taking the field name it reports (a
//! `/`-separated path inside the record, e.g. `resident_address/postal_code`)
//! and, where time matters, `today` from outside; none reads the clock.

mod birth_certificate;
mod dates;
mod inn;
mod licence;
mod names;
mod oms;
mod passport;
mod snils;
mod vehicle;

pub use birth_certificate::birth_certificate_number;
pub use dates::{anniversary, date, format_date, past_date};
pub use inn::{inn, person_inn, tax_authority_code};
pub use licence::{LICENCE_CATEGORIES, licence_category, licence_number};
pub use names::{name, sex};
pub use oms::{insurer_code, oms_policy_number};
pub use passport::{
    PASSPORT_REPLACEMENT_AGES, division_code, passport_issued_after_14, passport_number,
    passport_series, passport_valid_until, postal_code,
};
pub use snils::snils;
pub use vehicle::{registration_plate, sts_number, vehicle_year, vin};

/// Why a registry record cannot be issued. Every variant names the field
/// (a `/`-separated path inside the record) and the rule it broke; the
/// `Display` form is `<field>: <rule>`, one line, without the field's value
/// (no personal data in messages).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("{field}: required field is missing")]
    Missing { field: String },
    #[error("{field}: must be a {expected}")]
    WrongType {
        field: String,
        expected: &'static str,
    },
    #[error("{field}: must not be empty")]
    Empty { field: String },
    #[error("{field}: must be a real calendar date written YYYY-MM-DD")]
    DateFormat { field: String },
    #[error("{field}: must not be in the future")]
    DateInFuture { field: String },
    #[error("{field}: must not be before {earlier}")]
    DateOrder {
        field: String,
        earlier: &'static str,
    },
    #[error("{field}: document has expired")]
    Expired { field: String },
    #[error(
        "{field}: must be Cyrillic letters, with a single hyphen or space only between letters"
    )]
    CyrillicName { field: String },
    #[error("{field}: must be \"male\" or \"female\"")]
    Sex { field: String },
    #[error("{field}: SNILS must be 11 digits written NNN-NNN-NNN NN")]
    SnilsFormat { field: String },
    #[error("{field}: SNILS check number does not match (digits 1-9 x weights 9..1, mod 101)")]
    SnilsCheckNumber { field: String },
    #[error("{field}: INN must be 10 (organisation) or 12 (person) digits")]
    InnFormat { field: String },
    #[error("{field}: a person's INN must have 12 digits")]
    InnNotPerson { field: String },
    #[error("{field}: INN check digit does not match (weighted sum mod 11 mod 10)")]
    InnCheckDigit { field: String },
    #[error("{field}: tax authority code must be 4 digits")]
    TaxAuthorityCode { field: String },
    #[error("{field}: OMS policy number must be 16 digits")]
    OmsFormat { field: String },
    #[error("{field}: OMS policy check digit does not match (ISO/HL7 27931 Mod10)")]
    OmsCheckDigit { field: String },
    #[error("{field}: insurer register code must be 5 digits")]
    InsurerCode { field: String },
    #[error("{field}: passport series must be 4 digits (region code + blank year)")]
    PassportSeries { field: String },
    #[error("{field}: passport number must be 6 digits")]
    PassportNumber { field: String },
    #[error("{field}: division code must be written NNN-NNN")]
    DivisionCode { field: String },
    #[error("{field}: a passport is issued on or after the holder's 14th birthday")]
    PassportIssuedBefore14 { field: String },
    #[error(
        "{field}: passport expired by age: it had to be replaced at {age} (valid to the {age}th birthday + 90 days)"
    )]
    PassportExpiredByAge { field: String, age: u8 },
    #[error("{field}: postal code must be 6 digits")]
    PostalCode { field: String },
    #[error("{field}: driving licence number must be 10 digits (4 + 6)")]
    LicenceNumber { field: String },
    #[error(
        "{field}: not a category of the Russian list (A, A1, B, B1, BE, C, C1, CE, C1E, D, D1, DE, D1E, M, Tm, Tb)"
    )]
    LicenceCategory { field: String },
    #[error("{field}: category listed twice")]
    DuplicateCategory { field: String },
    #[error(
        "{field}: vehicle registration certificate number must be 2 digits, 2 digits or Cyrillic capitals, 6 digits"
    )]
    StsNumber { field: String },
    #[error("{field}: VIN must be 17 characters A-Z and 0-9 without I, O and Q")]
    Vin { field: String },
    #[error(
        "{field}: registration plate must be a letter, 3 digits, 2 letters (АВЕКМНОРСТУХ) and a 2-3 digit region"
    )]
    RegistrationPlate { field: String },
    #[error("{field}: year must be between 1900 and the current year")]
    VehicleYear { field: String },
    #[error(
        "{field}: birth certificate number must be a Roman numeral, hyphen, two Cyrillic capitals, space, 6 digits"
    )]
    BirthCertificateNumber { field: String },
    #[error("{field}: not a known pension type")]
    PensionType { field: String },
    #[error("{field}: the pension has ended")]
    PensionEnded { field: String },
    #[error("{field}: not a document type of the catalogue")]
    UnknownDocument { field: String },
    #[error("{field}: does not match the document's JSON Schema (keyword `{keyword}`)")]
    Schema {
        field: String,
        keyword: &'static str,
    },
}

/// Whether `s` is exactly `n` ASCII digits.
pub(crate) fn is_digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

/// The ASCII digits of `s` as numbers (callers check `is_digits` first).
pub(crate) fn digits(s: &str) -> Vec<u32> {
    s.bytes().map(|b| u32::from(b - b'0')).collect()
}
