//! OMS, the compulsory medical insurance policy (полис ОМС единого образца).

use super::{ValidationError, digits, is_digits};

/// Validates a 16-digit single-format OMS policy number (единый номер полиса).
///
/// The 16th digit is a check digit. Source: FFOMS order No. 79 of 7 April
/// 2011 (general principles of OMS information systems), appendix Г, section
/// Г.2, citing ISO/HL7 27931:2009 "Mod10": (a) the digits in odd positions
/// counted from the right, read as a number, are doubled; (b) the digits in
/// even positions are written in front of that product; (c) the digits of the
/// result are summed; (d) the check digit brings that sum up to the next
/// multiple of ten. Doubling the odd-position number carries exactly where a
/// digit is 5 or more, so this equals the Luhn algorithm, which is what is
/// implemented (the test `ffoms_worked_example` reproduces the order's own
/// example, 845199912289999 → check digit 0).
pub fn oms_policy_number(field: &str, value: &str) -> Result<(), ValidationError> {
    if !is_digits(value, 16) {
        return Err(ValidationError::OmsFormat {
            field: field.into(),
        });
    }
    let d = digits(value);
    if check_digit(&d[..15]) == d[15] {
        Ok(())
    } else {
        Err(ValidationError::OmsCheckDigit {
            field: field.into(),
        })
    }
}

/// Validates an insurer (СМО) code from the OMS register: 5 digits, the first
/// two being the region.
pub fn insurer_code(field: &str, value: &str) -> Result<(), ValidationError> {
    if is_digits(value, 5) {
        Ok(())
    } else {
        Err(ValidationError::InsurerCode {
            field: field.into(),
        })
    }
}

/// Luhn check digit of `body` (the digit to append).
pub(crate) fn check_digit(body: &[u32]) -> u32 {
    let sum: u32 = body
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            if i % 2 == 0 {
                (d * 2) % 10 + d * 2 / 10
            } else {
                d
            }
        })
        .sum();
    (10 - sum % 10) % 10
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ffoms_worked_example() {
        assert_eq!(check_digit(&digits("845199912289999")), 0);
    }

    #[test]
    fn valid_numbers() {
        for v in [
            "8451999122899990",
            "7700000000000016",
            "5000000000000025",
            "7850000123456002",
            "1234567890123452",
            "0000000000000000",
        ] {
            assert_eq!(oms_policy_number("policy_number", v), Ok(()), "{v}");
        }
    }

    #[test]
    fn invalid_numbers() {
        let fmt = ValidationError::OmsFormat {
            field: "policy_number".into(),
        };
        let chk = ValidationError::OmsCheckDigit {
            field: "policy_number".into(),
        };
        for (v, err) in [
            ("8451999122899991", &chk),
            ("7700000000000017", &chk),
            // two adjacent digits swapped
            ("1234567890123542", &chk),
            ("5000000000000052", &chk),
            ("1234567890123459", &chk),
            ("845199912289999", &fmt),
            ("84519991228999900", &fmt),
            ("8451-9991-2289-9990", &fmt),
            ("845199912289999O", &fmt),
            ("", &fmt),
        ] {
            assert_eq!(
                oms_policy_number("policy_number", v).as_ref(),
                Err(err),
                "{v}"
            );
        }
    }

    #[test]
    fn insurer_codes() {
        for v in ["77011", "50001", "78003", "16002", "66005"] {
            assert_eq!(insurer_code("insurer/code", v), Ok(()));
        }
        for v in ["7701", "770111", "77O11", "", "77-011"] {
            assert!(matches!(
                insurer_code("insurer/code", v),
                Err(ValidationError::InsurerCode { .. })
            ));
        }
    }
}
