//! libpq's TLS settings on top of tokio-postgres: a store URL may carry
//! `sslmode=disable|prefer|require|verify-ca|verify-full` and
//! `sslrootcert=<PEM file>` (or `system`), with libpq's meaning.
//! tokio-postgres only knows `disable`, `prefer` and `require` (all without
//! any certificate check) and rejects other parameters, so both are taken
//! out of the URL before it is parsed and turned into an OpenSSL connector
//! (`postgres-openssl`) here.
//!
//! | `sslmode` | encrypted | chain checked | host name checked |
//! | --- | --- | --- | --- |
//! | `disable` | no | – | – |
//! | `prefer` (default) | if the server offers it | only when `sslrootcert` is a file | no |
//! | `require` | yes | only when `sslrootcert` is a file (as libpq) | no |
//! | `verify-ca` | yes | yes | no |
//! | `verify-full` | yes | yes | yes |
//!
//! The chain is checked against the certificates of `sslrootcert`, or the
//! system's roots when it is absent or `system` (with `system`, libpq
//! accepts only `verify-full`, and so does this).

use std::path::{Path, PathBuf};

use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::X509;
use openssl::x509::store::X509StoreBuilder;
use postgres_openssl::MakeTlsConnector;

use super::setup::ConnectError;

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, ConnectError> {
        Ok(match value {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => return Err(ConnectError::SslMode),
        })
    }

    /// What tokio-postgres is told: whether TLS is tried or insisted on.
    fn negotiation(self) -> tokio_postgres::config::SslMode {
        match self {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        }
    }
}

/// Where the trusted certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// The system's roots (OpenSSL's default paths).
    System,
    /// Only the certificates of this PEM file.
    File(PathBuf),
}

/// The TLS part of a store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    pub mode: SslMode,
    /// `sslrootcert`, when given.
    pub root_cert: Option<RootCert>,
}

/// A store URL split into what tokio-postgres parses and the TLS settings.
#[derive(Debug)]
pub struct StoreUrl {
    pub config: tokio_postgres::Config,
    pub tls: TlsSettings,
}

impl StoreUrl {
    /// Parses a `postgres://` URL with libpq's `sslmode` and `sslrootcert`.
    /// Errors never quote the URL (it may hold a password).
    pub fn parse(url: &str) -> Result<Self, ConnectError> {
        let (rest, mode, root_cert) = take_tls_params(url)?;
        let mut config: tokio_postgres::Config = rest.parse().map_err(|e| {
            // tokio-postgres names the offending option, never its value.
            let why = std::error::Error::source(&e).map(|s| s.to_string());
            ConnectError::Url(why)
        })?;
        let mode = mode.unwrap_or(SslMode::Prefer);
        if root_cert == Some(RootCert::System) && mode != SslMode::VerifyFull {
            // libpq ≥ 16: trusting every public CA is only safe with the
            // host name checked.
            return Err(ConnectError::WeakSystemRoots);
        }
        config.ssl_mode(mode.negotiation());
        Ok(StoreUrl {
            config,
            tls: TlsSettings { mode, root_cert },
        })
    }
}

/// Removes `sslmode` and `sslrootcert` from the URL's query; returns the
/// rest and their (percent-decoded) values. The query starts at the first
/// `?` after the credentials, as tokio-postgres reads it.
fn take_tls_params(url: &str) -> Result<(String, Option<SslMode>, Option<RootCert>), ConnectError> {
    let after_credentials = url.find('@').map_or(0, |at| at + 1);
    let Some(q) = url[after_credentials..]
        .find('?')
        .map(|q| q + after_credentials)
    else {
        return Ok((url.to_owned(), None, None));
    };
    let (base, query) = (&url[..q], &url[q + 1..]);
    let (mut mode, mut root_cert) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8()
                .map(|v| v.into_owned())
                .map_err(|_| ConnectError::Url(None))
        };
        match decode(key)?.as_str() {
            "sslmode" => mode = Some(SslMode::parse(&decode(value)?)?),
            "sslrootcert" => {
                let value = decode(value)?;
                root_cert = Some(if value == "system" {
                    RootCert::System
                } else {
                    RootCert::File(PathBuf::from(value))
                });
            }
            _ => kept.push(pair),
        }
    }
    let rest = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((rest, mode, root_cert))
}

/// What the pool connects with.
pub enum Connector {
    /// `sslmode=disable`: no TLS library involved.
    Plain,
    Tls(MakeTlsConnector),
}

