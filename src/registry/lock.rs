//! The registry lock: an OS advisory lock (flock / LockFileEx via std) on a file that is never
//! renamed or deleted. The kernel drops it when the holder dies, so it can never go stale.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A held lock; dropping it unlocks.
#[derive(Debug)]
pub struct RegistryLock {
    // Held only to keep the lock; closing it unlocks.
    _file: File,
    path: PathBuf,
}

impl RegistryLock {
    /// Takes the lock at `path`, waiting as long as it takes, or up to `timeout`. When the wait
    /// is noticeable it says once on stderr who holds it.
    pub fn acquire(path: &Path, timeout: Option<Duration>) -> Result<RegistryLock> {
        LockFile::open(path)?.lock(timeout)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The lock file, open but not locked: tried once, it can still be waited on without opening
/// it again.
#[derive(Debug)]
pub struct LockFile {
    file: File,
    path: PathBuf,
}

impl LockFile {
    /// Opens (creating if need be) the lock file at `path`.
    pub fn open(path: &Path) -> Result<LockFile> {
        Ok(LockFile {
            file: open(path)?,
            path: path.into(),
        })
    }

    /// Takes the lock only if no one holds it; hands the file back when it is busy.
    pub fn try_lock(self) -> Result<Result<RegistryLock, LockFile>> {
        Ok(match try_lock(&self.file, &self.path)? {
            true => Ok(self.locked()),
            false => Err(self),
        })
    }

    /// Takes the lock, as `RegistryLock::acquire`.
    pub fn lock(self, timeout: Option<Duration>) -> Result<RegistryLock> {
        if !try_lock(&self.file, &self.path)? {
            let notice = announce_wait_after(&self.path, NOTICE_AFTER);
            let waited = wait(&self.file, &self.path, timeout);
            drop(notice);
            waited?;
        }
        Ok(self.locked())
    }

    fn locked(self) -> RegistryLock {
        RegistryLock {
            _file: self.file,
            path: self.path,
        }
    }
}

/// Opens (creating if need be) the lock file, which must not be a link.
fn open(path: &Path) -> Result<File> {
    super::refuse_link(path)?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .with_context(|| format!("{}: cannot open the lock file", path.display()))
}

/// Waits shorter than this go unmentioned: under normal contention the lock is held for
/// milliseconds, and a message per wait would only be noise.
const NOTICE_AFTER: Duration = Duration::from_millis(300);

/// Prints "waiting for lock held by …" once if the wait lasts longer than `after`; dropping
/// the returned sender cancels it.
fn announce_wait_after(path: &Path, after: Duration) -> mpsc::Sender<()> {
    let (tx, rx) = mpsc::channel::<()>();
    let path = path.to_path_buf();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(after) {
            eprintln!(
                "swarm: waiting for lock {} held by {}",
                path.display(),
                holder(&path)
            );
        }
    });
    tx
}

fn wait(file: &File, path: &Path, timeout: Option<Duration>) -> Result<()> {
    let Some(timeout) = timeout else {
        return file
            .lock()
            .with_context(|| format!("{}: cannot lock", path.display()));
    };
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    while !try_lock(file, path)? {
        if Instant::now() >= deadline {
            bail!(
                "{}: still locked by {} after {:.1}s (--lock-timeout); if that process is stuck, stop it",
                path.display(),
                holder(path),
                timeout.as_secs_f64()
            );
        }
        thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    Ok(())
}

/// Takes the lock if it is free: false when another process holds it.
fn try_lock(file: &File, path: &Path) -> Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("{}: cannot lock", path.display()))
        }
    }
}

/// Who holds the lock on `path`, for messages: the kernel's lock table names the process, so
/// the lock file never needs to be written (a refused command leaves every byte as it was).
fn holder(path: &Path) -> String {
    match holder_pid(path) {
        Some(pid) => {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let words: Vec<String> = cmdline
                .split(|b| *b == 0)
                .filter(|w| !w.is_empty())
                .map(|w| String::from_utf8_lossy(w).into_owned())
                .collect();
            let mut cmd = words.join(" ");
            if cmd.chars().count() > 80 {
                cmd = cmd.chars().take(77).collect::<String>() + "...";
            }
            if cmd.is_empty() {
                format!("pid {pid}")
            } else {
                format!("pid {pid} ({cmd})")
            }
        }
        None => "another process".to_string(),
    }
}

/// The pid holding a flock on `path`, from /proc/locks (Linux); `None` elsewhere.
fn holder_pid(path: &Path) -> Option<u32> {
    #[cfg(target_os = "linux")]
    {
        use std::os::unix::fs::MetadataExt;
        let md = std::fs::metadata(path).ok()?;
        let dev = md.dev();
        let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
        let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
        let table = std::fs::read_to_string("/proc/locks").ok()?;
        table.lines().find_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            // "1: FLOCK ADVISORY WRITE 1234 fd:01:5678 0 EOF"; waiters have "->" after the index.
            if f.len() < 6 || f[1] != "FLOCK" {
                return None;
            }
            let mut id = f[5].split(':');
            let (ma, mi, ino) = (id.next()?, id.next()?, id.next()?);
            let same = u64::from_str_radix(ma, 16).ok()? == major
                && u64::from_str_radix(mi, 16).ok()? == minor
                && ino.parse::<u64>().ok()? == md.ino();
            same.then(|| f[4].parse().ok()).flatten()
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        None
    }
}
