//! Disclosures (RFC 9901 §4.2.1 object properties, §4.2.2 array elements).

use serde_json::Value;

use crate::crypto::{b64url, b64url_decode, sha256};

/// Why a disclosure string was refused (RFC 9901 §7.1 step 3).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisclosureError {
    #[error("a disclosure is not base64url")]
    NotBase64,
    #[error("a disclosure is not a JSON array")]
    NotJsonArray,
    #[error("a disclosure must have 2 (array element) or 3 (object property) elements")]
    WrongLength,
    #[error("a disclosure's salt must be a string")]
    SaltNotString,
    #[error("a disclosure's claim name must be a string")]
    NameNotString,
    #[error("a disclosure may not name the claim `{0}` (RFC 9901 §4.2.1)")]
    ForbiddenName(String),
}

/// One disclosure, with the exact encoded string it was received or issued as
/// (the digest is over those bytes, RFC 9901 §4.2.3).
#[derive(Debug, Clone, PartialEq)]
pub struct Disclosure {
    pub salt: String,
    /// `Some` for an object property, `None` for an array element.
    pub name: Option<String>,
    pub value: Value,
    encoded: String,
}

impl Disclosure {
    /// A new object-property disclosure `[salt, name, value]`.
    pub fn property(salt: String, name: &str, value: Value) -> Self {
        let encoded = b64url(serde_json::to_vec(&(&salt, name, &value)).unwrap_or_default());
        Disclosure {
            salt,
            name: Some(name.to_owned()),
            value,
            encoded,
        }
    }

    /// A new array-element disclosure `[salt, value]`.
    pub fn element(salt: String, value: Value) -> Self {
        let encoded = b64url(serde_json::to_vec(&(&salt, &value)).unwrap_or_default());
        Disclosure {
            salt,
            name: None,
            value,
            encoded,
        }
    }

    /// Parses a received disclosure.
    pub fn parse(encoded: &str) -> Result<Self, DisclosureError> {
        let bytes = b64url_decode(encoded).map_err(|_| DisclosureError::NotBase64)?;
        let Ok(Value::Array(mut items)) = serde_json::from_slice::<Value>(&bytes) else {
            return Err(DisclosureError::NotJsonArray);
        };
        let (salt, name, value) = match items.len() {
            2 => {
                let value = items.pop().unwrap_or(Value::Null);
                (items.pop(), None, value)
            }
            3 => {
                let value = items.pop().unwrap_or(Value::Null);
                let name = match items.pop() {
                    Some(Value::String(n)) => n,
                    _ => return Err(DisclosureError::NameNotString),
                };
                if name == "_sd" || name == "..." {
                    return Err(DisclosureError::ForbiddenName(name));
                }
                (items.pop(), Some(name), value)
            }
            _ => return Err(DisclosureError::WrongLength),
        };
        let Some(Value::String(salt)) = salt else {
            return Err(DisclosureError::SaltNotString);
        };
        Ok(Disclosure {
            salt,
            name,
            value,
            encoded: encoded.to_owned(),
        })
    }

    /// The base64url string as it appears in the SD-JWT.
    pub fn encoded(&self) -> &str {
        &self.encoded
    }

    /// The `sha-256` digest of the encoded disclosure (RFC 9901 §4.2.3).
    pub fn digest(&self) -> String {
        digest_of(&self.encoded)
    }
}

/// base64url(SHA-256(ASCII(text))), the only `_sd_alg` we support.
pub fn digest_of(text: &str) -> String {
    b64url(sha256(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// RFC 9901 §5.1 (example issuance): disclosures and their digests.
    #[test]
    fn rfc9901_example_digests() {
        let cases = [
            (
                "WyIyR0xDNDJzS1F2ZUNmR2ZyeU5STjl3IiwgImdpdmVuX25hbWUiLCAiSm9obiJd",
                "jsu9yVulwQQlhFlM_3JlzMaSFzglhQG0DpfayQwLUK4",
                "given_name",
                json!("John"),
            ),
            (
                "WyJlbHVWNU9nM2dTTklJOEVZbnN4QV9BIiwgImZhbWlseV9uYW1lIiwgIkRvZSJd",
                "TGf4oLbgwd5JQaHyKVQZU9UdGE0w5rtDsrZzfUaomLo",
                "family_name",
                json!("Doe"),
            ),
        ];
        for (encoded, digest, name, value) in cases {
            let d = Disclosure::parse(encoded).unwrap();
            assert_eq!(d.digest(), digest);
            assert_eq!(d.name.as_deref(), Some(name));
            assert_eq!(d.value, value);
        }
    }

    /// RFC 9901 §4.2.2: an array-element disclosure.
    #[test]
    fn rfc9901_array_element_disclosure() {
        let d = Disclosure::parse("WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0").unwrap();
        assert_eq!(d.name, None);
        assert_eq!(d.value, json!("FR"));
        assert_eq!(d.salt, "lklxF5jMYlGTPUovMNIvCA");
        assert_eq!(d.digest(), "w0I8EKcdCtUPkGCNUrfwVp2xEgNjtoIDlOxc9-PlOhs");
    }

    #[test]
    fn issued_disclosures_round_trip_cyrillic() {
        let d = Disclosure::property("c2FsdA".into(), "family_name", json!("Иванова-Петрова"));
        let parsed = Disclosure::parse(d.encoded()).unwrap();
        assert_eq!(parsed, d);
        assert_eq!(parsed.digest(), d.digest());
    }

    #[test]
    fn malformed_disclosures() {
        let enc = |v: Value| b64url(serde_json::to_vec(&v).unwrap());
        let cases = [
            ("not base64!".to_owned(), DisclosureError::NotBase64),
            (b64url("{}"), DisclosureError::NotJsonArray),
            (b64url("[1, 2"), DisclosureError::NotJsonArray),
            (enc(json!(["s"])), DisclosureError::WrongLength),
            (
                enc(json!(["s", "n", "v", "x"])),
                DisclosureError::WrongLength,
            ),
            (enc(json!([1, "n", "v"])), DisclosureError::SaltNotString),
            (enc(json!([null, "v"])), DisclosureError::SaltNotString),
            (enc(json!(["s", 5, "v"])), DisclosureError::NameNotString),
            (
                enc(json!(["s", "_sd", "v"])),
                DisclosureError::ForbiddenName("_sd".into()),
            ),
            (
                enc(json!(["s", "...", "v"])),
                DisclosureError::ForbiddenName("...".into()),
            ),
        ];
        for (encoded, expected) in cases {
            assert_eq!(Disclosure::parse(&encoded), Err(expected), "{encoded}");
        }
    }
}
