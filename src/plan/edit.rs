//! Rewriting one task object in place: only the values swarm changed are replaced, new fields
//! are added at the end of the object in the style it was written in (multi-line with the
//! file's indentation, or on one line), and every other byte of the object is kept — keys,
//! spacing, numbers (`1.10`, `1e2`, integers beyond 64 bits) and strings exactly as written.
//! Diffs of a committed status.json stay small.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;
use std::fmt;
use std::io::{self, Write};

/// How a task object was laid out in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Layout {
    /// `{"title": "A", "status": "pending"}` on one line.
    OneLine,
    /// One field per line; `base` is the indentation of the line the object starts on, `unit`
    /// one level of indentation.
    MultiLine {
        /// Indentation of the object's first line.
        base: String,
        /// One level.
        unit: String,
        /// The line ending the object uses (`\n`, or `\r\n` in a file saved on Windows).
        newline: &'static str,
    },
}

/// Reads the layout of the object `text[start..end]`.
pub(super) fn layout_of(text: &str, start: usize, end: usize) -> Layout {
    let object = &text[start..end];
    let Some(first_nl) = object.find('\n') else {
        return Layout::OneLine;
    };
    let line_start = text[..start].rfind('\n').map_or(0, |p| p + 1);
    let indent =
        |s: &str| -> String { s.chars().take_while(|c| *c == ' ' || *c == '\t').collect() };
    let base = indent(&text[line_start..start]);
    let inner = indent(&object[first_nl + 1..]);
    let unit = inner
        .strip_prefix(base.as_str())
        .filter(|u| !u.is_empty())
        .unwrap_or("  ")
        .to_string();
    let newline = if object[..first_nl].ends_with('\r') {
        "\r\n"
    } else {
        "\n"
    };
    Layout::MultiLine {
        base,
        unit,
        newline,
    }
}

/// The fields of a JSON object, in order, each value as its raw text in `object`.
pub(super) fn fields(object: &str) -> Result<Vec<(String, &RawValue)>, serde_json::Error> {
    struct Fields<'a>(Vec<(String, &'a RawValue)>);
    impl<'de> serde::Deserialize<'de> for Fields<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct FieldsVisitor;
            impl<'de> Visitor<'de> for FieldsVisitor {
                type Value = Fields<'de>;
                fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                    let mut out = Vec::new();
                    while let Some(key) = map.next_key::<String>()? {
                        out.push((key, map.next_value()?));
                    }
                    Ok(Fields(out))
                }
            }
            d.deserialize_map(FieldsVisitor)
        }
    }
    serde_json::from_str::<Fields>(object).map(|f| f.0)
}

/// Writes the task object at `span` of `text` with `changes` applied.
pub(super) fn write_task(
    out: &mut dyn Write,
    text: &str,
    span: (usize, usize),
    changes: &[(String, Value)],
) -> io::Result<()> {
    let object = &text[span.0..span.1];
    let layout = layout_of(text, span.0, span.1);
    let existing = fields(object).map_err(io::Error::other)?;
    let at = |raw: &RawValue| raw.get().as_ptr() as usize - object.as_ptr() as usize;
    let mut pos = 0;
    for (key, raw) in &existing {
        if let Some((_, value)) = changes.iter().find(|(k, _)| k == key) {
            let start = at(raw);
            out.write_all(&object.as_bytes()[pos..start])?;
            write_value(out, value, &layout)?;
            pos = start + raw.get().len();
        }
    }
    // New fields go after the last field (or right after the opening brace).
    let insert_at = match existing.last() {
        Some((_, raw)) => at(raw) + raw.get().len(),
        None => 1,
    };
    out.write_all(&object.as_bytes()[pos..insert_at])?;
    let mut first = existing.is_empty();
    for (key, value) in changes {
        if existing.iter().any(|(k, _)| k == key) {
            continue;
        }
        match (&layout, first) {
            (Layout::OneLine, true) => {}
            (Layout::OneLine, false) => out.write_all(b", ")?,
            (
                Layout::MultiLine {
                    base,
                    unit,
                    newline,
                },
                first,
            ) => {
                let sep = if first { "" } else { "," };
                write!(out, "{sep}{newline}{base}{unit}")?;
            }
        }
        serde_json::to_writer(&mut *out, key).map_err(io::Error::other)?;
        out.write_all(b": ")?;
        write_value(out, value, &layout)?;
        first = false;
    }
    out.write_all(&object.as_bytes()[insert_at..])
}

