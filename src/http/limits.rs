//! Rate limits for the public endpoints that create state (c_nonces, PAR
//! requests, login sessions, presentation nonces, uploaded presentations,
//! the replay markers of DPoP proofs and client attestation PoPs at
//! `/token`):
//! a token bucket per client and one for everybody. With every such entry
//! living at most its TTL, the global bucket also bounds how many can
//! exist at once (rate × TTL), so a flood cannot fill the store.
//!
//! The limiter wraps each limited resource, so it runs after routing and
//! sees exactly the requests the router hands to that resource, however
//! their path is spelled (`/n%6Fnce` is `/nonce`). [`LIMITED`] declares
//! them; the tests check that each one answers 429 and that every public
//! operation of the OpenAPI document is either limited or listed as
//! creating no state.
//!
//! A client is its IP address, an IPv6 client its /64 (one subscriber's
//! allocation). Behind a trusted proxy (`[limits] trusted_proxies`) the
//! address comes from `X-Forwarded-For`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderValue, RETRY_AFTER, X_FORWARDED_FOR};
use actix_web::middleware::{Next, from_fn};
use actix_web::{HttpResponse, Resource, ResponseError, web};

use super::{ApiError, AppState};
use crate::config::IpPrefix;

/// `(method, route pattern)` of every limited endpoint. Each is registered
/// with [`resource`].
pub const LIMITED: &[(&str, &str)] = &[
    ("POST", "/token"),
    ("POST", "/nonce"),
    ("POST", "/par"),
    ("GET", "/authorize"),
    ("POST", "/authorize/login"),
    ("POST", "/presentation-nonces"),
    ("POST", "/presentations"),
    ("POST", "/demo/verifier/requests"),
];

/// `(method, route pattern)` of the endpoints limited by the calling
/// relying party's `requests_per_minute` (not per client address): they
/// document a 429 too.
pub const PARTY_QUOTA: &[(&str, &str)] =
    &[("POST", "/verifier/requests"), ("POST", "/verifier/scan")];

/// A limited resource: `path` behind [`limit`]. Register its handlers with
/// `.post(handler)` / `.get(handler)`; another method is answered 405 (after
/// the limiter, so probing with other methods costs tokens too).
pub fn resource(
    path: &str,
) -> Resource<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    web::resource(path).wrap(from_fn(limit))
}

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
    fn refilled(&self, rate: Rate, now: f64) -> f64 {
        (self.tokens + (now - self.at).max(0.0) * rate.per_second).min(rate.burst)
    }

    fn has_token(&self, rate: Rate, now: f64) -> bool {
        self.refilled(rate, now) >= 1.0
    }

    /// Refilled completely: dropping it changes nothing.
    fn is_full(&self, rate: Rate, now: f64) -> bool {
        self.refilled(rate, now) >= rate.burst
    }

    fn take(&mut self, rate: Rate, now: f64) -> bool {
        self.tokens = self.refilled(rate, now);
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
    inner: Mutex<Buckets>,
}

#[derive(Debug, Default)]
struct Buckets {
    clients: HashMap<IpAddr, Bucket>,
    global: Option<Bucket>,
    /// When idle buckets were last dropped (seconds).
    pruned_at: f64,
}

/// Clients tracked at most. A new client's bucket is made only when the
/// global bucket has a token for it, so the map grows at most at the global
/// rate and idle (refilled) buckets are dropped; past this cap, at most once
/// a second, and otherwise one old bucket makes room — never a scan per
/// request.
const MAX_CLIENTS: usize = 50_000;

impl RateLimiter {
    pub fn new(per_client: Rate, global: Rate) -> Self {
        RateLimiter {
            per_client,
            global,
            inner: Mutex::new(Buckets::default()),
        }
    }

