//! Relying parties as tenants (DESIGN.md "Relying parties are tenants"):
//! the registered party's record and its validation, its API key
//! ([`key`]), what it may ask for ([`entitlements`]), its quota
//! ([`quota`]) and audit trail entries ([`audit`]). Pure: no I/O and no
//! actix; the store-backed registry is `verifier::parties`, the HTTP side
//! `http::admin` and `http::auth`.
//!
//! The operator's key (`--api-key`) is the built-in party `default`: every
//! preset and every claim, no quota; it is not stored and cannot be
//! changed or deleted.

pub mod audit;
pub mod entitlements;
pub mod key;
pub mod quota;
mod schema;
mod validate;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use entitlements::{Denied, Entitlements, Grant};
pub use key::ApiKeyHash;
pub use validate::PartyError;

use crate::verifier::identity::StoredIdentity;
use crate::verifier::presets::Preset;
use crate::verifier::transaction::RequestUriMethod;

/// A relying party's id: `default` for the built-in one, 20 lowercase hex
/// digits for a registered one (any 1 to 64 of `A-Z a-z 0-9 _ -` is
/// accepted when read, never a `.`, which ends the id in an API key).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PartyId(String);

/// The id of the built-in party.
pub const DEFAULT_PARTY: &str = "default";

impl PartyId {
    pub fn generate() -> Self {
        let bytes = crate::crypto::random_bytes::<10>();
        PartyId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// An id from outside (a path segment, an API key).
    pub fn parse(s: &str) -> Option<Self> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        ok.then(|| PartyId(s.to_owned()))
    }

    pub fn builtin() -> Self {
        PartyId(DEFAULT_PARTY.to_owned())
    }

    pub fn is_builtin(&self) -> bool {
        self.0 == DEFAULT_PARTY
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `default`: what transactions stored before parties existed belong to.
impl Default for PartyId {
    fn default() -> Self {
        Self::builtin()
    }
}

impl std::fmt::Display for PartyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The name a wallet shows, in Russian and English.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DisplayName {
    /// 1 to 200 characters, no control characters, not only white space.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        example = "Гостиница «Космос»"
    )]
    pub ru: String,
    /// As `ru`.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        example = "Hotel Kosmos"
    )]
    pub en: String,
}

/// A registered relying party as stored (the API key only as its salted
/// hash).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelyingParty {
    pub id: PartyId,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<DisplayName>,
    #[serde(default)]
    pub presets: Vec<Preset>,
    /// `vct` → entitled claims paths.
    #[serde(default)]
    pub claims: BTreeMap<String, Vec<Grant>>,
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    #[serde(default)]
    pub callback_urls: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<u32>,
    pub created_at: i64,
    pub updated_at: i64,
    pub key: ApiKeyHash,
    /// When the key was last made (registration or rotation).
    pub key_created_at: i64,
    /// `request_uri_method` of its links unless a request says otherwise.
    #[serde(default)]
    pub request_uri_method: RequestUriMethod,
    /// Its request-signing key (sealed) and certificate chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<StoredIdentity>,
    /// Incremented by every change of the record (the verifier caches the
    /// party's identity by it).
    #[serde(default)]
    pub version: u64,
}

/// X.509 allows a commonName of at most 64 characters (RFC 5280
/// ub-common-name).
const MAX_COMMON_NAME: usize = 64;

impl RelyingParty {
    pub fn entitlements(&self) -> Entitlements<'_> {
        Entitlements::Granted {
            presets: &self.presets,
            claims: &self.claims,
        }
    }

    /// The `CN` of its certificate: its name cut to 64 characters (the
    /// registration certificate keeps the full name).
    pub fn common_name(&self) -> String {
        self.name.chars().take(MAX_COMMON_NAME).collect()
    }

    /// Who it is, as its registration certificate names it.
    pub fn registration(&self) -> crate::verifier::identity::Registration {
        crate::verifier::identity::Registration {
            name: self.name.clone(),
            display_name: self.display_name.clone(),
            presets: self.presets.clone(),
            claims: self.claims.clone(),
        }
    }
}

