//! Personal names and sex.

use super::ValidationError;

/// A name part (family name, given name, patronymic): Cyrillic letters, with
/// a single hyphen or space allowed only between letters ("Римский-Корсаков",
/// "Анна Мария").
pub fn name(field: &str, value: &str) -> Result<(), ValidationError> {
    if value.is_empty() {
        return Err(ValidationError::Empty {
            field: field.into(),
        });
    }
    let mut prev_letter = false;
    for c in value.chars() {
        if is_cyrillic_letter(c) {
            prev_letter = true;
        } else if (c == '-' || c == ' ') && prev_letter {
            prev_letter = false;
        } else {
            return Err(ValidationError::CyrillicName {
                field: field.into(),
            });
        }
    }
    if prev_letter {
        Ok(())
    } else {
        Err(ValidationError::CyrillicName {
            field: field.into(),
        })
    }
}

/// `male` or `female`, as the registry records it.
pub fn sex(field: &str, value: &str) -> Result<(), ValidationError> {
    match value {
        "male" | "female" => Ok(()),
        _ => Err(ValidationError::Sex {
            field: field.into(),
        }),
    }
}

/// The Russian alphabet: А–Я, а–я, Ё, ё.
fn is_cyrillic_letter(c: char) -> bool {
    matches!(c, 'А'..='я' | 'Ё' | 'ё')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names() {
        for v in [
            "Иванов",
            "Римский-Корсаков",
            "Анна Мария",
            "Фёдор",
            "Ёлкин",
            "Ли",
            "Салтыков-Щедрин",
        ] {
            assert_eq!(name("family_name", v), Ok(()), "{v}");
        }
    }

    #[test]
    fn invalid_names() {
        let bad = ValidationError::CyrillicName {
            field: "family_name".into(),
        };
        let empty = ValidationError::Empty {
            field: "family_name".into(),
        };
        for (v, err) in [
            ("", &empty),
            ("Ivanov", &bad),
            ("Иванoв", &bad), // Latin "o"
            ("-Иванов", &bad),
            ("Иванов-", &bad),
            ("Римский--Корсаков", &bad),
            ("Анна  Мария", &bad),
            ("Иванов1", &bad),
            ("Іванов", &bad), // Ukrainian І
            (" ", &bad),
        ] {
            assert_eq!(name("family_name", v).as_ref(), Err(err), "{v:?}");
        }
    }

    #[test]
    fn sexes() {
        for v in ["male", "female"] {
            assert_eq!(sex("sex", v), Ok(()));
        }
        for v in ["Male", "m", "f", "", "other", "мужской"] {
            assert_eq!(
                sex("sex", v),
                Err(ValidationError::Sex {
                    field: "sex".into()
                })
            );
        }
    }
}
