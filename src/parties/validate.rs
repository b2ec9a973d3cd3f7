//! The rules of a relying party's record; each error names the member
//! (sent as a 400 `invalid_request`).

use std::collections::BTreeMap;

use serde_json::Value;

use super::{DisplayName, Grant};
use crate::sdjwt::PathElem;
use crate::verifier::presets::Preset;

const MAX_NAME: usize = 200;
const MAX_URIS: usize = 10;
const MAX_URI: usize = 2048;
const MAX_VCTS: usize = 32;
const MAX_VCT: usize = 256;
const MAX_PATHS: usize = 64;
const MAX_DEPTH: usize = 16;
const MAX_KEY: usize = 128;
const MAX_INDEX: u64 = 1_000_000;
const MAX_RATE: u32 = 1_000_000;

/// Why a registration or patch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartyError {
    #[error("{member}: must be 1 to {MAX_NAME} characters without control characters")]
    Name { member: String },
    #[error(
        "presets[{index}]: unknown preset; use age_over_18, hotel_check_in, pensioner_status or identity"
    )]
    UnknownPreset { index: usize },
    #[error(
        "claims: must be an object mapping each vct (1 to {MAX_VCT} characters) to an array of claims paths, at most {MAX_VCTS} of them"
    )]
    ClaimsShape,
    #[error("claims.{vct}: must be an array of at most {MAX_PATHS} claims paths")]
    Paths { vct: String },
    #[error(
        "claims.{vct}[{index}]: must be an array of at most {MAX_DEPTH} strings (1 to {MAX_KEY} characters), integers from 0 to {MAX_INDEX} and nulls"
    )]
    Path { vct: String, index: usize },
    #[error("{member}: at most {MAX_URIS} URIs")]
    TooManyUris { member: &'static str },
    #[error(
        "{member}[{index}]: must be an absolute https URI (http only on localhost or 127.0.0.1) without user information or fragment, at most {MAX_URI} characters"
    )]
    Uri { member: &'static str, index: usize },
    #[error("requests_per_minute: must be 1 to {MAX_RATE}")]
    RequestsPerMinute,
    #[error(
        "the built-in relying party `default` (the operator's key) cannot be changed or deleted"
    )]
    Builtin,
}

fn text(s: String, member: &str) -> Result<String, PartyError> {
    let n = s.chars().count();
    // White space as JSON Schema's `\s` (the OpenAPI pattern) sees it.
    let blank = s.chars().all(|c| c.is_whitespace() || c == '\u{feff}');
    if (1..=MAX_NAME).contains(&n) && !s.chars().any(char::is_control) && !blank {
        Ok(s)
    } else {
        Err(PartyError::Name {
            member: member.to_owned(),
        })
    }
}

pub(super) fn name(s: String) -> Result<String, PartyError> {
    text(s, "name")
}

pub(super) fn display_name(d: DisplayName) -> Result<DisplayName, PartyError> {
    Ok(DisplayName {
        ru: text(d.ru, "display_name.ru")?,
        en: text(d.en, "display_name.en")?,
    })
}

