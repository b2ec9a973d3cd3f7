//! Digital Credentials Query Language (OpenID4VP 1.0 §6): parsing with every
//! structural rule, and the verifier's side of §6.4 — does a verified
//! credential answer a Credential Query, which claims does it give, and does
//! the set of answered queries satisfy `credential_sets`.
//!
//! Only the `dc+sd-jwt` format is supported; anything else is refused at
//! request creation with the offending field named.

use std::collections::{BTreeSet, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::sdjwt::{ClaimPath, PathElem};

/// The one Credential Format Identifier this verifier accepts (OpenID4VP 1.0 §B.3).
pub const FORMAT_SD_JWT_VC: &str = "dc+sd-jwt";
/// The Trusted Authorities Query type this verifier enforces (OpenID4VP 1.0
/// §6.1.1): base64url KeyIdentifiers matched against the AuthorityKeyIdentifier
/// of the certificates of the credential's validated `x5c` chain.
const AKI: &str = "aki";
/// Types of §6.1.1 that need an ETSI Trusted List or an OpenID Federation
/// resolver, which this verifier does not have: refused at request
/// creation rather than sent as a condition the answer is never held to.
const UNSUPPORTED_AUTHORITY_TYPES: &[&str] = &["etsi_tl", "openid_federation"];
/// Upper bounds that keep a query (and the request object) small.
const MAX_CREDENTIALS: usize = 16;
const MAX_CLAIMS: usize = 64;

/// A DCQL query (`dcql_query`, OpenID4VP 1.0 §6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "credentials": [{
        "id": "credential",
        "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:ru:digital-id:passport:1"]},
        "claims": [{"path": ["age_equal_or_over", "18"], "values": [true]}]
    }]
}))]
pub struct DcqlQuery {
    /// 1 to 16 Credential Queries with distinct ids.
    pub credentials: Vec<CredentialQuery>,
    /// Which combinations of Credential Queries answer the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub credential_sets: Option<Vec<CredentialSetQuery>>,
}

/// A Credential Query (§6.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CredentialQuery {
    /// Unique in the query; the key of this credential's claims in the
    /// result and in `vp_token`.
    #[schema(example = "credential")]
    pub id: String,
    /// Only `dc+sd-jwt` is supported.
    #[schema(example = "dc+sd-jwt")]
    pub format: String,
    /// Whether several presentations may answer it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    #[schema(default = false)]
    pub multiple: bool,
    pub meta: Meta,
    /// Which authorities must have certified the issuer (§6.1.1): only
    /// `aki` is supported, and enforced: a credential answers the query
    /// only when its `x5c` chain validated to a configured trust anchor
    /// and a certificate on that path has an AuthorityKeyIdentifier equal
    /// to one of the values (else the answer fails with `aki_mismatch`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub trusted_authorities: Option<Vec<TrustedAuthority>>,
    #[serde(
        default = "yes",
        skip_serializing_if = "is_true",
        rename = "require_cryptographic_holder_binding"
    )]
    /// Whether the presentation must carry a Key Binding JWT.
    #[schema(default = true)]
    pub require_holder_binding: bool,
    /// The claims asked for (all of them when absent); at most 64.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub claims: Option<Vec<ClaimsQuery>>,
    /// Alternative sets of Claims Query ids, most preferred first; only
    /// with `claims`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub claim_sets: Option<Vec<Vec<String>>>,
}

fn yes() -> bool {
    true
}

fn is_true(b: &bool) -> bool {
    *b
}

/// `meta` of an SD-JWT VC Credential Query (§B.3.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(as = CredentialQueryMeta)]
pub struct Meta {
    /// Required by this verifier: the accepted `vct`s, non-empty.
    #[serde(default)]
    #[schema(nullable = false, example = json!(["urn:ru:digital-id:passport:1"]))]
    pub vct_values: Option<Vec<String>>,
}

/// A Trusted Authorities Query (§6.1.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TrustedAuthority {
    /// `aki` (`etsi_tl` and `openid_federation` are refused: this verifier
    /// cannot check them).
    #[serde(rename = "type")]
    #[schema(example = "aki")]
    pub kind: String,
    /// For `aki`: KeyIdentifiers of the AuthorityKeyIdentifier extension
    /// (RFC 5280 §4.2.1.1), base64url without padding.
    #[schema(example = json!(["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]))]
    pub values: Vec<String>,
}