/// Serialises a new value for a field of an object in `layout`.
fn write_value(out: &mut dyn Write, value: &Value, layout: &Layout) -> io::Result<()> {
    match layout {
        Layout::OneLine => {
            let mut ser = Serializer::with_formatter(&mut *out, OneLineFormatter);
            value.serialize(&mut ser).map_err(io::Error::other)
        }
        Layout::MultiLine {
            base,
            unit,
            newline,
        } => {
            let mut buf = Vec::new();
            let mut ser =
                Serializer::with_formatter(&mut buf, PrettyFormatter::with_indent(unit.as_bytes()));
            value.serialize(&mut ser).map_err(io::Error::other)?;
            // JSON strings never hold a raw newline, so every newline is a line break; the
            // value sits one level into the object.
            let mut lines = buf.split(|&b| b == b'\n');
            out.write_all(lines.next().unwrap_or_default())?;
            for line in lines {
                write!(out, "{newline}{base}{unit}")?;
                out.write_all(line)?;
            }
            Ok(())
        }
    }
}

/// `{"a": 1, "b": [1, 2]}`: compact JSON with the spaces people write.
struct OneLineFormatter;

impl Formatter for OneLineFormatter {
    fn begin_array_value<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_key<W: ?Sized + Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }
    fn begin_object_value<W: ?Sized + Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The task object at the first `{` after `"t":` in `text`, rewritten with `changes`.
    fn rewrite(text: &str, changes: &[(&str, Value)]) -> String {
        let start =
            text.find("\"t\":").unwrap() + text[text.find("\"t\":").unwrap()..].find('{').unwrap();
        let end = start + text[start..].find('}').unwrap() + 1;
        let changes: Vec<(String, Value)> = changes
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        let mut out = Vec::new();
        write_task(&mut out, text, (start, end), &changes).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn only_changed_values_are_replaced_and_everything_else_is_kept_byte_for_byte() {
        let text = r#"{"tasks": {"t": {"n":1.10,"big": 123456789012345678901234567890, "e" : 1e2, "s": "\u00e9\/", "status": "pending"}}}"#;
        assert_eq!(
            rewrite(text, &[("status", "in-progress".into())]),
            r#"{"n":1.10,"big": 123456789012345678901234567890, "e" : 1e2, "s": "\u00e9\/", "status": "in-progress"}"#
        );
    }

    #[test]
    fn new_fields_go_at_the_end_in_the_object_s_layout() {
        let one = r#"{"tasks": {"t": {"title": "A"}}}"#;
        assert_eq!(
            rewrite(one, &[("agent", "x".into()), ("claimed", true.into())]),
            r#"{"title": "A", "agent": "x", "claimed": true}"#
        );
        assert_eq!(
            rewrite(
                r#"{"tasks": {"t": {}}}"#,
                &[("a", 1.into()), ("b", serde_json::json!([1, 2]))]
            ),
            r#"{"a": 1, "b": [1, 2]}"#
        );
        let multi = "{\n    \"tasks\": {\n        \"t\": {\n            \"title\": \"A\"\n        }\n    }\n}";
        assert_eq!(
            rewrite(multi, &[("runs", serde_json::json!([{"a": 1}]))]),
            "{\n            \"title\": \"A\",\n            \"runs\": [\n                {\n                    \"a\": 1\n                }\n            ]\n        }"
        );
    }

    #[test]
    fn a_crlf_task_gets_crlf_lines() {
        let text = "{\r\n  \"t\": {\r\n    \"title\": \"A\"\r\n  }\r\n}\r\n";
        assert_eq!(
            rewrite(text, &[("agent", "x".into())]),
            "{\r\n    \"title\": \"A\",\r\n    \"agent\": \"x\"\r\n  }"
        );
    }

    #[test]
    fn layout_is_read_from_the_object() {
        let text = "{\n    \"t\": {\n        \"x\": 1\n    }";
        let start = text.find(": {").unwrap() + 2;
        assert_eq!(
            layout_of(text, start, text.len()),
            Layout::MultiLine {
                base: "    ".into(),
                unit: "    ".into(),
                newline: "\n",
            }
        );
        assert_eq!(layout_of("{\"a\": 1}", 0, 8), Layout::OneLine);
    }
}
