//! The built-in queries of DESIGN.md ("Presets"): what a hotel, an 18+
//! shop, a pension desk and an identity check ask for, and nothing more.

use serde_json::{Value, json};

use super::dcql::DcqlQuery;

/// A named DCQL query.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    // snake_case alone would make it `age_over18`.
    #[serde(rename = "age_over_18")]
    AgeOver18,
    HotelCheckIn,
    PensionerStatus,
    Identity,
}

const PASSPORT_VCT: &str = "urn:ru:digital-id:passport:1";
const PENSIONER_VCT: &str = "urn:ru:digital-id:pensioner-status:1";

impl Preset {
    pub const ALL: [Preset; 4] = [
        Preset::AgeOver18,
        Preset::HotelCheckIn,
        Preset::PensionerStatus,
        Preset::Identity,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Preset::AgeOver18 => "age_over_18",
            Preset::HotelCheckIn => "hotel_check_in",
            Preset::PensionerStatus => "pensioner_status",
            Preset::Identity => "identity",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.name() == name)
    }

    /// A human label for the demo page (English).
    pub fn label(self) -> &'static str {
        match self {
            Preset::AgeOver18 => "Age 18+ (shop)",
            Preset::HotelCheckIn => "Hotel check-in",
            Preset::PensionerStatus => "Pensioner discount",
            Preset::Identity => "Identity",
        }
    }

    /// The label of [`Preset::label`] in Russian.
    pub fn label_ru(self) -> &'static str {
        match self {
            Preset::AgeOver18 => "Возраст 18+ (магазин)",
            Preset::HotelCheckIn => "Заселение в гостиницу",
            Preset::PensionerStatus => "Пенсионная скидка",
            Preset::Identity => "Установление личности",
        }
    }

    /// The query, always with the Credential Query id `credential` (the
    /// key of `claims` in the result).
    pub fn query(self) -> DcqlQuery {
        let (vct, paths): (&str, &[&[&str]]) = match self {
            Preset::AgeOver18 => (PASSPORT_VCT, &[&["age_equal_or_over", "18"]]),
            Preset::HotelCheckIn => (
                PASSPORT_VCT,
                &[
                    &["family_name"],
                    &["given_name"],
                    &["patronymic"],
                    &["birthdate"],
                    &["document_number"],
                    &["issue_date"],
                    &["issuing_authority"],
                    &["resident_address"],
                ],
            ),
            Preset::PensionerStatus => (
                PENSIONER_VCT,
                &[
                    &["family_name"],
                    &["given_name"],
                    &["patronymic"],
                    &["pensioner"],
                ],
            ),
            Preset::Identity => (
                PASSPORT_VCT,
                &[
                    &["family_name"],
                    &["given_name"],
                    &["patronymic"],
                    &["birthdate"],
                    &["document_number"],
                ],
            ),
        };
        let claims: Vec<Value> = paths.iter().map(|p| json!({"path": p})).collect();
        let v = json!({"credentials": [{
            "id": "credential",
            "format": "dc+sd-jwt",
            "meta": {"vct_values": [vct]},
            "claims": claims,
        }]});
        // UNWRAP SAFETY: the presets are constant and valid; the unit test
        // below parses every one of them.
        DcqlQuery::from_value(&v).expect("built-in DCQL presets are valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue;

    #[test]
    fn every_preset_is_valid_and_names_existing_claims() {
        for p in Preset::ALL {
            let q = p.query();
            assert_eq!(Preset::from_name(p.name()), Some(p));
            let c = &q.credentials[0];
            let vct = &c.meta.vct_values.as_ref().unwrap()[0];
            let doc = catalogue::find_by_vct(vct).expect("a catalogue document");
            let known: Vec<String> = doc
                .claim_specs()
                .map(|s| s.claim_path().to_string())
                .collect();
            for claim in c.claims.as_ref().unwrap() {
                assert!(
                    known.contains(&claim.path.to_string()),
                    "{}: {} is not a claim of {}",
                    p.name(),
                    claim.path,
                    doc.id
                );
            }
        }
    }

    #[test]
    fn age_over_18_asks_for_one_claim_only() {
        let q = Preset::AgeOver18.query();
        let claims = q.credentials[0].claims.as_ref().unwrap();
        assert_eq!(claims.len(), 1);
        assert_eq!(claims[0].path.to_string(), r#"["age_equal_or_over","18"]"#);
    }
}
