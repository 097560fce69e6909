//! Data on stdout: JSON from Serialize structs, lines for scripts.

use serde::Serialize;
use std::io::Write;

/// Writes `value` as pretty JSON and a newline to stdout.
pub fn json<T: Serialize + ?Sized>(value: &T) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

/// Writes lines to stdout.
pub fn lines<I: IntoIterator<Item = String>>(lines: I) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for l in lines {
        out.write_all(l.as_bytes())?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}
