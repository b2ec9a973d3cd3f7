//! Issuing SD-JWTs (RFC 9901 §4, §5): disclosures for the paths the policy
//! names, nested disclosures, array elements, decoy digests, `_sd_alg`.

use serde_json::{Map, Value};

use super::compact;
use super::disclosure::{Disclosure, digest_of};
use super::path::{ClaimPath, PathElem};
use crate::crypto::{SigningKey, b64url, jws, random_bytes};

/// Where salts (and decoy digests) come from. Production uses
/// [`RandomSalts`]; tests reproduce spec examples with fixed salts.
pub trait SaltSource {
    /// A salt with at least 128 bits of entropy (RFC 9901 §4.2.1).
    fn salt(&mut self) -> String;
    /// A decoy digest indistinguishable from a real one (RFC 9901 §4.2.5).
    fn decoy_digest(&mut self) -> String {
        digest_of(&self.salt())
    }
    /// A uniformly random number below `bound` (decoy counts and positions).
    fn below(&mut self, bound: u32) -> u32;
}

/// 128-bit salts from OpenSSL's CSPRNG ([`random_bytes`], which serves
/// small values from a per-thread pool and wipes what it hands out).
#[derive(Debug, Default)]
pub struct RandomSalts;

impl SaltSource for RandomSalts {
    fn salt(&mut self) -> String {
        b64url(random_bytes::<16>())
    }
    fn decoy_digest(&mut self) -> String {
        b64url(random_bytes::<32>())
    }
    fn below(&mut self, bound: u32) -> u32 {
        if bound <= 1 {
            return 0;
        }
        // Rejection sampling keeps the distribution uniform.
        let zone = u32::MAX - u32::MAX % bound;
        loop {
            let r = u32::from_le_bytes(random_bytes::<4>());
            if r < zone {
                return r % bound;
            }
        }
    }
}

/// Why an SD-JWT could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error("the claims already contain the reserved member `{0}`")]
    ReservedMember(&'static str),
    #[error("the claim {0} must not be selectively disclosable")]
    NotDisclosable(String),
    #[error("the selectively disclosable path {0} names no claim")]
    PathNotFound(String),
    #[error("signing failed")]
    Signing,
}

/// Options of one issuance.
#[derive(Debug, Clone)]
pub struct IssueOptions<'a> {
    /// JWS `typ` header (`dc+sd-jwt` for SD-JWT VCs).
    pub typ: &'a str,
    /// At most this many decoy digests per `_sd` array (a random number of
    /// them, so batch credentials differ in shape too).
    pub max_decoys: u8,
    /// Top-level claims that must stay in the clear.
    pub never_disclosable: &'a [&'a str],
}

impl Default for IssueOptions<'_> {
    fn default() -> Self {
        IssueOptions {
            typ: super::vc::TYP,
            max_decoys: 3,
            never_disclosable: super::vc::NEVER_DISCLOSABLE,
        }
    }
}

/// An issued SD-JWT: the compact form with every disclosure.
#[derive(Debug, Clone)]
pub struct Issued {
    pub compact: String,
    pub disclosures: Vec<Disclosure>,
}

/// Issues `claims` as an SD-JWT signed by `key`; each of `sd_paths` becomes
/// a disclosure. A path ending in `null` makes every element of an array
/// separately disclosable; paths nest (a disclosable object whose members
/// are disclosable too).
pub fn issue(
    key: &SigningKey,
    claims: Map<String, Value>,
    sd_paths: &[ClaimPath],
    options: &IssueOptions<'_>,
    salts: &mut dyn SaltSource,
) -> Result<Issued, IssueError> {
    for reserved in ["_sd", "_sd_alg", "..."] {
        if claims.contains_key(reserved) {
            return Err(IssueError::ReservedMember(reserved));
        }
    }
    for p in sd_paths {
        if let [PathElem::Key(k)] = p.elems() {
            if options.never_disclosable.contains(&k.as_str()) {
                return Err(IssueError::NotDisclosable(p.to_string()));
            }
        }
    }
    let mut b = Builder {
        sd_paths,
        matched: vec![false; sd_paths.len()],
        options,
        salts,
        disclosures: Vec::new(),
    };
    let mut path = Vec::new();
    let mut payload = b.object(claims, &mut path)?;
    if let Some(i) = b.matched.iter().position(|m| !m) {
        return Err(IssueError::PathNotFound(sd_paths[i].to_string()));
    }
    payload.insert("_sd_alg".into(), Value::String("sha-256".into()));

    let mut header = Map::new();
    header.insert("typ".into(), Value::String(options.typ.into()));
    header.insert("kid".into(), Value::String(key.kid().into()));
    let payload_json = serde_json::to_vec(&payload).map_err(|_| IssueError::Signing)?;
    let jwt = jws::sign(key, &header, &payload_json).map_err(|_| IssueError::Signing)?;
    let compact = compact::join(&jwt, b.disclosures.iter().map(Disclosure::encoded));
    Ok(Issued {
        compact,
        disclosures: b.disclosures,
    })
}