    /// Whether `client` may make one more limited request now (an IPv6
    /// client counts as its /64: [`client_key`]).
    pub fn allow(&self, client: IpAddr, now: f64) -> bool {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let Buckets {
            clients,
            global,
            pruned_at,
        } = &mut *g;
        let global = global.get_or_insert(Bucket {
            tokens: self.global.burst,
            at: now,
        });
        let key = client_key(client);
        if !clients.contains_key(&key) {
            // Refused by the global bucket: no bucket is made for it.
            if !global.has_token(self.global, now) {
                return false;
            }
            if clients.len() >= MAX_CLIENTS {
                if now - *pruned_at >= 1.0 {
                    let rate = self.per_client;
                    clients.retain(|_, b| !b.is_full(rate, now));
                    *pruned_at = now;
                }
                if clients.len() >= MAX_CLIENTS {
                    let old = clients.keys().next().copied();
                    if let Some(old) = old {
                        clients.remove(&old);
                    }
                }
            }
        }
        let bucket = clients.entry(key).or_insert(Bucket {
            tokens: self.per_client.burst,
            at: now,
        });
        bucket.take(self.per_client, now) && global.take(self.global, now)
    }

    /// How many client buckets are kept (tests).
    pub fn tracked_clients(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clients
            .len()
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

/// Middleware of a limited resource: 429 `{error: "rate_limited"}` with
/// `Retry-After` when its client has called limited endpoints too often.
pub async fn limit(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>().cloned() {
        // No peer address (not a TCP connection): one shared bucket.
        let peer = req
            .peer_addr()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |a| a.ip());
        let forwarded_for: Vec<&[u8]> = req
            .headers()
            .get_all(X_FORWARDED_FOR)
            .map(HeaderValue::as_bytes)
            .collect();
        let client = client_address(peer, &forwarded_for, &state.settings.limits.trusted_proxies);
        if !state.limiter.allow(client, state.now() as f64) {
            let mut resp: HttpResponse =
                ApiError::new(429, "rate_limited", "too many requests; try again shortly")
                    .error_response();
            resp.headers_mut()
                .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            return Ok(req.into_response(resp).map_into_right_body());
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

/// The client of a request from the TCP peer `peer` carrying the
/// `X-Forwarded-For` header lines `forwarded_for` (in order).
///
/// Only a peer in `trusted` speaks for someone else: then the client is the
/// right-most address of the header that is not itself a trusted proxy
/// (everything left of it was written by the client and is ignored), or the
/// left-most one when all are trusted. A header that is not a list of
/// addresses up to that point gives the peer itself. RFC 7239 `Forwarded`
/// is not read: a proxy that sets one header passes the other through from
/// the client unchanged.
pub fn client_address(peer: IpAddr, forwarded_for: &[&[u8]], trusted: &[IpPrefix]) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|p| p.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let mut client = peer;
    for line in forwarded_for.iter().rev() {
        let Ok(line) = std::str::from_utf8(line) else {
            return peer;
        };
        // RFC 9110 §5.6.1: empty list elements are ignored.
        for hop in line.rsplit(',').map(str::trim).filter(|h| !h.is_empty()) {
            let Some(ip) = parse_hop(hop) else {
                return peer;
            };
            if !is_trusted(ip) {
                return ip;
            }
            client = ip;
        }
    }
    client
}

/// One `X-Forwarded-For` element: an address, or `1.2.3.4:port` /
/// `[2001:db8::1]:port` as some proxies write it.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let ip = hop
        .parse::<IpAddr>()
        .or_else(|_| hop.parse::<std::net::SocketAddr>().map(|a| a.ip()))
        .ok()?;
    Some(ip.to_canonical())
}

/// The bucket of a client address: IPv4 addresses (IPv4-mapped ones
/// included) as they are, IPv6 addresses by their /64, the smallest
/// network a subscriber is given (RFC 6177), so one subscriber cannot
/// make itself unlimited buckets by rotating interface identifiers.
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !u128::from(u64::MAX))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn small() -> RateLimiter {
        RateLimiter::new(
            Rate {
                per_second: 1.0,
                burst: 2.0,
            },
            Rate {
                per_second: 100.0,
                burst: 100.0,
            },
        )
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            client_key(ip("2001:db8:1:2:aaaa:bbbb:cccc:dddd")),
            ip("2001:db8:1:2::")
        );
        assert_eq!(client_key(ip("203.0.113.7")), ip("203.0.113.7"));
        assert_eq!(
            client_key(ip("::ffff:203.0.113.7")),
            ip("203.0.113.7"),
            "IPv4-mapped"
        );
        let l = small();
        let t = 1000.0;
        assert!(l.allow(ip("2001:db8:1:2::1"), t));
        assert!(l.allow(ip("2001:db8:1:2:ffff::9"), t));
        assert!(
            !l.allow(ip("2001:db8:1:2:1234:5678:9abc:def0"), t),
            "a new interface identifier in the same /64 shares its bucket"
        );
        assert!(
            l.allow(ip("2001:db8:1:3::1"), t),
            "the next /64 is another client"
        );
        assert!(l.allow(ip("203.0.113.7"), t));
        assert!(
            l.allow(ip("203.0.113.8"), t),
            "IPv4 clients are whole addresses"
        );
    }

    fn trusted() -> Vec<IpPrefix> {
        vec!["10.0.0.0/8".parse().unwrap(), "127.0.0.1".parse().unwrap()]
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let peer = ip("198.51.100.4");
        assert_eq!(client_address(peer, &[b"203.0.113.9"], &trusted()), peer);
        assert_eq!(client_address(peer, &[b"203.0.113.9"], &[]), peer);
        let lb = ip("10.1.1.1");
        assert_eq!(
            client_address(lb, &[b"203.0.113.9"], &[]),
            lb,
            "nothing is trusted by default"
        );
    }

    #[test]
    fn a_trusted_peer_names_the_rightmost_untrusted_address() {
        let lb = ip("10.1.1.1");
        let t = trusted();
        assert_eq!(client_address(lb, &[b"203.0.113.9"], &t), ip("203.0.113.9"));
        // The client wrote the left part itself: only the right-most
        // untrusted hop counts.
        assert_eq!(
            client_address(lb, &[b"1.1.1.1, 203.0.113.9, 10.2.2.2"], &t),
            ip("203.0.113.9")
        );
        // Header lines in order, the last one appended last.
        assert_eq!(
            client_address(lb, &[b"1.1.1.1", b"203.0.113.9 ,10.2.2.2"], &t),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(lb, &[b"garbage, 203.0.113.9"], &t),
            ip("203.0.113.9"),
            "what the client wrote is never read"
        );
        assert_eq!(
            client_address(lb, &[b"[2001:db8::7]:443"], &t),
            ip("2001:db8::7")
        );
        assert_eq!(
            client_address(lb, &[b"203.0.113.9:5000"], &t),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(lb, &[b"::ffff:203.0.113.9"], &t),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(lb, &[b"203.0.113.9,,"], &t),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(lb, &[b"10.3.3.3, 10.2.2.2"], &t),
            ip("10.3.3.3"),
            "all trusted: the left-most"
        );
        assert_eq!(
            client_address(ip("::ffff:10.1.1.1"), &[b"203.0.113.9"], &t),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_malformed_header_from_a_trusted_peer_gives_the_peer() {
        let lb = ip("10.1.1.1");
        let t = trusted();
        assert_eq!(client_address(lb, &[], &t), lb);
        assert_eq!(client_address(lb, &[b""], &t), lb);
        assert_eq!(client_address(lb, &[b"unknown"], &t), lb);
        assert_eq!(
            client_address(lb, &[b"203.0.113.9, 10.2.2.2, nope"], &t),
            lb
        );
        assert_eq!(client_address(lb, &[b"203.0.113.9 10.2.2.2"], &t), lb);
        assert_eq!(client_address(lb, &[b"\xff203.0.113.9"], &t), lb);
        assert_eq!(client_address(lb, &[b"for=203.0.113.9"], &t), lb);
    }

    /// Public operations that are not limited because they create no state
    /// (they read, or take a single-use value that a limited or
    /// authenticated call created).
    const CREATE_NO_STATE: &[(&str, &str)] = &[
        ("GET", "/.well-known/jwt-vc-issuer"),
        ("GET", "/.well-known/oauth-authorization-server"),
        ("GET", "/.well-known/openid-credential-issuer"),
        ("GET", "/type-metadata/{id}"),
        ("GET", "/credential-offer/{id}"),
        ("GET", "/status-lists/{id}"),
        // A challenge carries its own expiry and MAC: nothing is stored.
        ("POST", "/challenge"),
        // Ends a login session that `POST /authorize/login` opened.
        ("POST", "/authorize/consent"),
        // Takes the single-use sign-in `state` that the limited
        // `GET /authorize` stored; only then does it call the provider.
        ("GET", "/signin/callback"),
        ("GET", "/oid4vp/requests/{id}"),
        ("POST", "/oid4vp/requests/{id}"),
        // Answers one transaction once.
        ("POST", "/oid4vp/responses/{id}"),
        ("GET", "/p/{id}"),
        ("GET", "/demo/verifier"),
        ("GET", "/demo/verifier/requests/{id}/events"),
        ("GET", "/health"),
        ("GET", "/health/ready"),
        ("GET", "/metrics"),
    ];

    /// A new public route cannot be forgotten silently: it is limited (and
    /// documents its 429) or listed above as creating no state.
    #[test]
    fn every_public_operation_is_limited_or_creates_no_state() {
        let doc = serde_json::to_value(crate::http::openapi::document()).unwrap();
        let paths = doc["paths"].as_object().unwrap();
        for (path, item) in paths {
            // OpenAPI 3.1 §4.8.9: the operations of a path item.
            let operations = [
                "get", "put", "post", "delete", "options", "head", "patch", "trace",
            ];
            for (method, op) in item.as_object().unwrap() {
                if !operations.contains(&method.as_str()) {
                    continue;
                }
                let method = method.to_ascii_uppercase();
                let route = (method.as_str(), path.as_str());
                let limited = LIMITED.contains(&route);
                assert_eq!(
                    op["responses"].get("429").is_some(),
                    limited || PARTY_QUOTA.contains(&route),
                    "{method} {path}: documents a 429 if and only if it is in LIMITED or PARTY_QUOTA"
                );
                let public = op
                    .get("security")
                    .and_then(|s| s.as_array())
                    .is_none_or(Vec::is_empty);
                assert!(
                    !public || limited || CREATE_NO_STATE.contains(&route),
                    "{method} {path} is public: limit it (LIMITED + limits::resource) \
                     or list it in CREATE_NO_STATE"
                );
            }
        }
        for (method, path) in LIMITED {
            assert!(
                paths[*path][method.to_ascii_lowercase()].is_object(),
                "{method} {path} is limited but not documented"
            );
        }
    }

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
    fn a_flood_of_new_clients_keeps_the_bucket_map_bounded() {
        let l = RateLimiter::new(
            Rate {
                per_second: 10.0,
                burst: 50.0,
            },
            Rate {
                per_second: 1000.0,
                burst: 2000.0,
            },
        );
        // 200 000 distinct /64s within ten seconds: the global bucket admits
        // ~12 000 of them, and only those get a bucket.
        let mut admitted = 0;
        for i in 0..200_000u32 {
            let ip = IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                (i >> 16) as u16,
                i as u16,
                0,
                0,
                0,
                1,
            ));
            if l.allow(ip, 1000.0 + f64::from(i) / 20_000.0) {
                admitted += 1;
            }
        }
        assert!(admitted <= 2000 + 10 * 1000 + 1, "{admitted}");
        assert!(l.tracked_clients() <= admitted, "{}", l.tracked_clients());

        // With a global rate high enough to admit them all, the cap holds.
        let wide = RateLimiter::new(
            Rate {
                per_second: 10.0,
                burst: 50.0,
            },
            Rate {
                per_second: 1e9,
                burst: 1e9,
            },
        );
        for i in 0..(MAX_CLIENTS as u32 + 20_000) {
            let ip = IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                (i >> 16) as u16,
                i as u16,
                0,
                0,
                0,
                1,
            ));
            assert!(wide.allow(ip, 1000.0));
        }
        assert_eq!(wide.tracked_clients(), MAX_CLIENTS);
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
