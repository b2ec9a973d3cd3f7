//! Fetching issuer metadata, JWKS and status lists: the verifier's only
//! outbound I/O besides result callbacks, behind a trait so tests can serve
//! documents themselves.
//!
//! The HTTP implementation uses `ureq` (blocking, run on tokio's blocking
//! pool) through [`Outbound`]: redirects are never followed, bodies are
//! capped, every request has a deadline, the URL must pass
//! [`check_url`](super::outbound::check_url), and the connection goes only
//! to addresses that were checked against the forbidden ranges — except our
//! own public URL, whose status lists live on this very server.

use std::time::Duration;

use super::outbound::{ForbiddenRange, Outbound, TargetError, TargetPolicy, check_url};
use crate::store::BoxFut;

/// Why a document could not be fetched.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    #[error("the URL is not usable: {0}")]
    Url(TargetError),
    #[error("the host resolves to a {0} address")]
    ForbiddenAddress(ForbiddenRange),
    #[error("the host could not be resolved")]
    Resolve,
    #[error("the request failed or timed out")]
    Transport,
    #[error("the server answered with HTTP status {0}")]
    Status(u16),
    #[error("the response is larger than {0} bytes")]
    TooLarge(usize),
}

impl From<TargetError> for FetchError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::ForbiddenAddress(range) => FetchError::ForbiddenAddress(range),
            TargetError::Malformed | TargetError::NotHttps | TargetError::UserInfo => {
                FetchError::Url(e)
            }
        }
    }
}

impl From<ureq::Error> for FetchError {
    fn from(e: ureq::Error) -> Self {
        match super::outbound::refused_range(&e) {
            Some(range) => FetchError::ForbiddenAddress(range),
            None if matches!(e, ureq::Error::HostNotFound) => FetchError::Resolve,
            None => FetchError::Transport,
        }
    }
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
    policy: TargetPolicy,
    /// Origin (`scheme://host[:port]`) exempt from the target rules.
    own_origin: String,
}

/// Total time one fetch may take.
const TIMEOUT: Duration = Duration::from_secs(5);

impl HttpFetcher {
    pub fn new(own_origin: &str, outbound: &Outbound) -> Self {
        HttpFetcher {
            agent: outbound.agent(TIMEOUT, Some(own_origin)),
            policy: outbound.policy(),
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
        let checked;
        let target = if own {
            url
        } else {
            checked = check_url(url, self.policy)?;
            checked.as_str()
        };
        let mut resp = self.agent.get(target).header("Accept", accept).call()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_http_and_private_hosts_before_connecting() {
        let f = HttpFetcher::new(
            "http://127.0.0.1:1",
            &Outbound::new(TargetPolicy::default()),
        );
        assert_eq!(
            f.fetch_blocking("http://example.com/x", "*/*", 10),
            Err(FetchError::Url(TargetError::NotHttps))
        );
        assert_eq!(
            f.fetch_blocking("https://127.0.0.1:8443/jwks", "*/*", 10),
            Err(FetchError::ForbiddenAddress(ForbiddenRange::Loopback))
        );
        assert_eq!(
            f.fetch_blocking("https://localhost/jwks", "*/*", 10),
            Err(FetchError::ForbiddenAddress(ForbiddenRange::Loopback))
        );
        assert_eq!(
            f.fetch_blocking("https://[64:ff9b::a00:1]/jwks", "*/*", 10),
            Err(FetchError::ForbiddenAddress(ForbiddenRange::Nat64))
        );
        assert_eq!(
            f.fetch_blocking("https://user@example.com/", "*/*", 10),
            Err(FetchError::Url(TargetError::UserInfo))
        );
    }
}
