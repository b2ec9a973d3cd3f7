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
    #[error("the claim `{0}` is given twice")]
    DuplicateClaim(String),
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
    let (compact, encoded) =
        Template::new(claims, sd_paths, options)?.sign(key, &Map::new(), salts)?;
    let disclosures = encoded
        .iter()
        .map(|d| Disclosure::parse(d))
        .collect::<Result<_, _>>()
        // Only this module's own output is parsed here.
        .map_err(|_| IssueError::Signing)?;
    Ok(Issued {
        compact,
        disclosures,
    })
}

/// Claims prepared once for many SD-JWTs of the same content: checked
/// against the policy, split into clear and disclosable parts, and
/// serialized. Each [`Template::issue`] then only draws salts and decoys,
/// hashes and signs (what [`issue`] does on every call otherwise); for the
/// same salts its output is byte for byte what [`issue`] gives.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    root: Vec<Member>,
    /// The top-level claim names, sorted: a per-credential claim may not
    /// repeat one.
    names: Vec<String>,
    typ: String,
    max_decoys: u8,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    /// A value with nothing disclosable inside, as JSON.
    Plain(String),
    Object(Vec<Member>),
    Array(Vec<Element>),
}

#[derive(Debug, Clone, PartialEq)]
struct Member {
    /// The claim name as a JSON string (quoted and escaped).
    name: String,
    value: Node,
    disclosable: bool,
}

#[derive(Debug, Clone, PartialEq)]
struct Element {
    value: Node,
    disclosable: bool,
}

const RESERVED: [&str; 3] = ["_sd", "_sd_alg", "..."];

impl Template {
    /// Checks `claims` and `sd_paths` against `options` and prepares them.
    pub fn new(
        claims: Map<String, Value>,
        sd_paths: &[ClaimPath],
        options: &IssueOptions<'_>,
    ) -> Result<Self, IssueError> {
        // SD-JWT VC §3.2.2.2: the registered claims and their sub-claims.
        if let Some(p) = sd_paths
            .iter()
            .find(|p| super::vc::is_reserved_path(p.elems(), options.never_disclosable))
        {
            return Err(IssueError::NotDisclosable(p.to_string()));
        }
        let mut names: Vec<String> = claims.keys().cloned().collect();
        names.sort_unstable();
        let mut planner = Planner {
            sd_paths,
            matched: vec![false; sd_paths.len()],
        };
        let root = planner.members(claims, &mut Vec::new())?;
        if let Some(i) = planner.matched.iter().position(|m| !m) {
            return Err(IssueError::PathNotFound(sd_paths[i].to_string()));
        }
        Ok(Template {
            root,
            names,
            typ: options.typ.to_owned(),
            max_decoys: options.max_decoys,
        })
    }

    /// Issues one SD-JWT: `head` (claims of this credential alone, such as
    /// `iat`, `cnf` and `status`; always in the clear, first in the payload)
    /// and the prepared claims, with fresh salts and decoys from `salts`.
    pub fn issue(
        &self,
        key: &SigningKey,
        head: &Map<String, Value>,
        salts: &mut dyn SaltSource,
    ) -> Result<String, IssueError> {
        Ok(self.sign(key, head, salts)?.0)
    }

    /// The compact SD-JWT and its encoded disclosures.
    fn sign(
        &self,
        key: &SigningKey,
        head: &Map<String, Value>,
        salts: &mut dyn SaltSource,
    ) -> Result<(String, Vec<String>), IssueError> {
        for name in head.keys() {
            if let Some(reserved) = RESERVED.iter().find(|r| **r == name) {
                return Err(IssueError::ReservedMember(reserved));
            }
            if self.names.binary_search(name).is_ok() {
                return Err(IssueError::DuplicateClaim(name.clone()));
            }
        }
        head.values().try_for_each(reserved_free)?;
        let mut r = Render {
            salts,
            max_decoys: self.max_decoys,
            disclosures: Vec::with_capacity(32),
        };
        let mut payload = Vec::with_capacity(2048);
        payload.push(b'{');
        let mut first = true;
        for (name, value) in head {
            separate(&mut payload, &mut first);
            json_into(&mut payload, name);
            payload.push(b':');
            json_into(&mut payload, value);
        }
        r.members(&self.root, &mut payload, first);
        payload.extend_from_slice(b",\"_sd_alg\":\"sha-256\"}");

        // `kid`, and `x5c` when the key has a certificate chain (SD-JWT VC
        // "Inline X.509 Certificates"; HAIP 1.0 §6.1.1).
        let mut header = Map::with_capacity(3);
        header.insert("typ".into(), Value::String(self.typ.clone()));
        key.name_in(&mut header);
        let jwt = jws::sign(key, &header, &payload).map_err(|_| IssueError::Signing)?;
        let compact = compact::join(&jwt, r.disclosures.iter().map(String::as_str));
        Ok((compact, r.disclosures))
    }
}