/// A Claims Query (§6.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ClaimsQuery {
    /// Required when the Credential Query has `claim_sets`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub id: Option<String>,
    #[schema(schema_with = claim_path_schema)]
    pub path: ClaimPath,
    /// Accepted values (strings, integers or booleans); the claim must
    /// equal one of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = claim_values_schema)]
    pub values: Option<Vec<Value>>,
}

/// A claims path pointer (OpenID4VP 1.0 §7): object keys, array indices
/// and `null` for every element of an array.
fn claim_path_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    let elem = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(0)),
        )
        .item(ObjectBuilder::new().schema_type(Type::Null));
    ArrayBuilder::new()
        .items(elem)
        .min_items(Some(1))
        .description(Some(
            "Claims path pointer (OpenID4VP 1.0 §7): object keys, array indices, `null` for every element of an array",
        ))
        .examples([json!(["age_equal_or_over", "18"])])
        .build()
}

/// `values` of a Claims Query (§6.3).
fn claim_values_schema() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Type};
    let elem = OneOfBuilder::new()
        .item(ObjectBuilder::new().schema_type(Type::String))
        .item(ObjectBuilder::new().schema_type(Type::Integer))
        .item(ObjectBuilder::new().schema_type(Type::Boolean));
    ArrayBuilder::new()
        .items(elem)
        .min_items(Some(1))
        .description(Some(
            "Accepted values (strings, integers or booleans); the claim must equal one of them",
        ))
        .examples([json!([true])])
        .build()
}

/// A Credential Set Query (§6.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct CredentialSetQuery {
    /// Alternative sets of Credential Query ids.
    #[schema(example = json!([["passport"], ["driving_licence"]]))]
    pub options: Vec<Vec<String>>,
    #[serde(default = "yes")]
    #[schema(default = true)]
    pub required: bool,
}

/// A query the verifier refuses; `field` is a JSON-path-like pointer to the
/// offending member (`credentials[0].meta.vct_values`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("dcql_query.{field}: {rule}")]
pub struct DcqlError {
    pub field: String,
    pub rule: &'static str,
}

fn err(field: impl Into<String>, rule: &'static str) -> DcqlError {
    DcqlError {
        field: field.into(),
        rule,
    }
}

impl DcqlQuery {
    /// Parses and validates a `dcql_query` JSON value. Each Credential Query
    /// is read on its own so that a type error names its index.
    pub fn from_value(value: &Value) -> Result<Self, DcqlError> {
        let shape = |field: String, e: serde_json::Error| DcqlError {
            field: match shape_field(&e.to_string()) {
                Some(member) => format!("{field}.{member}"),
                None => field,
            },
            rule: "is missing or has the wrong type (OpenID4VP 1.0 §6)",
        };
        let obj = value
            .as_object()
            .ok_or_else(|| err("(root)", "must be a JSON object"))?;
        let list = obj
            .get("credentials")
            .and_then(Value::as_array)
            .ok_or_else(|| err("credentials", "must be a non-empty array"))?;
        let credentials = list
            .iter()
            .enumerate()
            .map(|(i, c)| {
                serde_json::from_value(c.clone()).map_err(|e| shape(format!("credentials[{i}]"), e))
            })
            .collect::<Result<Vec<CredentialQuery>, _>>()?;
        let credential_sets = match obj.get("credential_sets") {
            None => None,
            Some(v) => Some(
                serde_json::from_value(v.clone())
                    .map_err(|e| shape("credential_sets".into(), e))?,
            ),
        };
        let q = DcqlQuery {
            credentials,
            credential_sets,
        };
        q.validate()?;
        Ok(q)
    }

