//! Fetching issuer metadata, JWKS and status lists: the verifier's only
//! outbound I/O, behind a trait so tests can serve documents themselves.
//!
//! The HTTP implementation uses `ureq` (blocking, run on tokio's blocking
//! pool): redirects are never followed, bodies are capped, every request has
//! a deadline, and a host that resolves into a private, loopback or
//! link-local range is refused — except our own public URL, whose status
//! lists live on this very server.

use std::net::{IpAddr, ToSocketAddrs};
use std::time::Duration;

use crate::store::BoxFut;

/// Why a document could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is not an https URL")]
    NotHttps,
    #[error("the host resolves to a private or local address")]
    PrivateAddress,
    #[error("the host could not be resolved")]
    Resolve,
    #[error("the request failed or timed out")]
    Transport,
    #[error("the server answered with HTTP status {0}")]
    Status(u16),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
}

/// Fetches a document by URL.
pub trait Fetch: Send + Sync {
    fn get(
        &self,
        url: String,
        accept: &'static str,
        max_bytes: usize,
    ) -> BoxFut<'_, Result<Vec<u8>, FetchError>>;
}

/// The real fetcher.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    agent: ureq::Agent,
    /// Origin (`scheme://host[:port]`) exempt from the private-range rule.
    own_origin: String,
}

/// Total time one fetch may take.
const TIMEOUT: Duration = Duration::from_secs(5);

impl HttpFetcher {
    pub fn new(own_origin: &str) -> Self {
        let config = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .tls_config(
                ureq::tls::TlsConfig::builder()
                    .provider(ureq::tls::TlsProvider::NativeTls)
                    .build(),
            )
            .build();
        HttpFetcher {
            agent: config.into(),
            own_origin: own_origin.to_owned(),
        }
    }

    fn fetch_blocking(
        &self,
        url: &str,
        accept: &str,
        max_bytes: usize,
    ) -> Result<Vec<u8>, FetchError> {
        let own = url.starts_with(&self.own_origin)
            && url[self.own_origin.len()..].starts_with(['/', '?']);
        if !own {
            let rest = url.strip_prefix("https://").ok_or(FetchError::NotHttps)?;
            let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
            if authority.contains('@') || authority.is_empty() {
                return Err(FetchError::NotHttps);
            }
            let target = if authority
                .rsplit_once(':')
                .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
                && !authority.ends_with(']')
            {
                authority.to_owned()
            } else {
                format!("{authority}:443")
            };
            let addrs: Vec<_> = target
                .to_socket_addrs()
                .map_err(|_| FetchError::Resolve)?
                .collect();
            if addrs.is_empty() {
                return Err(FetchError::Resolve);
            }
            if addrs.iter().any(|a| !is_public(a.ip())) {
                return Err(FetchError::PrivateAddress);
            }
        }
        let mut resp = self
            .agent
            .get(url)
            .header("Accept", accept)
            .call()
            .map_err(|_| FetchError::Transport)?;
        let status = resp.status().as_u16();
        if status != 200 {
            // 3xx included: redirects are never followed.
            return Err(FetchError::Status(status));
        }
        resp.body_mut()
            .with_config()
            .limit(max_bytes as u64)
            .read_to_vec()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => FetchError::TooLarge(max_bytes),
                _ => FetchError::Transport,
            })
    }
}

impl Fetch for HttpFetcher {
    fn get(
        &self,
        url: String,
        accept: &'static str,
        max_bytes: usize,
    ) -> BoxFut<'_, Result<Vec<u8>, FetchError>> {
        // Cheap: the agent is a handle to a shared connection pool.
        let this = self.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || this.fetch_blocking(&url, accept, max_bytes))
                .await
                .unwrap_or(Err(FetchError::Transport))
        })
    }
}

/// Whether an address is publicly routable (not loopback, private, link-local,
/// CGNAT, unique-local, multicast, documentation or unspecified).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 198 && (o[1] == 18 || o[1] == 19))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || s[0] == 0x2001 && s[1] == 0x0db8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_ranges_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fc00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "224.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2a00:1450::1", "93.184.216.34"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn refuses_http_and_private_hosts_before_connecting() {
        let f = HttpFetcher::new("http://127.0.0.1:1");
        assert_eq!(
            f.fetch_blocking("http://example.com/x", "*/*", 10),
            Err(FetchError::NotHttps)
        );
        assert_eq!(
            f.fetch_blocking("https://127.0.0.1:8443/jwks", "*/*", 10),
            Err(FetchError::PrivateAddress)
        );
        assert_eq!(
            f.fetch_blocking("https://localhost/jwks", "*/*", 10),
            Err(FetchError::PrivateAddress)
        );
        assert_eq!(
            f.fetch_blocking("https://user@example.com/", "*/*", 10),
            Err(FetchError::NotHttps)
        );
    }
}
