//! Who signed in: the registry subject the provider's subject claim names,
//! and the identity-proofing method its `amr` / `acr` say.

use serde_json::{Map, Value};

use crate::config::SubjectMatch;
use crate::registry::{IdentityProofing, Registry, RegistryError, Subject, SubjectId};

/// A SNILS as its 11 digits (`123-456-789 01` → `12345678901`); `None`
/// when it has another number of digits or other characters than digits,
/// `-` and spaces.
pub fn normalise_snils(text: &str) -> Option<String> {
    if !text
        .chars()
        .all(|c| c.is_ascii_digit() || c == '-' || c == ' ')
    {
        return None;
    }
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    (digits.len() == 11).then_some(digits)
}

/// The string value of `claim` (a number is taken as its decimal text).
pub fn claim_text(claims: &Map<String, Value>, claim: &str) -> Option<String> {
    match claims.get(claim)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// The registry subject `value` names, if any.
pub fn find(
    registry: &dyn Registry,
    how: SubjectMatch,
    value: &str,
) -> Result<Option<Subject>, RegistryError> {
    match how {
        SubjectMatch::Id => registry.subject(&SubjectId(value.to_owned())),
        SubjectMatch::Snils => {
            let Some(want) = normalise_snils(value) else {
                return Ok(None);
            };
            // A production registry adapter would look the number up by
            // index; the demo registry is small enough to scan.
            Ok(registry.subjects()?.into_iter().find(|s| {
                s.documents
                    .get("ru.snils")
                    .and_then(|d| d.get("snils"))
                    .and_then(Value::as_str)
                    .and_then(normalise_snils)
                    .is_some_and(|have| have == want)
            }))
        }
    }
}

/// The identity-proofing method the provider reports: `amr` values (RFC
/// 8176) and `acr` together. Biometrics (`face`, `fpt`, `iris`, `retina`,
/// `vbm`) first, then a passport chip (`nfc`, `sc`), then a bank
/// (`bank`); anything else (`pwd`, `otp`, …) proofs no identity.
pub fn proofing(claims: &Map<String, Value>) -> IdentityProofing {
    let mut methods: Vec<&str> = claims
        .get("amr")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if let Some(acr) = claims.get("acr").and_then(Value::as_str) {
        methods.push(acr);
    }
    let any = |names: &[&str]| methods.iter().any(|m| names.contains(m));
    if any(&["face", "fpt", "iris", "retina", "vbm"]) {
        IdentityProofing::Biometric
    } else if any(&["nfc", "sc"]) {
        IdentityProofing::NfcPassport
    } else if any(&["bank"]) {
        IdentityProofing::Bank
    } else {
        IdentityProofing::None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn snils_formats_are_one_number() {
        assert_eq!(
            normalise_snils("768-151-884 44").as_deref(),
            Some("76815188444")
        );
        assert_eq!(
            normalise_snils("76815188444").as_deref(),
            Some("76815188444")
        );
        for bad in [
            "7681518844",
            "768-151-884 444",
            "768.151.884 44",
            "ivanov-ivan",
            "",
        ] {
            assert_eq!(normalise_snils(bad), None, "{bad}");
        }
    }

    #[test]
    fn amr_and_acr_name_the_method() {
        let p = |v: Value| proofing(v.as_object().unwrap());
        assert_eq!(
            p(json!({"amr": ["pwd", "face"]})),
            IdentityProofing::Biometric
        );
        assert_eq!(p(json!({"amr": ["sc"]})), IdentityProofing::NfcPassport);
        assert_eq!(p(json!({"acr": "bank"})), IdentityProofing::Bank);
        assert_eq!(p(json!({"amr": ["pwd", "otp"]})), IdentityProofing::None);
        assert_eq!(p(json!({})), IdentityProofing::None);
    }

    #[test]
    fn a_snils_claim_finds_its_subject_in_the_demo_registry() {
        let registry = crate::registry::demo::DemoRegistry::embedded().unwrap();
        let by = |how, v: &str| find(&registry, how, v).unwrap().map(|s| s.id.0);
        assert_eq!(
            by(SubjectMatch::Snils, "76815188444").as_deref(),
            Some("ivanov-ivan")
        );
        assert_eq!(
            by(SubjectMatch::Snils, "768-151-884 44").as_deref(),
            Some("ivanov-ivan")
        );
        assert_eq!(by(SubjectMatch::Snils, "112-233-445 95"), None);
        assert_eq!(
            by(SubjectMatch::Id, "ivanov-ivan").as_deref(),
            Some("ivanov-ivan")
        );
        assert_eq!(by(SubjectMatch::Id, "nobody"), None);
    }
}
