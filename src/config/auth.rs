//! `[auth]`: how citizens sign in to the authorization-code flow
//! (DESIGN.md "Citizen sign-in"). Read from TOML, checked once into
//! [`OidcSettings`]; a bad value is one [`AuthConfigError`] line.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{PublicUrl, Secret};

/// The `[auth]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthFile {
    /// `oidc` (an upstream OpenID Provider) or `demo` (only with `--demo`).
    pub provider: Option<String>,
    /// The provider's issuer identifier; discovery at
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// A file holding the client secret (trailing white space ignored).
    pub client_secret_file: Option<PathBuf>,
    /// `client_secret_basic` (default with a secret), `client_secret_post`
    /// or `private_key_jwt` (default with a private key).
    pub token_endpoint_auth_method: Option<String>,
    /// `private_key_jwt`: a private JWK (JSON, with `alg`) or a PKCS#8 PEM.
    pub private_key_file: Option<PathBuf>,
    /// The algorithm of a PEM `private_key_file` (a JWK names its own):
    /// `ES256` (default), `ES384`, `PS256`, `RS256` or `EdDSA`.
    pub private_key_alg: Option<String>,
    /// The ID-token or userinfo claim naming the registry subject [default: `sub`].
    pub subject_claim: Option<String>,
    /// What that claim holds: `id` (a registry subject id) or `snils` (a
    /// SNILS number, any formatting) [default: `snils` when the claim is
    /// named `snils`, else `id`].
    pub subject_match: Option<String>,
    /// Scopes asked of the provider [default: `["openid"]`]; `openid` is
    /// always sent.
    pub scopes: Option<Vec<String>>,
}

/// The path of the redirection endpoint the provider sends the citizen
/// back to (registered at the provider as `<public URL>/signin/callback`).
pub const CALLBACK_PATH: &str = "/signin/callback";

/// A checked `[auth] provider = "oidc"`.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// Used byte for byte as the expected `iss`.
    pub issuer: String,
    pub client_id: String,
    pub client_auth: ClientAuth,
    pub subject_claim: String,
    pub subject_match: SubjectMatch,
    /// Always starts with `openid`.
    pub scopes: Vec<String>,
    /// `<public URL>/signin/callback`.
    pub redirect_uri: String,
}

/// Token endpoint client authentication (OpenID Connect Core 1.0 §9).
#[derive(Debug, Clone)]
pub enum ClientAuth {
    ClientSecretBasic(Secret),
    ClientSecretPost(Secret),
    /// A key as text (JWK JSON or PEM) and its JWS algorithm.
    PrivateKeyJwt {
        key: Secret,
        alg: String,
    },
}

/// What the subject claim holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectMatch {
    /// A registry subject id.
    Id,
    /// A SNILS number, matched against the registry's `ru.snils` records.
    Snils,
}

/// The sign-in `[auth]` asks for.
#[derive(Debug, Clone)]
pub enum AuthChoice {
    None,
    Demo,
    Oidc(Box<OidcSettings>),
}

/// Why `[auth]` is not usable.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error("auth.provider must be `oidc` or `demo`")]
    UnknownProvider,
    #[error("auth.provider = \"demo\" needs demo mode (--demo); use `oidc` in production")]
    DemoWithoutDemoMode,
    #[error("auth.{0} is required with provider = \"oidc\"")]
    Missing(&'static str),
    #[error("auth.issuer {0:?} must be an https URL (http only for localhost / 127.0.0.1)")]
    Issuer(String),
    #[error("auth.client_id must be 1 to 255 printable ASCII characters")]
    ClientId,
    #[error("auth: give one of client_secret, client_secret_file or private_key_file")]
    Credentials,
    #[error(
        "auth.token_endpoint_auth_method must be client_secret_basic, client_secret_post or private_key_jwt, matching the credentials given"
    )]
    AuthMethod,
    #[error("cannot read auth.{key} {path}: {source}")]
    ReadFile {
        key: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "auth.private_key_file is not a private JWK with `alg` or a PKCS#8 PEM key of auth.private_key_alg (ES256, ES384, PS256, RS256, EdDSA)"
    )]
    PrivateKey,
    #[error("auth.subject_claim must be a claim name")]
    SubjectClaim,
    #[error("auth.subject_match must be `id` or `snils`")]
    SubjectMatch,
    #[error("auth.scopes must be space-free scope tokens")]
    Scopes,
}

