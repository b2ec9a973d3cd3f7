//! Claims path pointers (OpenID4VP 1.0 §7): a path into a JSON claims set whose
//! elements are object keys (strings), array indices (non-negative integers) or
//! `null`, which selects every element of an array.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// One step of a [`ClaimPath`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathElem {
    /// An object member name.
    Key(String),
    /// One element of an array.
    Index(usize),
    /// `null`: every element of an array.
    All,
}

impl PathElem {
    /// Whether this step of a selection covers `step` of a concrete path
    /// (`All` covers any index).
    pub fn covers(&self, step: &PathElem) -> bool {
        match (self, step) {
            (PathElem::All, PathElem::Index(_)) => true,
            (a, b) => a == b,
        }
    }
}

/// A claims path pointer, e.g. `["resident_address", "locality"]` or
/// `["driving_privileges", null, "category"]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ClaimPath(pub Vec<PathElem>);

impl ClaimPath {
    /// A path of object keys only.
    pub fn keys<I, S>(keys: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        ClaimPath(keys.into_iter().map(|k| PathElem::Key(k.into())).collect())
    }

    pub fn elems(&self) -> &[PathElem] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `self`, read as a selection, covers the start of `other`
    /// (`All` matching any index): `["a", null]` covers `["a", 2, "b"]`.
    pub fn covers_prefix_of(&self, other: &[PathElem]) -> bool {
        self.0.len() <= other.len() && self.0.iter().zip(other).all(|(s, o)| s.covers(o))
    }

    /// Whether the concrete path `prefix` is an ancestor of (or equal to)
    /// what this selection points at.
    pub fn is_covered_by_prefix(&self, prefix: &[PathElem]) -> bool {
        prefix.len() <= self.0.len() && self.0.iter().zip(prefix).all(|(s, p)| s.covers(p))
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match e {
                PathElem::Key(k) => write!(f, "{}", serde_json::Value::String(k.clone()))?,
                PathElem::Index(n) => write!(f, "{n}")?,
                PathElem::All => f.write_str("null")?,
            }
        }
        f.write_str("]")
    }
}

impl Serialize for ClaimPath {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for e in &self.0 {
            match e {
                PathElem::Key(k) => seq.serialize_element(k)?,
                PathElem::Index(n) => seq.serialize_element(n)?,
                PathElem::All => seq.serialize_element(&())?,
            }
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for ClaimPath {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PathVisitor;
        impl<'de> Visitor<'de> for PathVisitor {
            type Value = ClaimPath;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a non-empty array of strings, non-negative integers and nulls")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ClaimPath, A::Error> {
                let mut out = Vec::new();
                while let Some(v) = seq.next_element::<serde_json::Value>()? {
                    out.push(match v {
                        serde_json::Value::String(s) => PathElem::Key(s),
                        serde_json::Value::Null => PathElem::All,
                        serde_json::Value::Number(n) => match n.as_u64() {
                            Some(i) => PathElem::Index(
                                usize::try_from(i)
                                    .map_err(|_| de::Error::custom("index too large"))?,
                            ),
                            None => {
                                return Err(de::Error::custom(
                                    "a path index must be a non-negative integer",
                                ));
                            }
                        },
                        _ => {
                            return Err(de::Error::custom(
                                "a path element must be a string, a non-negative integer or null",
                            ));
                        }
                    });
                }
                if out.is_empty() {
                    return Err(de::Error::custom("a claims path must not be empty"));
                }
                Ok(ClaimPath(out))
            }
        }
        deserializer.deserialize_seq(PathVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_json() {
        let p: ClaimPath =
            serde_json::from_str(r#"["driving_privileges", null, "category"]"#).unwrap();
        assert_eq!(
            p.0,
            vec![
                PathElem::Key("driving_privileges".into()),
                PathElem::All,
                PathElem::Key("category".into())
            ]
        );
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"["driving_privileges",null,"category"]"#
        );
    }

    #[test]
    fn rejects_bad_elements() {
        for bad in ["[]", "[-1]", "[1.5]", "[true]", "[{}]", r#""a""#] {
            assert!(serde_json::from_str::<ClaimPath>(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn wildcard_covers_indices() {
        let sel: ClaimPath = serde_json::from_str(r#"["a", null]"#).unwrap();
        let concrete = [
            PathElem::Key("a".into()),
            PathElem::Index(3),
            PathElem::Key("b".into()),
        ];
        assert!(sel.covers_prefix_of(&concrete));
        assert!(sel.is_covered_by_prefix(&concrete[..1]));
        assert!(!sel.is_covered_by_prefix(&concrete));
    }
}
