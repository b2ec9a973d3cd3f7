//! Where the verifier may connect, and the HTTP agent every outbound call
//! uses (issuer metadata, JWKS, status lists, result callbacks).
//!
//! A URL is checked before anything is sent: `https` (`http` only for a
//! loopback host when loopback targets are allowed, i.e. in development),
//! no user information, and an IP-literal host outside the forbidden ranges
//! of [`forbidden_range`]. Then the agent's resolver looks the host up
//! once, refuses the whole answer when any address is forbidden, and hands
//! exactly the checked addresses to the connector: the name is never
//! resolved a second time, so an answer that changes between the check and
//! the connection (DNS rebinding) cannot steer it inward. The URL's host
//! stays the TLS server name and the `Host` header.
//!
//! TLS goes through OpenSSL (`native-tls`, the provider ureq must be told
//! about, or it panics on the first `https` URL), trusting the bundled
//! Mozilla roots plus the operator's `[verifier] ca_file`.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use ureq::config::Config;
use ureq::http::Uri;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig, TlsProvider};
use ureq::unversioned::resolver::{ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Connector, DefaultConnector, NextTimeout};

use crate::config::VerifierSettings;

/// A range of addresses the verifier never connects to (IANA special-purpose
/// registries, RFC 6890 and its updates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ForbiddenRange {
    #[error("unspecified (0.0.0.0, ::)")]
    Unspecified,
    #[error("\"this network\" (0.0.0.0/8)")]
    ThisNetwork,
    #[error("loopback (127.0.0.0/8, ::1)")]
    Loopback,
    #[error("private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16)")]
    Private,
    #[error("shared address space (100.64.0.0/10)")]
    SharedAddressSpace,
    #[error("link-local (169.254.0.0/16, fe80::/10)")]
    LinkLocal,
    #[error("IETF protocol assignments (192.0.0.0/24, 2001::/23)")]
    ProtocolAssignments,
    #[error(
        "documentation (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, 3fff::/20)"
    )]
    Documentation,
    #[error("6to4 relay anycast (192.88.99.0/24)")]
    SixToFourRelay,
    #[error("benchmarking (198.18.0.0/15)")]
    Benchmarking,
    #[error("multicast (224.0.0.0/4, ff00::/8)")]
    Multicast,
    #[error("broadcast (255.255.255.255)")]
    Broadcast,
    #[error("reserved (240.0.0.0/4)")]
    Reserved,
    #[error("unique local (fc00::/7)")]
    UniqueLocal,
    #[error("site-local (fec0::/10)")]
    SiteLocal,
    #[error("NAT64 (64:ff9b::/96, 64:ff9b:1::/48)")]
    Nat64,
    #[error("6to4 (2002::/16)")]
    SixToFour,
    #[error("Teredo (2001::/32)")]
    Teredo,
    #[error("discard-only (100::/64)")]
    DiscardOnly,
    #[error("not global unicast (outside 2000::/3)")]
    NotGlobalUnicast,
}

use ForbiddenRange as F;

/// IPv4 ranges, most specific first.
const V4: &[(Ipv4Addr, u8, ForbiddenRange)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 32, F::Unspecified),
    (Ipv4Addr::new(255, 255, 255, 255), 32, F::Broadcast),
    (Ipv4Addr::new(0, 0, 0, 0), 8, F::ThisNetwork),
    (Ipv4Addr::new(10, 0, 0, 0), 8, F::Private),
    (Ipv4Addr::new(100, 64, 0, 0), 10, F::SharedAddressSpace),
    (Ipv4Addr::new(127, 0, 0, 0), 8, F::Loopback),
    (Ipv4Addr::new(169, 254, 0, 0), 16, F::LinkLocal),
    (Ipv4Addr::new(172, 16, 0, 0), 12, F::Private),
    (Ipv4Addr::new(192, 0, 0, 0), 24, F::ProtocolAssignments),
    (Ipv4Addr::new(192, 0, 2, 0), 24, F::Documentation),
    (Ipv4Addr::new(192, 88, 99, 0), 24, F::SixToFourRelay),
    (Ipv4Addr::new(192, 168, 0, 0), 16, F::Private),
    (Ipv4Addr::new(198, 18, 0, 0), 15, F::Benchmarking),
    (Ipv4Addr::new(198, 51, 100, 0), 24, F::Documentation),
    (Ipv4Addr::new(203, 0, 113, 0), 24, F::Documentation),
    (Ipv4Addr::new(224, 0, 0, 0), 4, F::Multicast),
    (Ipv4Addr::new(240, 0, 0, 0), 4, F::Reserved),
];