impl AuthFile {
    /// Checks the table; `demo` is demo mode, `public_url` ours.
    pub fn check(&self, demo: bool, public_url: &PublicUrl) -> Result<AuthChoice, AuthConfigError> {
        match self.provider.as_deref() {
            None => Ok(AuthChoice::None),
            Some("demo") if demo => Ok(AuthChoice::Demo),
            Some("demo") => Err(AuthConfigError::DemoWithoutDemoMode),
            Some("oidc") => self.oidc(public_url).map(|s| AuthChoice::Oidc(Box::new(s))),
            Some(_) => Err(AuthConfigError::UnknownProvider),
        }
    }

    fn oidc(&self, public_url: &PublicUrl) -> Result<OidcSettings, AuthConfigError> {
        let issuer = self
            .issuer
            .clone()
            .ok_or(AuthConfigError::Missing("issuer"))?;
        // The same rule as our own public URL: https unless local.
        PublicUrl::parse(issuer.trim_end_matches('/'))
            .map_err(|_| AuthConfigError::Issuer(issuer.clone()))?;
        let client_id = self
            .client_id
            .clone()
            .ok_or(AuthConfigError::Missing("client_id"))?;
        if !crate::issuer::authorize::client_id_acceptable(&client_id) {
            return Err(AuthConfigError::ClientId);
        }
        let subject_claim = self
            .subject_claim
            .clone()
            .unwrap_or_else(|| "sub".to_owned());
        if subject_claim.is_empty() || !subject_claim.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(AuthConfigError::SubjectClaim);
        }
        let subject_match = match (self.subject_match.as_deref(), subject_claim.as_str()) {
            (Some("id"), _) => SubjectMatch::Id,
            (Some("snils"), _) | (None, "snils") => SubjectMatch::Snils,
            (None, _) => SubjectMatch::Id,
            (Some(_), _) => return Err(AuthConfigError::SubjectMatch),
        };
        let mut scopes = vec!["openid".to_owned()];
        for s in self.scopes.iter().flatten() {
            if s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
            {
                return Err(AuthConfigError::Scopes);
            }
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
        Ok(OidcSettings {
            issuer,
            client_id,
            client_auth: self.client_auth()?,
            subject_claim,
            subject_match,
            scopes,
            redirect_uri: public_url.join(CALLBACK_PATH),
        })
    }

    fn client_auth(&self) -> Result<ClientAuth, AuthConfigError> {
        let secret = match (&self.client_secret, &self.client_secret_file) {
            (Some(s), None) => Some(Secret::new(s.clone())),
            (None, Some(path)) => Some(Secret::new(read("client_secret_file", path)?.trim_end())),
            (None, None) => None,
            (Some(_), Some(_)) => return Err(AuthConfigError::Credentials),
        };
        let method = self.token_endpoint_auth_method.as_deref();
        match (secret, &self.private_key_file, method) {
            (Some(s), None, None | Some("client_secret_basic")) => {
                Ok(ClientAuth::ClientSecretBasic(s))
            }
            (Some(s), None, Some("client_secret_post")) => Ok(ClientAuth::ClientSecretPost(s)),
            (None, Some(path), None | Some("private_key_jwt")) => {
                let key = Secret::new(read("private_key_file", path)?);
                let alg = crate::signin::client_auth::check_key(
                    key.expose(),
                    self.private_key_alg.as_deref(),
                )
                .ok_or(AuthConfigError::PrivateKey)?;
                Ok(ClientAuth::PrivateKeyJwt { key, alg })
            }
            (Some(_), None, Some(_)) | (None, Some(_), Some(_)) => Err(AuthConfigError::AuthMethod),
            (Some(_), Some(_), _) | (None, None, _) => Err(AuthConfigError::Credentials),
        }
    }
}

