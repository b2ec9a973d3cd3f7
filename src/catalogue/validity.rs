//! How `exp` is set: never after the document's own expiry.

use time::{Date, Time};

/// The credential's `exp` (seconds since the epoch): `iat` plus the issuer's
/// configured lifetime, capped at the end of the document's last valid day in
/// the easternmost Russian time zone (UTC+12, Kamchatka), i.e. 12:00 UTC of
/// that day, so the credential never outlives its document anywhere in the
/// country. `None` when that moment is not after `iat`: nothing may be issued.
pub fn exp(iat: i64, lifetime_secs: i64, valid_until: Option<Date>) -> Option<i64> {
    let wanted = iat.saturating_add(lifetime_secs);
    match valid_until {
        None => Some(wanted),
        Some(last) => {
            let cap = last.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp() + 12 * 3600;
            (cap > iat).then_some(wanted.min(cap))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn exp_is_capped_by_the_document() {
        let iat = datetime!(2026-11-25 09:00 UTC).unix_timestamp();
        let year = 365 * 86_400;
        assert_eq!(exp(iat, year, None), Some(iat + year));
        assert_eq!(
            exp(iat, year, Some(date!(2035 - 08 - 15))),
            Some(iat + year)
        );
        assert_eq!(
            exp(iat, year, Some(date!(2026 - 11 - 30))),
            Some(datetime!(2026-11-30 12:00 UTC).unix_timestamp())
        );
        assert_eq!(
            exp(iat, year, Some(date!(2026 - 11 - 25))),
            Some(datetime!(2026-11-25 12:00 UTC).unix_timestamp())
        );
        assert_eq!(exp(iat, year, Some(date!(2026 - 11 - 24))), None);
        assert_eq!(exp(iat, year, Some(date!(2020 - 01 - 01))), None);
    }
}