    /// The structural rules of OpenID4VP 1.0 §6.1–§6.3.
    pub fn validate(&self) -> Result<(), DcqlError> {
        if self.credentials.is_empty() {
            return Err(err("credentials", "must be a non-empty array"));
        }
        if self.credentials.len() > MAX_CREDENTIALS {
            return Err(err("credentials", "has too many Credential Queries"));
        }
        let mut ids = HashSet::new();
        for (i, c) in self.credentials.iter().enumerate() {
            let at = format!("credentials[{i}]");
            if !is_identifier(&c.id) {
                return Err(err(
                    format!("{at}.id"),
                    "must be a non-empty string of alphanumerics, `_` and `-`",
                ));
            }
            if !ids.insert(c.id.as_str()) {
                return Err(err(format!("{at}.id"), "is used more than once"));
            }
            c.validate(&at)?;
        }
        if let Some(sets) = &self.credential_sets {
            if sets.is_empty() {
                return Err(err("credential_sets", "must be a non-empty array"));
            }
            for (i, s) in sets.iter().enumerate() {
                let at = format!("credential_sets[{i}].options");
                if s.options.is_empty() {
                    return Err(err(at, "must be a non-empty array"));
                }
                for (j, option) in s.options.iter().enumerate() {
                    if option.is_empty() {
                        return Err(err(format!("{at}[{j}]"), "must be a non-empty array"));
                    }
                    if option.iter().any(|id| !ids.contains(id.as_str())) {
                        return Err(err(
                            format!("{at}[{j}]"),
                            "names an id that is not in `credentials`",
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    pub fn credential(&self, id: &str) -> Option<&CredentialQuery> {
        self.credentials.iter().find(|c| c.id == id)
    }

    /// Whether the ids of the answered queries satisfy the query (§6.4.2):
    /// every query when there are no `credential_sets`, otherwise one option
    /// of every required set; ids outside the query are never acceptable.
    pub fn check_answered(&self, answered: &BTreeSet<String>) -> Result<(), MatchError> {
        if let Some(extra) = answered.iter().find(|id| self.credential(id).is_none()) {
            return Err(MatchError::UnknownQueryId(extra.clone()));
        }
        match &self.credential_sets {
            None => match self.credentials.iter().find(|c| !answered.contains(&c.id)) {
                Some(missing) => Err(MatchError::MissingCredential(missing.id.clone())),
                None => Ok(()),
            },
            Some(sets) => {
                for (i, s) in sets.iter().enumerate() {
                    let met = s
                        .options
                        .iter()
                        .any(|o| o.iter().all(|id| answered.contains(id)));
                    if s.required && !met {
                        return Err(MatchError::CredentialSetUnmet(i));
                    }
                }
                Ok(())
            }
        }
    }
}

impl CredentialQuery {
    fn validate(&self, at: &str) -> Result<(), DcqlError> {
        if self.format != FORMAT_SD_JWT_VC {
            return Err(err(
                format!("{at}.format"),
                "is not supported; this verifier accepts `dc+sd-jwt`",
            ));
        }
        match &self.meta.vct_values {
            Some(v) if !v.is_empty() && v.iter().all(|s| !s.is_empty()) => {}
            _ => {
                return Err(err(
                    format!("{at}.meta.vct_values"),
                    "must be a non-empty array of type identifiers for `dc+sd-jwt`",
                ));
            }
        }
        if let Some(tas) = &self.trusted_authorities {
            if tas.is_empty() {
                return Err(err(
                    format!("{at}.trusted_authorities"),
                    "must be a non-empty array",
                ));
            }
            for (i, ta) in tas.iter().enumerate() {
                if UNSUPPORTED_AUTHORITY_TYPES.contains(&ta.kind.as_str()) {
                    return Err(err(
                        format!("{at}.trusted_authorities[{i}].type"),
                        "is a type this verifier cannot enforce; only `aki` is supported",
                    ));
                }
                if ta.kind != AKI {
                    return Err(err(
                        format!("{at}.trusted_authorities[{i}].type"),
                        "is not a Trusted Authorities Query type (OpenID4VP 1.0 §6.1.1); only `aki` is supported",
                    ));
                }
                let key_id = |v: &String| {
                    !v.is_empty()
                        && v.len() <= 128
                        && crate::crypto::b64url_decode(v).is_ok_and(|b| !b.is_empty())
                };
                if ta.values.is_empty() || !ta.values.iter().all(key_id) {
                    return Err(err(
                        format!("{at}.trusted_authorities[{i}].values"),
                        "must be a non-empty array of base64url KeyIdentifiers",
                    ));
                }
            }
        }
        let claims = match &self.claims {
            None if self.claim_sets.is_some() => {
                return Err(err(
                    format!("{at}.claim_sets"),
                    "must not be present without `claims`",
                ));
            }
            None => return Ok(()),
            Some(c) => c,
        };
        if claims.is_empty() {
            return Err(err(format!("{at}.claims"), "must be a non-empty array"));
        }
        if claims.len() > MAX_CLAIMS {
            return Err(err(format!("{at}.claims"), "has too many Claims Queries"));
        }
        let mut claim_ids = HashSet::new();
        let mut paths = HashSet::new();
        for (j, c) in claims.iter().enumerate() {
            let cat = format!("{at}.claims[{j}]");
            match &c.id {
                Some(id) if !is_identifier(id) => {
                    return Err(err(
                        format!("{cat}.id"),
                        "must be a non-empty string of alphanumerics, `_` and `-`",
                    ));
                }
                Some(id) if !claim_ids.insert(id.as_str()) => {
                    return Err(err(format!("{cat}.id"), "is used more than once"));
                }
                None if self.claim_sets.is_some() => {
                    return Err(err(
                        format!("{cat}.id"),
                        "is required when `claim_sets` is present",
                    ));
                }
                _ => {}
            }
            if !paths.insert(&c.path) {
                return Err(err(
                    format!("{cat}.path"),
                    "points to a claim another Claims Query already names",
                ));
            }
            if let Some(values) = &c.values {
                let scalar = |v: &Value| {
                    v.is_string() || v.is_boolean() || v.as_i64().is_some() || v.as_u64().is_some()
                };
                if values.is_empty() || !values.iter().all(scalar) {
                    return Err(err(
                        format!("{cat}.values"),
                        "must be a non-empty array of strings, integers or booleans",
                    ));
                }
            }
        }
        if let Some(sets) = &self.claim_sets {
            if sets.is_empty() {
                return Err(err(format!("{at}.claim_sets"), "must be a non-empty array"));
            }
            for (k, set) in sets.iter().enumerate() {
                if set.is_empty() || set.iter().any(|id| !claim_ids.contains(id.as_str())) {
                    return Err(err(
                        format!("{at}.claim_sets[{k}]"),
                        "must be a non-empty array of ids of `claims`",
                    ));
                }
            }
        }
        Ok(())
    }

    /// Whether the credential's issuer was certified by an authority of
    /// `trusted_authorities` (§6.1.1, type `aki`): some certificate on its
    /// validated chain (`authority_key_ids`, `None` for a credential not
    /// trusted by certificate) has an AuthorityKeyIdentifier whose
    /// KeyIdentifier is one of the values. Without `trusted_authorities`
    /// any trusted issuer will do.
    pub fn check_trusted_authorities(
        &self,
        authority_key_ids: Option<&[Vec<u8>]>,
    ) -> Result<(), MatchError> {
        let Some(tas) = &self.trusted_authorities else {
            return Ok(());
        };
        let Some(ids) = authority_key_ids else {
            return Err(MatchError::NoCertificateChain(self.id.clone()));
        };
        let matched = tas
            .iter()
            .filter(|ta| ta.kind == AKI)
            .flat_map(|ta| &ta.values)
            .filter_map(|v| crate::crypto::b64url_decode(v).ok())
            .any(|wanted| ids.contains(&wanted));
        if matched {
            Ok(())
        } else {
            Err(MatchError::AkiMismatch(self.id.clone()))
        }
    }

    /// The claims a verified credential gives for this query (§6.4.1): its
    /// `vct` must be allowed, and every claim of `claims` (or of the first
    /// satisfiable option of `claim_sets`) must be present with a matching
    /// value. Only those claims are returned: whatever else the wallet
    /// disclosed is dropped here.
    pub fn select(&self, claims: &Map<String, Value>) -> Result<Map<String, Value>, MatchError> {
        let vct = claims
            .get("vct")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !self
            .meta
            .vct_values
            .as_ref()
            .is_some_and(|v| v.iter().any(|x| x == vct))
        {
            return Err(MatchError::WrongVct(self.id.clone()));
        }
        let Some(queries) = &self.claims else {
            return Ok(Map::new());
        };
        let root = Value::Object(claims.clone());
        let chosen: Vec<&ClaimsQuery> = match &self.claim_sets {
            None => queries.iter().collect(),
            Some(sets) => sets
                .iter()
                .map(|set| {
                    queries
                        .iter()
                        .filter(|q| q.id.as_ref().is_some_and(|id| set.contains(id)))
                        .collect::<Vec<_>>()
                })
                .find(|set| set.iter().all(|q| matches(&root, q)))
                .ok_or_else(|| MatchError::NoClaimSet(self.id.clone()))?,
        };
        let mut out = Value::Object(Map::new());
        for q in chosen {
            if !matches(&root, q) {
                return Err(MatchError::MissingClaim {
                    query: self.id.clone(),
                    path: q.path.to_string(),
                });
            }
            copy_path(&root, q.path.elems(), &mut out);
        }
        match out {
            Value::Object(m) => Ok(m),
            _ => Ok(Map::new()),
        }
    }
}

/// Why a presentation does not answer the query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error("the vp_token answers `{0}`, which is not a Credential Query of the request")]
    UnknownQueryId(String),
    #[error("the vp_token does not answer the Credential Query `{0}`")]
    MissingCredential(String),
    #[error("the vp_token satisfies no option of credential_sets[{0}]")]
    CredentialSetUnmet(usize),
    #[error("the credential for `{0}` has a `vct` the query does not allow")]
    WrongVct(String),
    #[error(
        "the credential for `{query}` does not disclose {path} (or not with a requested value)"
    )]
    MissingClaim { query: String, path: String },
    #[error("the credential for `{0}` satisfies no option of its claim_sets")]
    NoClaimSet(String),
    #[error(
        "aki_mismatch: no certificate of the issuer's chain for `{0}` has an AuthorityKeyIdentifier named by its trusted_authorities"
    )]
    AkiMismatch(String),
    #[error(
        "aki_mismatch: the credential for `{0}` has no certificate chain (`x5c`) that validated to a trust anchor, so it cannot match its trusted_authorities"
    )]
    NoCertificateChain(String),
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The serde message names a missing member (``missing field `meta` ``);
/// keep just that name.
fn shape_field(message: &str) -> Option<String> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
        .map(str::to_owned)
}

