//! INN, the taxpayer identification number (ИНН).

use super::{ValidationError, digits, is_digits};

const W10: [u32; 9] = [2, 4, 10, 3, 5, 9, 4, 6, 8];
const W11: [u32; 10] = [7, 2, 4, 10, 3, 5, 9, 4, 6, 8];
const W12: [u32; 11] = [3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8];

/// Validates an INN of an organisation (10 digits) or a person (12 digits).
///
/// Check digits (Federal Tax Service): each is the weighted sum of the digits
/// before it, mod 11, mod 10. Ten digits: weights 2,4,10,3,5,9,4,6,8 give the
/// 10th digit. Twelve digits: weights 7,2,4,10,3,5,9,4,6,8 give the 11th, then
/// 3,7,2,4,10,3,5,9,4,6,8 over the first eleven give the 12th.
pub fn inn(field: &str, value: &str) -> Result<(), ValidationError> {
    let ok = if is_digits(value, 10) {
        let d = digits(value);
        check(&d[..9], &W10) == d[9]
    } else if is_digits(value, 12) {
        let d = digits(value);
        check(&d[..10], &W11) == d[10] && check(&d[..11], &W12) == d[11]
    } else {
        return Err(ValidationError::InnFormat {
            field: field.into(),
        });
    };
    if ok {
        Ok(())
    } else {
        Err(ValidationError::InnCheckDigit {
            field: field.into(),
        })
    }
}

/// Validates a person's INN: 12 digits with both check digits (see [`inn`]).
pub fn person_inn(field: &str, value: &str) -> Result<(), ValidationError> {
    inn(field, value)?;
    if value.len() == 12 {
        Ok(())
    } else {
        Err(ValidationError::InnNotPerson {
            field: field.into(),
        })
    }
}

/// Code of the tax office where the person is registered: 4 digits, the
/// first two being the region (e.g. `7701`).
pub fn tax_authority_code(field: &str, value: &str) -> Result<(), ValidationError> {
    if is_digits(value, 4) {
        Ok(())
    } else {
        Err(ValidationError::TaxAuthorityCode {
            field: field.into(),
        })
    }
}

fn check(d: &[u32], weights: &[u32]) -> u32 {
    d.iter().zip(weights).map(|(a, b)| a * b).sum::<u32>() % 11 % 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers() {
        for v in [
            "500100732259",
            "770708389324",
            "783000229357",
            "027400081000",
            "123456789047",
            "7707083893",
            "5001007329",
            "7811001181",
            "3662000008",
            "0274000813",
        ] {
            assert_eq!(inn("inn", v), Ok(()), "{v}");
        }
    }

    #[test]
    fn invalid_numbers() {
        let fmt = ValidationError::InnFormat {
            field: "inn".into(),
        };
        let chk = ValidationError::InnCheckDigit {
            field: "inn".into(),
        };
        for (v, err) in [
            ("500100732258", &chk),
            ("500100732249", &chk),
            ("770708389325", &chk),
            ("7707083894", &chk),
            ("0274000812", &chk),
            ("50010073225", &fmt),
            ("5001007322590", &fmt),
            ("50010073225a", &fmt),
            ("500 100 732 259", &fmt),
            ("", &fmt),
        ] {
            assert_eq!(inn("inn", v).as_ref(), Err(err), "{v}");
        }
    }

    #[test]
    fn tax_authority_codes() {
        for v in ["7701", "5036", "6658", "1690", "0274"] {
            assert_eq!(tax_authority_code("tax_authority_code", v), Ok(()), "{v}");
        }
        for v in ["770", "77011", "77 01", "77O1", ""] {
            assert_eq!(
                tax_authority_code("t", v),
                Err(ValidationError::TaxAuthorityCode { field: "t".into() }),
                "{v}"
            );
        }
    }

    #[test]
    fn person_needs_twelve_digits() {
        assert_eq!(person_inn("inn", "500100732259"), Ok(()));
        assert_eq!(
            person_inn("inn", "7707083893"),
            Err(ValidationError::InnNotPerson {
                field: "inn".into()
            })
        );
    }
}
