//! Typed JSON reading with the field path and line:column in every error.

use serde::de::value::MapAccessDeserializer;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::marker::PhantomData;

/// A struct that must be written as a JSON object. (serde's derived structs also accept an
/// array of field values, which no one writes on purpose in status.json.)
pub struct ObjectOnly<T>(pub T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for ObjectOnly<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct ObjectVisitor<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
            type Value = ObjectOnly<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(MapAccessDeserializer::new(map)).map(ObjectOnly)
            }
        }
        d.deserialize_map(ObjectVisitor(PhantomData))
    }
}

/// A JSON error with its position and the field it concerns.
#[derive(Debug)]
pub struct JsonError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// "at <path>: <what was wrong>", without the position.
    pub message: String,
}

/// Parses `text` into `T`, which must be written as a JSON object; rejects trailing content.
pub fn from_str<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, JsonError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let ObjectOnly(value) = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        convert(&inner, (path != ".").then_some(path))
    })?;
    de.end().map_err(|e| convert(&e, None))?;
    Ok(value)
}

fn convert(e: &serde_json::Error, path: Option<String>) -> JsonError {
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let bare = full.strip_suffix(&suffix).unwrap_or(&full).to_string();
    let message = match (e.classify(), path) {
        (serde_json::error::Category::Data, Some(path)) => format!("{path}: {bare}"),
        (serde_json::error::Category::Eof, _) => format!("{bare} (the file is cut short)"),
        (_, _) => bare,
    };
    JsonError {
        line: e.line(),
        // serde_json says column 0 when it fails before consuming the first character.
        column: e.column().max(1),
        message,
    }
}
