//! `GET /metrics` in the Prometheus text format: requests and latencies per
//! route, and issued / verified counts by credential type and outcome.
//! Labels carry route patterns and type ids only — never ids, tokens or
//! personal data — and every label comes from a closed set: the methods of
//! RFC 9110 (anything else is `other`), the route patterns (a path no route
//! matched is `unmatched`), status codes. [`MAX_SERIES`] caps the request
//! series all the same; what would pass it is counted in one overflow
//! counter.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpRequest, HttpResponse, web};

use super::AppState;
use crate::parties::PartyId;
use crate::parties::audit::FailureReason;

/// Request series (method, route, status) kept at most; the latency
/// histograms are keyed by (method, route) and so never outnumber them.
pub const MAX_SERIES: usize = 2_000;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 10] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0];

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Debug, Default)]
struct Inner {
    /// (method, route pattern, status) → count.
    requests: BTreeMap<(&'static str, String, u16), u64>,
    /// (method, route pattern) → latency histogram.
    latency: BTreeMap<(&'static str, String), Histogram>,
    /// Requests not counted above because [`MAX_SERIES`] was reached.
    overflow: u64,
    /// credential configuration id → issued credentials.
    issued: BTreeMap<String, u64>,
    /// (credential query / preset kind, outcome) → verifications.
    verified: BTreeMap<(String, String), u64>,
    /// (party label, `request` | `scan`) → requests created / QRs scanned.
    party_requests: BTreeMap<(String, &'static str), u64>,
    /// (party label, outcome, reason) → verifications.
    party_outcomes: BTreeMap<(String, &'static str, &'static str), u64>,
    /// Parties that have a label of their own (at most [`MAX_PARTY_LABELS`]
    /// besides `default`).
    party_labels: std::collections::BTreeSet<String>,
}

/// Registered parties counted under their own id; the ones seen after
/// them share the label `other`, so the series stay bounded however many
/// parties there are.
pub const MAX_PARTY_LABELS: usize = 100;

impl Inner {
    fn party_label(&mut self, party: &PartyId) -> String {
        let id = party.as_str();
        if party.is_builtin() || self.party_labels.contains(id) {
            return id.to_owned();
        }
        if self.party_labels.len() < MAX_PARTY_LABELS {
            self.party_labels.insert(id.to_owned());
            return id.to_owned();
        }
        "other".to_owned()
    }
}

/// Counters shared by all workers.
#[derive(Debug, Default)]
pub struct Metrics(Mutex<Inner>);

impl Metrics {
    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A poisoned lock only means another thread panicked while counting;
        // the counters are still usable.
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }

    /// Counts `n` credentials issued of `credential_type`.
    pub fn issued(&self, credential_type: &str, n: u64) {
        self.with(|m| *m.issued.entry(credential_type.to_owned()).or_default() += n);
    }

    /// Counts one verification of `kind` (a credential type or preset) with
    /// `outcome` (`verified`, `failed`, …).
    pub fn verified(&self, kind: &str, outcome: &str) {
        self.with(|m| {
            *m.verified
                .entry((kind.to_owned(), outcome.to_owned()))
                .or_default() += 1
        });
    }

    /// Counts a request created (`kind` = `request`) or a QR scanned
    /// (`scan`) by `party`.
    pub fn party_request(&self, party: &PartyId, kind: &'static str) {
        self.with(|m| {
            let label = m.party_label(party);
            *m.party_requests.entry((label, kind)).or_default() += 1;
        });
    }

    /// Counts a verification of `party` that ended verified (`None`) or
    /// failed for `reason`.
    pub fn party_outcome(&self, party: &PartyId, failure: Option<FailureReason>) {
        self.with(|m| {
            let label = m.party_label(party);
            let (outcome, reason) = match failure {
                None => ("verified", "none"),
                Some(r) => ("failed", r.label()),
            };
            *m.party_outcomes
                .entry((label, outcome, reason))
                .or_default() += 1;
        });
    }

    fn observe(&self, method: &Method, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        self.with(|m| {
            let key = (method, route.to_owned(), status);
            if m.requests.len() >= MAX_SERIES && !m.requests.contains_key(&key) {
                m.overflow += 1;
                return;
            }
            *m.requests.entry(key).or_default() += 1;
            let h = m.latency.entry((method, route.to_owned())).or_default();
            for (i, b) in BUCKETS.iter().enumerate() {
                if seconds <= *b {
                    h.counts[i] += 1;
                }
            }
            h.count += 1;
            h.sum += seconds;
        });
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        self.with(|m| {
            let mut out = String::new();
            let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
            out.push_str("# HELP digital_id_http_requests_total HTTP requests by route and status.\n");
            out.push_str("# TYPE digital_id_http_requests_total counter\n");
            for ((method, route, status), n) in &m.requests {
                let _ = writeln!(
                    out,
                    "digital_id_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    esc(route)
                );
            }
            out.push_str("# HELP digital_id_http_requests_overflow_total HTTP requests not counted by route because the series limit was reached.\n");
            out.push_str("# TYPE digital_id_http_requests_overflow_total counter\n");
            let _ = writeln!(out, "digital_id_http_requests_overflow_total {}", m.overflow);
            out.push_str("# HELP digital_id_http_request_duration_seconds HTTP request latency.\n");
            out.push_str("# TYPE digital_id_http_request_duration_seconds histogram\n");
            for ((method, route), h) in &m.latency {
                let labels = format!("method=\"{method}\",route=\"{}\"", esc(route));
                for (i, b) in BUCKETS.iter().enumerate() {
                    let _ = writeln!(out, "digital_id_http_request_duration_seconds_bucket{{{labels},le=\"{b}\"}} {}", h.counts[i]);
                }
                let _ = writeln!(out, "digital_id_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "digital_id_http_request_duration_seconds_sum{{{labels}}} {}", h.sum);
                let _ = writeln!(out, "digital_id_http_request_duration_seconds_count{{{labels}}} {}", h.count);
            }
            out.push_str("# HELP digital_id_credentials_issued_total Credentials issued by type.\n");
            out.push_str("# TYPE digital_id_credentials_issued_total counter\n");
            for (t, n) in &m.issued {
                let _ = writeln!(out, "digital_id_credentials_issued_total{{type=\"{}\"}} {n}", esc(t));
            }
            out.push_str("# HELP digital_id_presentations_verified_total Presentations verified by kind and outcome.\n");
            out.push_str("# TYPE digital_id_presentations_verified_total counter\n");
            for ((k, o), n) in &m.verified {
                let _ = writeln!(out, "digital_id_presentations_verified_total{{kind=\"{}\",outcome=\"{}\"}} {n}", esc(k), esc(o));
            }
            out.push_str("# HELP digital_id_party_requests_total Presentation requests created and holder QRs scanned, by relying party (the first 100 registered parties seen by this process by id, later ones as `other`).\n");
            out.push_str("# TYPE digital_id_party_requests_total counter\n");
            for ((p, kind), n) in &m.party_requests {
                let _ = writeln!(out, "digital_id_party_requests_total{{party=\"{}\",kind=\"{kind}\"}} {n}", esc(p));
            }
            out.push_str("# HELP digital_id_party_verifications_total Verifications by relying party, outcome and failure reason (a fixed set).\n");
            out.push_str("# TYPE digital_id_party_verifications_total counter\n");
            for ((p, outcome, reason), n) in &m.party_outcomes {
                let _ = writeln!(out, "digital_id_party_verifications_total{{party=\"{}\",outcome=\"{outcome}\",reason=\"{reason}\"}} {n}", esc(p));
            }
            out
        })
    }
}

/// The methods of RFC 9110 §9 and PATCH (RFC 5789), with their labels.
const METHODS: [(Method, &str); 9] = [
    (Method::GET, "GET"),
    (Method::HEAD, "HEAD"),
    (Method::POST, "POST"),
    (Method::PUT, "PUT"),
    (Method::DELETE, "DELETE"),
    (Method::CONNECT, "CONNECT"),
    (Method::OPTIONS, "OPTIONS"),
    (Method::TRACE, "TRACE"),
    (Method::PATCH, "PATCH"),
];

/// The `method` label: one of [`METHODS`], or `other` for any made-up one.
fn method_label(method: &Method) -> &'static str {
    METHODS
        .iter()
        .find(|(m, _)| m == method)
        .map_or("other", |(_, label)| label)
}

/// The `route` label: the route pattern matching the path as the router
/// saw it (percent-decoded: `/n%6Fnce` is `/nonce`; `match_pattern()` would
/// try the raw path and call it unmatched), or `unmatched`. Never the path
/// itself.
fn route_label(req: &HttpRequest) -> String {
    req.resource_map()
        .match_pattern(req.match_info().as_str())
        .unwrap_or_else(|| "unmatched".to_owned())
}

/// Middleware: gives every request an id (`X-Request-Id`, echoed when the
/// client sent a sane one), counts it by its route pattern
/// (`/verifier/requests/{id}`, never the concrete path, which can hold
/// capabilities such as offer ids) and logs one line with that pattern.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let start = Instant::now();
    let method = req.method().clone();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            (1..=64).contains(&v.len())
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map_or_else(
            || crate::crypto::b64url(crate::crypto::random_bytes::<9>()),
            str::to_owned,
        );
    let mut res = next.call(req).await?;
    let route = route_label(res.request());
    let status = res.status().as_u16();
    let elapsed = start.elapsed();
    if let Some(state) = res.request().app_data::<web::Data<AppState>>() {
        state
            .metrics
            .observe(&method, &route, status, elapsed.as_secs_f64());
    }
    tracing::info!(
        target: "digital_id::http",
        request_id = %request_id,
        method = method_label(&method),
        %route,
        status,
        ms = elapsed.as_secs_f64() * 1e3,
        "request"
    );
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        res.headers_mut()
            .insert(HeaderName::from_static("x-request-id"), v);
    }
    Ok(res)
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/metrics").get(metrics));
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.observe(&Method::GET, "/health", 200, 0.002);
        m.observe(&Method::GET, "/health", 200, 2.0);
        m.issued("ru.passport", 3);
        m.verified("age_over_18", "verified");
        let text = m.render();
        assert!(text.contains(
            "digital_id_http_requests_total{method=\"GET\",route=\"/health\",status=\"200\"} 2"
        ));
        assert!(text.contains("le=\"0.0025\"} 1"));
        assert!(text.contains("le=\"+Inf\"} 2"));
        assert!(text.contains("digital_id_credentials_issued_total{type=\"ru.passport\"} 3"));
        assert!(text.contains("kind=\"age_over_18\",outcome=\"verified\"} 1"));
    }

    #[test]
    fn party_labels_are_bounded() {
        let m = Metrics::default();
        for i in 0..MAX_PARTY_LABELS + 20 {
            let p = PartyId::parse(&format!("p{i:04}")).unwrap();
            m.party_request(&p, "request");
            m.party_outcome(&p, Some(FailureReason::QueryUnmet));
        }
        m.party_request(&PartyId::builtin(), "scan");
        m.party_outcome(&PartyId::builtin(), None);
        // A party with a label keeps it.
        m.party_request(&PartyId::parse("p0000").unwrap(), "request");
        let text = m.render();
        let series = |name: &str| text.lines().filter(|l| l.starts_with(name)).count();
        assert_eq!(
            series("digital_id_party_requests_total{"),
            MAX_PARTY_LABELS + 2
        );
        assert!(
            text.contains("digital_id_party_requests_total{party=\"other\",kind=\"request\"} 20")
        );
        assert!(
            text.contains("digital_id_party_requests_total{party=\"p0000\",kind=\"request\"} 2")
        );
        assert!(
            text.contains("digital_id_party_requests_total{party=\"default\",kind=\"scan\"} 1")
        );
        assert!(text.contains(
            "digital_id_party_verifications_total{party=\"other\",outcome=\"failed\",reason=\"query_unmet\"} 20"
        ));
        assert!(text.contains(
            "digital_id_party_verifications_total{party=\"default\",outcome=\"verified\",reason=\"none\"} 1"
        ));
    }

    #[test]
    fn made_up_methods_share_one_label() {
        let m = Metrics::default();
        for i in 0..50 {
            let method = Method::from_bytes(format!("FOO{i}").as_bytes()).unwrap();
            m.observe(&method, "unmatched", 404, 0.001);
        }
        m.observe(&Method::PATCH, "unmatched", 404, 0.001);
        let text = m.render();
        assert!(text.contains(
            "digital_id_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 50"
        ));
        assert!(text.contains("method=\"PATCH\""));
        assert!(!text.contains("FOO"));
    }

    #[test]
    fn series_are_capped_and_the_rest_counted_as_overflow() {
        let m = Metrics::default();
        for status in 0..MAX_SERIES + 10 {
            m.observe(&Method::GET, "/health", status as u16, 0.001);
        }
        m.observe(&Method::GET, "/health", 0, 0.001);
        let text = m.render();
        let series = text
            .lines()
            .filter(|l| l.starts_with("digital_id_http_requests_total{"))
            .count();
        assert_eq!(series, MAX_SERIES);
        assert!(text.contains("digital_id_http_requests_overflow_total 10\n"));
        assert!(
            text.contains("route=\"/health\",status=\"0\"} 2"),
            "an existing series still counts"
        );
    }
}