impl TlsSettings {
    /// The connector for these settings; reads the CA file now, so a
    /// missing or unreadable one is a start-up error.
    pub fn connector(&self) -> Result<Connector, ConnectError> {
        let (verify_chain, verify_host) = match self.mode {
            SslMode::Disable => return Ok(Connector::Plain),
            // libpq checks the chain whenever it is given a CA file.
            SslMode::Prefer | SslMode::Require => {
                (matches!(self.root_cert, Some(RootCert::File(_))), false)
            }
            SslMode::VerifyCa => (true, false),
            SslMode::VerifyFull => (true, true),
        };
        let tls = |e: openssl::error::ErrorStack| ConnectError::TlsSetup(e.to_string());
        let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(tls)?;
        if verify_chain {
            if let Some(RootCert::File(path)) = &self.root_cert {
                // Only this file's certificates: the system's roots are
                // replaced, as libpq does.
                let mut store = X509StoreBuilder::new().map_err(tls)?;
                for cert in read_certificates(path)? {
                    store.add_cert(cert).map_err(tls)?;
                }
                builder.set_cert_store(store.build());
            }
            builder.set_verify(SslVerifyMode::PEER);
        } else {
            builder.set_verify(SslVerifyMode::NONE);
        }
        let mut connector = MakeTlsConnector::new(builder.build());
        connector.set_callback(move |config, _domain| {
            config.set_verify_hostname(verify_host);
            Ok(())
        });
        Ok(Connector::Tls(connector))
    }
}

/// The PEM certificates of a CA file; none is an error.
fn read_certificates(path: &Path) -> Result<Vec<X509>, ConnectError> {
    let ca_error = |reason: String| ConnectError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
    let certs = X509::stack_from_pem(&pem)
        .map_err(|_| ca_error("it is not a PEM certificate file".into()))?;
    if certs.is_empty() {
        return Err(ca_error("it holds no PEM certificate".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> StoreUrl {
        StoreUrl::parse(url).unwrap()
    }

    #[test]
    fn libpq_modes_map_onto_tokio_postgres() {
        use tokio_postgres::config::SslMode as Tp;
        for (mode, ours, theirs) in [
            ("disable", SslMode::Disable, Tp::Disable),
            ("prefer", SslMode::Prefer, Tp::Prefer),
            ("require", SslMode::Require, Tp::Require),
            ("verify-ca", SslMode::VerifyCa, Tp::Require),
            ("verify-full", SslMode::VerifyFull, Tp::Require),
        ] {
            let u = parse(&format!("postgres://u@h/db?sslmode={mode}"));
            assert_eq!(u.tls.mode, ours);
            assert_eq!(u.config.get_ssl_mode(), theirs);
        }
        // libpq's default.
        let u = parse("postgres://u@h/db");
        assert_eq!(u.tls.mode, SslMode::Prefer);
        assert_eq!(u.config.get_ssl_mode(), Tp::Prefer);
    }

    #[test]
    fn tls_parameters_are_taken_out_and_the_rest_kept() {
        let u = parse(
            "postgresql://u:p%3Fw@h:5433/db?application_name=n&sslmode=verify-full\
             &sslrootcert=%2Ftmp%2Fca%20x.pem&options=-c%20search_path%3Ds",
        );
        assert_eq!(u.tls.mode, SslMode::VerifyFull);
        assert_eq!(
            u.tls.root_cert,
            Some(RootCert::File("/tmp/ca x.pem".into()))
        );
        assert_eq!(u.config.get_application_name(), Some("n"));
        assert_eq!(u.config.get_options(), Some("-c search_path=s"));
        assert_eq!(u.config.get_password(), Some(&b"p?w"[..]));
        assert_eq!(u.config.get_ports(), [5433]);
        // A `?` inside the credentials does not start the query.
        let u = parse("postgres://u:a?b@h/db?sslmode=disable");
        assert_eq!(u.config.get_password(), Some(&b"a?b"[..]));
        assert_eq!(u.tls.mode, SslMode::Disable);
        assert_eq!(
            parse("postgres://u@h/db?sslrootcert=system&sslmode=verify-full")
                .tls
                .root_cert,
            Some(RootCert::System)
        );
    }

    #[test]
    fn bad_values_are_clear_errors_without_the_url() {
        let secret = "s3cr3t-pw";
        for (url, needle) in [
            (
                format!("postgres://u:{secret}@h/db?sslmode=allow"),
                "sslmode",
            ),
            (
                format!("postgres://u:{secret}@h/db?sslmode=verify-ca&sslrootcert=system"),
                "verify-full",
            ),
            (format!("postgres://u:{secret}@h/db?sslcert=x"), "sslcert"),
            (format!("postgres://u:{secret}@h:port/db"), "port"),
        ] {
            let e = StoreUrl::parse(&url).unwrap_err().to_string();
            assert!(e.contains(needle), "{e:?} should name {needle:?}");
            assert!(!e.contains(secret) && !e.contains("postgres://"), "{e}");
        }
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let tls = |path: &Path| TlsSettings {
            mode: SslMode::VerifyFull,
            root_cert: Some(RootCert::File(path.to_owned())),
        };
        let missing = dir.path().join("missing.pem");
        let e = tls(&missing).connector().err().unwrap().to_string();
        assert!(e.contains("missing.pem"), "{e}");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a certificate\n").unwrap();
        let e = tls(&garbage).connector().err().unwrap().to_string();
        assert!(
            e.contains("garbage.pem") && e.contains("no PEM certificate"),
            "{e}"
        );
        // `require` with a CA file checks the chain, as libpq does; without
        // one nothing is read.
        let require = |root_cert| TlsSettings {
            mode: SslMode::Require,
            root_cert,
        };
        assert!(require(Some(RootCert::File(missing))).connector().is_err());
        assert!(require(None).connector().is_ok());
    }
}
