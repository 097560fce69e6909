//! The registry lock: an OS advisory lock (flock / LockFileEx via std) on a file that is never
//! renamed or deleted. The kernel drops it when the holder dies, so it can never go stale.
//!
//! Waiting works like cargo's: try the lock; when someone holds it, say once on stderr who,
//! then block. With `--lock-timeout` the lock is tried again with back-off until the time is
//! up. No timers, no signals, no threads.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A held lock; dropping it unlocks.
#[derive(Debug)]
pub struct RegistryLock {
    // Held to keep the lock (closing it unlocks), and to compare with the file at the path.
    file: File,
    path: PathBuf,
}

impl RegistryLock {
    /// Takes the lock at `path`, waiting as long as it takes, or up to `timeout`. When someone
    /// holds it, `on_wait` hears once who that is before the wait.
    pub fn acquire(
        path: &Path,
        timeout: Option<Duration>,
        mut on_wait: impl FnMut(&str) + Send,
    ) -> Result<RegistryLock> {
        let start = Instant::now();
        let mut told = false;
        // Short waits are the normal case when agents run together: said only when the wait
        // lasts (at once when a short --lock-timeout may end it first).
        let quiet = match timeout {
            Some(t) if t <= QUIET * 2 => Duration::ZERO,
            _ => QUIET,
        };
        loop {
            let file = open(path)?;
            if !try_lock(&file, path)? {
                let msg = format!(
                    "waiting for lock {} held by {}",
                    path.display(),
                    holder(path)
                );
                let (done, waiting) = std::sync::mpsc::channel::<()>();
                std::thread::scope(|s| -> Result<()> {
                    if !told {
                        let on_wait = &mut on_wait;
                        s.spawn(move || {
                            if waiting.recv_timeout(quiet)
                                == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                            {
                                on_wait(&msg);
                            }
                        });
                    }
                    let locked = match timeout {
                        Some(timeout) => {
                            wait_at_most(&file, path, timeout.saturating_sub(start.elapsed()))
                        }
                        None => file
                            .lock()
                            .with_context(|| format!("{}: cannot lock", path.display())),
                    };
                    drop(done);
                    locked
                })?;
                told = true;
            }
            // A lock file deleted or replaced while we waited (a `git clean`, a person) is not
            // the one the next process will lock: locking it would guard nothing. Start over on
            // the file that is at the path now.
            if is_at_path(&file, path) {
                return Ok(RegistryLock {
                    file,
                    path: path.into(),
                });
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the locked file is still the one at the path (not deleted or replaced since).
    pub fn still_at_path(&self) -> bool {
        is_at_path(&self.file, &self.path)
    }
}

/// Opens (creating if need be) the lock file, which must not be a link.
fn open(path: &Path) -> Result<File> {
    crate::coord::open(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
}

/// Whether `file` is still the file at `path` (same device and inode).
#[cfg(unix)]
fn is_at_path(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(held), Ok(now)) => held.dev() == now.dev() && held.ino() == now.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn is_at_path(_: &File, path: &Path) -> bool {
    path.exists()
}

/// Tries the lock with back-off (1 ms doubling to 50 ms) for up to `timeout`.
/// How long a wait for the lock goes unsaid.
const QUIET: Duration = Duration::from_secs(1);

fn wait_at_most(file: &File, path: &Path, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let mut pause = Duration::from_millis(1);
    while !try_lock(file, path)? {
        let waited = start.elapsed();
        if waited >= timeout {
            bail!(
                "{}: still locked by {} (--lock-timeout); if that process is stuck, stop it",
                path.display(),
                holder(path),
            );
        }
        std::thread::sleep(pause.min(timeout - waited));
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
    let Some(pid) = holder_pid(path) else {
        return "another process".to_string();
    };
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
