//! The compact serialization (RFC 9901 §4): `<JWT>~<D1>~…~<Dn>~[<KB-JWT>]`.

use super::disclosure::digest_of;

/// Upper bound on disclosures in one SD-JWT, so a crafted token cannot make
/// a verifier hash and parse without limit.
pub const MAX_DISCLOSURES: usize = 256;

/// Why the `~`-separated structure was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    #[error("an SD-JWT has the form <JWT>~<Disclosures>~[<KB-JWT>]; no `~` was found")]
    NoSeparator,
    #[error("the issuer-signed JWT is empty")]
    EmptyJwt,
    #[error("an empty disclosure (`~~`) is not allowed")]
    EmptyDisclosure,
    #[error("more than {MAX_DISCLOSURES} disclosures")]
    TooManyDisclosures,
}

/// An SD-JWT or SD-JWT+KB split into its parts, borrowing the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compact<'a> {
    pub jwt: &'a str,
    pub disclosures: Vec<&'a str>,
    /// The KB-JWT when the input is an SD-JWT+KB.
    pub kb_jwt: Option<&'a str>,
    /// Everything up to and including the last `~` (input of `sd_hash`).
    pub without_kb: &'a str,
}

impl<'a> Compact<'a> {
    pub fn parse(input: &'a str) -> Result<Self, FormatError> {
        let last = input.rfind('~').ok_or(FormatError::NoSeparator)?;
        let without_kb = &input[..=last];
        let tail = &input[last + 1..];
        let mut parts = input[..last].split('~');
        let jwt = parts.next().unwrap_or_default();
        if jwt.is_empty() {
            return Err(FormatError::EmptyJwt);
        }
        let mut disclosures = Vec::new();
        for d in parts {
            if d.is_empty() {
                return Err(FormatError::EmptyDisclosure);
            }
            if disclosures.len() == MAX_DISCLOSURES {
                return Err(FormatError::TooManyDisclosures);
            }
            disclosures.push(d);
        }
        let kb_jwt = (!tail.is_empty()).then_some(tail);
        Ok(Compact {
            jwt,
            disclosures,
            kb_jwt,
            without_kb,
        })
    }

    /// `sd_hash` for a KB-JWT over this presentation (RFC 9901 §4.3.1).
    pub fn sd_hash(&self) -> String {
        digest_of(self.without_kb)
    }
}

/// Joins a JWT and disclosures into `<JWT>~<D1>~…~<Dn>~`.
pub fn join<'a>(jwt: &str, disclosures: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::with_capacity(jwt.len() + 512);
    out.push_str(jwt);
    out.push('~');
    for d in disclosures {
        out.push_str(d);
        out.push('~');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_sd_jwt_and_sd_jwt_kb() {
        let c = Compact::parse("h.p.s~d1~d2~").unwrap();
        assert_eq!(
            (c.jwt, c.disclosures.clone(), c.kb_jwt),
            ("h.p.s", vec!["d1", "d2"], None)
        );
        let c = Compact::parse("h.p.s~d1~k.b.j").unwrap();
        assert_eq!(
            (c.disclosures.clone(), c.kb_jwt, c.without_kb),
            (vec!["d1"], Some("k.b.j"), "h.p.s~d1~")
        );
        let c = Compact::parse("h.p.s~").unwrap();
        assert!(c.disclosures.is_empty() && c.kb_jwt.is_none());
    }

    #[test]
    fn rejects_bad_structure() {
        assert_eq!(Compact::parse("h.p.s"), Err(FormatError::NoSeparator));
        assert_eq!(Compact::parse("~d~"), Err(FormatError::EmptyJwt));
        assert_eq!(
            Compact::parse("h.p.s~d1~~"),
            Err(FormatError::EmptyDisclosure)
        );
        let many = format!("h.p.s~{}", "d~".repeat(MAX_DISCLOSURES + 1));
        assert_eq!(Compact::parse(&many), Err(FormatError::TooManyDisclosures));
    }
}
