//! SNILS, the individual insurance account number (СНИЛС).

use super::{ValidationError, digits, is_digits};

/// Validates a SNILS written `NNN-NNN-NNN NN` (or as 11 bare digits) and returns
/// it in the written form.
///
/// Check number rule (Pension Fund of Russia): the first nine digits are
/// multiplied by the weights 9, 8, …, 1 and summed; a sum below 100 is the
/// check number, 100 and 101 give `00`, a larger sum is taken mod 101 (a
/// remainder of 100 again gives `00`). The check applies only to numbers
/// above `001-001-998`; smaller ones were issued before the rule.
pub fn snils(field: &str, value: &str) -> Result<String, ValidationError> {
    let bare: String = if is_written(value) {
        value.chars().filter(char::is_ascii_digit).collect()
    } else {
        value.to_owned()
    };
    if !is_digits(&bare, 11) {
        return Err(ValidationError::SnilsFormat {
            field: field.into(),
        });
    }
    let d = digits(&bare);
    let number: u32 = d[..9].iter().fold(0, |acc, x| acc * 10 + x);
    let given = d[9] * 10 + d[10];
    if number > 1_001_998 && check_number(&d[..9]) != given {
        return Err(ValidationError::SnilsCheckNumber {
            field: field.into(),
        });
    }
    Ok(format!(
        "{}-{}-{} {}",
        &bare[..3],
        &bare[3..6],
        &bare[6..9],
        &bare[9..]
    ))
}

/// The two-digit check number of the first nine digits.
pub(crate) fn check_number(nine: &[u32]) -> u32 {
    let sum: u32 = nine.iter().zip((1..=9).rev()).map(|(d, w)| d * w).sum();
    match sum {
        0..=99 => sum,
        100 | 101 => 0,
        _ => (sum % 101) % 100,
    }
}

/// `NNN-NNN-NNN NN`.
fn is_written(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 14
        && b.iter().enumerate().all(|(i, c)| match i {
            3 | 7 => *c == b'-',
            11 => *c == b' ',
            _ => c.is_ascii_digit(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers() {
        for (input, written) in [
            ("112-233-445 95", "112-233-445 95"),
            ("11223344595", "112-233-445 95"),
            // weighted sum 100 → 00, 101 → 00, 201 (mod 101 = 100) → 00
            ("050-234-316 00", "050-234-316 00"),
            ("016-103-396 00", "016-103-396 00"),
            ("820-981-233 00", "820-981-233 00"),
            // at or below 001-001-998 no check applies
            ("001-001-998 42", "001-001-998 42"),
            ("000-000-001 99", "000-000-001 99"),
            // weighted sum 165 → 165 mod 101 = 64
            ("123-456-789 64", "123-456-789 64"),
            ("087-654-321 02", "087-654-321 02"),
        ] {
            assert_eq!(snils("snils", input).as_deref(), Ok(written), "{input}");
        }
    }

    #[test]
    fn invalid_numbers() {
        let fmt = |s: &str| ValidationError::SnilsFormat { field: s.into() };
        let chk = |s: &str| ValidationError::SnilsCheckNumber { field: s.into() };
        for (input, err) in [
            ("112-233-445 96", chk("snils")),
            ("11223344594", chk("snils")),
            ("123-456-789 65", chk("snils")),
            ("001-001-999 00", chk("snils")),
            ("050-234-316 100", fmt("snils")),
            ("820-981-233 01", chk("snils")),
            ("112-233-445-95", fmt("snils")),
            ("1122334459", fmt("snils")),
            ("112233445950", fmt("snils")),
            ("112 233 445 95", fmt("snils")),
            ("", fmt("snils")),
            ("１１２-233-445 95", fmt("snils")),
        ] {
            assert_eq!(snils("snils", input), Err(err), "{input}");
        }
    }

    #[test]
    fn check_number_edge_cases() {
        assert_eq!(check_number(&[0, 0, 0, 0, 0, 0, 0, 0, 0]), 0);
        assert_eq!(check_number(&[1, 1, 1, 1, 1, 1, 1, 1, 1]), 45);
        // 405 mod 101 = 1
        assert_eq!(check_number(&[9, 9, 9, 9, 9, 9, 9, 9, 9]), 1);
    }
}
