//! Replacing digests by disclosed claims (RFC 9901 §7.1 step 3), shared by
//! the verifier and the holder. Every rule of the step is enforced here.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use super::disclosure::Disclosure;
use super::path::PathElem;

/// Nesting limit for claims, disclosures included.
pub const MAX_DEPTH: usize = 32;

/// A rule of RFC 9901 §7.1 step 3 that the SD-JWT breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessError {
    #[error("`_sd` must be an array of digest strings")]
    SdNotArrayOfStrings,
    #[error(
        "an array element `{{\"...\": digest}}` must have only the `...` member with a string digest"
    )]
    MalformedArrayDigest,
    #[error("the digest {0} appears more than once")]
    DuplicateDigest(String),
    #[error("the same disclosure was presented twice")]
    DuplicateDisclosure,
    #[error("a disclosure is not referenced by any digest")]
    UnreferencedDisclosure,
    #[error(
        "an array-element disclosure is referenced from `_sd`, or a property disclosure from an array"
    )]
    WrongDisclosureKind,
    #[error("the disclosed claim `{0}` already exists at its level")]
    ClaimAlreadyExists(String),
    #[error("claims are nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
}

/// The processed claims and, for each disclosure, where it put its claim.
#[derive(Debug)]
pub struct Processed {
    pub claims: Map<String, Value>,
    /// `paths[i]` is the path of the claim disclosure `i` revealed.
    pub paths: Vec<Vec<PathElem>>,
}

struct Walker<'d> {
    disclosures: &'d [Disclosure],
    by_digest: HashMap<String, usize>,
    used: Vec<bool>,
    seen: HashSet<String>,
    paths: Vec<Vec<PathElem>>,
    record_paths: bool,
}

/// Processes `payload` (with `_sd_alg` already removed) against `disclosures`.
pub fn process(
    payload: Map<String, Value>,
    disclosures: &[Disclosure],
    record_paths: bool,
) -> Result<Processed, ProcessError> {
    let mut by_digest = HashMap::with_capacity(disclosures.len());
    for (i, d) in disclosures.iter().enumerate() {
        if by_digest.insert(d.digest(), i).is_some() {
            return Err(ProcessError::DuplicateDisclosure);
        }
    }
    let mut w = Walker {
        disclosures,
        by_digest,
        used: vec![false; disclosures.len()],
        seen: HashSet::new(),
        paths: if record_paths {
            vec![Vec::new(); disclosures.len()]
        } else {
            Vec::new()
        },
        record_paths,
    };
    let mut path = Vec::new();
    let claims = w.object(payload, &mut path, 0)?;
    if w.used.iter().any(|u| !u) {
        return Err(ProcessError::UnreferencedDisclosure);
    }
    Ok(Processed {
        claims,
        paths: w.paths,
    })
}

impl Walker<'_> {
    fn value(
        &mut self,
        v: Value,
        path: &mut Vec<PathElem>,
        depth: usize,
    ) -> Result<Value, ProcessError> {
        match v {
            Value::Object(o) => Ok(Value::Object(self.object(o, path, depth + 1)?)),
            Value::Array(a) => Ok(Value::Array(self.array(a, path, depth + 1)?)),
            other => Ok(other),
        }
    }

    fn take(&mut self, digest: String) -> Result<Option<usize>, ProcessError> {
        let found = self.by_digest.get(&digest).copied();
        if self.seen.contains(&digest) {
            return Err(ProcessError::DuplicateDigest(digest));
        }
        self.seen.insert(digest);
        if let Some(i) = found {
            self.used[i] = true;
        }
        Ok(found)
    }

    fn object(
        &mut self,
        mut obj: Map<String, Value>,
        path: &mut Vec<PathElem>,
        depth: usize,
    ) -> Result<Map<String, Value>, ProcessError> {
        if depth > MAX_DEPTH {
            return Err(ProcessError::TooDeep);
        }
        let sd = obj.remove("_sd");
        let mut out = Map::with_capacity(obj.len() + 8);
        for (k, v) in obj {
            path.push(PathElem::Key(k));
            let v = self.value(v, path, depth)?;
            let Some(PathElem::Key(k)) = path.pop() else {
                unreachable!()
            };
            out.insert(k, v);
        }
        let Some(sd) = sd else { return Ok(out) };
        let Value::Array(digests) = sd else {
            return Err(ProcessError::SdNotArrayOfStrings);
        };
        for digest in digests {
            let Value::String(digest) = digest else {
                return Err(ProcessError::SdNotArrayOfStrings);
            };
            let Some(i) = self.take(digest)? else {
                continue;
            };
            let d = &self.disclosures[i];
            let Some(name) = d.name.clone() else {
                return Err(ProcessError::WrongDisclosureKind);
            };
            if out.contains_key(&name) {
                return Err(ProcessError::ClaimAlreadyExists(name));
            }
            let value = d.value.clone();
            path.push(PathElem::Key(name));
            if self.record_paths {
                self.paths[i] = path.clone();
            }
            let value = self.value(value, path, depth)?;
            let Some(PathElem::Key(name)) = path.pop() else {
                unreachable!()
            };
            out.insert(name, value);
        }
        Ok(out)
    }

    fn array(
        &mut self,
        arr: Vec<Value>,
        path: &mut Vec<PathElem>,
        depth: usize,
    ) -> Result<Vec<Value>, ProcessError> {
        if depth > MAX_DEPTH {
            return Err(ProcessError::TooDeep);
        }
        let mut out = Vec::with_capacity(arr.len());
        for elem in arr {
            let elem = match elem {
                Value::Object(o) if o.contains_key("...") => {
                    let digest = match (o.len(), o.get("...")) {
                        (1, Some(Value::String(s))) => s.clone(),
                        _ => return Err(ProcessError::MalformedArrayDigest),
                    };
                    let Some(i) = self.take(digest)? else {
                        continue;
                    };
                    let d = &self.disclosures[i];
                    if d.name.is_some() {
                        return Err(ProcessError::WrongDisclosureKind);
                    }
                    if self.record_paths {
                        let mut p = path.clone();
                        p.push(PathElem::Index(out.len()));
                        self.paths[i] = p;
                    }
                    d.value.clone()
                }
                other => other,
            };
            path.push(PathElem::Index(out.len()));
            let v = self.value(elem, path, depth)?;
            path.pop();
            out.push(v);
        }
        Ok(out)
    }
}