/// Who is calling the verifier API: the operator as the built-in party, or
/// a registered party (authenticated with its own key).
#[derive(Debug, Clone)]
pub enum Party {
    Default,
    Registered(Box<RelyingParty>),
}

impl Party {
    pub fn id(&self) -> PartyId {
        match self {
            Party::Default => PartyId::builtin(),
            Party::Registered(p) => p.id.clone(),
        }
    }

    pub fn entitlements(&self) -> Entitlements<'_> {
        match self {
            Party::Default => Entitlements::Everything,
            Party::Registered(p) => p.entitlements(),
        }
    }

    pub fn requests_per_minute(&self) -> Option<u32> {
        match self {
            Party::Default => None,
            Party::Registered(p) => p.requests_per_minute,
        }
    }

    /// Whether a transaction recorded for `owner` is this party's: a
    /// party sees its own transactions only (the operator's key is the
    /// party `default` and sees `default`'s).
    pub fn owns(&self, owner: &str) -> bool {
        match self {
            Party::Default => owner == DEFAULT_PARTY,
            Party::Registered(p) => p.id.as_str() == owner,
        }
    }

    /// A registered party may have results delivered only to one of its
    /// registered `callback_urls` (exact match); the operator anywhere the
    /// outbound rules allow.
    pub fn allows_callback(&self, url: Option<&str>) -> Result<(), Denied> {
        match (self, url) {
            (Party::Registered(p), Some(u)) if !p.callback_urls.iter().any(|c| c == u) => {
                Err(Denied::CallbackUrl)
            }
            _ => Ok(()),
        }
    }
}

/// The body of `POST /admin/relying-parties`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RelyingPartyRegistration)]
#[schema(example = json!({
    "name": "Hotel Kosmos",
    "display_name": {"ru": "Гостиница «Космос»", "en": "Hotel Kosmos"},
    "presets": ["hotel_check_in"],
    "claims": {"urn:ru:digital-id:passport:1": [["age_equal_or_over", "18"]]},
    "callback_urls": ["https://kosmos.example.ru/vp-result"],
    "requests_per_minute": 600
}))]
pub struct Registration {
    /// 1 to 200 characters, no control characters, not only white space
    /// (the operator's own label; wallets show `display_name` when given).
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$",
        example = "Hotel Kosmos"
    )]
    pub name: String,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub display_name: Option<DisplayName>,
    /// Entitled presets (each entitles its own claims).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<Vec<Preset>>, nullable = false)]
    pub presets: Option<Vec<String>>,
    /// `vct` → entitled claims paths (at most 32 types, 64 paths each, 16
    /// elements a path). A requested path is allowed when it equals or
    /// extends one of them; `[]` entitles the whole credential (needed by a
    /// Credential Query without `claims`).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = schema::claims)]
    pub claims: Option<Value>,
    /// For the same-device flow: where the wallet sends the person back
    /// (https, or http on localhost / 127.0.0.1; at most 10).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = schema::uris)]
    pub redirect_uris: Option<Vec<String>>,
    /// The only `callback_url`s its requests may name (https, or http on
    /// localhost / 127.0.0.1; at most 10).
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = schema::uris)]
    pub callback_urls: Option<Vec<String>>,
    /// Requests and scans a minute (sliding window, across all nodes); no
    /// limit when absent. 1 to 1 000 000.
    #[serde(default, deserialize_with = "count")]
    #[schema(nullable = false, minimum = 1, maximum = 1_000_000, example = 600)]
    pub requests_per_minute: Option<u32>,
    /// `post` advertises `request_uri_method=post` in its links (OpenID4VP
    /// 1.0 §5.10) unless a request says otherwise; default `get`.
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub request_uri_method: Option<RequestUriMethod>,
}

/// A whole number up to `u32::MAX`, also written as `600.0` (an integer
/// to JSON Schema too).
fn whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    n.as_u64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX))
                .map(|f| f as u64)
        })
        .and_then(|i| u32::try_from(i).ok())
        .ok_or_else(|| serde::de::Error::custom("expected a whole number from 0 to 4294967295"))
}

/// [`whole`], present and not `null`.
fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    whole(d).map(Some)
}

