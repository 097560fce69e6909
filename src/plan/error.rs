//! What is wrong with a plan, and where in the file.

use super::file::PlanFile;
use std::io;
use std::path::{Path, PathBuf};

/// Why a plan could not be used. Every message names the file; JSON errors give line:column.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// The plan file is not there.
    #[error("{path}: no plan here ({hint})")]
    Missing {
        /// The expected file.
        path: PathBuf,
        /// What to do about it.
        hint: String,
    },
    /// The file exists but cannot be read.
    #[error("{path}: cannot read the plan: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// Not JSON, or a field of the wrong type.
    #[error("{path}:{line}:{column}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// Valid JSON that does not make a valid plan, at a known place in the file (a task, a
    /// `blockedBy` entry).
    #[error("{path}:{line}:{column}: {message}")]
    InvalidAt {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column (in bytes, as for JSON errors).
        column: usize,
        /// What was wrong.
        message: String,
    },
    /// Valid JSON that does not make a valid plan.
    #[error("{path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What was wrong.
        message: String,
    },
}

/// The error of the fully typed parse, for a plan `read` refused.
pub(super) fn explain(path: &Path, text: &str) -> PlanError {
    match crate::json::from_str::<PlanFile>(text) {
        Err(e) => PlanError::Syntax {
            path: path.into(),
            line: e.line,
            column: e.column,
            message: e.message,
        },
        Ok(_) => PlanError::Invalid {
            path: path.into(),
            message:
                "not a valid plan (the reader refused it without saying why; please report this)"
                    .into(),
        },
    }
}

/// The 1-based line and column (in bytes) of byte `at` of `text`.
pub(super) fn line_column(text: &str, at: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..at.min(text.len())];
    let line_start = before
        .iter()
        .rposition(|&c| c == b'\n')
        .map_or(0, |p| p + 1);
    let line = 1 + before.iter().filter(|&&c| c == b'\n').count();
    (line, before.len() - line_start + 1)
}

/// Where the key of the task whose object starts at byte `object` of `text` starts (its
/// opening quote): what a message about the task points at.
pub(super) fn key_at(text: &str, object: usize) -> usize {
    let b = text.as_bytes();
    let before = text[..object].trim_end();
    let Some(colon) = before.strip_suffix(':') else {
        return object;
    };
    let close = colon.trim_end().len();
    if close == 0 || b[close - 1] != b'"' {
        return object;
    }
    // The opening quote: the nearest `"` before the closing one that no backslash escapes.
    let mut at = close - 1;
    while let Some(q) = text[..at].rfind('"') {
        let backslashes = b[..q].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes % 2 == 0 {
            return q;
        }
        at = q;
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_positions_point_at_their_keys() {
        // The task's key, escaped quotes and backslashes included; the object when there is
        // no key before it.
        for (text, key) in [
            (r#"{"a": {}}"#, r#""a""#),
            (r#"{"x\"y" : {}}"#, r#""x\"y""#),
            (r#"{"b\\":{}}"#, r#""b\\""#),
            ("{\"c\"\n  :\n  {}}", r#""c""#),
        ] {
            let object = text.rfind('{').unwrap();
            assert_eq!(key_at(text, object), text.find(key).unwrap(), "{text}");
        }
        assert_eq!(key_at("[{}]", 1), 1);
    }

    #[test]
    fn line_and_column_count_bytes_from_one() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 4), (2, 2));
        assert_eq!(line_column(text, text.len()), (3, 2));
    }
}