/// Decides, once per template, which claims are disclosable.
struct Planner<'a> {
    sd_paths: &'a [ClaimPath],
    matched: Vec<bool>,
}

impl Planner<'_> {
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

    fn node(&mut self, v: Value, path: &mut Vec<PathElem>) -> Result<Node, IssueError> {
        let below = |p: &ClaimPath| p.elems().len() > path.len() && p.is_covered_by_prefix(path);
        if !self.sd_paths.iter().any(below) {
            reserved_free(&v)?;
            return Ok(Node::Plain(v.to_string()));
        }
        Ok(match v {
            Value::Object(o) => Node::Object(self.members(o, path)?),
            Value::Array(a) => Node::Array(self.elements(a, path)?),
            // A path going on below a scalar names nothing; it stays
            // unmatched and is reported.
            other => Node::Plain(other.to_string()),
        })
    }

    fn members(
        &mut self,
        obj: Map<String, Value>,
        path: &mut Vec<PathElem>,
    ) -> Result<Vec<Member>, IssueError> {
        let mut out = Vec::with_capacity(obj.len());
        for (k, v) in obj {
            if let Some(reserved) = RESERVED.iter().find(|r| **r == k) {
                return Err(IssueError::ReservedMember(reserved));
            }
            path.push(PathElem::Key(k));
            let value = self.node(v, path)?;
            let disclosable = self.is_sd(path);
            let Some(PathElem::Key(k)) = path.pop() else {
                unreachable!()
            };
            out.push(Member {
                name: Value::String(k).to_string(),
                value,
                disclosable,
            });
        }
        Ok(out)
    }

    fn elements(
        &mut self,
        arr: Vec<Value>,
        path: &mut Vec<PathElem>,
    ) -> Result<Vec<Element>, IssueError> {
        let mut out = Vec::with_capacity(arr.len());
        for (i, v) in arr.into_iter().enumerate() {
            path.push(PathElem::Index(i));
            let value = self.node(v, path)?;
            let disclosable = self.is_sd(path);
            path.pop();
            out.push(Element { value, disclosable });
        }
        Ok(out)
    }
}

