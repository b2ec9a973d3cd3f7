//! Per-client rate limits for public endpoints that create state
//! (presentation nonces, presentation uploads, demo requests): a fixed
//! window counter per peer IP address, in memory, with a bounded number of
//! tracked clients. Behind a reverse proxy every client shares the proxy's
//! address: put the limit in the proxy then, or raise it here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use super::WireError;

/// Requests one client may make per window, and the window in seconds.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub max: u32,
    pub window: i64,
}

/// State-creating public endpoints: 30 requests per 10 s per address.
pub const PUBLIC_CREATE: Rate = Rate {
    max: 30,
    window: 10,
};
/// Clients tracked at most; beyond that, stale windows are dropped first
/// and, if all are current, the map is cleared (failing open for a moment
/// rather than growing without bound).
const MAX_CLIENTS: usize = 100_000;

/// Too many requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("too many requests from this client; retry in a few seconds")]
pub struct Limited;

impl WireError for Limited {
    fn code(&self) -> &'static str {
        "too_many_requests"
    }
    fn status(&self) -> u16 {
        429
    }
}

/// A fixed-window limiter keyed by client address.
#[derive(Debug)]
pub struct RateLimiter {
    rate: Rate,
    clients: Mutex<HashMap<IpAddr, (i64, u32)>>,
}

impl RateLimiter {
    pub fn new(rate: Rate) -> Self {
        RateLimiter {
            rate,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request of `client` at `now`.
    pub fn check(&self, client: Option<IpAddr>, now: i64) -> Result<(), Limited> {
        let Some(ip) = client else { return Ok(()) };
        let Ok(mut map) = self.clients.lock() else {
            return Ok(());
        };
        let window = now - now.rem_euclid(self.rate.window);
        if map.len() >= MAX_CLIENTS && !map.contains_key(&ip) {
            map.retain(|_, (w, _)| *w == window);
            if map.len() >= MAX_CLIENTS {
                map.clear();
            }
        }
        let entry = map.entry(ip).or_insert((window, 0));
        if entry.0 != window {
            *entry = (window, 0);
        }
        entry.1 += 1;
        if entry.1 > self.rate.max {
            Err(Limited)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_client_and_window() {
        let l = RateLimiter::new(Rate { max: 2, window: 10 });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert_eq!(l.check(Some(a), 100), Ok(()));
        assert_eq!(l.check(Some(a), 101), Ok(()));
        assert_eq!(l.check(Some(a), 102), Err(Limited));
        assert_eq!(l.check(Some(b), 102), Ok(()));
        assert_eq!(l.check(Some(a), 110), Ok(()), "a new window");
    }
}
