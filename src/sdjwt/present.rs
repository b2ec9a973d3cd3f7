//! The holder's side (RFC 9901 §7.2, §4.3): choose the disclosures a
//! selection of claims needs, nothing more, and add a KB-JWT.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::compact::{self, Compact, FormatError};
use super::disclosure::{Disclosure, DisclosureError};
use super::kb;
use super::path::{ClaimPath, PathElem};
use super::process::{self, ProcessError};
use crate::crypto::SigningKey;
use crate::crypto::jws::{Jws, JwsError};

/// Why a presentation could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PresentError {
    #[error(transparent)]
    Format(#[from] FormatError),
    #[error("the credential's JWT is malformed: {0}")]
    Jws(JwsError),
    #[error(transparent)]
    Disclosure(#[from] DisclosureError),
    #[error(transparent)]
    Process(#[from] ProcessError),
    #[error("the credential has no claim at {0}")]
    NoSuchClaim(String),
    #[error("signing the KB-JWT failed")]
    Signing,
}

/// Key binding for a presentation.
#[derive(Debug)]
pub struct KeyBinding<'a> {
    pub holder: &'a SigningKey,
    pub aud: &'a str,
    pub nonce: &'a str,
    pub iat: i64,
}

/// A credential as the holder keeps it, with every disclosure.
#[derive(Debug, Clone)]
pub struct HolderCredential {
    jwt: String,
    disclosures: Vec<Disclosure>,
    /// Fully processed claims (the holder's view).
    pub claims: Map<String, Value>,
    /// Where each disclosure puts its claim.
    pub paths: Vec<Vec<PathElem>>,
    pub header: Map<String, Value>,
}

impl HolderCredential {
    /// Parses an issued SD-JWT (signature not checked: the holder got it
    /// from its issuer; verifiers check it).
    pub fn parse(sd_jwt: &str) -> Result<Self, PresentError> {
        let c = Compact::parse(sd_jwt)?;
        let jws = Jws::decode(c.jwt).map_err(PresentError::Jws)?;
        let mut payload = jws.payload_json().map_err(PresentError::Jws)?;
        payload.remove("_sd_alg");
        let disclosures = c
            .disclosures
            .iter()
            .map(|d| Disclosure::parse(d))
            .collect::<Result<Vec<_>, _>>()?;
        let p = process::process(payload, &disclosures, true)?;
        Ok(HolderCredential {
            jwt: c.jwt.to_owned(),
            disclosures,
            claims: p.claims,
            paths: p.paths,
            header: jws.header,
        })
    }

    pub fn disclosures(&self) -> &[Disclosure] {
        &self.disclosures
    }

    /// Indices of the disclosures that `selection` needs: those on the way to
    /// each selected claim (parents of nested claims) and those inside it.
    pub fn select(&self, selection: &[ClaimPath]) -> Result<BTreeSet<usize>, PresentError> {
        let mut chosen = BTreeSet::new();
        for sel in selection {
            if !exists(&Value::Object(self.claims.clone()), sel.elems()) {
                return Err(PresentError::NoSuchClaim(sel.to_string()));
            }
            for (i, p) in self.paths.iter().enumerate() {
                if sel.is_covered_by_prefix(p) || sel.covers_prefix_of(p) {
                    chosen.insert(i);
                }
            }
        }
        Ok(chosen)
    }

    /// A presentation disclosing exactly `selection`, with a KB-JWT when
    /// `kb` is given.
    pub fn present(
        &self,
        selection: &[ClaimPath],
        kb: Option<&KeyBinding<'_>>,
    ) -> Result<String, PresentError> {
        let chosen = self.select(selection)?;
        let mut out = compact::join(
            &self.jwt,
            chosen.iter().map(|&i| self.disclosures[i].encoded()),
        );
        if let Some(kb) = kb {
            let sd_hash = super::disclosure::digest_of(&out);
            let kb_jwt = kb::create(kb.holder, kb.aud, kb.nonce, kb.iat, &sd_hash)
                .map_err(|_| PresentError::Signing)?;
            out.push_str(&kb_jwt);
        }
        Ok(out)
    }
}

fn exists(v: &Value, path: &[PathElem]) -> bool {
    let Some((first, rest)) = path.split_first() else {
        return true;
    };
    match (first, v) {
        (PathElem::Key(k), Value::Object(o)) => o.get(k).is_some_and(|c| exists(c, rest)),
        (PathElem::Index(i), Value::Array(a)) => a.get(*i).is_some_and(|c| exists(c, rest)),
        (PathElem::All, Value::Array(a)) => !a.is_empty() && a.iter().all(|c| exists(c, rest)),
        _ => false,
    }
}
