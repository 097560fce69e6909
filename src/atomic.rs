//! Durable, atomic file replacement: temp file in the same directory, fsync, rename, fsync dir.
//!
//! Writes are staged (temp files written), synced, then installed by rename in the order the
//! caller chooses. The directory fsync is deferred
//! (`DirSyncs`): the registry lock can be released once the renames are done and the
//! directories synced after, before success is reported. A process that reads the renamed
//! files in between writes a full new version and syncs it itself, so nothing reported as done
//! can be lost, and the lock is held for two fsyncs instead of four.

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

/// Writes what `fill` produces to a temp file beside `path`. The caller holds the lock.
pub fn stage(
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<Staged> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = parent(path).join(format!(".{name}.swarm-tmp-{}", std::process::id()));
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)?;
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
    let mut out = BufWriter::with_capacity(1 << 16, EarlyWriteback::new(file));
    fill(&mut out)?;
    let file = out.into_inner().map_err(|e| e.into_error())?.finish();
    staged.file = Some(file);
    Ok(staged)
}

/// Bytes written before the disk is asked to start on them.
const WRITEBACK_CHUNK: u64 = 256 << 10;

/// A file being written that asks the kernel to start writing each 256 KiB to disk as soon as
/// it is written (`sync_file_range`, Linux), and the tail at the end, without waiting. The
/// `fdatasync` that follows then finds most of the data on its way or done: for a 1.8 MB plan
/// the disk works while the rest is copied and the registry staged (the 10k-task claim was
/// ~2% faster). It only starts writes early; durability still comes from `sync_all_staged`.
struct EarlyWriteback {
    file: File,
    written: u64,
    started: u64,
}

impl EarlyWriteback {
    fn new(file: File) -> EarlyWriteback {
        EarlyWriteback {
            file,
            written: 0,
            started: 0,
        }
    }

    /// Starts writing back what was written since the last start.
    fn start(&mut self) {
        if self.written > self.started {
            start_writeback(&self.file, self.started, self.written - self.started);
            self.started = self.written;
        }
    }

    /// The file, its tail's write-back started.
    fn finish(mut self) -> File {
        self.start();
        self.file
    }
}

impl Write for EarlyWriteback {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let room = WRITEBACK_CHUNK - (self.written - self.started);
        let n = self.file.write(&buf[..buf.len().min(room as usize)])?;
        self.written += n as u64;
        if self.written - self.started >= WRITEBACK_CHUNK {
            self.start();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// Asks the kernel to start writing `len` bytes of `file` from `offset` to disk, without
/// waiting. Only a hint: an error is ignored (the `fdatasync` after reports real trouble).
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: a plain system call on an open descriptor; no memory is passed.
    unsafe { libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE) };
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_: &File, _: u64, _: u64) {}

/// Stages `value` as pretty JSON (two-space indent, trailing newline).
pub fn stage_json<T: serde::Serialize + ?Sized>(path: &Path, value: &T) -> io::Result<Staged> {
    stage(path, |out| {
        serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
        out.write_all(b"\n")
    })
}

/// Makes the data of every staged file durable (fdatasync: data and size, all a new file
/// needs). Syncing them from parallel threads was measured: no faster, the journal serialises.
pub fn sync_all_staged(staged: &[Staged]) -> io::Result<()> {
    staged
        .iter()
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

    /// A file of several write-back chunks, written in pieces of odd sizes (some larger than
    /// a chunk), arrives whole and in order.
    #[test]
    fn staged_files_arrive_whole_across_write_back_chunks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.json");
        let data: Vec<u8> = (0..(3 * WRITEBACK_CHUNK as usize + 12_345))
            .map(|i| (i * 7 % 251) as u8)
            .collect();
        let staged = stage(&path, |out| {
            let mut rest = &data[..];
            for size in [1usize, 70_000, 600_000, 3].iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (now, later) = rest.split_at((*size).min(rest.len()));
                out.write_all(now)?;
                rest = later;
            }
            Ok(())
        })
        .unwrap();
        sync_all_staged(std::slice::from_ref(&staged)).unwrap();
        let mut syncs = DirSyncs::default();
        staged.install(&mut syncs).unwrap();
        syncs.sync().unwrap();
        assert_eq!(fs::read(&path).unwrap(), data);
        let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file left");
    }
}