/// IPv6 ranges, most specific first. `::ffff:0:0/96` (IPv4-mapped) and
/// `::/96` (IPv4-compatible) are judged by their embedded IPv4 address.
const V6: &[(Ipv6Addr, u8, ForbiddenRange)] = &[
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 128, F::Unspecified),
    (Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1), 128, F::Loopback),
    (Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96, F::Nat64),
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48, F::Nat64),
    (
        Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0),
        64,
        F::DiscardOnly,
    ),
    (Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0), 32, F::Teredo),
    (
        Ipv6Addr::new(0x2001, 0, 0, 0, 0, 0, 0, 0),
        23,
        F::ProtocolAssignments,
    ),
    (
        Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0),
        32,
        F::Documentation,
    ),
    (Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16, F::SixToFour),
    (
        Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0),
        20,
        F::Documentation,
    ),
    (
        Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0),
        7,
        F::UniqueLocal,
    ),
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10, F::LinkLocal),
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10, F::SiteLocal),
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8, F::Multicast),
];

/// The forbidden range `ip` lies in, or `None` for a public address.
pub fn forbidden_range(ip: IpAddr) -> Option<ForbiddenRange> {
    match ip {
        IpAddr::V4(v4) => {
            let a = u32::from(v4);
            V4.iter()
                .find(|(net, len, _)| a & mask32(*len) == u32::from(*net))
                .map(|(_, _, range)| *range)
        }
        IpAddr::V6(v6) => {
            let a = u128::from(v6);
            let listed = V6
                .iter()
                .find(|(net, len, _)| a & mask128(*len) == u128::from(*net))
                .map(|(_, _, range)| *range);
            // `to_ipv4`: `::ffff:a.b.c.d` and `::a.b.c.d` (`::` and `::1`
            // are listed above and never get here).
            match (listed, v6.to_ipv4()) {
                (Some(range), _) => Some(range),
                (None, Some(v4)) => forbidden_range(IpAddr::V4(v4)),
                (None, None) => {
                    (v6.segments()[0] & 0xe000 != 0x2000).then_some(F::NotGlobalUnicast)
                }
            }
        }
    }
}

fn mask32(len: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0)
}

fn mask128(len: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0)
}

/// Which targets outbound calls may reach.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Loopback addresses (and `http` to them) are allowed: development and
    /// tests only.
    pub allow_loopback: bool,
}

impl TargetPolicy {
    /// The range that makes `ip` unreachable under this policy.
    pub fn refuses(&self, ip: IpAddr) -> Option<ForbiddenRange> {
        match forbidden_range(ip) {
            Some(F::Loopback) if self.allow_loopback => None,
            other => other,
        }
    }
}

/// Why a URL may not be called.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("it is not an absolute URL with a host")]
    Malformed,
    #[error("it must be an https URL (http only for a loopback host in development)")]
    NotHttps,
    #[error("it may not carry user information")]
    UserInfo,
    #[error("its host is a {0} address")]
    ForbiddenAddress(ForbiddenRange),
}