/// Refuses `_sd`, `_sd_alg` and `...` as member names anywhere in `v`: a
/// verifier would read them as SD-JWT structure (RFC 9901 §4.1).
fn reserved_free(v: &Value) -> Result<(), IssueError> {
    match v {
        Value::Object(o) => {
            for (k, v) in o {
                if let Some(reserved) = RESERVED.iter().find(|r| **r == k) {
                    return Err(IssueError::ReservedMember(reserved));
                }
                reserved_free(v)?;
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(reserved_free),
        _ => Ok(()),
    }
}

/// One issuance from a template. Salts and decoys are drawn in the order
/// a depth-first walk meets them: a disclosable value's own disclosures
/// first, then its salt; an object's or array's decoys after its members.
struct Render<'a> {
    salts: &'a mut dyn SaltSource,
    max_decoys: u8,
    disclosures: Vec<String>,
}

impl Render<'_> {
    fn node(&mut self, node: &Node, out: &mut Vec<u8>) {
        match node {
            Node::Plain(json) => out.extend_from_slice(json.as_bytes()),
            Node::Object(members) => {
                out.push(b'{');
                self.members(members, out, true);
                out.push(b'}');
            }
            Node::Array(elements) => self.elements(elements, out),
        }
    }

    /// Writes `members` (after others when `first` is false), then `_sd`.
    fn members(&mut self, members: &[Member], out: &mut Vec<u8>, mut first: bool) {
        let mut sd = Vec::new();
        for m in members {
            if m.disclosable {
                sd.push(self.disclose(Some(&m.name), &m.value));
            } else {
                separate(out, &mut first);
                out.extend_from_slice(m.name.as_bytes());
                out.push(b':');
                self.node(&m.value, out);
            }
        }
        if sd.is_empty() {
            return;
        }
        for _ in 0..self.salts.below(u32::from(self.max_decoys) + 1) {
            sd.push(self.salts.decoy_digest());
        }
        // Sorting hides the original claim order (RFC 9901 §4.2.4.1).
        sd.sort_unstable();
        separate(out, &mut first);
        out.extend_from_slice(b"\"_sd\":[");
        for (i, digest) in sd.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            json_str_into(out, digest);
        }
        out.push(b']');
    }

    fn elements(&mut self, elements: &[Element], out: &mut Vec<u8>) {
        let mut items: Vec<Vec<u8>> = Vec::with_capacity(elements.len() + 3);
        let mut any_sd = false;
        for e in elements {
            if e.disclosable {
                any_sd = true;
                let digest = self.disclose(None, &e.value);
                items.push(array_digest(&digest));
            } else {
                let mut item = Vec::new();
                self.node(&e.value, &mut item);
                items.push(item);
            }
        }
        if any_sd {
            for _ in 0..self.salts.below(u32::from(self.max_decoys) + 1) {
                // Decoys go anywhere in the array; their position leaks nothing.
                let at = self
                    .salts
                    .below(u32::try_from(items.len() + 1).unwrap_or(u32::MAX))
                    as usize;
                items.insert(at, array_digest(&self.salts.decoy_digest()));
            }
        }
        out.push(b'[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(item);
        }
        out.push(b']');
    }

    /// Makes the disclosure `[salt, name, value]` (or `[salt, value]` for an
    /// array element) and returns its digest.
    fn disclose(&mut self, name: Option<&str>, value: &Node) -> String {
        let mut rendered = Vec::new();
        let value_json: &[u8] = match value {
            Node::Plain(json) => json.as_bytes(),
            other => {
                self.node(other, &mut rendered);
                &rendered
            }
        };
        let salt = self.salts.salt();
        let mut json = Vec::with_capacity(salt.len() + value_json.len() + 40);
        json.push(b'[');
        json_str_into(&mut json, &salt);
        json.push(b',');
        if let Some(name) = name {
            json.extend_from_slice(name.as_bytes());
            json.push(b',');
        }
        json.extend_from_slice(value_json);
        json.push(b']');
        let encoded = b64url(&json);
        let digest = digest_of(&encoded);
        self.disclosures.push(encoded);
        digest
    }
}

fn separate(out: &mut Vec<u8>, first: &mut bool) {
    if !std::mem::take(first) {
        out.push(b',');
    }
}

/// Appends `s` as a JSON string. Salts and digests are base64url, which
/// needs no escaping: those skip the general (byte by byte) escaper.
fn json_str_into(out: &mut Vec<u8>, s: &str) {
    if s.bytes().all(|b| BASE64URL[usize::from(b)]) {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        json_into(out, s);
    }
}

/// The base64url alphabet, as a byte lookup table.
static BASE64URL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_alphanumeric() || c == b'-' || c == b'_';
        b += 1;
    }
    t
};

/// Appends `v` as compact JSON (what `serde_json::to_vec` writes).
fn json_into(out: &mut Vec<u8>, v: &(impl serde::Serialize + ?Sized)) {
    // UNWRAP SAFETY: serializing strings and JSON values into a Vec cannot
    // fail (no I/O, no non-string map keys).
    serde_json::to_writer(out, v).expect("JSON into memory");
}

/// `{"...": digest}`, an array element's digest (RFC 9901 §4.2.4.2).
fn array_digest(digest: &str) -> Vec<u8> {
    let mut item = Vec::with_capacity(digest.len() + 12);
    item.extend_from_slice(b"{\"...\":");
    json_str_into(&mut item, digest);
    item.push(b'}');
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped_unless_base64url() {
        for s in ["abc-_XYZ09", "", "a\"b", "a\\b", "перевод", "a b", "\n"] {
            let mut fast = Vec::new();
            json_str_into(&mut fast, s);
            assert_eq!(fast, serde_json::to_vec(s).unwrap(), "{s:?}");
        }
    }
}