/// Known presets, duplicates dropped (first kept).
pub(super) fn presets(names: &[String]) -> Result<Vec<Preset>, PartyError> {
    let mut out = Vec::new();
    for (index, n) in names.iter().enumerate() {
        let p = Preset::from_name(n).ok_or(PartyError::UnknownPreset { index })?;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    Ok(out)
}

/// `{"<vct>": [[path], …]}`, duplicate paths dropped.
pub(super) fn claims(v: &Value) -> Result<BTreeMap<String, Vec<Grant>>, PartyError> {
    let obj = v.as_object().ok_or(PartyError::ClaimsShape)?;
    if obj.len() > MAX_VCTS {
        return Err(PartyError::ClaimsShape);
    }
    let mut out = BTreeMap::new();
    for (vct, paths) in obj {
        if vct.is_empty() || vct.chars().count() > MAX_VCT || vct.chars().any(char::is_control) {
            return Err(PartyError::ClaimsShape);
        }
        let list = paths
            .as_array()
            .filter(|l| l.len() <= MAX_PATHS)
            .ok_or_else(|| PartyError::Paths { vct: vct.clone() })?;
        let mut grants: Vec<Grant> = Vec::new();
        for (index, p) in list.iter().enumerate() {
            let bad = || PartyError::Path {
                vct: vct.clone(),
                index,
            };
            let elems = p
                .as_array()
                .filter(|e| e.len() <= MAX_DEPTH)
                .ok_or_else(bad)?;
            let key_ok = |e: &Value| match e {
                Value::String(s) => (1..=MAX_KEY).contains(&s.chars().count()),
                Value::Number(_) => {
                    matches!(Grant::elem(e), Some(PathElem::Index(i)) if i as u64 <= MAX_INDEX)
                }
                _ => true,
            };
            let g = elems
                .iter()
                .map(|e| Grant::elem(e).filter(|_| key_ok(e)))
                .collect::<Option<Vec<_>>>()
                .map(Grant)
                .ok_or_else(bad)?;
            if !grants.contains(&g) {
                grants.push(g);
            }
        }
        out.insert(vct.clone(), grants);
    }
    Ok(out)
}

pub(super) fn uris(member: &'static str, list: Vec<String>) -> Result<Vec<String>, PartyError> {
    if list.len() > MAX_URIS {
        return Err(PartyError::TooManyUris { member });
    }
    let mut out: Vec<String> = Vec::new();
    for (index, u) in list.into_iter().enumerate() {
        if !uri_ok(&u) {
            return Err(PartyError::Uri { member, index });
        }
        if !out.contains(&u) {
            out.push(u);
        }
    }
    Ok(out)
}

fn uri_ok(u: &str) -> bool {
    if u.len() > MAX_URI {
        return false;
    }
    let Ok(url) = url::Url::parse(u) else {
        return false;
    };
    let local = matches!(url.host_str(), Some("localhost" | "127.0.0.1"));
    let scheme_ok = match url.scheme() {
        "https" => url.host_str().is_some_and(|h| !h.is_empty()),
        "http" => local,
        _ => false,
    };
    scheme_ok && url.username().is_empty() && url.password().is_none() && url.fragment().is_none()
}

pub(super) fn requests_per_minute(n: u32) -> Result<u32, PartyError> {
    if (1..=MAX_RATE).contains(&n) {
        Ok(n)
    } else {
        Err(PartyError::RequestsPerMinute)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn names() {
        assert!(name("Гостиница".into()).is_ok());
        assert!(name("x".repeat(200)).is_ok());
        for bad in [
            "",
            " ",
            "\u{feff}\u{3000}",
            "a\nb",
            "a\u{85}",
            &"x".repeat(201),
        ] {
            assert_eq!(
                name(bad.into()).unwrap_err().to_string().split(':').next(),
                Some("name"),
                "{bad:?}"
            );
        }
        let e = display_name(DisplayName {
            ru: "Космос".into(),
            en: String::new(),
        })
        .unwrap_err();
        assert!(e.to_string().starts_with("display_name.en:"), "{e}");
    }

    #[test]
    fn presets_must_be_known() {
        assert_eq!(
            presets(&["identity".into(), "shoe_size".into()]),
            Err(PartyError::UnknownPreset { index: 1 })
        );
    }

    #[test]
    fn claims_shapes() {
        assert!(claims(&json!({"urn:x": [["a", 0, null], []]})).is_ok());
        assert_eq!(claims(&json!([])), Err(PartyError::ClaimsShape));
        assert_eq!(claims(&json!({"": []})), Err(PartyError::ClaimsShape));
        assert_eq!(
            claims(&json!({"urn:x": "a"})),
            Err(PartyError::Paths {
                vct: "urn:x".into()
            })
        );
        for bad in [
            json!(["a", true]),
            json!(["a", -1]),
            json!(["a", 1_000_001]),
            json!("a"),
            json!([""]),
            json!(vec![json!("a"); 17]),
        ] {
            assert_eq!(
                claims(&json!({"urn:x": [["ok"], bad]})),
                Err(PartyError::Path {
                    vct: "urn:x".into(),
                    index: 1
                }),
            );
        }
        let many: serde_json::Map<String, Value> =
            (0..33).map(|i| (format!("urn:{i}"), json!([]))).collect();
        assert_eq!(claims(&Value::Object(many)), Err(PartyError::ClaimsShape));
    }

    #[test]
    fn uri_rules() {
        let ok = [
            "https://rp.example/back",
            "https://rp.example:8443/cb?x=1",
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
        ];
        for u in ok {
            assert!(uri_ok(u), "{u}");
        }
        let bad = [
            "http://rp.example/cb",
            "https://user:pw@rp.example/cb",
            "https://rp.example/cb#frag",
            "ftp://rp.example/",
            "rp.example/cb",
            "javascript:alert(1)",
            "http://10.0.0.1/cb",
        ];
        for u in bad {
            assert!(!uri_ok(u), "{u}");
        }
        assert!(!uri_ok(&format!("https://rp.example/{}", "a".repeat(2048))));
        assert_eq!(
            uris(
                "callback_urls",
                vec!["https://a.example".into(), "nope".into()]
            ),
            Err(PartyError::Uri {
                member: "callback_urls",
                index: 1
            })
        );
        assert_eq!(
            uris("redirect_uris", vec!["https://a.example".into(); 11]),
            Err(PartyError::TooManyUris {
                member: "redirect_uris"
            })
        );
    }

    #[test]
    fn rates() {
        assert!(requests_per_minute(1).is_ok());
        assert_eq!(requests_per_minute(0), Err(PartyError::RequestsPerMinute));
        assert_eq!(
            requests_per_minute(1_000_001),
            Err(PartyError::RequestsPerMinute)
        );
    }
}
