//! The Russian national driving licence (водительское удостоверение).

use super::{ValidationError, is_digits};

/// Categories and subcategories of the Russian list (Federal Law No. 196-FZ
/// "On road traffic safety", art. 25 §1), spelled as printed on the licence.
pub const LICENCE_CATEGORIES: [&str; 16] = [
    "A", "A1", "B", "B1", "BE", "C", "C1", "CE", "C1E", "D", "D1", "DE", "D1E", "M", "Tm", "Tb",
];

/// Licence number: 10 digits, a 4-digit series and a 6-digit number, written
/// with or without the spaces (`77 12 345678`); returns the bare digits.
pub fn licence_number(field: &str, value: &str) -> Result<String, ValidationError> {
    let bare: String = value.chars().filter(|c| *c != ' ').collect();
    let spaced_ok = value.len() == 10
        || value.len() == 12 && value.as_bytes()[2] == b' ' && value.as_bytes()[5] == b' ';
    if spaced_ok && is_digits(&bare, 10) {
        Ok(bare)
    } else {
        Err(ValidationError::LicenceNumber {
            field: field.into(),
        })
    }
}

/// One category of [`LICENCE_CATEGORIES`] (exact case: `Tm`, `Tb`).
pub fn licence_category(field: &str, value: &str) -> Result<(), ValidationError> {
    if LICENCE_CATEGORIES.contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::LicenceCategory {
            field: field.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (v, bare) in [
            ("7712345678", "7712345678"),
            ("77 12 345678", "7712345678"),
            ("9900123456", "9900123456"),
            ("5021 000001".replace(' ', "").as_str(), "5021000001"),
            ("0000000000", "0000000000"),
        ] {
            assert_eq!(
                licence_number("document_number", v).as_deref(),
                Ok(bare),
                "{v}"
            );
        }
        for v in [
            "771234567",
            "77123456789",
            "77 123 45678",
            "77АВ345678",
            "",
            "7712 345678",
        ] {
            assert_eq!(
                licence_number("document_number", v),
                Err(ValidationError::LicenceNumber {
                    field: "document_number".into()
                }),
                "{v}"
            );
        }
    }

    #[test]
    fn categories() {
        for v in LICENCE_CATEGORIES {
            assert_eq!(licence_category("driving_privileges/0/category", v), Ok(()));
        }
        for v in ["E", "b", "TM", "tb", "A2", "C1D", "", "В"] {
            assert_eq!(
                licence_category("c", v),
                Err(ValidationError::LicenceCategory { field: "c".into() }),
                "{v}"
            );
        }
    }
}
