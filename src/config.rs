//! Configuration: defaults → TOML file → `VC_*` environment → flags, then one
//! validation step producing [`Settings`], the checked value `AppState`
//! holds. A bad setting is one clear line and a non-zero exit.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use clap::Args;
use serde::Deserialize;

mod auth;
pub use auth::{
    AuthChoice, AuthConfigError, AuthFile, CALLBACK_PATH, ClientAuth, OidcSettings, SubjectMatch,
};

/// `digital-id serve` flags; each has a `VC_*` environment twin.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "VC_BIND")]
    pub bind: Option<SocketAddr>,
    /// Public base URL; the issuer identifier byte for byte [default: http:// + bind].
    #[arg(long, env = "VC_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Directory for keys and the embedded store [default: ./data].
    #[arg(long, env = "VC_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `redb` (embedded, in the data directory) or a `postgres://` URL [default: redb].
    #[arg(long, env = "VC_STORE")]
    pub store: Option<String>,
    /// Directory of registry JSON files: (re)seeds the demo registry in the store
    /// [default: the stored registry; seeded from examples/registry when empty].
    #[arg(long, env = "VC_REGISTRY")]
    pub registry: Option<PathBuf>,
    /// Back-office API key [default: generated on first start into the data directory].
    #[arg(long, env = "VC_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Optional TOML configuration file.
    #[arg(long, env = "VC_CONFIG")]
    pub config: Option<PathBuf>,
    /// `default` or `haip` (HAIP 1.0: ES256 only, x509_hash, encrypted responses).
    #[arg(long, env = "VC_PROFILE")]
    pub profile: Option<Profile>,
    /// Demo mode: the pick-your-record login, the `/demo/*` pages and the
    /// generated demo CA of the verifier. Never in production.
    #[arg(long, env = "VC_DEMO", value_parser = clap::builder::BoolishValueParser::new())]
    pub demo: bool,
}

/// Interoperability profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    #[default]
    Default,
    Haip,
}

/// The TOML file: the same top-level settings plus the tunables.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub bind: Option<SocketAddr>,
    pub public_url: Option<String>,
    pub data_dir: Option<PathBuf>,
    /// `store = "redb"` / `store = "postgres://…"`, or a `[store]` table
    /// with the URL and the store's tunables.
    pub store: Option<StoreFile>,
    pub registry: Option<PathBuf>,
    pub api_key: Option<String>,
    pub profile: Option<Profile>,
    /// Demo mode (as `--demo`; either turns it on).
    pub demo: Option<bool>,
    /// The registered wallet clients of the authorization-code flow.
    #[serde(default)]
    pub clients: Vec<WalletClient>,
    /// Citizen sign-in (DESIGN.md "Citizen sign-in").
    #[serde(default)]
    pub auth: AuthFile,
    #[serde(default)]
    pub issuer: IssuerSettings,
    #[serde(default)]
    pub verifier: VerifierSettings,
    #[serde(default)]
    pub limits: LimitSettings,
    /// `[attestation]`: the wallet providers whose wallet and key
    /// attestations are trusted.
    #[serde(default)]
    pub attestation: AttestationSettings,
    /// `[key_attestation."<credential configuration id>"]`: the key
    /// attestation a proof for that configuration must carry.
    #[serde(default)]
    pub key_attestation: BTreeMap<String, KeyAttestationPolicy>,
}

/// `[attestation]` (DESIGN.md "Wallet clients", "Device-bound keys").
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct AttestationSettings {
    /// PEM files of the wallet providers' CA certificates (several per
    /// file; relative to the configuration file's directory). A wallet
    /// attestation (OAuth attestation-based client authentication) or key
    /// attestation (OpenID4VCI 1.0 Appendix D) is trusted when its `x5c`
    /// chains to one of them.
    pub wallet_provider_roots: Vec<PathBuf>,
    /// Whether a wallet attestation's proof of possession must carry a
    /// challenge of this server (`POST /challenge`), which proves it fresh
    /// beyond its `iat` window and `jti`. Off by default: wallets that
    /// never fetch a challenge (HAIP 1.0 does not ask them to) keep
    /// working; a challenge a PoP carries is checked either way.
    pub challenge_required: bool,
}

/// `[key_attestation."<credential configuration id>"]`: the attack
/// potential resistance levels (OpenID4VCI 1.0 Appendix D.2, e.g.
/// `iso_18045_high`) a key attestation must assert for a proof of that
/// configuration to be accepted; advertised as the proof types'
/// `key_attestations_required`. An empty list accepts any level.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct KeyAttestationPolicy {
    /// Accepted `key_storage` values: the attestation must assert one.
    pub key_storage: Vec<String>,
    /// Accepted `user_authentication` values: the attestation must assert one.
    pub user_authentication: Vec<String>,
}

/// A registered wallet client (`[[clients]]`): the only clients the
/// authorization endpoint serves, and only at these redirect URIs (exact
/// match, RFC 6749 §3.1.2.2).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct WalletClient {
    pub client_id: String,
    /// Shown on the consent page.
    pub name: String,
    pub redirect_uris: Vec<String>,
}

/// The wallet client demo mode registers when no `[[clients]]` are
/// configured: the wallet of the examples and tests.
pub const DEMO_CLIENT_ID: &str = "wallet-client-1";
/// The redirect URI of [`DEMO_CLIENT_ID`].
pub const DEMO_REDIRECT_URI: &str = "https://wallet.example/cb";

fn demo_clients() -> Vec<WalletClient> {
    vec![WalletClient {
        client_id: DEMO_CLIENT_ID.to_owned(),
        name: "Демо-кошелёк / Demo wallet".to_owned(),
        redirect_uris: vec![DEMO_REDIRECT_URI.to_owned()],
    }]
}