struct Builder<'a, 'o> {
    sd_paths: &'a [ClaimPath],
    matched: Vec<bool>,
    options: &'a IssueOptions<'o>,
    salts: &'a mut dyn SaltSource,
    disclosures: Vec<Disclosure>,
}

impl Builder<'_, '_> {
    /// Whether the concrete `path` is one of the disclosable paths.
    fn is_sd(&mut self, path: &[PathElem]) -> bool {
        let mut hit = false;
        for (i, p) in self.sd_paths.iter().enumerate() {
            if p.elems().len() == path.len() && p.covers_prefix_of(path) {
                self.matched[i] = true;
                hit = true;
            }
        }
        hit
    }

    fn value(&mut self, v: Value, path: &mut Vec<PathElem>) -> Result<Value, IssueError> {
        match v {
            Value::Object(o) => Ok(Value::Object(self.object(o, path)?)),
            Value::Array(a) => Ok(Value::Array(self.array(a, path)?)),
            other => Ok(other),
        }
    }

    fn object(
        &mut self,
        obj: Map<String, Value>,
        path: &mut Vec<PathElem>,
    ) -> Result<Map<String, Value>, IssueError> {
        let mut out = Map::with_capacity(obj.len());
        let mut sd = Vec::new();
        for (k, v) in obj {
            path.push(PathElem::Key(k));
            let v = self.value(v, path)?;
            let disclose = self.is_sd(path);
            let Some(PathElem::Key(k)) = path.pop() else {
                unreachable!()
            };
            if disclose {
                let d = Disclosure::property(self.salts.salt(), &k, v);
                sd.push(d.digest());
                self.disclosures.push(d);
            } else {
                out.insert(k, v);
            }
        }
        if !sd.is_empty() {
            for _ in 0..self.salts.below(u32::from(self.options.max_decoys) + 1) {
                sd.push(self.salts.decoy_digest());
            }
            // Sorting hides the original claim order (RFC 9901 §4.2.4.1).
            sd.sort_unstable();
            out.insert(
                "_sd".into(),
                Value::Array(sd.into_iter().map(Value::String).collect()),
            );
        }
        Ok(out)
    }

    fn array(
        &mut self,
        arr: Vec<Value>,
        path: &mut Vec<PathElem>,
    ) -> Result<Vec<Value>, IssueError> {
        let mut out = Vec::with_capacity(arr.len());
        let mut any_sd = false;
        for (i, v) in arr.into_iter().enumerate() {
            path.push(PathElem::Index(i));
            let v = self.value(v, path)?;
            let disclose = self.is_sd(path);
            path.pop();
            if disclose {
                any_sd = true;
                let d = Disclosure::element(self.salts.salt(), v);
                out.push(array_digest(d.digest()));
                self.disclosures.push(d);
            } else {
                out.push(v);
            }
        }
        if any_sd {
            for _ in 0..self.salts.below(u32::from(self.options.max_decoys) + 1) {
                // Decoys go anywhere in the array; their position leaks nothing.
                let at = self
                    .salts
                    .below(u32::try_from(out.len() + 1).unwrap_or(u32::MAX))
                    as usize;
                out.insert(at, array_digest(self.salts.decoy_digest()));
            }
        }
        Ok(out)
    }
}

fn array_digest(digest: String) -> Value {
    let mut m = Map::with_capacity(1);
    m.insert("...".into(), Value::String(digest));
    Value::Object(m)
}
