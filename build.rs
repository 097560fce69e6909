//! Links the unwinder statically on Linux with glibc, so that every `swarm` process loads one
//! shared library (libc) instead of two.
//!
//! Rust's standard library asks the linker for `-lgcc_s`, GCC's unwinder as a shared library.
//! Loading and relocating it, and the CPU-feature probe it runs at load (`cpuid`, slow in a
//! virtual machine), were about a tenth of a short claim's CPU time. GCC ships the same unwinder
//! as a static archive, `libgcc_eh.a` (what `-static-libgcc` links, and what Rust itself links
//! for `+crt-static`). A copy of it named `libgcc_s.a`, in a directory the linker searches
//! before the system's, is found for `-lgcc_s` instead: the same code, linked in.
//!
//! Nothing is done when cross-compiling, for other targets, when the C compiler has no
//! `libgcc_eh.a` or one that a position-independent program cannot link and unwind with (a
//! probe is built and run), or when `SWARM_SHARED_LIBGCC` is set: the link is then the usual
//! one.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=SWARM_SHARED_LIBGCC");
    println!("cargo:rerun-if-env-changed=CC");
    let var = |name: &str| env::var(name).unwrap_or_default();
    let native_glibc = var("CARGO_CFG_TARGET_OS") == "linux"
        && var("CARGO_CFG_TARGET_ENV") == "gnu"
        && var("TARGET") == var("HOST");
    if !native_glibc || env::var_os("SWARM_SHARED_LIBGCC").is_some() {
        return;
    }
    // The C compiler that links (a linker set in cargo's configuration comes first).
    println!("cargo:rerun-if-env-changed=RUSTC_LINKER");
    let cc = env::var("RUSTC_LINKER")
        .or_else(|_| env::var("CC"))
        .unwrap_or_else(|_| "cc".to_string());
    let Ok(out) = Command::new(&cc)
        .arg("-print-file-name=libgcc_eh.a")
        .output()
    else {
        return;
    };
    // A compiler without the file prints its bare name back.
    let archive = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !archive.is_absolute() || !archive.is_file() {
        return;
    }
    // A new compiler (an upgrade) brings its own archive: copy and probe again.
    println!("cargo:rerun-if-changed={}", archive.display());
    let dir = PathBuf::from(var("OUT_DIR")).join("static-unwinder");
    let copied = fs::create_dir_all(&dir).and_then(|()| fs::copy(&archive, dir.join("libgcc_s.a")));
    if copied.is_ok() && unwinds_in_a_pie(&cc, &dir) {
        println!("cargo:rustc-link-search=native={}", dir.display());
    }
}

/// Whether a small position-independent program that walks its own stack links with the copy
/// in `dir` and runs (a `libgcc_eh.a` built without `-fPIC` would not link): otherwise the
/// usual link is kept.
fn unwinds_in_a_pie(cc: &str, dir: &Path) -> bool {
    let source = dir.join("probe.c");
    let probe = dir.join("probe");
    let program = "#include <unwind.h>\n\
        static _Unwind_Reason_Code step(struct _Unwind_Context *c, void *n) {\n\
        (void)c; ++*(int *)n; return _URC_NO_REASON;\n\
        }\n\
        int main(void) { int n = 0; _Unwind_Backtrace(step, &n); return n > 0 ? 0 : 1; }\n";
    if fs::write(&source, program).is_err() {
        return false;
    }
    let linked = Command::new(cc)
        .args(["-fPIE", "-pie", "-o"])
        .arg(&probe)
        .arg(&source)
        .arg("-L")
        .arg(dir)
        // Like rustc's link: no default libraries, the unwinder asked for as `-lgcc_s`.
        .args(["-nodefaultlibs", "-Wl,-Bdynamic", "-lgcc_s", "-lc"])
        .output()
        .is_ok_and(|out| out.status.success());
    linked && Command::new(&probe).status().is_ok_and(|s| s.success())
}