/// How citizens sign in to the authorization-code flow. The one place that
/// decides it is [`SignIn::from_settings`]; without a sign-in the flow is
/// neither advertised nor served (only the pre-authorized code grant is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignIn {
    /// Demo mode: the citizen picks their registry record.
    Demo,
    /// `[auth] provider = "oidc"`: the citizen signs in at the upstream
    /// OpenID Provider ([`Settings::oidc`]).
    Oidc,
}

impl SignIn {
    /// The sign-in the settings call for, if any: `[auth]` when set, else
    /// the demo login in demo mode.
    pub fn from_settings(demo: bool, auth: &auth::AuthChoice) -> Option<SignIn> {
        match auth {
            auth::AuthChoice::Oidc(_) => Some(SignIn::Oidc),
            auth::AuthChoice::Demo => Some(SignIn::Demo),
            auth::AuthChoice::None => demo.then_some(SignIn::Demo),
        }
    }
}

/// Issuer tunables (seconds unless named otherwise).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct IssuerSettings {
    /// Lifetime of a credential offer and its pre-authorized code.
    pub offer_ttl: i64,
    /// Wrong `tx_code` tries that burn a pre-authorized code.
    pub tx_code_attempts: u32,
    pub access_token_ttl: i64,
    pub c_nonce_ttl: i64,
    pub authorization_code_ttl: i64,
    /// Key proofs (so credentials) per Credential Request at most: 1 turns
    /// batch issuance off; 2 to 100 is advertised as
    /// `batch_credential_issuance.batch_size` (OpenID4VCI 1.0 §12.2.4).
    pub batch_size: usize,
    /// Credential lifetime in days (never past the document's own expiry).
    pub credential_days: i64,
    /// Entries per status list.
    pub status_list_size: usize,
    /// `ttl` of a status list token.
    pub status_list_ttl: i64,
}

impl Default for IssuerSettings {
    fn default() -> Self {
        IssuerSettings {
            offer_ttl: 600,
            tx_code_attempts: 5,
            access_token_ttl: 600,
            c_nonce_ttl: 300,
            authorization_code_ttl: 60,
            batch_size: 10,
            credential_days: 365,
            status_list_size: 1 << 17,
            status_list_ttl: 300,
        }
    }
}

/// Verifier tunables (seconds).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct VerifierSettings {
    /// Lifetime of a request (QR / `request_uri`) from its creation.
    pub request_ttl: i64,
    /// Time the wallet has to answer once it fetched the request.
    pub response_window: i64,
    /// How long results are kept before they are deleted.
    pub retention: i64,
    /// Lifetime of a holder-shown QR nonce.
    pub presentation_nonce_ttl: i64,
    /// `x509_hash` or `decentralized_identifier`.
    pub client_id_prefix: String,
    /// Issuers trusted besides ourselves: `https://…` (jwt-vc-issuer
    /// metadata) or `jwks:https://…` (a JWKS URL).
    pub trusted_issuers: Vec<String>,
    /// Outbound calls (issuer metadata, JWKS, status lists, result
    /// callbacks) may reach loopback addresses, over http too: development
    /// and tests only. Every other private or reserved range stays refused.
    pub allow_loopback: bool,
    /// A PEM file of CA certificates trusted for outbound TLS besides the
    /// bundled Mozilla roots.
    pub ca_file: Option<PathBuf>,
    /// The redirect URIs the built-in relying party `default` (the
    /// operator's key) may name in a same-device request (`redirect_uri`
    /// of `POST /verifier/requests`, exact match; OpenID4VP 1.0 §8.2):
    /// absolute https (http only for localhost) or app URIs, no fragment,
    /// at most 2048 characters. Empty by default: no same-device requests.
    pub redirect_uris: Vec<String>,
    /// `request_uri_method` advertised in the `openid4vp://` link of the
    /// `default` party's requests unless a request says otherwise: `get`
    /// (default; not written) or `post` (OpenID4VP 1.0 §5.10).
    pub request_uri_method: crate::verifier::transaction::RequestUriMethod,
    /// The deployment's name as the demo relying-party page shows it,
    /// `{ ru = "…", en = "…" }` [default: the public URL's host].
    pub display_name: Option<DisplayName>,
    /// `[verifier.trust]`: issuers trusted by certificate.
    pub trust: VerifierTrust,
}

/// `[verifier.trust]`: trust anchors for SD-JWT VCs whose issuer-signed JWT
/// carries `x5c` (DESIGN.md "Issuers the verifier trusts").
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct VerifierTrust {
    /// PEM files of CA certificates (several per file); a relative path is
    /// relative to the configuration file's directory. Loaded at start: a
    /// missing file, one without a certificate or with a certificate that
    /// is not a CA stops the server.
    pub anchors: Vec<PathBuf>,
}

/// A name in Russian and English (the relying parties' type).
pub use crate::parties::DisplayName;

/// Longest redirect URI of a same-device request.
pub const MAX_REDIRECT_URI: usize = 2048;

impl Default for VerifierSettings {
    fn default() -> Self {
        VerifierSettings {
            request_ttl: 30,
            response_window: 120,
            retention: 600,
            presentation_nonce_ttl: 30,
            client_id_prefix: "x509_hash".into(),
            trusted_issuers: Vec::new(),
            allow_loopback: false,
            ca_file: None,
            redirect_uris: Vec::new(),
            request_uri_method: Default::default(),
            display_name: None,
            trust: VerifierTrust::default(),
        }
    }
}

/// Rate limits of the public endpoints that create state (see
/// `http::limits`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Requests per second per client address (an IPv6 client is its /64).
    pub per_client_rate: f64,
    pub per_client_burst: f64,
    /// Requests per second from everybody together.
    pub global_rate: f64,
    pub global_burst: f64,
    /// Load balancers and reverse proxies in front of the server. Only when
    /// the TCP peer is one of them is the client taken from
    /// `X-Forwarded-For` (the right-most address that is not itself a
    /// trusted proxy); otherwise that header is ignored. Empty by default.
    pub trusted_proxies: Vec<IpPrefix>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        LimitSettings {
            per_client_rate: 10.0,
            per_client_burst: 50.0,
            global_rate: 1000.0,
            global_burst: 2000.0,
            trusted_proxies: Vec::new(),
        }
    }
}

