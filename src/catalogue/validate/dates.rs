//! Calendar dates in registry records: `YYYY-MM-DD`, real, and (where it is a
//! past event) not after `today`.

use time::{Date, Month};

use super::ValidationError;

/// Parses a strict `YYYY-MM-DD` date that exists in the Gregorian calendar
/// (so `2023-02-29` and `2024-04-31` are refused).
pub fn date(field: &str, value: &str) -> Result<Date, ValidationError> {
    let err = || ValidationError::DateFormat {
        field: field.into(),
    };
    let b = value.as_bytes();
    let shape_ok = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    if !shape_ok {
        return Err(err());
    }
    let year: i32 = value[..4].parse().map_err(|_| err())?;
    let month: u8 = value[5..7].parse().map_err(|_| err())?;
    let day: u8 = value[8..].parse().map_err(|_| err())?;
    let month = Month::try_from(month).map_err(|_| err())?;
    if year < 1900 {
        return Err(err());
    }
    Date::from_calendar_date(year, month, day).map_err(|_| err())
}

/// A date of a past event (birth, issue): real and not after `today`.
pub fn past_date(field: &str, value: &str, today: Date) -> Result<Date, ValidationError> {
    let d = date(field, value)?;
    if d > today {
        return Err(ValidationError::DateInFuture {
            field: field.into(),
        });
    }
    Ok(d)
}

/// `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// The day on which someone born on `birth` turns `years` old. A 29 February
/// birthday falls on 28 February in common years: a term counted in years
/// ends on the last day of the month when that month has no such day (Civil
/// Code of the Russian Federation, art. 192 §3).
pub fn anniversary(birth: Date, years: u16) -> Date {
    let year = birth.year() + i32::from(years);
    let day = birth
        .day()
        .min(time::util::days_in_month(birth.month(), year));
    // The day is clamped to the month's length, so this fails only past the
    // year 9999, which saturates instead of panicking.
    Date::from_calendar_date(year, birth.month(), day).unwrap_or(Date::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    const TODAY: Date = date!(2026 - 11 - 25);

    #[test]
    fn valid_dates() {
        for (v, d) in [
            ("1990-05-17", date!(1990 - 05 - 17)),
            ("2024-02-29", date!(2024 - 02 - 29)),
            ("2000-02-29", date!(2000 - 02 - 29)),
            ("1900-01-01", date!(1900 - 01 - 01)),
            ("2026-11-25", TODAY),
            ("1999-12-31", date!(1999 - 12 - 31)),
        ] {
            assert_eq!(past_date("birthdate", v, TODAY), Ok(d), "{v}");
            assert_eq!(format_date(d), v);
        }
    }

    #[test]
    fn invalid_dates() {
        let fmt = ValidationError::DateFormat {
            field: "birthdate".into(),
        };
        let fut = ValidationError::DateInFuture {
            field: "birthdate".into(),
        };
        for (v, err) in [
            ("2023-02-29", &fmt),
            ("1900-02-29", &fmt),
            ("2024-04-31", &fmt),
            ("2024-13-01", &fmt),
            ("2024-00-10", &fmt),
            ("17.05.1990", &fmt),
            ("1990-5-17", &fmt),
            ("+990-05-17", &fmt),
            ("1899-12-31", &fmt),
            ("2026-11-26", &fut),
            ("2030-01-01", &fut),
        ] {
            assert_eq!(past_date("birthdate", v, TODAY).as_ref(), Err(err), "{v}");
        }
    }

    #[test]
    fn leap_day_anniversaries() {
        let b = date!(2008 - 02 - 29);
        assert_eq!(anniversary(b, 18), date!(2026 - 02 - 28));
        assert_eq!(anniversary(b, 16), date!(2024 - 02 - 29));
        assert_eq!(
            anniversary(date!(1990 - 05 - 17), 20),
            date!(2010 - 05 - 17)
        );
    }
}
