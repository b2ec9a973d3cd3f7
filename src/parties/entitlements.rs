//! What a relying party may ask for: presets by name, and claims paths per
//! `vct`.
//!
//! The rule for claims (documented in the OpenAPI description of
//! `POST /admin/relying-parties`):
//! - a requested claims path is allowed when it **equals or extends** an
//!   entitled path of the same `vct` (`["resident_address"]` entitles
//!   `["resident_address", "locality"]`); `null` in an entitled path stands
//!   for every array element (it entitles `null` and any index), an index
//!   only for itself;
//! - a Credential Query without `claims` asks for the whole credential, so
//!   it needs the empty path `[]` (the root, which every path extends) for
//!   each of its `vct_values`;
//! - a Credential Query with several `vct_values` needs every requested
//!   path for every one of them (the wallet may answer with any);
//! - an entitled preset entitles exactly its own claims (same rule), so a
//!   party with `hotel_check_in` may also ask `age_over_18`-free subsets of
//!   it through custom DCQL; a preset is allowed by name, or when its claims
//!   are all entitled.
//!
//! `values`, `claim_sets`, `credential_sets` and `trusted_authorities` do
//! not widen what is disclosed, so they are not checked here.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::sdjwt::{ClaimPath, PathElem};
use crate::verifier::dcql::DcqlQuery;
use crate::verifier::presets::Preset;

/// An entitled claims path; unlike a DCQL claims path it may be empty (the
/// whole credential).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Grant(pub Vec<PathElem>);

impl Grant {
    /// Whether the requested `path` equals or extends this grant.
    pub fn covers(&self, path: &[PathElem]) -> bool {
        self.0.len() <= path.len() && self.0.iter().zip(path).all(|(g, r)| g.covers(r))
    }

    /// A path element from JSON: a string, a non-negative integer or null.
    pub fn elem(v: &serde_json::Value) -> Option<PathElem> {
        match v {
            serde_json::Value::String(s) => Some(PathElem::Key(s.clone())),
            serde_json::Value::Null => Some(PathElem::All),
            // `2.0` is an integer to JSON Schema too.
            serde_json::Value::Number(n) => n
                .as_u64()
                .or_else(|| {
                    n.as_f64()
                        .filter(|f| f.fract() == 0.0 && *f >= 0.0 && *f < 9.0e15)
                        .map(|f| f as u64)
                })
                .and_then(|i| usize::try_from(i).ok())
                .map(PathElem::Index),
            _ => None,
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ClaimPath(self.0.clone()).fmt(f)
    }
}

impl Serialize for Grant {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        ClaimPath(self.0.clone()).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Grant {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let list = Vec::<serde_json::Value>::deserialize(d)?;
        list.iter()
            .map(|v| {
                Grant::elem(v).ok_or_else(|| {
                    de::Error::custom(
                        "a path element must be a string, a non-negative integer or null",
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Grant)
    }
}

/// A relying party's entitlements, borrowed from its record.
#[derive(Debug, Clone, Copy)]
pub enum Entitlements<'a> {
    /// The built-in party `default` (the operator): everything.
    Everything,
    Granted {
        presets: &'a [Preset],
        /// `vct` → entitled paths.
        claims: &'a BTreeMap<String, Vec<Grant>>,
    },
}

/// The first thing a request asks for outside the entitlements (sent as
/// the `error_description` of a 403 `access_denied`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("preset: `{0}` is not among this relying party's entitlements")]
    Preset(&'static str),
    #[error(
        "dcql_query.credentials[{index}]: claim {path} of `{vct}` is not among this relying party's entitlements"
    )]
    Claim {
        index: usize,
        vct: String,
        path: String,
    },
    #[error(
        "dcql_query.credentials[{index}]: the whole `{vct}` credential (a Credential Query without `claims`) is not among this relying party's entitlements"
    )]
    WholeCredential { index: usize, vct: String },
    #[error(
        "dcql_query.credentials[{index}].meta.vct_values: a credential without a `vct` is not among this relying party's entitlements"
    )]
    NoVct { index: usize },
    #[error("callback_url: not one of this relying party's registered `callback_urls`")]
    CallbackUrl,
}