/// An IP address (`127.0.0.1`, `::1`) or a CIDR prefix (`10.0.0.0/8`,
/// `2001:db8::/32`). An IPv4-mapped IPv6 address (`::ffff:10.1.2.3`) is
/// the IPv4 address it maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct IpPrefix {
    addr: IpAddr,
    len: u8,
}

/// Why a `trusted_proxies` entry is not an [`IpPrefix`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpPrefixError {
    #[error("{0:?} is not an IP address or a CIDR prefix")]
    NotAnAddress(String),
    #[error("{0:?}: the prefix length is longer than the address")]
    PrefixTooLong(String),
    #[error("{0:?}: bits are set after the prefix (write the network address)")]
    HostBitsSet(String),
}

impl IpPrefix {
    /// Whether `ip` lies inside this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask(u128::from(ip.to_bits()), self.len, 32) == u128::from(net.to_bits())
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => mask(ip.to_bits(), self.len, 128) == net.to_bits(),
            (IpAddr::V4(_), IpAddr::V6(_)) | (IpAddr::V6(_), IpAddr::V4(_)) => false,
        }
    }
}

/// `bits` (an address `width` bits wide) with all but the first `len` bits cleared.
fn mask(bits: u128, len: u8, width: u8) -> u128 {
    let host = u32::from(width - len.min(width));
    bits & !(u128::MAX.checked_shr(128 - host).unwrap_or(0))
}

impl std::str::FromStr for IpPrefix {
    type Err = IpPrefixError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, len) = match s.split_once('/') {
            Some((addr, len)) => (addr, Some(len)),
            None => (s, None),
        };
        let addr = addr
            .parse::<IpAddr>()
            .map_err(|_| IpPrefixError::NotAnAddress(s.to_owned()))?
            .to_canonical();
        let width = if addr.is_ipv4() { 32 } else { 128 };
        let len = match len {
            None => width,
            Some(len) if !len.is_empty() && len.bytes().all(|b| b.is_ascii_digit()) => len
                .parse::<u8>()
                .map_err(|_| IpPrefixError::PrefixTooLong(s.to_owned()))?,
            Some(_) => return Err(IpPrefixError::NotAnAddress(s.to_owned())),
        };
        if len > width {
            return Err(IpPrefixError::PrefixTooLong(s.to_owned()));
        }
        let prefix = IpPrefix { addr, len };
        if !prefix.contains(addr) {
            return Err(IpPrefixError::HostBitsSet(s.to_owned()));
        }
        Ok(prefix)
    }
}

impl TryFrom<String> for IpPrefix {
    type Error = IpPrefixError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Where data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// The embedded redb file `<data_dir>/store.redb` (with its write-ahead
    /// log `store.redb-wal`).
    Redb,
    /// A PostgreSQL connection URL.
    Postgres(String),
}

/// The TOML `store` key: the URL alone, or the `[store]` table.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum StoreFile {
    Url(String),
    Table(StoreTable),
}

/// `[store]`: where data lives and how much memory and how many
/// connections the store may use.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StoreTable {
    /// `redb` or a `postgres://` URL (as `--store`, which wins over it).
    pub url: Option<String>,
    /// See [`StoreTuning::redb_cache_mib`].
    pub redb_cache_mib: Option<u64>,
    /// See [`StoreTuning::postgres_connections`].
    pub postgres_connections: Option<usize>,
}

/// The store's tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreTuning {
    /// redb's page cache in MiB: the bound on what the embedded store keeps
    /// in memory beyond the pages the kernel caches for the file. redb's own
    /// default (1 GiB) lets the server's RSS grow with the data.
    pub redb_cache_mib: u64,
    /// Connections of the PostgreSQL pool (per node).
    pub postgres_connections: usize,
}

impl Default for StoreTuning {
    fn default() -> Self {
        StoreTuning {
            redb_cache_mib: crate::store::redb::DEFAULT_CACHE_BYTES >> 20,
            postgres_connections: 8,
        }
    }
}

/// A secret whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(…)")
    }
}

/// The issuer identifier: an http(s) URL, used byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    url: String,
    /// `scheme://host[:port]`.
    origin_end: usize,
}

