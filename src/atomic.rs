//! Durable, atomic file replacement: temp file in the same directory, fsync, rename, fsync dir.
//!
//! Writes are staged (temp files written), synced, then installed by rename in the order the
//! caller chooses; the directories are synced once every rename is done (`DirSyncs`), still
//! under the caller's lock.

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

/// A new version of a file, written to a temp file beside it, not yet in place.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    path: PathBuf,
    file: Option<File>,
}

impl Staged {
    /// Renames the new version into place (after `sync_all_staged`); the directory goes to
    /// `syncs`.
    pub fn install(mut self, syncs: &mut DirSyncs) -> io::Result<()> {
        self.file = None;
        fs::rename(&self.tmp, &self.path)?;
        syncs.0.push(parent(&self.path).to_path_buf());
        self.tmp = PathBuf::new();
        Ok(())
    }

    /// Renames the new version into place by exchanging it with the file there (Linux's
    /// `renameat2(RENAME_EXCHANGE)`): the file that was in place is now at the temp name, and
    /// is handed back so the caller can check it was the one it read — a write by someone else
    /// in the moment before the rename is found, not lost. Where the file system cannot
    /// exchange (or elsewhere), a plain rename (`None`).
    pub fn exchange(mut self, syncs: &mut DirSyncs) -> io::Result<Option<Displaced>> {
        self.file = None;
        if exchange_paths(&self.tmp, &self.path).is_ok() {
            syncs.0.push(parent(&self.path).to_path_buf());
            let old = Displaced(std::mem::take(&mut self.tmp));
            return Ok(Some(old));
        }
        self.install(syncs).map(|()| None)
    }

    /// The stamp the new version will have in place (a rename keeps the file).
    pub fn stamp(&self) -> Option<crate::plan::Stamp> {
        let file = self.file.as_ref()?;
        file.metadata().ok().map(|m| crate::plan::Stamp::of(&m))
    }

    /// Puts the new version in place only if nothing is there yet (a hard link never
    /// replaces), and syncs the directory. Returns false, leaving everything as it was, when
    /// the path exists.
    pub fn link_new(mut self) -> io::Result<bool> {
        self.file = None;
        match fs::hard_link(&self.tmp, &self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(e),
        }
        sync_dir(parent(&self.path))?;
        Ok(true)
    }
}

/// The file an exchange took out of place, at the staged file's temp name; removed when
/// dropped.
#[derive(Debug)]
pub struct Displaced(PathBuf);

impl Displaced {
    /// Where it is now.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Puts it back at `path`, exchanging it with what is there now, which is handed back
    /// (at this same temp name): an exchange undone.
    pub fn put_back(self, path: &Path) -> io::Result<Displaced> {
        exchange_paths(&self.0, path)?;
        Ok(self)
    }
}

/// Swaps the files at `a` and `b` in one step (Linux's `renameat2(RENAME_EXCHANGE)`).
fn exchange_paths(a: &Path, b: &Path) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::{renameat_with, RenameFlags, CWD};
        renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE)?;
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (a, b);
        Err(io::ErrorKind::Unsupported.into())
    }
}

impl Drop for Displaced {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.tmp.as_os_str().is_empty() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    }
}

/// What names a staged file: `.<name>.swarm-tmp-<pid>`.
const TMP_MARK: &str = ".swarm-tmp-";

/// Removes the staged files in `dir` left by processes that are gone (killed between staging
/// and renaming). Only on Linux, which can tell a process is gone.
pub fn remove_stale_staged(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix('.'))
            .and_then(|n| n.rsplit_once(TMP_MARK))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let gone =
            cfg!(target_os = "linux") && crate::registry::liveness::process_start(pid).is_none();
        if gone {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// Writes what `fill` produces to a temp file beside `path`. The caller holds the lock.
pub fn stage(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<Staged> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent(path).join(format!(".{name}{TMP_MARK}{}", std::process::id()));
    // Made new (O_EXCL never follows a link): a file left at that name by a killed process, or
    // planted there, is removed first.
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
    // From here on, dropping it removes the temp file.
    let mut staged = Staged {
        tmp,
        path: path.to_path_buf(),
        file: None,
    };
    // A new file gets the user's umask; a replaced one keeps its permissions.
    if let Ok(meta) = fs::metadata(path) {
        file.set_permissions(meta.permissions())?;
    }
    let mut out = BufWriter::with_capacity(1 << 16, file);
    fill(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    staged.file = Some(file);
    Ok(staged)
}

/// Stages `value` as pretty JSON (two-space indent, trailing newline).
pub fn stage_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<Staged> {
    stage(path, |out| {
        serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
        out.write_all(b"\n")
    })
}

/// Makes the data of every staged file durable (fdatasync: data and size, all a new file
/// needs).
pub fn sync_all_staged<'a>(staged: impl IntoIterator<Item = &'a Staged>) -> io::Result<()> {
    staged
        .into_iter()
        .filter_map(|s| s.file.as_ref())
        .try_for_each(File::sync_data)
}

/// Replaces `path` with `value` as pretty JSON, durably (outside transactions: setup).
pub fn write_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<()> {
    let staged = stage_json(path, value)?;
    sync_all_staged(std::slice::from_ref(&staged))?;
    let mut syncs = DirSyncs::default();
    staged.install(&mut syncs)?;
    syncs.sync()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_file_replaces_the_old_one_whole_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        fs::write(&path, "old").unwrap();
        let data: Vec<u8> = (0..200_000).map(|i| (i * 7 % 251) as u8).collect();
        let staged = stage(&path, |out| out.write_all(&data)).unwrap();
        assert_eq!(
            fs::read(&path).unwrap(),
            b"old",
            "nothing in place before install"
        );
        sync_all_staged(std::slice::from_ref(&staged)).unwrap();
        let mut syncs = DirSyncs::default();
        staged.install(&mut syncs).unwrap();
        syncs.sync().unwrap();
        assert_eq!(fs::read(&path).unwrap(), data);
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file left");
    }
}