/// Checks a URL an outbound call would use, before any name is resolved.
/// Returns it parsed (WHATWG rules: `0x7f.1` is read as 127.0.0.1, as a
/// resolver would), so the caller sends exactly what was checked.
pub fn check_url(raw: &str, policy: TargetPolicy) -> Result<url::Url, TargetError> {
    // The URL parser silently drops tabs and newlines; refuse them instead.
    if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(TargetError::Malformed);
    }
    let url = url::Url::parse(raw).map_err(|_| TargetError::Malformed)?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(TargetError::UserInfo);
    }
    // RFC 6761 §6.3: `localhost` and its subdomains are loopback names.
    let range = match url.host() {
        None => return Err(TargetError::Malformed),
        Some(url::Host::Ipv4(v4)) => forbidden_range(IpAddr::V4(v4)),
        Some(url::Host::Ipv6(v6)) => forbidden_range(IpAddr::V6(v6)),
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.');
            (d == "localhost" || d.ends_with(".localhost")).then_some(F::Loopback)
        }
    };
    let loopback_ok = range == Some(F::Loopback) && policy.allow_loopback;
    match url.scheme() {
        "https" => {}
        "http" if loopback_ok => {}
        _ => return Err(TargetError::NotHttps),
    }
    match range {
        Some(r) if !loopback_ok => Err(TargetError::ForbiddenAddress(r)),
        Some(_) | None => Ok(url),
    }
}

/// The error the resolver returns for a forbidden answer (inside
/// `ureq::Error::Io`); [`refused_range`] reads it back.
#[derive(Debug, thiserror::Error)]
#[error("the host resolves to a {0} address")]
struct Refused(ForbiddenRange);

/// The forbidden range a failed call was refused for, if that is why.
pub fn refused_range(e: &ureq::Error) -> Option<ForbiddenRange> {
    match e {
        ureq::Error::Io(io) => io.get_ref()?.downcast_ref::<Refused>().map(|r| r.0),
        _ => None,
    }
}

/// Name resolution, replaceable in tests.
pub trait Lookup: fmt::Debug + Send + Sync + 'static {
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;
}

/// The system resolver (`getaddrinfo`).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemLookup;

impl Lookup for SystemLookup {
    fn lookup(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        Ok((host, port).to_socket_addrs()?.collect())
    }
}

/// At most this many addresses are kept from one answer (ureq's own limit;
/// all of them are checked).
const MAX_ADDRS: usize = 16;

/// The agent's resolver: one lookup, every address checked, exactly those
/// addresses returned to the connector.
#[derive(Debug)]
struct CheckedResolver {
    policy: TargetPolicy,
    lookup: Arc<dyn Lookup>,
    /// `scheme://host[:port]` whose addresses are not checked (our own
    /// public URL, whose status lists live on this very server).
    exempt_origin: Option<String>,
}

impl CheckedResolver {
    fn lookup_within(
        &self,
        host: &str,
        port: u16,
        timeout: NextTimeout,
    ) -> Result<Vec<SocketAddr>, ureq::Error> {
        if timeout.after.is_not_happening() {
            return Ok(self.lookup.lookup(host, port)?);
        }
        // getaddrinfo cannot be cancelled: wait for it on another thread
        // for at most the time left.
        let (tx, rx) = mpsc::sync_channel(1);
        let lookup = self.lookup.clone();
        let name = host.to_owned();
        std::thread::spawn(move || tx.send(lookup.lookup(&name, port)).ok());
        match rx.recv_timeout(*timeout.after) {
            Ok(answer) => Ok(answer?),
            Err(mpsc::RecvTimeoutError::Timeout) => Err(ureq::Error::Timeout(timeout.reason)),
            Err(mpsc::RecvTimeoutError::Disconnected) => Err(ureq::Error::HostNotFound),
        }
    }
}

impl Resolver for CheckedResolver {
    fn resolve(
        &self,
        uri: &Uri,
        _config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let bad = || ureq::Error::BadUri(uri.to_string());
        let scheme = uri.scheme_str().ok_or_else(bad)?;
        let authority = uri.authority().ok_or_else(bad)?;
        let port = match (authority.port_u16(), scheme) {
            (Some(p), _) => p,
            (None, "https") => 443,
            (None, "http") => 80,
            (None, _) => return Err(bad()),
        };
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let addrs = self.lookup_within(host, port, timeout)?;
        let origin = format!("{scheme}://{}", authority.as_str());
        if self.exempt_origin.as_deref() != Some(origin.as_str()) {
            if let Some(range) = addrs.iter().find_map(|a| self.policy.refuses(a.ip())) {
                return Err(ureq::Error::Io(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    Refused(range),
                )));
            }
        }
        let mut out = self.empty();
        for addr in addrs.into_iter().take(MAX_ADDRS) {
            out.push(addr);
        }
        if out.is_empty() {
            return Err(ureq::Error::HostNotFound);
        }
        Ok(out)
    }
}

