//! The birth certificate (свидетельство о рождении).

use super::{ValidationError, is_digits};

/// Series and number as printed: a Roman numeral (the region's code), a
/// hyphen, two Cyrillic capitals, a space and 6 digits — `IV-МЮ 123456`.
/// The numeral must be well formed (`IIII` and `VX` are refused).
pub fn birth_certificate_number(field: &str, value: &str) -> Result<(), ValidationError> {
    let err = || ValidationError::BirthCertificateNumber {
        field: field.into(),
    };
    let (roman, rest) = value.split_once('-').ok_or_else(err)?;
    let (letters, number) = rest.split_once(' ').ok_or_else(err)?;
    let letters_ok =
        letters.chars().count() == 2 && letters.chars().all(|c| matches!(c, 'А'..='Я' | 'Ё'));
    if roman_value(roman).is_some() && letters_ok && is_digits(number, 6) {
        Ok(())
    } else {
        Err(err())
    }
}

/// Value of a canonical Roman numeral from 1 to 399, or `None`.
fn roman_value(s: &str) -> Option<u32> {
    if s.is_empty() || s.len() > 12 {
        return None;
    }
    let val = |c| match c {
        'I' => Some(1),
        'V' => Some(5),
        'X' => Some(10),
        'L' => Some(50),
        'C' => Some(100),
        _ => None,
    };
    let vals: Vec<u32> = s.chars().map(val).collect::<Option<_>>()?;
    let mut total = 0;
    for (i, v) in vals.iter().enumerate() {
        match vals.get(i + 1) {
            Some(next) if next > v => total -= *v as i64,
            _ => total += *v as i64,
        }
    }
    let total = u32::try_from(total).ok().filter(|t| (1..400).contains(t))?;
    (to_roman(total) == s).then_some(total)
}

fn to_roman(mut n: u32) -> String {
    const TABLE: [(u32, &str); 9] = [
        (100, "C"),
        (90, "XC"),
        (50, "L"),
        (40, "XL"),
        (10, "X"),
        (9, "IX"),
        (5, "V"),
        (4, "IV"),
        (1, "I"),
    ];
    let mut out = String::new();
    for (v, s) in TABLE {
        while n >= v {
            out.push_str(s);
            n -= v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers() {
        for v in [
            "IV-МЮ 123456",
            "I-АБ 000001",
            "XII-ЖЁ 654321",
            "LXXVII-МЮ 100200",
            "XCIX-ЯЯ 999999",
        ] {
            assert_eq!(
                birth_certificate_number("document_number", v),
                Ok(()),
                "{v}"
            );
        }
    }

    #[test]
    fn invalid_numbers() {
        for v in [
            "IIII-МЮ 123456",
            "VX-МЮ 123456",
            "IV-MU 123456",
            "IV-МЮ123456",
            "IV МЮ 123456",
            "IV-МЮЯ 123456",
            "IV-мю 123456",
            "IV-МЮ 12345",
            "4-МЮ 123456",
            "-МЮ 123456",
            "",
        ] {
            assert_eq!(
                birth_certificate_number("document_number", v),
                Err(ValidationError::BirthCertificateNumber {
                    field: "document_number".into()
                }),
                "{v}"
            );
        }
    }
}
