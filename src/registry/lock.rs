//! The registry lock: an OS advisory lock (flock / LockFileEx via std) on a file that is never
//! renamed or deleted. The kernel drops it when the holder dies, so it can never go stale.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
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
            match timeout {
                Some(timeout) => wait_at_most(&self.file, &self.path, timeout)?,
                None => wait(&self.file, &self.path)?,
            }
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

/// Says once on stderr that this process waits for the lock at `path`, and for whom.
fn announce_wait(path: &Path) {
    eprintln!(
        "swarm: waiting for lock {} held by {}",
        path.display(),
        holder(path)
    );
}

/// Set once by a single-threaded program (the `swarm` binary) before any wait: waits are then
/// announced by a timer signal instead of a thread. See `alarm`.
static ONE_THREAD: AtomicBool = AtomicBool::new(false);

/// Lets lock waits use a timer signal (`SIGALRM`) to announce themselves. Only for a program
/// that runs a single thread: the signal goes to whichever thread the kernel picks, and the
/// handler is installed process-wide for the length of a wait.
pub fn single_threaded() {
    ONE_THREAD.store(true, Ordering::Relaxed);
}

/// Waits as long as it takes, and says so once if that is longer than `NOTICE_AFTER`.
fn wait(file: &File, path: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    if ONE_THREAD.load(Ordering::Relaxed) {
        return alarm::lock(file, NOTICE_AFTER, || announce_wait(path))
            .with_context(|| format!("{}: cannot lock", path.display()));
    }
    // A thread that wakes after `NOTICE_AFTER`, unless told first that the wait is over.
    let (tx, rx) = mpsc::channel::<()>();
    let notice_path = path.to_path_buf();
    thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(NOTICE_AFTER) {
            announce_wait(&notice_path);
        }
    });
    let locked = file.lock();
    drop(tx);
    locked.with_context(|| format!("{}: cannot lock", path.display()))
}

/// Waits up to `timeout` (`--lock-timeout`), trying again and again, and says so once if that
/// is longer than `NOTICE_AFTER`.
fn wait_at_most(file: &File, path: &Path, timeout: Duration) -> Result<()> {
    let start = Instant::now();
    let mut told = false;
    let mut pause = Duration::from_millis(1);
    while !try_lock(file, path)? {
        let waited = start.elapsed();
        if waited >= timeout {
            bail!(
                "{}: still locked by {} after {:.1}s (--lock-timeout); if that process is stuck, stop it",
                path.display(),
                holder(path),
                timeout.as_secs_f64()
            );
        }
        if !told && waited >= NOTICE_AFTER {
            announce_wait(path);
            told = true;
        }
        thread::sleep(pause.min(timeout - waited));
        pause = (pause * 2).min(Duration::from_millis(50));
    }
    Ok(())
}

/// A blocking wait for the lock that says it waits after a while, without a second thread.
///
/// Starting a thread only to print one line after 300 ms cost a waiting claim about a tenth of
/// its time (a stack to map, a thread to start, wake and end). Instead, a timer sends
/// `SIGALRM`, caught by a handler that only notes it; the handler is installed without
/// `SA_RESTART`, so the blocking `flock` returns `EINTR`, the notice is printed, and the wait
/// goes on. The timer repeats until the notice is out, so a signal that lands just before
/// `flock` blocks is not lost. Both the timer and the previous handler are put back before
/// returning, and the timer is not inherited by children.
#[cfg(target_os = "linux")]
mod alarm {
    use std::fs::File;
    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    static FIRED: AtomicBool = AtomicBool::new(false);

    extern "C" fn fired(_: libc::c_int) {
        FIRED.store(true, Ordering::SeqCst);
    }

    /// Sets the process's real-time interval timer: first after `after`, then every `after`
    /// (zero stops it).
    fn set_timer(after: Duration) -> io::Result<()> {
        let t = libc::timeval {
            tv_sec: after.as_secs() as libc::time_t,
            tv_usec: after.subsec_micros() as libc::suseconds_t,
        };
        let value = libc::itimerval {
            it_interval: t,
            it_value: t,
        };
        // SAFETY: `value` is a valid itimerval; the old value is not asked for.
        match unsafe { libc::setitimer(libc::ITIMER_REAL, &value, std::ptr::null_mut()) } {
            0 => Ok(()),
            _ => Err(io::Error::last_os_error()),
        }
    }

    /// Blocks until `file` is locked exclusively; calls `notice` once if that takes longer
    /// than `after`.
    pub fn lock(file: &File, after: Duration, notice: impl FnOnce()) -> io::Result<()> {
        // SAFETY: a zeroed sigaction is a valid value (no flags, empty mask) before the
        // handler is set; `fired` only stores to an atomic, which is async-signal-safe.
        let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = fired as extern "C" fn(libc::c_int) as libc::sighandler_t;
        // SAFETY: both pointers are to valid sigaction values.
        if unsafe { libc::sigaction(libc::SIGALRM, &action, &mut previous) } != 0 {
            return Err(io::Error::last_os_error());
        }
        // A parent may have left SIGALRM blocked (the mask survives exec): the timer could not
        // interrupt the wait, and its signal would stay pending. Unblocked for the wait.
        // SAFETY: valid sigset values; a zeroed sigset_t is filled by sigemptyset first.
        let mut alarm: libc::sigset_t = unsafe { std::mem::zeroed() };
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe {
            libc::sigemptyset(&mut alarm);
            libc::sigaddset(&mut alarm, libc::SIGALRM);
            libc::pthread_sigmask(libc::SIG_UNBLOCK, &alarm, &mut mask);
        }
        FIRED.store(false, Ordering::SeqCst);
        let mut notice = Some(notice);
        let locked = set_timer(after).and_then(|()| loop {
            match rustix::fs::flock(file, rustix::fs::FlockOperation::LockExclusive) {
                Ok(()) => break Ok(()),
                Err(rustix::io::Errno::INTR) => {
                    if FIRED.load(Ordering::SeqCst) {
                        if let Some(say) = notice.take() {
                            set_timer(Duration::ZERO)?;
                            say();
                        }
                    }
                }
                Err(e) => break Err(e.into()),
            }
        });
        // Stop the timer before the handler goes (a tick already sent is delivered to the
        // handler while SIGALRM is unblocked); if it cannot be stopped, later ticks are ignored
        // rather than end the process.
        let stopped = set_timer(Duration::ZERO);
        let restore = match stopped {
            Ok(()) => previous,
            Err(_) => {
                let mut ignore: libc::sigaction = unsafe { std::mem::zeroed() };
                ignore.sa_sigaction = libc::SIG_IGN;
                ignore
            }
        };
        // SAFETY: `mask` was filled in by the first call, `restore` is a valid sigaction.
        unsafe {
            libc::pthread_sigmask(libc::SIG_SETMASK, &mask, std::ptr::null_mut());
            libc::sigaction(libc::SIGALRM, &restore, std::ptr::null_mut());
        }
        locked.and(stopped)
    }
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