/// Why outbound connections could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("the CA file {path} cannot be read: {source}")]
    CaFileRead { path: PathBuf, source: io::Error },
    #[error("the CA file {path} is not PEM")]
    CaFileInvalid { path: PathBuf },
    #[error("the CA file {path} holds no PEM certificate")]
    CaFileEmpty { path: PathBuf },
}

/// How the verifier reaches other hosts: the target policy, the trusted TLS
/// roots and the name lookup. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Outbound {
    policy: TargetPolicy,
    tls: TlsConfig,
    lookup: Arc<dyn Lookup>,
}

impl Outbound {
    /// Default deny, bundled roots, the system resolver.
    pub fn new(policy: TargetPolicy) -> Self {
        Outbound {
            policy,
            tls: TlsConfig::builder()
                .provider(TlsProvider::NativeTls)
                .root_certs(RootCerts::WebPki)
                .build(),
            lookup: Arc::new(SystemLookup),
        }
    }

    /// From `[verifier] allow_loopback` and `ca_file`.
    pub fn from_settings(v: &VerifierSettings) -> Result<Self, OutboundError> {
        let out = Outbound::new(TargetPolicy {
            allow_loopback: v.allow_loopback,
        });
        match &v.ca_file {
            Some(path) => out.with_ca_file(path),
            None => Ok(out),
        }
    }

