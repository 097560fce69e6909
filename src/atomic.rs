//! Durable, atomic file replacement: temp file in the same directory, fsync, rename, fsync dir.
//!
//! The directory fsync is deferred (`DirSyncs`): the registry lock can be released once the
//! renames are done, and the directories synced after, but before success is reported. Another
//! process that reads the renamed files in between writes a full new version of them and
//! syncs it itself, so nothing reported as done can be lost; and the lock is held for two
//! fsyncs instead of four.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Directories whose renames still have to be made durable.
#[derive(Debug, Default)]
#[must_use = "renames are not durable until the directories are synced"]
pub struct DirSyncs(Vec<PathBuf>);

impl DirSyncs {
    /// Syncs every directory (once each).
    pub fn sync(mut self) -> io::Result<()> {
        self.0.sort();
        self.0.dedup();
        self.0.iter().try_for_each(|d| sync_dir(d))
    }
}

/// Replaces `path` with what `fill` writes, so that a crash at any instant leaves either the
/// old or the new content, never a mix. The caller holds the registry lock; the directory is
/// added to `syncs`.
pub fn replace_with(
    path: &Path,
    syncs: &mut DirSyncs,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.swarm-tmp-{}", std::process::id()));
    let result = (|| {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        fill(&mut out)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        // fdatasync: the data and the size, which is all a new file needs.
        file.sync_data()?;
        fs::rename(&tmp, path)
    })();
    if result.is_ok() {
        syncs.0.push(dir.to_path_buf());
    }
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Writes `value` as pretty JSON (two-space indent, trailing newline) atomically.
pub fn write_json<T: serde::Serialize + ?Sized>(
    path: &Path,
    value: &T,
    syncs: &mut DirSyncs,
) -> io::Result<()> {
    replace_with(path, syncs, |out| {
        serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
        out.write_all(b"\n")
    })
}

/// Makes a rename or create in `dir` durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}
