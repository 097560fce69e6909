//! Copying and linking into a new worktree without going through a link the repository put
//! there, and without overwriting anything.

use anyhow::{bail, Context, Result};
use std::path::{Component, Path};
use std::time::{Duration, Instant};

/// Checks that every folder between `wt` and `wt/rel` is a real folder of the worktree (or
/// missing, then made): nothing is read or written through a link the repository put there.
pub(super) fn safe_parent(wt: &Path, rel: &Path) -> Result<()> {
    let mut at = wt.to_path_buf();
    let parts: Vec<Component> = rel.components().collect();
    for c in &parts[..parts.len().saturating_sub(1)] {
        let Component::Normal(name) = c else {
            bail!("{}: not a plain relative path", rel.display());
        };
        at.push(name);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => bail!(
                "{}: is a link or a file in the new worktree; nothing is written through it",
                at.display()
            ),
            Err(_) => std::fs::create_dir(&at)
                .with_context(|| format!("{}: cannot create", at.display()))?,
        }
    }
    Ok(())
}

/// Copies one file or link `src` to `wt/rel` (a link as a link); whether it did (an existing
/// file is kept).
pub(super) fn copy_entry(src: &Path, wt: &Path, rel: &Path) -> Result<bool> {
    let dest = wt.join(rel);
    safe_parent(wt, rel)?;
    if std::fs::symlink_metadata(&dest).is_ok() {
        return Ok(false);
    }
    let meta = std::fs::symlink_metadata(src)
        .with_context(|| format!("{}: cannot read", src.display()))?;
    if meta.file_type().is_symlink() {
        let target =
            std::fs::read_link(src).with_context(|| format!("{}: cannot read", src.display()))?;
        symlink(&target, &dest)?;
    } else {
        std::fs::copy(src, &dest)
            .with_context(|| format!("cannot copy {} to {}", src.display(), dest.display()))?;
    }
    Ok(true)
}

/// Copies the folder `src` to `dest` (which does not exist), links as links. Each file goes
/// through `std::fs::copy`, which clones it where the filesystem can (copy_file_range on
/// Linux, clonefile on macOS). Says how far it got every few seconds.
pub(super) fn copy_tree(
    src: &Path,
    dest: &Path,
    name: &str,
    say: &mut dyn FnMut(String),
) -> Result<u64> {
    let mut count = 0;
    let mut told = Instant::now();
    let mut stack = vec![(src.to_path_buf(), dest.to_path_buf())];
    while let Some((from, to)) = stack.pop() {
        std::fs::create_dir(&to).with_context(|| format!("{}: cannot create", to.display()))?;
        let entries =
            std::fs::read_dir(&from).with_context(|| format!("{}: cannot read", from.display()))?;
        for e in entries {
            let e = e.with_context(|| format!("{}: cannot read", from.display()))?;
            let (f, t) = (e.path(), to.join(e.file_name()));
            let kind = e
                .file_type()
                .with_context(|| format!("{}: cannot read", f.display()))?;
            if kind.is_dir() {
                stack.push((f, t));
                continue;
            }
            if kind.is_symlink() {
                let target = std::fs::read_link(&f)
                    .with_context(|| format!("{}: cannot read", f.display()))?;
                symlink(&target, &t)?;
            } else if kind.is_file() {
                std::fs::copy(&f, &t)
                    .with_context(|| format!("cannot copy {} to {}", f.display(), t.display()))?;
            }
            count += 1;
            if told.elapsed() >= Duration::from_secs(2) {
                say(format!("copying {name}: {count} files so far"));
                told = Instant::now();
            }
        }
    }
    Ok(count)
}

pub(super) fn symlink(target: &Path, link: &Path) -> Result<()> {
    #[cfg(unix)]
    let made = std::os::unix::fs::symlink(target, link);
    #[cfg(not(unix))]
    let made: std::io::Result<()> = Err(std::io::Error::other("links need a Unix system"));
    made.with_context(|| format!("cannot link {} to {}", link.display(), target.display()))
}
