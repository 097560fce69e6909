//! Rewriting status.json in place: only the task objects that changed are re-serialised, each
//! in the style it was written in (multi-line with the file's indentation, or on one line), and
//! every other byte of the file is kept. Diffs of a committed status.json stay small.

use serde::Serialize;
use serde_json::ser::{Formatter, PrettyFormatter, Serializer};
use serde_json::{Map, Value};
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
    },
}

/// Reads the layout of the object `text[span]`.
pub(super) fn layout_of(text: &str, start: usize, end: usize) -> Layout {
    let object = &text[start..end];
    let Some(first_nl) = object.find('\n') else {
        return Layout::OneLine;
    };
    let line_start = text[..start].rfind('\n').map_or(0, |p| p + 1);
    let base: String = text[line_start..start]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let inner: String = object[first_nl + 1..]
        .chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .collect();
    let unit = inner
        .strip_prefix(base.as_str())
        .filter(|u| !u.is_empty())
        .unwrap_or("  ")
        .to_string();
    Layout::MultiLine { base, unit }
}

/// Serialises `object` in `layout`.
pub(super) fn write_object(
    out: &mut dyn Write,
    object: &Map<String, Value>,
    layout: &Layout,
) -> io::Result<()> {
    match layout {
        Layout::OneLine => {
            let mut ser = Serializer::with_formatter(&mut *out, OneLineFormatter);
            object.serialize(&mut ser).map_err(io::Error::other)
        }
        Layout::MultiLine { base, unit } => {
            let mut buf = Vec::new();
            let mut ser =
                Serializer::with_formatter(&mut buf, PrettyFormatter::with_indent(unit.as_bytes()));
            object.serialize(&mut ser).map_err(io::Error::other)?;
            // JSON strings never hold a raw newline, so every newline is a line break.
            let mut rest = buf.as_slice();
            while let Some(p) = rest.iter().position(|&b| b == b'\n') {
                out.write_all(&rest[..=p])?;
                out.write_all(base.as_bytes())?;
                rest = &rest[p + 1..];
            }
            out.write_all(rest)
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

    fn render(text: &str, obj: &str) -> String {
        let start = text.find('{').unwrap();
        let layout = layout_of(text, start, text.len());
        let map: Map<String, Value> = serde_json::from_str(obj).unwrap();
        let mut out = Vec::new();
        write_object(&mut out, &map, &layout).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn keeps_one_line_objects_on_one_line() {
        assert_eq!(
            render(r#"    "a": {"x": 1}"#, r#"{"x": 2, "y": [1, 2]}"#),
            r#"{"x": 2, "y": [1, 2]}"#
        );
    }

    #[test]
    fn keeps_indentation_of_multi_line_objects() {
        let text = "{\n    \"a\": {\n        \"x\": 1\n    }";
        let start = text.find(": {").unwrap() + 2;
        let layout = layout_of(text, start, text.len());
        assert_eq!(
            layout,
            Layout::MultiLine {
                base: "    ".into(),
                unit: "    ".into()
            }
        );
        let map: Map<String, Value> = serde_json::from_str(r#"{"x": 2, "y": [3]}"#).unwrap();
        let mut out = Vec::new();
        write_object(&mut out, &map, &layout).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\n        \"x\": 2,\n        \"y\": [\n            3\n        ]\n    }"
        );
    }
}