impl Entitlements<'_> {
    /// Whether every claim `query` asks for is entitled; the error names
    /// the first one that is not.
    pub fn allows(&self, query: &DcqlQuery) -> Result<(), Denied> {
        let Entitlements::Granted { presets, claims } = *self else {
            return Ok(());
        };
        for (index, c) in query.credentials.iter().enumerate() {
            let vcts = match &c.meta.vct_values {
                Some(v) if !v.is_empty() => v,
                _ => return Err(Denied::NoVct { index }),
            };
            for vct in vcts {
                let granted = |path: &[PathElem]| {
                    claims
                        .get(vct)
                        .is_some_and(|gs| gs.iter().any(|g| g.covers(path)))
                        || presets.iter().any(|p| preset_covers(*p, vct, path))
                };
                match &c.claims {
                    None if granted(&[]) => {}
                    None => {
                        return Err(Denied::WholeCredential {
                            index,
                            vct: vct.clone(),
                        });
                    }
                    Some(list) => {
                        if let Some(q) = list.iter().find(|q| !granted(q.path.elems())) {
                            return Err(Denied::Claim {
                                index,
                                vct: vct.clone(),
                                path: q.path.to_string(),
                            });
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the preset may be asked for: by name, or because all its
    /// claims are entitled.
    pub fn allows_preset(&self, preset: Preset) -> Result<(), Denied> {
        match *self {
            Entitlements::Everything => Ok(()),
            Entitlements::Granted { presets, .. } if presets.contains(&preset) => Ok(()),
            Entitlements::Granted { .. } => self
                .allows(&preset.query())
                .map_err(|_| Denied::Preset(preset.name())),
        }
    }

    /// [`Entitlements::allows_preset`] for a request by preset name,
    /// [`Entitlements::allows`] for the resolved query otherwise.
    pub fn allows_request(&self, preset: Option<&str>, query: &DcqlQuery) -> Result<(), Denied> {
        match preset.and_then(Preset::from_name) {
            Some(p) => self.allows_preset(p),
            None => self.allows(query),
        }
    }
}

/// Whether the preset's own claims (its query's paths, for its `vct`)
/// entitle `path`.
fn preset_covers(preset: Preset, vct: &str, path: &[PathElem]) -> bool {
    let q = preset.query();
    q.credentials.iter().any(|c| {
        c.meta
            .vct_values
            .as_ref()
            .is_some_and(|v| v.iter().any(|x| x == vct))
            && c.claims
                .as_ref()
                .is_some_and(|list| list.iter().any(|cq| Grant(cq.path.0.clone()).covers(path)))
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const PASSPORT: &str = "urn:ru:digital-id:passport:1";
    const PENSIONER: &str = "urn:ru:digital-id:pensioner-status:1";

    fn grants(v: serde_json::Value) -> BTreeMap<String, Vec<Grant>> {
        serde_json::from_value(v).unwrap()
    }

    fn query(credentials: serde_json::Value) -> DcqlQuery {
        DcqlQuery::from_value(&json!({ "credentials": credentials })).unwrap()
    }

    fn passport_query(paths: serde_json::Value) -> DcqlQuery {
        let claims: Vec<_> = paths
            .as_array()
            .unwrap()
            .iter()
            .map(|p| json!({"path": p}))
            .collect();
        query(json!([{
            "id": "p", "format": "dc+sd-jwt",
            "meta": {"vct_values": [PASSPORT]}, "claims": claims,
        }]))
    }

    #[test]
    fn everything_allows_everything() {
        let e = Entitlements::Everything;
        for p in Preset::ALL {
            e.allows_preset(p).unwrap();
        }
        e.allows(&query(
            json!([{"id": "w", "format": "dc+sd-jwt", "meta": {"vct_values": ["x"]}}]),
        ))
        .unwrap();
    }

    #[test]
    fn presets_by_name_and_by_their_claims() {
        let none = BTreeMap::new();
        let e = Entitlements::Granted {
            presets: &[Preset::HotelCheckIn],
            claims: &none,
        };
        e.allows_preset(Preset::HotelCheckIn).unwrap();
        // identity's claims are all part of hotel_check_in's.
        e.allows_preset(Preset::Identity).unwrap();
        assert_eq!(
            e.allows_preset(Preset::AgeOver18),
            Err(Denied::Preset("age_over_18"))
        );
        assert_eq!(
            e.allows_preset(Preset::PensionerStatus),
            Err(Denied::Preset("pensioner_status"))
        );
        // Custom DCQL inside the preset's claims is fine; one more is not.
        e.allows(&passport_query(json!([
            ["family_name"],
            ["resident_address"]
        ])))
        .unwrap();
        assert_eq!(
            e.allows(&passport_query(json!([["family_name"], ["sex"]]))),
            Err(Denied::Claim {
                index: 0,
                vct: PASSPORT.into(),
                path: r#"["sex"]"#.into()
            })
        );
    }

    #[test]
    fn a_claim_is_allowed_when_it_equals_or_extends_a_grant() {
        let claims = grants(json!({
            PASSPORT: [["resident_address"], ["age_equal_or_over", "18"]],
            "urn:x:licence": [["driving_privileges", null, "category"], ["list", 0]],
        }));
        let e = Entitlements::Granted {
            presets: &[],
            claims: &claims,
        };
        e.allows(&passport_query(json!([
            ["resident_address"],
            ["resident_address", "locality"]
        ])))
        .unwrap();
        e.allows(&passport_query(json!([["age_equal_or_over", "18"]])))
            .unwrap();
        // A shorter path than the grant asks for more: refused.
        assert!(matches!(
            e.allows(&passport_query(json!([["age_equal_or_over"]]))),
            Err(Denied::Claim { path, .. }) if path == r#"["age_equal_or_over"]"#
        ));
        assert!(
            e.allows(&passport_query(json!([["age_equal_or_over", "21"]])))
                .is_err()
        );
        let licence = |path: serde_json::Value| {
            query(json!([{"id": "l", "format": "dc+sd-jwt",
                "meta": {"vct_values": ["urn:x:licence"]}, "claims": [{"path": path}]}]))
        };
        // `null` in a grant covers any index and `null`; an index only itself.
        e.allows(&licence(json!(["driving_privileges", 2, "category"])))
            .unwrap();
        e.allows(&licence(json!(["driving_privileges", null, "category"])))
            .unwrap();
        assert!(
            e.allows(&licence(json!(["driving_privileges", null])))
                .is_err()
        );
        e.allows(&licence(json!(["list", 0, "x"]))).unwrap();
        assert!(e.allows(&licence(json!(["list", null]))).is_err());
        assert!(e.allows(&licence(json!(["list", 1]))).is_err());
    }

    #[test]
    fn a_query_without_claims_needs_the_whole_credential() {
        let claims = grants(json!({PASSPORT: [["family_name"]], PENSIONER: [[]]}));
        let e = Entitlements::Granted {
            presets: &[Preset::Identity],
            claims: &claims,
        };
        let whole = |vct: &str| {
            query(json!([{"id": "w", "format": "dc+sd-jwt", "meta": {"vct_values": [vct]}}]))
        };
        assert_eq!(
            e.allows(&whole(PASSPORT)),
            Err(Denied::WholeCredential {
                index: 0,
                vct: PASSPORT.into()
            })
        );
        // The empty path entitles the whole credential and every claim of it.
        e.allows(&whole(PENSIONER)).unwrap();
        e.allows_preset(Preset::PensionerStatus).unwrap();
    }

    #[test]
    fn every_vct_of_a_query_and_every_query_must_be_entitled() {
        let claims = grants(json!({PASSPORT: [["family_name"]]}));
        let e = Entitlements::Granted {
            presets: &[],
            claims: &claims,
        };
        let q = query(json!([
            {"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": [PASSPORT]},
             "claims": [{"path": ["family_name"]}]},
            {"id": "b", "format": "dc+sd-jwt", "meta": {"vct_values": [PASSPORT, PENSIONER]},
             "claims": [{"path": ["family_name"]}]},
        ]));
        assert_eq!(
            e.allows(&q),
            Err(Denied::Claim {
                index: 1,
                vct: PENSIONER.into(),
                path: r#"["family_name"]"#.into()
            })
        );
        let mut no_vct = query(json!([{"id": "a", "format": "dc+sd-jwt",
            "meta": {"vct_values": [PASSPORT]}, "claims": [{"path": ["family_name"]}]}]));
        no_vct.credentials[0].meta.vct_values = None;
        assert_eq!(e.allows(&no_vct), Err(Denied::NoVct { index: 0 }));
    }

    #[test]
    fn allows_request_uses_the_preset_name_when_given() {
        let none = BTreeMap::new();
        let e = Entitlements::Granted {
            presets: &[],
            claims: &none,
        };
        assert_eq!(
            e.allows_request(Some("age_over_18"), &Preset::AgeOver18.query()),
            Err(Denied::Preset("age_over_18"))
        );
        assert!(matches!(
            e.allows_request(None, &Preset::AgeOver18.query()),
            Err(Denied::Claim { .. })
        ));
    }

    #[test]
    fn grants_round_trip_and_refuse_bad_elements() {
        let g: Vec<Grant> = serde_json::from_value(json!([[], ["a", 1.0, null]])).unwrap();
        assert_eq!(
            serde_json::to_value(&g).unwrap(),
            json!([[], ["a", 1, null]])
        );
        for bad in [json!([-1]), json!([true]), json!([1.5]), json!("a")] {
            assert!(
                serde_json::from_value::<Grant>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }
}
