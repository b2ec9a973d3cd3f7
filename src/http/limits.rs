//! Rate limits for the public endpoints that create state (c_nonces, PAR
//! requests, login sessions, presentation nonces, uploaded presentations):
//! a token bucket per client address and one for everybody. With every
//! such entry living at most its TTL, the global bucket also bounds how
//! many can exist at once (rate × TTL), so a flood cannot fill the store.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError, web};

use super::{ApiError, AppState};

/// `(method, path)` of the limited endpoints.
pub const LIMITED: &[(&str, &str)] = &[
    ("POST", "/nonce"),
    ("POST", "/par"),
    ("GET", "/authorize"),
    ("POST", "/authorize/login"),
    ("POST", "/presentation-nonces"),
    ("POST", "/presentations"),
    ("POST", "/demo/verifier/requests"),
];

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    /// Seconds (the server's clock, so tests move it).
    at: f64,
}

/// Requests per second and burst size.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_second: f64,
    pub burst: f64,
}

impl Bucket {
    fn take(&mut self, rate: Rate, now: f64) -> bool {
        let refill = (now - self.at).max(0.0) * rate.per_second;
        self.tokens = (self.tokens + refill).min(rate.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The limiter shared by all workers of one process.
#[derive(Debug)]
pub struct RateLimiter {
    per_client: Rate,
    global: Rate,
    inner: Mutex<(HashMap<IpAddr, Bucket>, Option<Bucket>)>,
}

/// Clients tracked before idle (refilled) buckets are dropped.
const MAX_CLIENTS: usize = 50_000;

impl RateLimiter {
    pub fn new(per_client: Rate, global: Rate) -> Self {
        RateLimiter {
            per_client,
            global,
            inner: Mutex::new((HashMap::new(), None)),
        }
    }

    /// Whether `client` may make one more limited request now.
    pub fn allow(&self, client: IpAddr, now: f64) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let (clients, global) = &mut *g;
        if clients.len() >= MAX_CLIENTS {
            let rate = self.per_client;
            clients.retain(|_, b| b.tokens + (now - b.at) * rate.per_second < rate.burst);
        }
        let bucket = clients.entry(client).or_insert(Bucket {
            tokens: self.per_client.burst,
            at: now,
        });
        if !bucket.take(self.per_client, now) {
            return false;
        }
        global
            .get_or_insert(Bucket {
                tokens: self.global.burst,
                at: now,
            })
            .take(self.global, now)
    }
}

impl Default for RateLimiter {
    /// 10 requests/s per client (bursts of 50), 1 000/s in all (bursts of
    /// 2 000): with a 5-minute c_nonce at most ~300 000 live entries.
    fn default() -> Self {
        RateLimiter::new(
            Rate {
                per_second: 10.0,
                burst: 50.0,
            },
            Rate {
                per_second: 1000.0,
                burst: 2000.0,
            },
        )
    }
}

/// Middleware: 429 `{error: "rate_limited"}` with `Retry-After` when a
/// limited endpoint is called too often.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limited = LIMITED.iter().any(|(m, p)| {
        req.method() == Method::from_bytes(m.as_bytes()).unwrap_or(Method::GET) && req.path() == *p
    });
    if limited {
        let client = req.peer_addr().map(|a| a.ip());
        let state = req.app_data::<web::Data<AppState>>().cloned();
        if let (Some(client), Some(state)) = (client, state) {
            if !state.limiter.allow(client, state.now() as f64) {
                let mut resp: HttpResponse =
                    ApiError::new(429, "rate_limited", "too many requests; try again shortly")
                        .error_response();
                resp.headers_mut().insert(
                    actix_web::http::header::RETRY_AFTER,
                    actix_web::http::header::HeaderValue::from_static("1"),
                );
                return Ok(req.into_response(resp).map_into_right_body());
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_client_buckets_refill() {
        let l = RateLimiter::new(
            Rate {
                per_second: 1.0,
                burst: 3.0,
            },
            Rate {
                per_second: 100.0,
                burst: 100.0,
            },
        );
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        let t = 1000.0;
        assert!((0..3).all(|_| l.allow(a, t)));
        assert!(!l.allow(a, t), "the 4th request in a burst of 3 is refused");
        assert!(l.allow(b, t), "another client has its own bucket");
        assert!(l.allow(a, t + 1.1), "one token back after a second");
    }

    #[test]
    fn the_global_bucket_bounds_everyone() {
        let l = RateLimiter::new(
            Rate {
                per_second: 100.0,
                burst: 100.0,
            },
            Rate {
                per_second: 1.0,
                burst: 2.0,
            },
        );
        let t = 1000.0;
        let ips: Vec<IpAddr> = (1..=3)
            .map(|i| format!("10.0.0.{i}").parse().unwrap())
            .collect();
        assert!(l.allow(ips[0], t));
        assert!(l.allow(ips[1], t));
        assert!(!l.allow(ips[2], t));
    }
}
