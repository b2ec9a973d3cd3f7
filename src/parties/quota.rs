//! `requests_per_minute`: a sliding one-minute window, approximated the
//! usual way from two fixed windows (the count of the current minute plus
//! the previous minute's count weighted by how much of it the sliding
//! window still covers). Pure: the caller keeps a [`Window`] per party in
//! the store (so every node sees the same count) and passes the time.

use serde::{Deserialize, Serialize};

/// Seconds of a window.
pub const WINDOW: i64 = 60;

/// A party's counts: the fixed minute starting at `start` and the one
/// before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: i64,
    pub current: u32,
    pub previous: u32,
}

/// The call is over the quota; retry after this many seconds (1 to 120:
/// calls late in a minute still weigh on the next one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u32);

impl Window {
    /// The window as seen at `now`: moved to the minute holding `now`. A
    /// `now` before the stored minute (a node whose clock is a little
    /// behind another's) counts in the stored minute.
    pub fn at(self, now: i64) -> Window {
        let start = now - now.rem_euclid(WINDOW);
        match start - self.start {
            d if d <= 0 => self,
            WINDOW => Window {
                start,
                current: 0,
                previous: self.current,
            },
            _ => Window {
                start,
                current: 0,
                previous: 0,
            },
        }
    }

    /// Whether one more call fits under `limit` in the sliding minute
    /// ending at `now` (after [`Window::at`]), in whole numbers: the
    /// previous count weighted by the seconds the sliding minute still
    /// covers, plus the current count and this call, against the limit,
    /// all times [`WINDOW`].
    fn fits(&self, limit: u32, now: i64) -> bool {
        let left = (WINDOW - (now - self.start).max(0)).clamp(0, WINDOW) as u64;
        let w = WINDOW as u64;
        u64::from(self.previous) * left + (u64::from(self.current) + 1) * w <= u64::from(limit) * w
    }

    /// Admits one more call under `limit` per minute at `now`: the window
    /// counting it, or how long to wait.
    pub fn admit(self, limit: u32, now: i64) -> Result<Window, RetryAfter> {
        let w = self.at(now);
        if w.fits(limit, now) {
            return Ok(Window {
                current: w.current.saturating_add(1),
                ..w
            });
        }
        let wait = (1..=2 * WINDOW)
            .find(|s| w.at(now + s).fits(limit, now + s))
            .unwrap_or(2 * WINDOW);
        Err(RetryAfter(wait as u32))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(limit: u32, times: &[i64]) -> (Window, Vec<Result<(), u32>>) {
        let mut w = Window::default();
        let mut out = Vec::new();
        for &t in times {
            match w.admit(limit, t) {
                Ok(next) => {
                    w = next;
                    out.push(Ok(()))
                }
                Err(RetryAfter(s)) => out.push(Err(s)),
            }
        }
        (w, out)
    }

    #[test]
    fn the_limit_holds_within_a_minute_and_says_when_to_retry() {
        let (_, out) = run(3, &[600, 601, 602, 603]);
        assert_eq!(out[..3], [Ok(()), Ok(()), Ok(())]);
        // All three in the current minute; they weigh on the next one
        // until a third of it has passed (3 × 2/3 + 1 = 3).
        assert_eq!(out[3], Err(77));
    }

    #[test]
    fn the_window_slides_across_the_minute_boundary() {
        // Three calls late in one minute; right after the boundary they
        // still count almost fully, so the fourth waits.
        let (w, out) = run(3, &[655, 656, 657, 661]);
        assert!(out[3].unwrap_err() > 1, "{out:?}");
        assert_eq!(w.previous, 0, "nothing rolled yet in the stored window");
        // Much later, everything is forgotten.
        let (_, out) = run(3, &[655, 656, 657, 900, 901, 902]);
        assert_eq!(out[3..], [Ok(()), Ok(()), Ok(())]);
        // Half a minute into the next one, half of the previous count is left.
        let (_, out) = run(4, &[600, 601, 602, 603, 690, 691, 692]);
        assert_eq!(out[4..6], [Ok(()), Ok(())]);
        assert!(
            out[6].is_err(),
            "2 weighted + 2 new reaches the limit: {out:?}"
        );
    }

    #[test]
    fn a_retry_after_the_announced_wait_is_admitted() {
        let mut w = Window::default();
        for t in 0..5 {
            w = w.admit(5, 630 + t).unwrap();
        }
        let RetryAfter(s) = w.admit(5, 640).unwrap_err();
        assert_eq!(s, 32, "5 × (1 - 12/60) + 1 = 5 at 672");
        assert!(w.admit(5, 640 + i64::from(s) - 1).is_err());
        w.admit(5, 640 + i64::from(s)).unwrap();
    }
}
