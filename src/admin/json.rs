//! The `--json` output of the admin commands: a small JSON value and its compact rendering.
//!
//! keel has no JSON library at run time; the commands build a [`Json`] tree and render it as
//! one line. Object keys keep the order they were added in, so a document's shape reads in the
//! order the code builds it (and the README documents).

use std::fmt::Write;

use crate::json_escape::write_json_string;

/// A JSON value.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Int(i64),
    Str(String),
    Array(Vec<Json>),
    /// Members in the order they are written.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// An object from `(key, value)` pairs, in that order.
    pub fn object<K: Into<String>>(members: impl IntoIterator<Item = (K, Json)>) -> Json {
        Json::Object(members.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }

    /// An array of the values `items` turn into.
    pub fn array<T: Into<Json>>(items: impl IntoIterator<Item = T>) -> Json {
        Json::Array(items.into_iter().map(Into::into).collect())
    }

    /// The member `key` of an object (tests and callers that inspect documents).
    pub fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// The compact text of the value, on one line.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write(&mut out);
        out
    }

    fn write(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Str(s) => write_json_string(out, s),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write(out);
                }
                out.push(']');
            }
            Json::Object(members) => {
                out.push('{');
                for (i, (key, value)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, key);
                    out.push(':');
                    value.write(out);
                }
                out.push('}');
            }
        }
    }
}

impl From<bool> for Json {
    fn from(b: bool) -> Json {
        Json::Bool(b)
    }
}

impl From<i64> for Json {
    fn from(i: i64) -> Json {
        Json::Int(i)
    }
}

impl From<i32> for Json {
    fn from(i: i32) -> Json {
        Json::Int(i.into())
    }
}

impl From<i16> for Json {
    fn from(i: i16) -> Json {
        Json::Int(i.into())
    }
}

impl From<u32> for Json {
    fn from(i: u32) -> Json {
        Json::Int(i.into())
    }
}

impl From<usize> for Json {
    fn from(i: usize) -> Json {
        Json::Int(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<&str> for Json {
    fn from(s: &str) -> Json {
        Json::Str(s.to_owned())
    }
}

impl From<String> for Json {
    fn from(s: String) -> Json {
        Json::Str(s)
    }
}

impl From<&String> for Json {
    fn from(s: &String) -> Json {
        Json::Str(s.clone())
    }
}

impl<T: Into<Json>> From<Option<T>> for Json {
    fn from(value: Option<T>) -> Json {
        value.map_or(Json::Null, Into::into)
    }
}

impl<T: Into<Json>> From<Vec<T>> for Json {
    fn from(items: Vec<T>) -> Json {
        Json::array(items)
    }
}

impl From<&[i32]> for Json {
    fn from(items: &[i32]) -> Json {
        Json::array(items.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_compactly_in_insertion_order() {
        let value = Json::object([
            ("name", Json::from("or\"ders")),
            ("id", Json::Null),
            ("partitions", Json::from(3)),
            ("replicas", Json::from(&[1, 2][..])),
            ("internal", Json::from(false)),
            ("configs", Json::object([("a", Json::from("1"))])),
        ]);
        assert_eq!(
            value.render(),
            r#"{"name":"or\"ders","id":null,"partitions":3,"replicas":[1,2],"internal":false,"configs":{"a":"1"}}"#
        );
        assert_eq!(value.get("partitions"), Some(&Json::Int(3)));
        assert_eq!(value.get("missing"), None);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(Json::from("a\nb\u{1b}").render(), r#""a\nb\u001b""#);
    }
}