/// [`whole`] or `null`, when present.
fn count_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<u32>>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "whole")] u32);
    Option::<W>::deserialize(d).map(|w| Some(w.map(|w| w.0)))
}

/// A member that may be absent but not `null` (the schema says so).
pub(crate) fn non_null<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `Some(v)` for a member that is present (`Some(None)` for `null`), so a
/// patch can clear an optional member.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The body of `PATCH /admin/relying-parties/{id}`: the members given
/// replace the stored ones (lists as a whole); `null` clears
/// `display_name` and `requests_per_minute`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RelyingPartyPatch)]
#[schema(example = json!({"presets": ["age_over_18"], "requests_per_minute": null}))]
pub struct Patch {
    #[serde(default, deserialize_with = "non_null")]
    #[schema(
        nullable = false,
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u001f\\u007f-\\u009f]*$"
    )]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<DisplayName>)]
    pub display_name: Option<Option<DisplayName>>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(value_type = Option<Vec<Preset>>, nullable = false)]
    pub presets: Option<Vec<String>>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = schema::claims)]
    pub claims: Option<Value>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = schema::uris)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(schema_with = schema::uris)]
    pub callback_urls: Option<Vec<String>>,
    #[serde(default, deserialize_with = "count_or_null")]
    #[schema(value_type = Option<u32>, minimum = 1, maximum = 1_000_000)]
    pub requests_per_minute: Option<Option<u32>>,
    #[serde(default, deserialize_with = "non_null")]
    #[schema(nullable = false)]
    pub request_uri_method: Option<RequestUriMethod>,
}

impl Registration {
    /// The registered party, or the first member breaking a rule.
    pub fn into_party(
        self,
        id: PartyId,
        key: ApiKeyHash,
        now: i64,
    ) -> Result<RelyingParty, PartyError> {
        let mut party = RelyingParty {
            id,
            name: String::new(),
            display_name: None,
            presets: Vec::new(),
            claims: BTreeMap::new(),
            redirect_uris: Vec::new(),
            callback_urls: Vec::new(),
            requests_per_minute: None,
            created_at: now,
            updated_at: now,
            key,
            key_created_at: now,
            request_uri_method: RequestUriMethod::default(),
            identity: None,
            version: 0,
        };
        Patch {
            name: Some(self.name),
            display_name: Some(self.display_name),
            presets: self.presets,
            claims: self.claims,
            redirect_uris: self.redirect_uris,
            callback_urls: self.callback_urls,
            requests_per_minute: Some(self.requests_per_minute),
            request_uri_method: self.request_uri_method,
        }
        .apply(&mut party, now)?;
        Ok(party)
    }
}

impl Patch {
    /// Applies the patch to `party` (all or nothing: `party` is unchanged
    /// on error).
    pub fn apply(self, party: &mut RelyingParty, now: i64) -> Result<(), PartyError> {
        let mut next = party.clone();
        if let Some(n) = self.name {
            next.name = validate::name(n)?;
        }
        if let Some(d) = self.display_name {
            next.display_name = d.map(validate::display_name).transpose()?;
        }
        if let Some(p) = self.presets {
            next.presets = validate::presets(&p)?;
        }
        if let Some(c) = self.claims {
            next.claims = validate::claims(&c)?;
        }
        if let Some(u) = self.redirect_uris {
            next.redirect_uris = validate::uris("redirect_uris", u)?;
        }
        if let Some(u) = self.callback_urls {
            next.callback_urls = validate::uris("callback_urls", u)?;
        }
        if let Some(r) = self.requests_per_minute {
            next.requests_per_minute = r.map(validate::requests_per_minute).transpose()?;
        }
        if let Some(m) = self.request_uri_method {
            next.request_uri_method = m;
        }
        next.updated_at = now;
        next.version = next.version.saturating_add(1);
        *party = next;
        Ok(())
    }
}