    /// Also trusts the certificates of a PEM file (on top of the bundled
    /// Mozilla roots).
    pub fn with_ca_file(mut self, path: &Path) -> Result<Self, OutboundError> {
        let pem = std::fs::read(path).map_err(|source| OutboundError::CaFileRead {
            path: path.to_owned(),
            source,
        })?;
        let mut extra: Vec<Certificate<'static>> = Vec::new();
        for item in ureq::tls::parse_pem(&pem) {
            let item = item.map_err(|_| OutboundError::CaFileInvalid {
                path: path.to_owned(),
            })?;
            // A private key in the file is no trust anchor: skipped.
            if let PemItem::Certificate(c) = item {
                extra.push(c);
            }
        }
        if extra.is_empty() {
            return Err(OutboundError::CaFileEmpty {
                path: path.to_owned(),
            });
        }
        let roots = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()))
            .chain(extra);
        self.tls = TlsConfig::builder()
            .provider(TlsProvider::NativeTls)
            .root_certs(roots.into())
            .build();
        Ok(self)
    }

    /// Resolves names with `lookup` instead of the system resolver.
    pub fn with_lookup(mut self, lookup: Arc<dyn Lookup>) -> Self {
        self.lookup = lookup;
        self
    }

    pub fn policy(&self) -> TargetPolicy {
        self.policy
    }

    /// The TLS configuration (roots) of outbound calls.
    pub fn tls_config(&self) -> TlsConfig {
        self.tls.clone()
    }

    /// An agent for outbound calls: no redirects, no proxy, `timeout` for
    /// the whole call, only checked addresses (but those of
    /// `exempt_origin`).
    pub fn agent(&self, timeout: Duration, exempt_origin: Option<&str>) -> ureq::Agent {
        self.agent_with(timeout, exempt_origin, DefaultConnector::new())
    }

    fn agent_with(
        &self,
        timeout: Duration,
        exempt_origin: Option<&str>,
        connector: impl Connector,
    ) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .max_redirects(0)
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            // A proxy would resolve the name itself, past our checks.
            .proxy(None)
            .tls_config(self.tls.clone())
            .build();
        let resolver = CheckedResolver {
            policy: self.policy,
            lookup: self.lookup.clone(),
            exempt_origin: exempt_origin.map(str::to_owned),
        };
        ureq::Agent::with_parts(config, connector, resolver)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_forbidden_range_is_named() {
        // First and last address of each range (and a few inside).
        let table: &[(&str, ForbiddenRange)] = &[
            ("0.0.0.0", F::Unspecified),
            ("0.0.0.1", F::ThisNetwork),
            ("0.255.255.255", F::ThisNetwork),
            ("10.0.0.0", F::Private),
            ("10.255.255.255", F::Private),
            ("172.16.0.0", F::Private),
            ("172.31.255.255", F::Private),
            ("192.168.0.0", F::Private),
            ("192.168.255.255", F::Private),
            ("100.64.0.0", F::SharedAddressSpace),
            ("100.127.255.255", F::SharedAddressSpace),
            ("127.0.0.1", F::Loopback),
            ("127.255.255.255", F::Loopback),
            ("169.254.0.0", F::LinkLocal),
            ("169.254.169.254", F::LinkLocal),
            ("192.0.0.0", F::ProtocolAssignments),
            ("192.0.0.255", F::ProtocolAssignments),
            ("192.0.2.0", F::Documentation),
            ("192.0.2.255", F::Documentation),
            ("198.51.100.7", F::Documentation),
            ("203.0.113.255", F::Documentation),
            ("192.88.99.1", F::SixToFourRelay),
            ("198.18.0.0", F::Benchmarking),
            ("198.19.255.255", F::Benchmarking),
            ("224.0.0.1", F::Multicast),
            ("239.255.255.255", F::Multicast),
            ("240.0.0.0", F::Reserved),
            ("255.255.255.254", F::Reserved),
            ("255.255.255.255", F::Broadcast),
            ("::", F::Unspecified),
            ("::1", F::Loopback),
            // IPv4-mapped and IPv4-compatible: by the embedded address.
            ("::ffff:127.0.0.1", F::Loopback),
            ("::ffff:10.1.2.3", F::Private),
            ("::ffff:169.254.169.254", F::LinkLocal),
            ("::127.0.0.1", F::Loopback),
            ("::192.168.0.1", F::Private),
            ("64:ff9b::", F::Nat64),
            ("64:ff9b::7f00:1", F::Nat64),
            ("64:ff9b::808:808", F::Nat64),
            ("64:ff9b:1::", F::Nat64),
            ("64:ff9b:1:ffff:ffff:ffff:ffff:ffff", F::Nat64),
            ("100::", F::DiscardOnly),
            ("100::ffff:ffff:ffff:ffff", F::DiscardOnly),
            ("2001::", F::Teredo),
            ("2001:0:ffff:ffff:ffff:ffff:ffff:ffff", F::Teredo),
            ("2001:1::1", F::ProtocolAssignments),
            ("2001:2::1", F::ProtocolAssignments),
            ("2001:1ff:ffff::", F::ProtocolAssignments),
            ("2001:db8::", F::Documentation),
            ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", F::Documentation),
            ("3fff::1", F::Documentation),
            ("3fff:fff::", F::Documentation),
            ("2002::", F::SixToFour),
            ("2002:7f00:1::", F::SixToFour),
            ("2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff", F::SixToFour),
            ("fc00::", F::UniqueLocal),
            ("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", F::UniqueLocal),
            ("fe80::", F::LinkLocal),
            ("febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff", F::LinkLocal),
            ("fec0::", F::SiteLocal),
            ("feff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", F::SiteLocal),
            ("ff02::1", F::Multicast),
            ("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", F::Multicast),
            ("::ffff:0:808:808", F::NotGlobalUnicast),
            ("4000::1", F::NotGlobalUnicast),
            ("5f00::1", F::NotGlobalUnicast),
            ("64:ff9b:2::1", F::NotGlobalUnicast),
        ];
        for (addr, range) in table {
            assert_eq!(forbidden_range(ip(addr)), Some(*range), "{addr}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.255",
            "192.0.3.0",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "2a00:1450:4001::1",
            "2001:200::1",
            "2001:db7:ffff::1",
            "2001:db9::1",
            "2003::1",
            "3ffe:ffff::1",
            "3fff:1000::1",
        ] {
            assert_eq!(forbidden_range(ip(public)), None, "{public}");
        }
    }

    #[test]
    fn loopback_is_allowed_only_by_policy() {
        let dev = TargetPolicy {
            allow_loopback: true,
        };
        assert_eq!(dev.refuses(ip("127.0.0.1")), None);
        assert_eq!(dev.refuses(ip("::1")), None);
        assert_eq!(dev.refuses(ip("10.0.0.1")), Some(F::Private));
        assert_eq!(dev.refuses(ip("169.254.169.254")), Some(F::LinkLocal));
        assert_eq!(
            TargetPolicy::default().refuses(ip("127.0.0.1")),
            Some(F::Loopback)
        );
    }

    #[test]
    fn urls_are_checked_before_any_lookup() {
        let deny = TargetPolicy::default();
        let dev = TargetPolicy {
            allow_loopback: true,
        };
        let err = |u: &str, p| check_url(u, p).err();
        assert_eq!(err("https://rp.example.ru/cb?x=1", deny), None);
        assert_eq!(err("https://8.8.8.8/cb", deny), None);
        assert_eq!(
            err("http://rp.example.ru/cb", deny),
            Some(TargetError::NotHttps)
        );
        assert_eq!(
            err("ftp://rp.example.ru/cb", deny),
            Some(TargetError::NotHttps)
        );
        assert_eq!(err("http://10.0.0.1/cb", dev), Some(TargetError::NotHttps));
        assert_eq!(
            err("https://user:pw@rp.example.ru/", deny),
            Some(TargetError::UserInfo)
        );
        assert_eq!(err("https://@rp.example.ru/", deny), None);
        assert_eq!(err("rp.example.ru/cb", deny), Some(TargetError::Malformed));
        assert_eq!(
            err("https://rp.exa\nmple.ru/", deny),
            Some(TargetError::Malformed)
        );
        for (url, range) in [
            ("https://10.0.0.1/", F::Private),
            ("https://127.0.0.1:8443/", F::Loopback),
            // WHATWG IPv4 forms a resolver would also accept.
            ("https://2130706433/", F::Loopback),
            ("https://0x7f.1/", F::Loopback),
            ("https://localhost/", F::Loopback),
            ("https://api.localhost./", F::Loopback),
            ("https://169.254.169.254/latest/meta-data", F::LinkLocal),
            ("https://[::1]/", F::Loopback),
            ("https://[::ffff:127.0.0.1]/", F::Loopback),
            ("https://[fe80::1]/", F::LinkLocal),
            ("https://[fd00::1]/", F::UniqueLocal),
            ("https://[64:ff9b::a9fe:a9fe]/", F::Nat64),
            ("https://[2002:a00:1::]/", F::SixToFour),
        ] {
            assert_eq!(
                err(url, deny),
                Some(TargetError::ForbiddenAddress(range)),
                "{url}"
            );
        }
        // Development: loopback, over http too; nothing else opens up.
        assert_eq!(err("http://localhost:3000/cb", dev), None);
        assert_eq!(err("http://127.0.0.1:3000/cb", dev), None);
        assert_eq!(err("https://[::1]:3000/cb", dev), None);
        assert_eq!(
            err("https://192.168.1.1/", dev),
            Some(TargetError::ForbiddenAddress(F::Private))
        );
    }

    /// Answers from a script: the n-th lookup gets the n-th answer (the
    /// last one repeats), and every lookup is counted.
    #[derive(Debug)]
    struct Scripted {
        answers: Vec<Vec<SocketAddr>>,
        calls: AtomicUsize,
    }

    impl Lookup for Scripted {
        fn lookup(&self, _: &str, _: u16) -> io::Result<Vec<SocketAddr>> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst);
            Ok(self.answers[n.min(self.answers.len() - 1)].clone())
        }
    }

    /// The first link of the connector chain: records the addresses it is
    /// asked to connect to and connects nowhere.
    #[derive(Debug, Default, Clone)]
    struct Recorder(Arc<Mutex<Vec<Vec<SocketAddr>>>>);

    impl Connector for Recorder {
        type Out = ();
        fn connect(
            &self,
            details: &ureq::unversioned::transport::ConnectionDetails,
            _: Option<()>,
        ) -> Result<Option<()>, ureq::Error> {
            self.0.lock().unwrap().push(details.addrs.to_vec());
            Err(ureq::Error::ConnectionFailed)
        }
    }

    fn scripted(answers: Vec<Vec<SocketAddr>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            answers,
            calls: AtomicUsize::new(0),
        })
    }

    #[test]
    fn connects_only_to_the_addresses_it_checked() {
        // A rebinding name: public when checked, 127.0.0.1 afterwards,
        // where a listener would take any connection that slipped through.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let inside = listener.local_addr().unwrap();
        let public: SocketAddr = "93.184.216.34:443".parse().unwrap();
        let lookup = scripted(vec![vec![public], vec![inside]]);
        let recorder = Recorder::default();
        let agent = Outbound::new(TargetPolicy::default())
            .with_lookup(lookup.clone())
            .agent_with(Duration::from_secs(5), None, recorder.clone());

        let first = agent.get("https://rebind.example/x").call();
        assert!(matches!(first, Err(ureq::Error::ConnectionFailed)));
        assert_eq!(lookup.calls.load(Ordering::SeqCst), 1, "resolved once");
        assert_eq!(*recorder.0.lock().unwrap(), vec![vec![public]]);

        // The next call sees the inward answer: refused before connecting.
        let second = agent.get("https://rebind.example/x").call().unwrap_err();
        assert_eq!(refused_range(&second), Some(F::Loopback));
        assert_eq!(recorder.0.lock().unwrap().len(), 1, "no second connect");
        assert!(listener.accept().is_err(), "nothing ever reached 127.0.0.1");
    }

    #[test]
    fn one_forbidden_address_refuses_the_whole_answer() {
        let lookup = scripted(vec![vec![
            "93.184.216.34:443".parse().unwrap(),
            "[64:ff9b::a00:1]:443".parse().unwrap(),
        ]]);
        let recorder = Recorder::default();
        let agent = Outbound::new(TargetPolicy::default())
            .with_lookup(lookup)
            .agent_with(Duration::from_secs(5), None, recorder.clone());
        let err = agent.get("https://mixed.example/").call().unwrap_err();
        assert_eq!(refused_range(&err), Some(F::Nat64));
        assert!(recorder.0.lock().unwrap().is_empty());
    }

    #[test]
    fn only_the_exempt_origin_skips_the_address_check() {
        let inside: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let recorder = Recorder::default();
        let agent = Outbound::new(TargetPolicy::default())
            .with_lookup(scripted(vec![vec![inside]]))
            .agent_with(
                Duration::from_secs(5),
                Some("http://id.local:8080"),
                recorder.clone(),
            );
        let own = agent.get("http://id.local:8080/status-lists/1").call();
        assert!(matches!(own, Err(ureq::Error::ConnectionFailed)));
        assert_eq!(*recorder.0.lock().unwrap(), vec![vec![inside]]);
        let other_port = agent.get("http://id.local:8081/").call().unwrap_err();
        assert_eq!(refused_range(&other_port), Some(F::Loopback));
    }

    #[test]
    fn ca_file_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, "not pem").unwrap();
        assert!(matches!(
            Outbound::new(TargetPolicy::default()).with_ca_file(&path),
            Err(OutboundError::CaFileEmpty { .. })
        ));
        assert!(matches!(
            Outbound::new(TargetPolicy::default()).with_ca_file(&dir.path().join("none.pem")),
            Err(OutboundError::CaFileRead { .. })
        ));
    }
}
