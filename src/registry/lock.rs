//! The registry lock: an OS advisory lock (flock / LockFileEx via std) on a file that is never
//! renamed or deleted. The kernel drops it when the holder dies, so it can never go stale.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

/// A held lock; dropping it unlocks.
#[derive(Debug)]
pub struct RegistryLock {
    file: File,
    path: PathBuf,
}

impl RegistryLock {
    /// Takes the lock at `path`, waiting as long as it takes, or up to `timeout`. While it
    /// waits it says once on stderr who holds it.
    pub fn acquire(path: &Path, timeout: Option<Duration>, what: &str) -> Result<RegistryLock> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("{}: cannot open the lock file", path.display()))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let notice = announce_wait_after(path, NOTICE_AFTER);
                let waited = wait(&file, path, timeout);
                drop(notice);
                waited?;
            }
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("{}: cannot lock", path.display()))
            }
        }
        let mut lock = RegistryLock {
            file,
            path: path.into(),
        };
        lock.record_holder(what);
        Ok(lock)
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    // The content is only a hint for the "waiting for" message; failure to write it is harmless.
    fn record_holder(&mut self, what: &str) {
        let text = format!("pid {} ({what})\n", std::process::id());
        let _ = self.file.set_len(0);
        let _ = self.file.seek(SeekFrom::Start(0));
        let _ = self.file.write_all(text.as_bytes());
    }
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
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(()),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => bail!(
                "{}: still locked by {} after {:.1}s (--lock-timeout); if that process is stuck, stop it",
                path.display(),
                holder(path),
                timeout.as_secs_f64()
            ),
            Err(TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("{}: cannot lock", path.display()))
            }
        }
    }
}

fn holder(path: &Path) -> String {
    let mut text = String::new();
    let _ = File::open(path).and_then(|mut f| f.read_to_string(&mut text));
    match text.trim() {
        "" => "another process".to_string(),
        t => t.to_string(),
    }
}
