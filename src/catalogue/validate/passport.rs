//! The internal passport of a citizen of the Russian Federation.

use time::{Date, Duration};

use super::{ValidationError, anniversary, is_digits};

/// Ages at which a passport must be replaced (Government Decree No. 828 of
/// 8 July 1997, §7): a passport issued before the holder turns 20 (resp. 45)
/// stops being valid 90 days after that birthday.
pub const PASSPORT_REPLACEMENT_AGES: [u8; 2] = [20, 45];

/// Days allowed after the birthday to apply for the new passport.
const REPLACEMENT_GRACE_DAYS: i64 = 90;

/// Series: 4 digits, the region's OKATO code and the last two digits of the
/// year the blank was made (e.g. `4512`).
pub fn passport_series(field: &str, value: &str) -> Result<(), ValidationError> {
    if is_digits(value, 4) {
        Ok(())
    } else {
        Err(ValidationError::PassportSeries {
            field: field.into(),
        })
    }
}

/// Number: 6 digits.
pub fn passport_number(field: &str, value: &str) -> Result<(), ValidationError> {
    if is_digits(value, 6) {
        Ok(())
    } else {
        Err(ValidationError::PassportNumber {
            field: field.into(),
        })
    }
}

/// Division code of the issuing authority: `NNN-NNN` (e.g. `770-001`).
pub fn division_code(field: &str, value: &str) -> Result<(), ValidationError> {
    let ok = value.len() == 7
        && value.bytes().enumerate().all(|(i, c)| {
            if i == 3 {
                c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::DivisionCode {
            field: field.into(),
        })
    }
}

/// Postal code: 6 digits.
pub fn postal_code(field: &str, value: &str) -> Result<(), ValidationError> {
    if is_digits(value, 6) {
        Ok(())
    } else {
        Err(ValidationError::PostalCode {
            field: field.into(),
        })
    }
}

/// A passport is first issued on reaching 14: the issue date is on or after
/// the 14th birthday.
pub fn passport_issued_after_14(
    field: &str,
    birthdate: Date,
    issue_date: Date,
) -> Result<(), ValidationError> {
    if issue_date >= anniversary(birthdate, 14) {
        Ok(())
    } else {
        Err(ValidationError::PassportIssuedBefore14 {
            field: field.into(),
        })
    }
}

/// The last day the passport is valid, by the replacement rule: issued before
/// the 20th birthday → 20th birthday + 90 days; else before the 45th → 45th
/// birthday + 90 days; issued at 45 or later → no end (`Ok(None)`). Refused
/// with [`ValidationError::PassportExpiredByAge`] when `today` is past it.
pub fn passport_valid_until(
    field: &str,
    birthdate: Date,
    issue_date: Date,
    today: Date,
) -> Result<Option<Date>, ValidationError> {
    for age in PASSPORT_REPLACEMENT_AGES {
        let birthday = anniversary(birthdate, u16::from(age));
        if issue_date < birthday {
            let last = birthday.saturating_add(Duration::days(REPLACEMENT_GRACE_DAYS));
            if today > last {
                return Err(ValidationError::PassportExpiredByAge {
                    field: field.into(),
                    age,
                });
            }
            return Ok(Some(last));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 25);

    #[test]
    fn series_number_and_division_code() {
        for v in ["4512", "0000", "7799", "4600", "0301"] {
            assert_eq!(passport_series("series", v), Ok(()), "{v}");
        }
        for v in ["451", "45120", "45 12", "45A2", ""] {
            assert!(passport_series("series", v).is_err(), "{v}");
        }
        for v in ["345678", "000001", "999999", "100000", "654321"] {
            assert_eq!(passport_number("number", v), Ok(()), "{v}");
        }
        for v in ["34567", "3456789", "34 5678", "34567a", ""] {
            assert_eq!(
                passport_number("number", v),
                Err(ValidationError::PassportNumber {
                    field: "number".into()
                })
            );
        }
        for v in ["770-001", "500-112", "780-003", "162-005", "000-000"] {
            assert_eq!(division_code("issuing_authority_code", v), Ok(()), "{v}");
        }
        for v in ["770001", "770-0011", "77-0001", "770_001", "77O-001", ""] {
            assert_eq!(
                division_code("issuing_authority_code", v),
                Err(ValidationError::DivisionCode {
                    field: "issuing_authority_code".into()
                })
            );
        }
    }

    #[test]
    fn postal_codes() {
        for v in ["125009", "101000", "190000", "420111", "630099"] {
            assert_eq!(
                postal_code("resident_address/postal_code", v),
                Ok(()),
                "{v}"
            );
        }
        for v in ["12500", "1250090", "125 009", "12500A", ""] {
            assert_eq!(
                postal_code("p", v),
                Err(ValidationError::PostalCode { field: "p".into() }),
                "{v}"
            );
        }
    }

    #[test]
    fn issue_after_fourteenth_birthday() {
        let born = date!(2008 - 02 - 29);
        for issued in [
            date!(2022 - 02 - 28),
            date!(2022 - 03 - 01),
            date!(2025 - 01 - 01),
        ] {
            assert_eq!(passport_issued_after_14("issue_date", born, issued), Ok(()));
        }
        for issued in [
            date!(2022 - 02 - 27),
            date!(2021 - 12 - 31),
            date!(2008 - 02 - 29),
        ] {
            assert_eq!(
                passport_issued_after_14("issue_date", born, issued),
                Err(ValidationError::PassportIssuedBefore14 {
                    field: "issue_date".into()
                })
            );
        }
    }

    #[test]
    fn validity_by_age() {
        let exp = |age| {
            Err(ValidationError::PassportExpiredByAge {
                field: "issue_date".into(),
                age,
            })
        };
        // (birthdate, issue date, expected)
        let cases = [
            // issued at 14, 20th birthday + 90 days still ahead
            (
                date!(2008 - 05 - 01),
                date!(2022 - 05 - 10),
                Ok(Some(date!(2028 - 07 - 30))),
            ),
            // turned 20 on 2026-09-01: the grace period runs to 2026-11-30
            (
                date!(2006 - 09 - 01),
                date!(2020 - 09 - 05),
                Ok(Some(date!(2026 - 11 - 30))),
            ),
            // issued at 20, valid to 45 + 90 days
            (
                date!(1990 - 05 - 17),
                date!(2010 - 06 - 01),
                Ok(Some(date!(2035 - 08 - 15))),
            ),
            // issued at 45: no end
            (date!(1960 - 01 - 10), date!(2005 - 02 - 01), Ok(None)),
            (date!(1950 - 03 - 03), date!(1996 - 01 - 01), Ok(None)),
            // not replaced at 20: 2006-06-01 + 20 y + 90 d = 2026-08-30 < today
            (date!(2006 - 06 - 01), date!(2020 - 06 - 10), exp(20)),
            // not replaced at 45
            (date!(1975 - 04 - 04), date!(1995 - 05 - 05), exp(45)),
            (date!(1970 - 01 - 01), date!(1992 - 01 - 01), exp(45)),
            (date!(1980 - 02 - 29), date!(2000 - 03 - 01), exp(45)),
            (date!(2005 - 01 - 01), date!(2019 - 02 - 01), exp(20)),
        ];
        for (born, issued, want) in cases {
            assert_eq!(
                passport_valid_until("issue_date", born, issued, TODAY),
                want,
                "{born} {issued}"
            );
        }
    }
}