/// Whether the claim at `q.path` exists (§7.1) and, when `values` is given,
/// at least one selected value is one of them (§6.3: "for at least one of
/// the elements in the array").
fn matches(root: &Value, q: &ClaimsQuery) -> bool {
    select_path(root, q.path.elems()).is_some_and(|found| {
        q.values
            .as_ref()
            .is_none_or(|vals| found.iter().any(|v| vals.contains(v)))
    })
}

/// Claims path pointer processing (OpenID4VP 1.0 §7.1): a string component
/// selects that key of every selected object (elements without it drop
/// out), an index or `null` the element(s) of every selected array. A
/// selected element of the wrong kind, or an empty selection, is an error
/// (`None`): `["degrees", null, "type"]` over `["honorary", {"type": …}]`
/// does not match.
fn select_path<'a>(root: &'a Value, path: &[PathElem]) -> Option<Vec<&'a Value>> {
    let mut selected = vec![root];
    for component in path {
        let mut next = Vec::with_capacity(selected.len());
        for v in selected {
            match (component, v) {
                (PathElem::Key(k), Value::Object(o)) => next.extend(o.get(k)),
                (PathElem::Index(i), Value::Array(a)) => next.extend(a.get(*i)),
                (PathElem::All, Value::Array(a)) => next.extend(a.iter()),
                _ => return None,
            }
        }
        if next.is_empty() {
            return None;
        }
        selected = next;
    }
    Some(selected)
}

