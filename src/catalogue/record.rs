//! Typed access to a registry record (a JSON object) whose errors name the
//! field, so a record with a missing or mistyped member is refused with
//! [`ValidationError::Missing`] / [`ValidationError::WrongType`], never a panic.

use serde_json::{Map, Value};
use time::Date;

use super::validate::{self, ValidationError};

/// A JSON object inside a record, with its path for error messages.
#[derive(Debug, Clone, Copy)]
pub struct Record<'a> {
    obj: &'a Map<String, Value>,
    prefix: Prefix<'a>,
}

#[derive(Debug, Clone, Copy)]
enum Prefix<'a> {
    Root,
    Key(&'a Record<'a>, &'a str),
    Index(&'a Record<'a>, &'a str, usize),
}

impl<'a> Record<'a> {
    /// The record itself; it must be an object.
    pub fn root(v: &'a Value) -> Result<Record<'a>, ValidationError> {
        match v {
            Value::Object(obj) => Ok(Record {
                obj,
                prefix: Prefix::Root,
            }),
            _ => Err(ValidationError::WrongType {
                field: "(record)".into(),
                expected: "JSON object",
            }),
        }
    }

    /// The full path of member `key`, e.g. `resident_address/postal_code`.
    pub fn field(&self, key: &str) -> String {
        let base = self.path();
        if base.is_empty() {
            key.to_owned()
        } else {
            format!("{base}/{key}")
        }
    }

    fn path(&self) -> String {
        match self.prefix {
            Prefix::Root => String::new(),
            Prefix::Key(parent, k) => parent.field(k),
            Prefix::Index(parent, k, i) => format!("{}/{i}", parent.field(k)),
        }
    }

    fn get(&self, key: &str) -> Result<&'a Value, ValidationError> {
        self.obj.get(key).ok_or_else(|| ValidationError::Missing {
            field: self.field(key),
        })
    }

    /// A required string member.
    pub fn str(&self, key: &str) -> Result<&'a str, ValidationError> {
        self.get(key)?
            .as_str()
            .ok_or_else(|| self.wrong(key, "string"))
    }

    /// An optional string member (absent or `null` → `None`).
    pub fn opt_str(&self, key: &str) -> Result<Option<&'a str>, ValidationError> {
        match self.obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_str()
                .map(Some)
                .ok_or_else(|| self.wrong(key, "string")),
        }
    }

    /// A required, non-empty string member.
    pub fn text(&self, key: &str) -> Result<&'a str, ValidationError> {
        let s = self.str(key)?;
        if s.trim().is_empty() {
            return Err(ValidationError::Empty {
                field: self.field(key),
            });
        }
        Ok(s)
    }

    pub fn bool(&self, key: &str) -> Result<bool, ValidationError> {
        self.get(key)?
            .as_bool()
            .ok_or_else(|| self.wrong(key, "boolean"))
    }

    pub fn int(&self, key: &str) -> Result<i64, ValidationError> {
        self.get(key)?
            .as_i64()
            .ok_or_else(|| self.wrong(key, "integer"))
    }

    /// A real `YYYY-MM-DD` date not after `today`.
    pub fn past_date(&self, key: &str, today: Date) -> Result<Date, ValidationError> {
        validate::past_date(&self.field(key), self.str(key)?, today)
    }

    /// A real `YYYY-MM-DD` date (an expiry may lie in the future).
    pub fn date(&self, key: &str) -> Result<Date, ValidationError> {
        validate::date(&self.field(key), self.str(key)?)
    }

    /// A nested object member.
    pub fn object(&'a self, key: &'a str) -> Result<Record<'a>, ValidationError> {
        match self.get(key)? {
            Value::Object(obj) => Ok(Record {
                obj,
                prefix: Prefix::Key(self, key),
            }),
            _ => Err(self.wrong(key, "JSON object")),
        }
    }

    /// Whether an optional member is present and not `null`.
    pub fn opt_object(&self, key: &str) -> Option<&'a Value> {
        self.obj.get(key).filter(|v| !v.is_null())
    }

    /// A required array of objects.
    pub fn objects(&'a self, key: &'a str) -> Result<Vec<Record<'a>>, ValidationError> {
        let Value::Array(items) = self.get(key)? else {
            return Err(self.wrong(key, "JSON array"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::Object(obj) => Ok(Record {
                    obj,
                    prefix: Prefix::Index(self, key, i),
                }),
                _ => Err(ValidationError::WrongType {
                    field: format!("{}/{i}", self.field(key)),
                    expected: "JSON object",
                }),
            })
            .collect()
    }

    fn wrong(&self, key: &str, expected: &'static str) -> ValidationError {
        ValidationError::WrongType {
            field: self.field(key),
            expected,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_name_nested_fields() {
        let v = json!({"a": {"b": 1}, "list": [{"c": "x"}, {"c": 2}], "s": " "});
        let r = Record::root(&v).unwrap();
        let a = r.object("a").unwrap();
        assert_eq!(
            a.str("b"),
            Err(ValidationError::WrongType {
                field: "a/b".into(),
                expected: "string"
            })
        );
        assert_eq!(
            a.str("z"),
            Err(ValidationError::Missing {
                field: "a/z".into()
            })
        );
        let list = r.objects("list").unwrap();
        assert_eq!(list[0].str("c"), Ok("x"));
        assert_eq!(
            list[1].str("c"),
            Err(ValidationError::WrongType {
                field: "list/1/c".into(),
                expected: "string"
            })
        );
        assert_eq!(
            r.text("s"),
            Err(ValidationError::Empty { field: "s".into() })
        );
        assert!(Record::root(&json!([1])).is_err());
    }
}