fn read(key: &'static str, path: &Path) -> Result<String, AuthConfigError> {
    std::fs::read_to_string(path).map_err(|source| AuthConfigError::ReadFile {
        key,
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(toml_text: &str, demo: bool) -> Result<AuthChoice, AuthConfigError> {
        let file: AuthFile = toml::from_str(toml_text).unwrap();
        file.check(demo, &PublicUrl::parse("https://id.example.ru").unwrap())
    }

    const OIDC: &str =
        "provider = \"oidc\"\nissuer = \"https://idp.example\"\nclient_id = \"digital-id\"\n";

    #[test]
    fn the_design_example_is_accepted() {
        let got = check(
            &format!(
                "{OIDC}client_secret = \"s\"\nsubject_claim = \"snils\"\nscopes = [\"openid\", \"snils\"]\n"
            ),
            false,
        );
        let Ok(AuthChoice::Oidc(s)) = got else {
            panic!("{got:?}");
        };
        assert_eq!(s.subject_match, SubjectMatch::Snils);
        assert_eq!(s.scopes, ["openid", "snils"]);
        assert_eq!(s.redirect_uri, "https://id.example.ru/signin/callback");
        assert!(matches!(s.client_auth, ClientAuth::ClientSecretBasic(ref k) if k.expose() == "s"));
    }

    #[test]
    fn each_bad_table_names_its_rule() {
        type Rule = fn(&AuthConfigError) -> bool;
        let cases: &[(String, bool, Rule)] = &[
            ("provider = \"demo\"\n".into(), false, |e| matches!(e, AuthConfigError::DemoWithoutDemoMode)),
            ("provider = \"saml\"\n".into(), true, |e| matches!(e, AuthConfigError::UnknownProvider)),
            ("provider = \"oidc\"\n".into(), false, |e| matches!(e, AuthConfigError::Missing("issuer"))),
            (
                "provider = \"oidc\"\nissuer = \"http://idp.example\"\nclient_id = \"c\"\nclient_secret = \"s\"\n".into(),
                false,
                |e| matches!(e, AuthConfigError::Issuer(_)),
            ),
            (OIDC.into(), false, |e| matches!(e, AuthConfigError::Credentials)),
            (
                format!("{OIDC}client_secret = \"s\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\n"),
                false,
                |e| matches!(e, AuthConfigError::AuthMethod),
            ),
            (
                format!("{OIDC}client_secret = \"s\"\nsubject_match = \"inn\"\n"),
                false,
                |e| matches!(e, AuthConfigError::SubjectMatch),
            ),
            (
                format!("{OIDC}client_secret_file = \"/nonexistent/secret\"\n"),
                false,
                |e| matches!(e, AuthConfigError::ReadFile { .. }),
            ),
        ];
        for (text, demo, rule) in cases {
            match check(text, *demo) {
                Err(e) => assert!(rule(&e), "{text}: {e}"),
                Ok(other) => panic!("{text}: accepted as {other:?}"),
            }
        }
        assert!(matches!(
            check("provider = \"demo\"\n", true),
            Ok(AuthChoice::Demo)
        ));
        assert!(toml::from_str::<AuthFile>("provider = \"oidc\"\nsecret = 1\n").is_err());
    }

    #[test]
    fn a_private_key_jwk_is_loaded_with_its_alg() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key.jwk");
        let key = josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256)
            .unwrap();
        let mut jwk = key.to_jwk_key_pair();
        jwk.set_algorithm("ES256");
        std::fs::write(&path, jwk.to_string()).unwrap();
        let got = check(&format!("{OIDC}private_key_file = {path:?}\n"), false);
        let Ok(AuthChoice::Oidc(s)) = got else {
            panic!("{got:?}");
        };
        assert!(
            matches!(s.client_auth, ClientAuth::PrivateKeyJwt { ref alg, .. } if alg == "ES256")
        );
        std::fs::write(&path, "not a key").unwrap();
        assert!(matches!(
            check(&format!("{OIDC}private_key_file = {path:?}\n"), false),
            Err(AuthConfigError::PrivateKey)
        ));
    }
}