/// Copies what `path` selects from `src` into `dst`, keeping the structure
/// (objects stay objects; a selected array keeps only selected elements).
fn copy_path(src: &Value, path: &[PathElem], dst: &mut Value) {
    let Some((first, rest)) = path.split_first() else {
        *dst = src.clone();
        return;
    };
    match (first, src) {
        (PathElem::Key(k), Value::Object(o)) => {
            let Some(child) = o.get(k) else { return };
            if !dst.is_object() {
                *dst = Value::Object(Map::new());
            }
            if let Value::Object(d) = dst {
                let slot = d.entry(k.clone()).or_insert(Value::Null);
                copy_path(child, rest, slot);
            }
        }
        (PathElem::Index(_) | PathElem::All, Value::Array(a)) => {
            if !dst.is_array() {
                *dst = Value::Array(vec![Value::Null; a.len()]);
            }
            if let Value::Array(d) = dst {
                d.resize(a.len(), Value::Null);
                for (i, child) in a.iter().enumerate() {
                    if first.covers(&PathElem::Index(i)) {
                        copy_path(child, rest, &mut d[i]);
                    }
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(v: Value) -> Result<DcqlQuery, DcqlError> {
        DcqlQuery::from_value(&v)
    }

    fn passport(claims: Value) -> Value {
        json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["urn:ru:digital-id:passport:1"]}, "claims": claims}]})
    }

    #[test]
    fn spec_style_query_parses_and_round_trips() {
        let v = passport(
            json!([{"path": ["family_name"]}, {"path": ["resident_address", "locality"]}]),
        );
        let parsed = q(v.clone()).unwrap();
        assert_eq!(serde_json::to_value(&parsed).unwrap(), v);
    }

    #[test]
    fn structural_errors_name_the_field() {
        let cases = [
            (json!({"credentials": []}), "credentials"),
            (json!({}), "credentials"),
            (
                json!({"credentials": [{"id": "a", "format": "dc+sd-jwt"}]}),
                "credentials[0].meta",
            ),
            (
                json!({"credentials": [{"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]},
                    "claims": [{"path": "family_name"}]}]}),
                "credentials[0]",
            ),
            (
                json!({"credentials": [{"id": "a b", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]}}]}),
                "credentials[0].id",
            ),
            (
                json!({"credentials": [{"id": "a", "format": "mso_mdoc", "meta": {}}]}),
                "credentials[0].format",
            ),
            (
                json!({"credentials": [{"id": "a", "format": "dc+sd-jwt", "meta": {}}]}),
                "credentials[0].meta.vct_values",
            ),
            (
                json!({"credentials": [
                    {"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]}},
                    {"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]}}]}),
                "credentials[1].id",
            ),
            (passport(json!([])), "credentials[0].claims"),
            (
                passport(json!([{"path": ["a"]}, {"path": ["a"]}])),
                "credentials[0].claims[1].path",
            ),
            (
                passport(json!([{"path": ["a"], "values": []}])),
                "credentials[0].claims[0].values",
            ),
            (
                passport(json!([{"path": ["a"], "values": [1.5]}])),
                "credentials[0].claims[0].values",
            ),
            (
                json!({"credentials": [{"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]},
                    "claim_sets": [["x"]]}]}),
                "credentials[0].claim_sets",
            ),
            (
                json!({"credentials": [{"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]},
                    "claims": [{"path": ["n"]}], "claim_sets": [["n"]]}]}),
                "credentials[0].claims[0].id",
            ),
            (
                json!({"credentials": [{"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]},
                    "claims": [{"id": "n", "path": ["n"]}], "claim_sets": [["m"]]}]}),
                "credentials[0].claim_sets[0]",
            ),
            (
                json!({"credentials": [{"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]}}],
                    "credential_sets": [{"options": [["b"]]}]}),
                "credential_sets[0].options[0]",
            ),
            (
                json!({"credentials": [{"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]},
                    "trusted_authorities": [{"type": "magic", "values": ["x"]}]}]}),
                "credentials[0].trusted_authorities[0].type",
            ),
        ];
        for (v, field) in cases {
            let e = q(v.clone()).expect_err(&v.to_string());
            assert_eq!(e.field, field, "{v}");
        }
    }

    #[test]
    fn trusted_authorities_accept_aki_only() {
        let with = |ta: Value| {
            q(json!({"credentials": [{"id": "a", "format": "dc+sd-jwt",
                "meta": {"vct_values": ["x"]}, "trusted_authorities": ta}]}))
        };
        with(json!([{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]}])).unwrap();
        for (ta, field, rule) in [
            (
                json!([{"type": "etsi_tl", "values": ["https://lotl.example.com"]}]),
                "credentials[0].trusted_authorities[0].type",
                "cannot enforce",
            ),
            (
                json!([{"type": "aki", "values": ["AAEC"]},
                       {"type": "openid_federation", "values": ["https://ta.example.com"]}]),
                "credentials[0].trusted_authorities[1].type",
                "cannot enforce",
            ),
            (
                json!([{"type": "aki", "values": ["not base64url!"]}]),
                "credentials[0].trusted_authorities[0].values",
                "base64url",
            ),
            (
                json!([{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y="]}]),
                "credentials[0].trusted_authorities[0].values",
                "base64url",
            ),
            (
                json!([{"type": "aki", "values": []}]),
                "credentials[0].trusted_authorities[0].values",
                "non-empty",
            ),
            (json!([]), "credentials[0].trusted_authorities", "non-empty"),
        ] {
            let e = with(ta.clone()).expect_err(&ta.to_string());
            assert_eq!(e.field, field, "{ta}");
            assert!(e.rule.contains(rule), "{ta}: {}", e.rule);
        }
    }

    #[test]
    fn aki_matches_a_certificate_of_the_chain() {
        let query = q(json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["v"]},
            "trusted_authorities": [{"type": "aki", "values": ["AQID", "BAUG"]}]}]}))
        .unwrap();
        let c = &query.credentials[0];
        let chain = [vec![9, 9], vec![4, 5, 6]];
        assert_eq!(c.check_trusted_authorities(Some(&chain)), Ok(()));
        assert_eq!(
            c.check_trusted_authorities(Some(&[vec![9, 9], vec![1, 2]])),
            Err(MatchError::AkiMismatch("pid".into()))
        );
        assert_eq!(
            c.check_trusted_authorities(None),
            Err(MatchError::NoCertificateChain("pid".into()))
        );
        assert!(
            MatchError::AkiMismatch("pid".into())
                .to_string()
                .starts_with("aki_mismatch: ")
        );
        let plain = q(passport(json!([{"path": ["a"]}]))).unwrap();
        assert_eq!(plain.credentials[0].check_trusted_authorities(None), Ok(()));
    }

    #[test]
    fn selects_only_the_requested_claims() {
        let query = q(passport(json!([
            {"path": ["family_name"]},
            {"path": ["resident_address", "locality"]},
            {"path": ["age_equal_or_over", "18"], "values": [true]}
        ])))
        .unwrap();
        let claims = json!({"vct": "urn:ru:digital-id:passport:1", "family_name": "Иванов",
            "given_name": "Иван", "resident_address": {"locality": "Москва", "street": "Тверская"},
            "age_equal_or_over": {"18": true, "21": true}});
        let got = query.credentials[0]
            .select(claims.as_object().unwrap())
            .unwrap();
        assert_eq!(
            Value::Object(got),
            json!({"family_name": "Иванов", "resident_address": {"locality": "Москва"},
                "age_equal_or_over": {"18": true}})
        );
    }

    #[test]
    fn value_mismatch_and_wrong_vct_fail() {
        let query = q(passport(
            json!([{"path": ["age_equal_or_over", "18"], "values": [true]}]),
        ))
        .unwrap();
        let under =
            json!({"vct": "urn:ru:digital-id:passport:1", "age_equal_or_over": {"18": false}});
        assert!(matches!(
            query.credentials[0].select(under.as_object().unwrap()),
            Err(MatchError::MissingClaim { .. })
        ));
        let other = json!({"vct": "urn:other", "age_equal_or_over": {"18": true}});
        assert_eq!(
            query.credentials[0].select(other.as_object().unwrap()),
            Err(MatchError::WrongVct("pid".into()))
        );
    }

    #[test]
    fn claim_sets_take_the_first_satisfiable_option() {
        let query = q(json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["v"]},
            "claims": [{"id": "over", "path": ["age_equal_or_over", "18"]}, {"id": "dob", "path": ["birthdate"]}],
            "claim_sets": [["over"], ["dob"]]}]}))
        .unwrap();
        let c = json!({"vct": "v", "birthdate": "1990-01-01"});
        assert_eq!(
            Value::Object(query.credentials[0].select(c.as_object().unwrap()).unwrap()),
            json!({"birthdate": "1990-01-01"})
        );
        let none = json!({"vct": "v"});
        assert_eq!(
            query.credentials[0].select(none.as_object().unwrap()),
            Err(MatchError::NoClaimSet("pid".into()))
        );
    }

    #[test]
    fn array_paths_keep_only_selected_members() {
        let query = q(json!({"credentials": [{"id": "dl", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["v"]}, "claims": [{"path": ["driving_privileges", null, "category"]}]}]}))
        .unwrap();
        let c = json!({"vct": "v", "driving_privileges": [
            {"category": "B", "issue_date": "2020-01-01"}, {"category": "C", "issue_date": "2021-01-01"}]});
        assert_eq!(
            Value::Object(query.credentials[0].select(c.as_object().unwrap()).unwrap()),
            json!({"driving_privileges": [{"category": "B"}, {"category": "C"}]})
        );
    }

    #[test]
    fn credential_sets_decide_which_answers_suffice() {
        let cred =
            |id: &str| json!({"id": id, "format": "dc+sd-jwt", "meta": {"vct_values": ["v"]}});
        let query = q(json!({"credentials": [cred("a"), cred("b"), cred("c")],
            "credential_sets": [{"options": [["a"], ["b"]]}, {"options": [["c"]], "required": false}]}))
        .unwrap();
        let set = |ids: &[&str]| ids.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(query.check_answered(&set(&["b"])), Ok(()));
        assert_eq!(query.check_answered(&set(&["a", "c"])), Ok(()));
        assert_eq!(
            query.check_answered(&set(&["c"])),
            Err(MatchError::CredentialSetUnmet(0))
        );
        assert_eq!(
            query.check_answered(&set(&["a", "z"])),
            Err(MatchError::UnknownQueryId("z".into()))
        );
        let plain = q(json!({"credentials": [cred("a"), cred("b")]})).unwrap();
        assert_eq!(
            plain.check_answered(&set(&["a"])),
            Err(MatchError::MissingCredential("b".into()))
        );
    }

    #[test]
    fn the_spec_example_queries_parse() {
        // OpenID4VP 1.0 §6.4 / Annex D examples in the SD-JWT VC format.
        let simple = json!({"credentials": [{"id": "my_credential", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://credentials.example.com/identity_credential"]},
            "claims": [{"path": ["last_name"]}, {"path": ["first_name"]}, {"path": ["address", "street_address"]}]}]});
        q(simple).unwrap();
        let alternatives = json!({"credentials": [
            {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://credentials.example.com/identity_credential"]},
             "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}, {"path": ["address", "street_address"]}]},
            {"id": "other_pid", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://othercredentials.example/pid"]},
             "claims": [{"path": ["given_name"]}, {"path": ["family_name"]}, {"path": ["address", "street_address"]}]},
            {"id": "pid_reduced_cred_1", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://credentials.example.com/reduced_identity_credential"]},
             "claims": [{"path": ["family_name"]}, {"path": ["given_name"]}]},
            {"id": "pid_reduced_cred_2", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://cred.example/residence_credential"]},
             "claims": [{"path": ["postal_code"]}, {"path": ["locality"]}, {"path": ["region"]}]},
            {"id": "nice_to_have", "format": "dc+sd-jwt", "meta": {"vct_values": ["https://company.example/company_rewards"]},
             "claims": [{"path": ["rewards_number"]}]}],
            "credential_sets": [
              {"options": [["pid"], ["other_pid"], ["pid_reduced_cred_1", "pid_reduced_cred_2"]]},
              {"required": false, "options": [["nice_to_have"]]}]});
        q(alternatives).unwrap();
        let claims_alt = json!({"credentials": [{"id": "pid", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://credentials.example.com/identity_credential"]},
            "claims": [{"id": "a", "path": ["last_name"]}, {"id": "b", "path": ["postal_code"]},
                       {"id": "c", "path": ["locality"]}, {"id": "d", "path": ["region"]},
                       {"id": "e", "path": ["date_of_birth"]}],
            "claim_sets": [["a", "c", "d", "e"], ["a", "b", "e"]]}]});
        q(claims_alt).unwrap();
        let values = json!({"credentials": [{"id": "my_credential", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://credentials.example.com/identity_credential"]},
            "claims": [{"path": ["last_name"]}, {"path": ["first_name"]},
                       {"path": ["address", "postal_code"], "values": ["90210", "90211"]}]}]});
        q(values).unwrap();
    }
}
