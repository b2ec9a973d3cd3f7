//! The vehicle registration certificate (СТС) and the vehicle it describes.

use super::ValidationError;

/// Number of the registration certificate: 2 digits (region), 2 digits or
/// Cyrillic capitals (series), 6 digits — `\d{2}[0-9А-Я]{2}\d{6}`, e.g.
/// `77УА123456` or `9901123456`.
pub fn sts_number(field: &str, value: &str) -> Result<(), ValidationError> {
    let c: Vec<char> = value.chars().collect();
    let ok = c.len() == 10
        && c.iter().enumerate().all(|(i, ch)| match i {
            2 | 3 => ch.is_ascii_digit() || matches!(ch, 'А'..='Я' | 'Ё'),
            _ => ch.is_ascii_digit(),
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::StsNumber {
            field: field.into(),
        })
    }
}

/// VIN (ISO 3779): 17 characters, Latin capitals and digits, never I, O or Q.
/// The 9th-position check digit is a North American rule and is not checked.
pub fn vin(field: &str, value: &str) -> Result<(), ValidationError> {
    let ok = value.len() == 17
        && value.bytes().all(|b| {
            (b.is_ascii_uppercase() || b.is_ascii_digit()) && !matches!(b, b'I' | b'O' | b'Q')
        });
    if ok {
        Ok(())
    } else {
        Err(ValidationError::Vin {
            field: field.into(),
        })
    }
}

/// Letters allowed on Russian plates (GOST R 50577-2018): the twelve Cyrillic
/// letters that have Latin look-alikes.
const PLATE_LETTERS: &str = "АВЕКМНОРСТУХ";

/// Registration plate of type 1: letter, 3 digits, 2 letters, 2- or 3-digit
/// region (`А123ВС777`).
pub fn registration_plate(field: &str, value: &str) -> Result<(), ValidationError> {
    let c: Vec<char> = value.chars().collect();
    let letter = |ch: &char| PLATE_LETTERS.contains(*ch);
    let ok = matches!(c.len(), 8 | 9)
        && letter(&c[0])
        && c[1..4].iter().all(char::is_ascii_digit)
        && c[4..6].iter().all(letter)
        && c[6..].iter().all(char::is_ascii_digit);
    if ok {
        Ok(())
    } else {
        Err(ValidationError::RegistrationPlate {
            field: field.into(),
        })
    }
}

/// Model year: from 1900 up to the current year.
pub fn vehicle_year(field: &str, value: i64, current_year: i32) -> Result<(), ValidationError> {
    if (1900..=i64::from(current_year)).contains(&value) {
        Ok(())
    } else {
        Err(ValidationError::VehicleYear {
            field: field.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sts_numbers() {
        for v in [
            "77УА123456",
            "9901123456",
            "50ХК000001",
            "7805654321",
            "16ЁЖ111111",
        ] {
            assert_eq!(sts_number("document_number", v), Ok(()), "{v}");
        }
        for v in [
            "77UA123456",
            "77уа123456",
            "7УА123456",
            "77УА1234567",
            "",
            "77 УА 123456",
        ] {
            assert_eq!(
                sts_number("document_number", v),
                Err(ValidationError::StsNumber {
                    field: "document_number".into()
                }),
                "{v}"
            );
        }
    }

    #[test]
    fn vins() {
        for v in [
            "XTA210990Y2765432",
            "WVWZZZ1JZXW000001",
            "Z94CB41AAGR323020",
            "1HGCM82633A004352",
            "JMBXTGF2WDZ000123",
        ] {
            assert_eq!(vin("vin", v), Ok(()), "{v}");
        }
        for v in [
            "XTA210990Y276543",
            "XTA210990Y27654321",
            "XTA2109I0Y2765432",
            "XTAO10990Y2765432",
            "xta210990y2765432",
            "XTA21099QY2765432",
        ] {
            assert_eq!(
                vin("vin", v),
                Err(ValidationError::Vin {
                    field: "vin".into()
                }),
                "{v}"
            );
        }
    }

    #[test]
    fn plates() {
        for v in ["А123ВС777", "Х001ХХ77", "М555ОР99", "Т404ТТ178", "Е777КХ50"] {
            assert_eq!(registration_plate("registration_plate", v), Ok(()), "{v}");
        }
        for v in [
            "A123BC777",
            "Б123ВС777",
            "А12ВС777",
            "А123ВС7",
            "а123вс777",
            "",
        ] {
            assert!(registration_plate("registration_plate", v).is_err(), "{v}");
        }
    }

    #[test]
    fn years() {
        for y in [1900, 1985, 2020, 2025, 2026] {
            assert_eq!(vehicle_year("year", y, 2026), Ok(()));
        }
        for y in [1899, 2027, 0, -1, 3000] {
            assert!(vehicle_year("year", y, 2026).is_err());
        }
    }
}