/// A relying party as the admin API shows it: the record without the key
/// hash.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[schema(as = RelyingPartyView)]
pub struct PartyView {
    /// `default` for the built-in party.
    #[schema(value_type = String, example = "3f9a0c1b2d4e5f607182")]
    pub id: PartyId,
    #[schema(example = "Hotel Kosmos")]
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub display_name: Option<DisplayName>,
    pub presets: Vec<Preset>,
    #[schema(value_type = BTreeMap<String, Vec<Vec<Value>>>)]
    pub claims: BTreeMap<String, Vec<Grant>>,
    pub redirect_uris: Vec<String>,
    pub callback_urls: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub requests_per_minute: Option<u32>,
    /// RFC 3339 (absent for the built-in party).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "2026-11-26T10:00:00Z")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "2026-11-26T10:00:00Z")]
    pub updated_at: Option<String>,
    pub request_uri_method: RequestUriMethod,
    /// Its request-signing public key (ES256), for the operator's CA to
    /// certify (`POST /admin/relying-parties/{id}/certificate`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>, nullable = false)]
    pub public_jwk: Option<Value>,
    /// Its Client Identifier (`x509_hash:…` of its leaf certificate), once
    /// it has one (demo mode: from registration).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(
        nullable = false,
        example = "x509_hash:UvRWDK3mZ6t0Zc4yZ2f6OBrNtl1kmKZbW3Dr_Xx0nFA"
    )]
    pub client_id: Option<String>,
    /// When the current API key was made.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, example = "2026-11-26T10:00:00Z")]
    pub key_created_at: Option<String>,
    /// `true` for `default`, the operator's key: every preset and every
    /// claim, no quota; not stored, cannot be changed or deleted.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub builtin: bool,
}

impl PartyView {
    pub fn of(p: &RelyingParty) -> Self {
        use crate::clock::rfc3339;
        PartyView {
            id: p.id.clone(),
            name: p.name.clone(),
            display_name: p.display_name.clone(),
            presets: p.presets.clone(),
            claims: p.claims.clone(),
            redirect_uris: p.redirect_uris.clone(),
            callback_urls: p.callback_urls.clone(),
            requests_per_minute: p.requests_per_minute,
            request_uri_method: p.request_uri_method,
            public_jwk: p.identity.as_ref().map(|i| i.public_jwk.clone()),
            client_id: p
                .identity
                .as_ref()
                .and_then(StoredIdentity::client_id)
                .map(|c| c.as_str().to_owned()),
            created_at: Some(rfc3339(p.created_at)),
            updated_at: Some(rfc3339(p.updated_at)),
            key_created_at: Some(rfc3339(p.key_created_at)),
            builtin: false,
        }
    }

    /// The built-in party `default` (its link method and client id are
    /// the `[verifier]` settings').
    pub fn builtin() -> Self {
        PartyView {
            id: PartyId::builtin(),
            name: "default (the operator's key)".into(),
            display_name: None,
            presets: Preset::ALL.to_vec(),
            claims: BTreeMap::new(),
            redirect_uris: Vec::new(),
            callback_urls: Vec::new(),
            requests_per_minute: None,
            request_uri_method: RequestUriMethod::default(),
            public_jwk: None,
            client_id: None,
            created_at: None,
            updated_at: None,
            key_created_at: None,
            builtin: true,
        }
    }
}

/// The answer to a registration: the party and its API key, shown this
/// once.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
#[schema(as = RelyingPartyRegistered)]
pub struct Registered {
    /// `rp_<id>.<secret>`: `Authorization: Bearer` on `/verifier/*`. Shown
    /// only here; only a salted hash is kept.
    #[schema(example = "rp_3f9a0c1b2d4e5f607182.q7VvG1kWw0f1rJk8bW6o2x9yQ3zL5mN4pT8sR2uA1cE")]
    pub api_key: String,
    #[serde(flatten)]
    pub party: PartyView,
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn register(body: Value) -> Result<RelyingParty, PartyError> {
        let r: Registration = serde_json::from_value(body).unwrap();
        let id = PartyId::generate();
        let key = key::issue(&id).stored;
        r.into_party(id, key, 1_000)
    }

