//! The coordination dir is swarm's own, but it lives in a repository, which is untrusted: a
//! clone can bring a `.claude-agents/events.jsonl` that is a link to `~/.bashrc`. Nothing swarm
//! writes there goes through a link or leaves the directory: the directory and its known
//! entries are checked before any change, and files are opened with `O_NOFOLLOW` besides.

use anyhow::{bail, Context, Result};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The entries swarm keeps in the coordination dir.
pub const ENTRIES: &[&str] = &[
    "task-registry.json",
    "task-registry.lock",
    "events.jsonl",
    "launch-agent.sh",
    "prompts",
    "logs",
    "panes",
];

/// Refuses a symbolic link at `path` (a missing path is fine).
pub fn refuse_link(path: &Path) -> Result<()> {
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        bail!(
            "{}: is a symbolic link; swarm does not follow links in its coordination directory (it could write anywhere through one) — remove it, and swarm makes the real file",
            path.display()
        );
    }
    Ok(())
}

/// Checks the coordination dir `dir` and every entry swarm keeps there: none may be a link,
/// and the dir must be a directory.
pub fn check(dir: &Path) -> Result<()> {
    refuse_link(dir)?;
    if let Ok(meta) = std::fs::metadata(dir) {
        if !meta.is_dir() {
            bail!(
                "{}: is not a directory; swarm keeps its coordination files there — move it away",
                dir.display()
            );
        }
    }
    ENTRIES.iter().try_for_each(|e| refuse_link(&dir.join(e)))
}

/// The subdirectory `name` of the coordination dir, made when missing; never a link.
pub fn subdir(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    refuse_link(&path)?;
    match std::fs::create_dir(&path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
            return Err(e).with_context(|| format!("{}: cannot create", path.display()))
        }
        _ => {}
    }
    refuse_link(&path)?;
    if !path.is_dir() {
        bail!("{}: is not a directory", path.display());
    }
    Ok(path)
}

/// Opens `path` with `opts`, refusing to follow a link at the last component.
pub fn open(path: &Path, opts: &mut OpenOptions) -> Result<File> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32);
    }
    opts.open(path).map_err(|e| {
        // ELOOP: the last component is a link.
        if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
            refuse_link(path).unwrap_err()
        } else {
            anyhow::Error::new(e).context(format!("{}: cannot open", path.display()))
        }
    })
}

/// Replaces the content of `path` with `bytes` (not through a link).
pub fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = open(
        path,
        OpenOptions::new().write(true).create(true).truncate(true),
    )?;
    io::Write::write_all(&mut file, bytes)
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// Appends `bytes` to `path` (not through a link), creating it.
pub fn append(path: &Path) -> Result<File> {
    open(path, OpenOptions::new().create(true).append(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn nothing_is_written_through_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, "keep\n").unwrap();
        let coord = dir.path().join("coord");
        std::fs::create_dir(&coord).unwrap();
        std::os::unix::fs::symlink(&outside, coord.join("events.jsonl")).unwrap();
        let err = append(&coord.join("events.jsonl")).unwrap_err().to_string();
        assert!(err.contains("symbolic link"), "{err}");
        let err = write(&coord.join("events.jsonl"), b"x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("symbolic link"), "{err}");
        assert!(check(&coord).is_err());
        std::os::unix::fs::symlink(dir.path(), coord.join("logs")).unwrap();
        assert!(subdir(&coord, "logs").is_err());
        assert_eq!(std::fs::read_to_string(&outside).unwrap(), "keep\n");
    }
}