impl PublicUrl {
    /// Parses and checks a public URL: `https` (or `http` for localhost /
    /// 127.0.0.1 / \[::1\] during development), a host, an optional path, no
    /// query, fragment, user info or trailing slash.
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let bad = |why: &'static str| ConfigError::PublicUrl {
            url: url.to_owned(),
            why,
        };
        let (scheme, rest) = url.split_once("://").ok_or(bad("it has no scheme"))?;
        if url.contains(['?', '#']) || url.chars().any(char::is_whitespace) {
            return Err(bad("it may not have a query, a fragment or white space"));
        }
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() || authority.contains('@') {
            return Err(bad("it needs a host and no user info"));
        }
        let host = match authority.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or_default(),
            None => authority.rsplit_once(':').map_or(authority, |(h, port)| {
                if port.parse::<u16>().is_ok() {
                    h
                } else {
                    authority
                }
            }),
        };
        let local = matches!(host, "localhost" | "127.0.0.1" | "::1");
        match scheme {
            "https" => {}
            "http" if local => {}
            "http" => {
                return Err(bad(
                    "it must be https unless the host is localhost or 127.0.0.1",
                ));
            }
            _ => return Err(bad("the scheme must be https")),
        }
        if url.ends_with('/') {
            return Err(bad("it may not end with `/`"));
        }
        Ok(PublicUrl {
            url: url.to_owned(),
            origin_end: scheme.len() + 3 + authority.len(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `scheme://host[:port]`.
    pub fn origin(&self) -> &str {
        &self.url[..self.origin_end]
    }

    /// The host (with its port, if any): `id.example.ru`.
    pub fn host(&self) -> &str {
        let origin = self.origin();
        origin.split_once("://").map_or(origin, |(_, host)| host)
    }

    /// The path part (`""` or `/tenant`).
    pub fn path(&self) -> &str {
        &self.url[self.origin_end..]
    }

    /// A URL below this one: `join("/token")`.
    pub fn join(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The well-known URL for this identifier (RFC 8615 path insertion, as
    /// OpenID4VCI §12.2.2 and RFC 8414 §3 require):
    /// `https://h/t` + `openid-credential-issuer` → `https://h/.well-known/openid-credential-issuer/t`.
    pub fn well_known(&self, name: &str) -> String {
        format!("{}/.well-known/{name}{}", self.origin(), self.path())
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.url)
    }
}

/// A configuration problem, as one line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the configuration file {path} is invalid: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("the public URL {url:?} is not usable: {why}")]
    PublicUrl { url: String, why: &'static str },
    #[error("the store must be `redb` or a postgres:// URL")]
    Store,
    #[error("the setting {0} is out of range")]
    Range(&'static str),
    #[error("the wallet client {client_id:?} in [[clients]] is not usable: {why}")]
    Client {
        client_id: String,
        why: &'static str,
    },
    #[error(
        "the setting issuer.batch_size = {0} is out of range: 1 turns batch issuance off, 2 to {max} allows batches (OpenID4VCI 1.0 §12.2.4: an advertised batch_size is at least 2)",
        max = MAX_BATCH_SIZE
    )]
    BatchSize(usize),
    #[error("the setting verifier.redirect_uris has an unusable entry {uri:?}: {why}")]
    RedirectUri { uri: String, why: &'static str },
    #[error("the setting verifier.display_name needs ru and en of 1 to 100 characters each")]
    DisplayName,
    #[error(transparent)]
    Auth(#[from] AuthConfigError),
    #[error("[key_attestation.{id:?}] is not usable: {why}")]
    KeyAttestation { id: String, why: &'static str },
    #[error(
        "[key_attestation.{id:?}] requires key attestations, which can only come from trusted wallet providers: name their CA certificates in [attestation] wallet_provider_roots"
    )]
    KeyAttestationWithoutRoots { id: String },
}

/// Largest accepted `issuer.batch_size`.
pub const MAX_BATCH_SIZE: usize = 100;

/// The checked settings the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub public_url: PublicUrl,
    pub data_dir: PathBuf,
    pub store: StoreSpec,
    /// `[store]` tunables.
    pub store_tuning: StoreTuning,
    /// Seed the store's demo registry from this directory at start.
    pub registry: Option<PathBuf>,
    /// `None`: generated on first start into the data directory.
    pub api_key: Option<Secret>,
    pub profile: Profile,
    /// Demo mode (`--demo`, `VC_DEMO`, `demo = true`).
    pub demo: bool,
    /// Citizen sign-in of the authorization-code flow; `None`: that flow is
    /// off.
    pub sign_in: Option<SignIn>,
    /// The upstream OpenID Provider (`Some` exactly when `sign_in` is
    /// [`SignIn::Oidc`]).
    pub oidc: Option<OidcSettings>,
    /// Registered wallet clients (in demo mode without `[[clients]]`: the
    /// built-in demo client).
    pub clients: Vec<WalletClient>,
    pub issuer: IssuerSettings,
    pub verifier: VerifierSettings,
    pub limits: LimitSettings,
    pub attestation: AttestationSettings,
    /// Per credential configuration id (checked against the catalogue).
    pub key_attestation: BTreeMap<String, KeyAttestationPolicy>,
}

impl Settings {
    /// Layers defaults, the TOML file, environment and flags (clap has
    /// already merged the last two) and validates the result.
    pub fn load(args: &ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        Self::from_layers(args.clone(), file)
    }

    pub fn from_layers(args: ServeArgs, mut file: FileConfig) -> Result<Self, ConfigError> {
        // Paths of `[verifier.trust]` and `[attestation]` are relative to
        // the file that names them.
        if let Some(dir) = args.config.as_deref().and_then(Path::parent) {
            let roots = &mut file.attestation.wallet_provider_roots;
            for anchor in file.verifier.trust.anchors.iter_mut().chain(roots) {
                if anchor.is_relative() {
                    *anchor = dir.join(&*anchor);
                }
            }
        }
        let bind = args
            .bind
            .or(file.bind)
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080)));
        let public_url = args
            .public_url
            .or(file.public_url)
            .unwrap_or_else(|| format!("http://{bind}"));
        let (file_store, store_tuning) = match file.store {
            None => (None, StoreTuning::default()),
            Some(StoreFile::Url(url)) => (Some(url), StoreTuning::default()),
            Some(StoreFile::Table(t)) => {
                let d = StoreTuning::default();
                let tuning = StoreTuning {
                    redb_cache_mib: t.redb_cache_mib.unwrap_or(d.redb_cache_mib),
                    postgres_connections: t.postgres_connections.unwrap_or(d.postgres_connections),
                };
                (t.url, tuning)
            }
        };
        let store = match args.store.or(file_store).as_deref() {
            None | Some("redb") => StoreSpec::Redb,
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                StoreSpec::Postgres(url.to_owned())
            }
            Some(_) => return Err(ConfigError::Store),
        };
        let demo = args.demo || file.demo.unwrap_or(false);
        let clients = match file.clients.is_empty() && demo {
            true => demo_clients(),
            false => file.clients,
        };
        let public_url = PublicUrl::parse(&public_url)?;
        let auth = file.auth.check(demo, &public_url)?;
        let s = Settings {
            bind,
            public_url,
            data_dir: args
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./data")),
            store,
            store_tuning,
            registry: args.registry.or(file.registry),
            api_key: args.api_key.or(file.api_key).map(Secret),
            profile: args.profile.or(file.profile).unwrap_or_default(),
            demo,
            sign_in: SignIn::from_settings(demo, &auth),
            oidc: match auth {
                auth::AuthChoice::Oidc(s) => Some(*s),
                auth::AuthChoice::None | auth::AuthChoice::Demo => None,
            },
            clients,
            issuer: file.issuer,
            verifier: file.verifier,
            limits: file.limits,
            attestation: file.attestation,
            key_attestation: file.key_attestation,
        };
        s.check_ranges()?;
        s.check_key_attestation()?;
        s.check_clients()?;
        s.check_verifier_party()?;
        Ok(s)
    }

    /// The registered wallet client `client_id`, if any.
    pub fn client(&self, client_id: &str) -> Option<&WalletClient> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }

    fn check_clients(&self) -> Result<(), ConfigError> {
        use crate::issuer::authorize::{client_id_acceptable, redirect_uri_acceptable};
        for (i, c) in self.clients.iter().enumerate() {
            let bad = |why| ConfigError::Client {
                client_id: c.client_id.clone(),
                why,
            };
            if !client_id_acceptable(&c.client_id) {
                return Err(bad(
                    "client_id must be 1 to 255 printable ASCII characters (RFC 6749 Appendix A.1)",
                ));
            }
            if self.clients[..i].iter().any(|o| o.client_id == c.client_id) {
                return Err(bad("it is registered twice"));
            }
            if c.name.trim().is_empty() || c.name.chars().count() > 100 {
                return Err(bad("name must be 1 to 100 characters"));
            }
            if c.redirect_uris.is_empty() {
                return Err(bad("it needs at least one redirect URI"));
            }
            if !c.redirect_uris.iter().all(|u| redirect_uri_acceptable(u)) {
                return Err(bad(
                    "a redirect URI is not an absolute https, loopback http or app URI without fragment",
                ));
            }
        }
        Ok(())
    }

    /// The built-in party's same-device redirect URIs and display name.
    fn check_verifier_party(&self) -> Result<(), ConfigError> {
        let v = &self.verifier;
        for uri in &v.redirect_uris {
            let why = if uri.len() > MAX_REDIRECT_URI {
                Some("it is longer than 2048 characters")
            } else if !crate::issuer::authorize::redirect_uri_acceptable(uri) {
                Some("not an absolute https, loopback http or app URI without fragment")
            } else {
                None
            };
            if let Some(why) = why {
                return Err(ConfigError::RedirectUri {
                    uri: uri.clone(),
                    why,
                });
            }
        }
        let name_ok = |n: &str| !n.trim().is_empty() && n.chars().count() <= 100;
        match &v.display_name {
            Some(d) if !(name_ok(&d.ru) && name_ok(&d.en)) => Err(ConfigError::DisplayName),
            Some(_) | None => Ok(()),
        }
    }

    /// Every `[key_attestation."<id>"]` names a credential configuration
    /// of the catalogue, and its levels are short printable strings.
    fn check_key_attestation(&self) -> Result<(), ConfigError> {
        for (id, policy) in &self.key_attestation {
            let bad = |why| ConfigError::KeyAttestation {
                id: id.clone(),
                why,
            };
            if crate::catalogue::find(id).is_none() {
                return Err(bad("no credential configuration has this id"));
            }
            let level_ok = |l: &String| {
                !l.is_empty() && l.len() <= 64 && l.bytes().all(|b| b.is_ascii_graphic())
            };
            if !policy
                .key_storage
                .iter()
                .chain(&policy.user_authentication)
                .all(level_ok)
            {
                return Err(bad("a level must be 1 to 64 printable ASCII characters"));
            }
        }
        // A policy no attestation could ever meet would refuse every
        // request for its configuration: a mistake, said at start.
        let roots = &self.attestation.wallet_provider_roots;
        if let (Some(id), true) = (self.key_attestation.keys().next(), roots.is_empty()) {
            return Err(ConfigError::KeyAttestationWithoutRoots { id: id.clone() });
        }
        Ok(())
    }

    fn check_ranges(&self) -> Result<(), ConfigError> {
        let i = &self.issuer;
        let v = &self.verifier;
        if !(1..=MAX_BATCH_SIZE).contains(&i.batch_size) {
            return Err(ConfigError::BatchSize(i.batch_size));
        }
        let st = &self.store_tuning;
        let checks: [(bool, &'static str); 13] = [
            (
                (1..=1 << 20).contains(&st.redb_cache_mib),
                "store.redb_cache_mib",
            ),
            (
                (1..=1000).contains(&st.postgres_connections),
                "store.postgres_connections",
            ),
            (i.offer_ttl > 0, "issuer.offer_ttl"),
            (i.tx_code_attempts > 0, "issuer.tx_code_attempts"),
            (i.access_token_ttl > 0, "issuer.access_token_ttl"),
            (i.c_nonce_ttl > 0, "issuer.c_nonce_ttl"),
            // HAIP 1.0: authorization codes live at most 60 s.
            (
                i.authorization_code_ttl > 0
                    && (self.profile != Profile::Haip || i.authorization_code_ttl <= 60),
                "issuer.authorization_code_ttl",
            ),
            (
                i.status_list_size >= 1 << 17 && i.status_list_size % 4 == 0,
                "issuer.status_list_size",
            ),
            (
                v.request_ttl > 0 && v.response_window > 0,
                "verifier.request_ttl",
            ),
            (v.retention > 0, "verifier.retention"),
            (
                v.presentation_nonce_ttl > 0,
                "verifier.presentation_nonce_ttl",
            ),
            (
                matches!(
                    v.client_id_prefix.as_str(),
                    "x509_hash" | "decentralized_identifier"
                ),
                "verifier.client_id_prefix",
            ),
            // HAIP 1.0 §5: x509_hash client identifiers.
            (
                self.profile != Profile::Haip || v.client_id_prefix == "x509_hash",
                "verifier.client_id_prefix",
            ),
        ];
        let l = &self.limits;
        if !(l.per_client_rate > 0.0
            && l.per_client_burst >= 1.0
            && l.global_rate > 0.0
            && l.global_burst >= 1.0)
        {
            return Err(ConfigError::Range("limits"));
        }
        match checks.iter().find(|(ok, _)| !ok) {
            Some((_, name)) => Err(ConfigError::Range(name)),
            None => Ok(()),
        }
    }
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Toml {
        path: path.to_owned(),
        message: e.message().to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_url_rules() {
        for ok in [
            "https://id.example.ru",
            "https://id.example.ru/tenant",
            "http://127.0.0.1:8080",
            "http://localhost:3000",
            "http://[::1]:8080",
        ] {
            PublicUrl::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
        }
        for bad in [
            "http://id.example.ru",
            "ftp://x",
            "https://id.example.ru/",
            "https://a@b",
            "https://x?q=1",
            "https://x#f",
            "id.example.ru",
            "https://",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn well_known_inserts_before_the_path() {
        let u = PublicUrl::parse("https://id.example.ru/tenant/1").unwrap();
        assert_eq!(u.origin(), "https://id.example.ru");
        assert_eq!(
            u.well_known("openid-credential-issuer"),
            "https://id.example.ru/.well-known/openid-credential-issuer/tenant/1"
        );
        let root = PublicUrl::parse("https://id.example.ru").unwrap();
        assert_eq!(
            root.well_known("jwt-vc-issuer"),
            "https://id.example.ru/.well-known/jwt-vc-issuer"
        );
        assert_eq!(root.join("/token"), "https://id.example.ru/token");
    }

    #[test]
    fn layers_flags_over_file_over_defaults() {
        let file: FileConfig = toml::from_str(
            "bind = \"127.0.0.1:9000\"\nprofile = \"haip\"\n[verifier]\nretention = 60\n",
        )
        .unwrap();
        let args = ServeArgs {
            bind: Some("127.0.0.1:9100".parse().unwrap()),
            ..ServeArgs::default()
        };
        let s = Settings::from_layers(args, file).unwrap();
        assert_eq!(s.bind.port(), 9100);
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:9100");
        assert_eq!(s.profile, Profile::Haip);
        assert_eq!(s.verifier.retention, 60);
        assert_eq!(s.verifier.request_ttl, 30);
    }

    #[test]
    fn trust_anchors_are_relative_to_the_configuration_file() {
        let text = "[verifier.trust]\nanchors = [\"roots.pem\", \"/etc/pki/eu.pem\"]\n";
        let file: FileConfig = toml::from_str(text).unwrap();
        let args = ServeArgs {
            config: Some("/etc/digital-id/config.toml".into()),
            ..ServeArgs::default()
        };
        let s = Settings::from_layers(args, file).unwrap();
        assert_eq!(
            s.verifier.trust.anchors,
            [
                PathBuf::from("/etc/digital-id/roots.pem"),
                PathBuf::from("/etc/pki/eu.pem")
            ]
        );
        assert!(toml::from_str::<FileConfig>("[verifier.trust]\nroots = []\n").is_err());
        let none = Settings::from_layers(ServeArgs::default(), FileConfig::default()).unwrap();
        assert!(none.verifier.trust.anchors.is_empty());
    }

    #[test]
    fn store_is_a_url_or_a_table_with_its_tunables() {
        let load = |text: &str| {
            let file: FileConfig = toml::from_str(text).unwrap();
            Settings::from_layers(ServeArgs::default(), file)
        };
        let s = load("store = \"redb\"\n").unwrap();
        assert_eq!(s.store, StoreSpec::Redb);
        assert_eq!(s.store_tuning, StoreTuning::default());
        let s = load(
            "[store]\nurl = \"postgres://u@h/db\"\nredb_cache_mib = 8\npostgres_connections = 3\n",
        )
        .unwrap();
        assert_eq!(s.store, StoreSpec::Postgres("postgres://u@h/db".into()));
        assert_eq!(s.store_tuning.redb_cache_mib, 8);
        assert_eq!(s.store_tuning.postgres_connections, 3);
        // The table without a URL is the embedded store; the flag wins.
        let file: FileConfig = toml::from_str("[store]\nredb_cache_mib = 16\n").unwrap();
        let args = ServeArgs {
            store: Some("postgres://x@y/z".into()),
            ..ServeArgs::default()
        };
        let s = Settings::from_layers(args, file).unwrap();
        assert_eq!(s.store, StoreSpec::Postgres("postgres://x@y/z".into()));
        assert_eq!(s.store_tuning.redb_cache_mib, 16);
        for (text, name) in [
            ("[store]\nredb_cache_mib = 0\n", "store.redb_cache_mib"),
            (
                "[store]\npostgres_connections = 0\n",
                "store.postgres_connections",
            ),
        ] {
            assert!(
                matches!(load(text), Err(ConfigError::Range(n)) if n == name),
                "{text}"
            );
        }
        assert!(toml::from_str::<FileConfig>("[store]\ncache = 1\n").is_err());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<FileConfig>("bnd = \"x\"").is_err());
        assert!(toml::from_str::<FileConfig>("[issuer]\nbatch = 3").is_err());
        for (size, ok) in [(0, false), (1, true), (2, true), (100, true), (101, false)] {
            let file: FileConfig =
                toml::from_str(&format!("[issuer]\nbatch_size = {size}")).unwrap();
            let got = Settings::from_layers(ServeArgs::default(), file);
            match (ok, got) {
                (true, Ok(s)) => assert_eq!(s.issuer.batch_size, size),
                (false, Err(ConfigError::BatchSize(n))) => assert_eq!(n, size),
                (_, other) => panic!("batch_size {size}: {other:?}"),
            }
        }
        let args = ServeArgs {
            store: Some("mysql://x".into()),
            ..ServeArgs::default()
        };
        assert!(matches!(
            Settings::from_layers(args, FileConfig::default()),
            Err(ConfigError::Store)
        ));
    }

    /// HAIP 1.0: authorization codes live at most 60 s (the default).
    #[test]
    fn haip_authorization_codes_live_at_most_a_minute() {
        let cases = [
            ("", 60, true),
            ("profile = \"haip\"\n", 60, true),
            ("profile = \"haip\"\n", 61, false),
            ("", 600, true),
            ("", 0, false),
        ];
        for (profile, ttl, ok) in cases {
            let file: FileConfig = toml::from_str(&format!(
                "{profile}[issuer]\nauthorization_code_ttl = {ttl}"
            ))
            .unwrap();
            match (ok, Settings::from_layers(ServeArgs::default(), file)) {
                (true, Ok(s)) => assert_eq!(s.issuer.authorization_code_ttl, ttl),
                (false, Err(ConfigError::Range("issuer.authorization_code_ttl"))) => {}
                (_, other) => panic!("{profile:?} {ttl}: {other:?}"),
            }
        }
        let defaults = Settings::from_layers(ServeArgs::default(), FileConfig::default());
        assert_eq!(defaults.unwrap().issuer.authorization_code_ttl, 60);
    }

    #[test]
    fn trusted_proxies_are_addresses_or_prefixes() {
        let file: FileConfig = toml::from_str(
            "[limits]\ntrusted_proxies = [\"10.0.0.0/8\", \"127.0.0.1\", \"2001:db8::/32\"]\n",
        )
        .unwrap();
        let s = Settings::from_layers(ServeArgs::default(), file).unwrap();
        let [net, host, v6] = s.limits.trusted_proxies[..] else {
            panic!("three entries");
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert!(net.contains(ip("10.255.0.1")));
        assert!(net.contains(ip("::ffff:10.1.2.3")), "IPv4-mapped");
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(host.contains(ip("127.0.0.1")));
        assert!(!host.contains(ip("127.0.0.2")));
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(
            "0.0.0.0/0"
                .parse::<IpPrefix>()
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        assert!(
            "::/0"
                .parse::<IpPrefix>()
                .unwrap()
                .contains(ip("2001:db8::1"))
        );
    }

    #[test]
    fn bad_trusted_proxies_are_refused() {
        let err = |s: &str| s.parse::<IpPrefix>().unwrap_err();
        assert_eq!(
            err("proxy.local"),
            IpPrefixError::NotAnAddress("proxy.local".into())
        );
        assert_eq!(
            err("10.0.0.0/"),
            IpPrefixError::NotAnAddress("10.0.0.0/".into())
        );
        assert_eq!(
            err("10.0.0.0/+8"),
            IpPrefixError::NotAnAddress("10.0.0.0/+8".into())
        );
        assert_eq!(
            err("10.0.0.0/33"),
            IpPrefixError::PrefixTooLong("10.0.0.0/33".into())
        );
        assert_eq!(err("::/129"), IpPrefixError::PrefixTooLong("::/129".into()));
        assert_eq!(
            err("10.0.0.1/8"),
            IpPrefixError::HostBitsSet("10.0.0.1/8".into())
        );
        let file = toml::from_str::<FileConfig>("[limits]\ntrusted_proxies = [\"10.0.0.1/8\"]\n");
        assert!(
            file.unwrap_err()
                .message()
                .contains("bits are set after the prefix")
        );
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(…)");
    }

    #[test]
    fn demo_mode_registers_the_demo_client_unless_clients_are_configured() {
        let plain = Settings::from_layers(ServeArgs::default(), FileConfig::default()).unwrap();
        assert!(!plain.demo);
        assert_eq!(plain.sign_in, None);
        assert!(plain.clients.is_empty());
        let demo = ServeArgs {
            demo: true,
            ..ServeArgs::default()
        };
        let s = Settings::from_layers(demo.clone(), FileConfig::default()).unwrap();
        assert_eq!(s.sign_in, Some(SignIn::Demo));
        assert_eq!(
            s.client(DEMO_CLIENT_ID).unwrap().redirect_uris,
            [DEMO_REDIRECT_URI]
        );
        let file: FileConfig = toml::from_str(
            "demo = true\n[[clients]]\nclient_id = \"w\"\nname = \"W\"\nredirect_uris = [\"https://w.example/cb\"]\n",
        )
        .unwrap();
        let s = Settings::from_layers(ServeArgs::default(), file).unwrap();
        assert!(s.demo);
        assert!(s.client(DEMO_CLIENT_ID).is_none());
        assert_eq!(s.client("w").unwrap().name, "W");
    }

    #[test]
    fn verifier_party_settings() {
        let load = |text: &str| {
            let file: FileConfig = toml::from_str(text).unwrap();
            Settings::from_layers(ServeArgs::default(), file)
        };
        let s = load(
            "[verifier]\nredirect_uris = [\"https://rp.example/done\"]\nrequest_uri_method = \"post\"\ndisplay_name = { ru = \"Гостиница\", en = \"Hotel\" }\n",
        )
        .unwrap();
        assert_eq!(s.verifier.redirect_uris, ["https://rp.example/done"]);
        assert_eq!(
            s.verifier.request_uri_method,
            crate::verifier::transaction::RequestUriMethod::Post
        );
        assert_eq!(s.verifier.display_name.unwrap().ru, "Гостиница");
        let d = load("").unwrap().verifier;
        assert!(d.redirect_uris.is_empty() && d.display_name.is_none());
        assert!(d.request_uri_method.is_get());
        for bad in [
            "https://rp.example/done#x",
            "http://rp.example/done",
            "javascript:x",
        ] {
            let got = load(&format!("[verifier]\nredirect_uris = [{bad:?}]\n"));
            assert!(
                matches!(&got, Err(ConfigError::RedirectUri { uri, .. }) if uri == bad),
                "{bad}: {got:?}"
            );
        }
        let long = format!("https://rp.example/{}", "a".repeat(2048));
        let got = load(&format!("[verifier]\nredirect_uris = [{long:?}]\n"));
        assert!(matches!(got, Err(ConfigError::RedirectUri { .. })));
        let got = load("[verifier]\ndisplay_name = { ru = \" \", en = \"Hotel\" }\n");
        assert!(matches!(got, Err(ConfigError::DisplayName)), "{got:?}");
        assert!(
            toml::from_str::<FileConfig>("[verifier]\nrequest_uri_method = \"put\"\n").is_err()
        );
        assert!(
            toml::from_str::<FileConfig>("[verifier]\ndisplay_name = { ru = \"a\" }\n").is_err()
        );
    }

    #[test]
    fn bad_clients_are_refused() {
        let client = |id: &str, name: &str, uris: &str| {
            format!("[[clients]]\nclient_id = {id:?}\nname = {name:?}\nredirect_uris = {uris}\n")
        };
        let ok = client("w", "W", "[\"https://w.example/cb\"]");
        for (toml_text, why) in [
            (
                client("w\n", "W", "[\"https://w.example/cb\"]"),
                "client_id must be",
            ),
            (
                client("w", " ", "[\"https://w.example/cb\"]"),
                "name must be",
            ),
            (client("w", "W", "[]"), "at least one redirect URI"),
            (
                client("w", "W", "[\"http://w.example/cb\"]"),
                "a redirect URI",
            ),
            (
                client("w", "W", "[\"https://w.example/cb#f\"]"),
                "a redirect URI",
            ),
            (format!("{ok}{ok}"), "registered twice"),
        ] {
            let file: FileConfig = toml::from_str(&toml_text).unwrap();
            match Settings::from_layers(ServeArgs::default(), file) {
                Err(e @ ConfigError::Client { .. }) => {
                    assert!(e.to_string().contains(why), "{toml_text}: {e}")
                }
                other => panic!("{toml_text}: {other:?}"),
            }
        }
        let unknown = toml::from_str::<FileConfig>(
            "[[clients]]\nclient_id = \"w\"\nname = \"W\"\nredirect_uris = []\nsecret = 1\n",
        )
        .unwrap_err();
        assert!(unknown.to_string().contains("secret"), "{unknown}");
    }

    #[test]
    fn key_attestation_policies_name_configurations_and_levels() {
        let text = "[attestation]\nwallet_provider_roots = [\"providers.pem\"]\n\
            [key_attestation.\"ru.passport\"]\n\
            key_storage = [\"iso_18045_high\"]\n\
            user_authentication = [\"iso_18045_high\", \"iso_18045_moderate\"]\n\
            [key_attestation.\"ru.snils\"]\n";
        let file: FileConfig = toml::from_str(text).unwrap();
        let args = ServeArgs {
            config: Some("/etc/digital-id/config.toml".into()),
            ..ServeArgs::default()
        };
        let s = Settings::from_layers(args, file).unwrap();
        assert_eq!(
            s.attestation.wallet_provider_roots,
            [PathBuf::from("/etc/digital-id/providers.pem")]
        );
        let passport = &s.key_attestation["ru.passport"];
        assert_eq!(passport.key_storage, ["iso_18045_high"]);
        assert_eq!(
            passport.user_authentication,
            ["iso_18045_high", "iso_18045_moderate"]
        );
        // A table without levels: an attestation of any level is required.
        assert_eq!(
            s.key_attestation["ru.snils"],
            KeyAttestationPolicy::default()
        );
        let none = Settings::from_layers(ServeArgs::default(), FileConfig::default()).unwrap();
        assert!(none.key_attestation.is_empty());
        assert!(none.attestation.wallet_provider_roots.is_empty());

        for (text, why) in [
            (
                "[key_attestation.\"ru.nothing\"]\nkey_storage = [\"iso_18045_high\"]\n",
                "no credential configuration has this id",
            ),
            (
                "[key_attestation.\"ru.passport\"]\nkey_storage = [\"\"]\n",
                "1 to 64 printable ASCII",
            ),
            (
                "[key_attestation.\"ru.passport\"]\nuser_authentication = [\"iso 18045\"]\n",
                "1 to 64 printable ASCII",
            ),
        ] {
            let file: FileConfig = toml::from_str(text).unwrap();
            match Settings::from_layers(ServeArgs::default(), file) {
                Err(e @ ConfigError::KeyAttestation { .. }) => {
                    assert!(e.to_string().contains(why), "{text}: {e}")
                }
                other => panic!("{text}: {other:?}"),
            }
        }
        // Unknown members are refused, as everywhere.
        assert!(
            toml::from_str::<FileConfig>("[key_attestation.\"ru.passport\"]\nstorage = []\n")
                .is_err()
        );
        assert!(toml::from_str::<FileConfig>("[attestation]\nroots = []\n").is_err());
    }

    /// A key attestation policy without a trusted wallet provider could
    /// never be met: the server refuses to start with it.
    #[test]
    fn a_key_attestation_policy_needs_wallet_provider_roots() {
        let text = "[key_attestation.\"ru.passport\"]\nkey_storage = [\"iso_18045_high\"]\n";
        let file: FileConfig = toml::from_str(text).unwrap();
        let e = Settings::from_layers(ServeArgs::default(), file).unwrap_err();
        assert!(
            matches!(&e, ConfigError::KeyAttestationWithoutRoots { id } if id == "ru.passport"),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "[key_attestation.\"ru.passport\"] requires key attestations, which can only come from trusted wallet providers: name their CA certificates in [attestation] wallet_provider_roots"
        );
        // With roots it loads.
        let text = format!("[attestation]\nwallet_provider_roots = [\"providers.pem\"]\n{text}");
        let file: FileConfig = toml::from_str(&text).unwrap();
        assert!(Settings::from_layers(ServeArgs::default(), file).is_ok());
    }
}