    #[test]
    fn a_registration_becomes_a_record() {
        let p = register(json!({
            "name": "Hotel Kosmos",
            "display_name": {"ru": "Гостиница «Космос»", "en": "Hotel Kosmos"},
            "presets": ["hotel_check_in", "hotel_check_in", "age_over_18"],
            "claims": {"urn:x": [["a"], ["a"], [], ["b", 0, null]]},
            "redirect_uris": ["https://k.example/back", "http://localhost:8080/cb", "https://k.example/back"],
            "requests_per_minute": 10
        }))
        .unwrap();
        assert_eq!(p.presets, vec![Preset::HotelCheckIn, Preset::AgeOver18]);
        // Stored and shown by their names.
        assert_eq!(
            serde_json::to_value(&p).unwrap()["presets"],
            json!(["hotel_check_in", "age_over_18"])
        );
        assert_eq!(
            serde_json::to_value(&p.claims).unwrap(),
            json!({"urn:x": [["a"], [], ["b", 0, null]]})
        );
        assert_eq!(p.redirect_uris.len(), 2, "deduplicated");
        assert_eq!(p.requests_per_minute, Some(10));
        // Round trip through the store's encoding.
        let back: RelyingParty = serde_json::from_slice(&serde_json::to_vec(&p).unwrap()).unwrap();
        assert_eq!(back, p);
        let view = serde_json::to_value(PartyView::of(&p)).unwrap();
        assert!(view.get("key").is_none() && !view.to_string().contains(&p.key.hash));
    }

    #[test]
    fn a_patch_replaces_given_members_and_clears_nulls() {
        let mut p = register(json!({"name": "A", "display_name": {"ru": "А", "en": "A"},
            "presets": ["identity"], "requests_per_minute": 5}))
        .unwrap();
        let patch: Patch = serde_json::from_value(json!({"display_name": null,
            "requests_per_minute": null, "presets": ["age_over_18"]}))
        .unwrap();
        let again: Patch = serde_json::from_value(json!({"requests_per_minute": 7.0})).unwrap();
        assert_eq!(again.requests_per_minute, Some(Some(7)));
        assert!(serde_json::from_value::<Patch>(json!({"requests_per_minute": 7.5})).is_err());
        assert!(serde_json::from_value::<Patch>(json!({"name": null})).is_err());
        patch.apply(&mut p, 2_000).unwrap();
        assert_eq!(p.display_name, None);
        assert_eq!(p.requests_per_minute, None);
        assert_eq!(p.presets, vec![Preset::AgeOver18]);
        assert_eq!(p.name, "A");
        assert_eq!((p.created_at, p.updated_at), (1_000, 2_000));
        // A failing patch changes nothing.
        let before = p.clone();
        let bad: Patch = serde_json::from_value(json!({"name": "B", "presets": ["nope"]})).unwrap();
        assert!(bad.apply(&mut p, 3_000).is_err());
        assert_eq!(p, before);
    }

    #[test]
    fn the_built_in_party_sees_only_its_own_and_has_everything() {
        let d = Party::Default;
        assert!(d.owns(DEFAULT_PARTY));
        let p = register(json!({"name": "A", "callback_urls": ["https://a.example/cb"]})).unwrap();
        assert!(!d.owns(p.id.as_str()));
        let rp = Party::Registered(Box::new(p.clone()));
        assert!(rp.owns(p.id.as_str()) && !rp.owns(DEFAULT_PARTY));
        assert!(matches!(d.entitlements(), Entitlements::Everything));
        d.allows_callback(Some("https://anything.example")).unwrap();
        rp.allows_callback(Some("https://a.example/cb")).unwrap();
        rp.allows_callback(None).unwrap();
        assert_eq!(
            rp.allows_callback(Some("https://a.example/cb2")),
            Err(Denied::CallbackUrl)
        );
    }

    #[test]
    fn ids() {
        let id = PartyId::generate();
        assert_eq!(id.as_str().len(), 20);
        assert_eq!(PartyId::parse(id.as_str()), Some(id));
        assert!(PartyId::default().is_builtin());
        for bad in ["", "a.b", "a/b", &"x".repeat(65)] {
            assert!(PartyId::parse(bad).is_none(), "{bad}");
        }
    }
}
