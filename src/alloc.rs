//! The binary's allocator: while a one-shot command loads a big plan, its blocks come from one
//! region backed by transparent huge pages; every other block comes from the system allocator.
//!
//! A claim on a 10k-task plan allocates a few megabytes while loading it (the file, the tasks,
//! tens of thousands of ids and titles, the id index) and fills them once. With 4 KiB pages
//! every page is a page fault on first touch, about 1,500 for one claim, and on this VM that
//! was a fifth of the claim. A 2 MiB huge page is one fault. The region is only address space
//! until touched, so reserving a lot costs nothing, and it is reserved only when first used.
//!
//! Blocks are handed out in order (a bump allocator); freeing one gives its space back only
//! when it was the last handed out (and the last one grows in place). That suits a plan: it
//! lives until the command exits. Only loading (`bulk`) and, once a big plan is loaded, a
//! claim's work on it (`bulk_if_started`) use the region, and only in commands
//! that exit soon after (`enable`); long-running ones (`watch`, `launch`, `demo`) load plans
//! over and over, and never turn it on.
//!
//! When the region cannot be reserved (a strict overcommit policy, `ulimit -v`), or it runs
//! out, blocks come from the system allocator as usual. Huge pages are advice: where they are
//! off, the region has ordinary pages.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
#[cfg(target_os = "linux")]
use std::sync::Once;

/// Address space reserved for the region (never all touched).
const RESERVE: usize = if usize::BITS >= 64 {
    (8u64 << 30) as usize
} else {
    256 << 20
};
/// The huge page size the region is aligned to.
const HUGE: usize = 2 << 20;

/// The region: where it starts (0 until enabled), the next free byte, and its end.
static START: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);

/// The allocator: `#[global_allocator] static A: swarm::alloc::Allocator = Allocator;`.
pub struct Allocator;

/// Whether `bulk` may use the region (set by `enable`).
static WANTED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// Whether this thread's blocks come from the region now (see `bulk`). Per thread: other
    /// threads' blocks are not the plan's. (A `const` cell without drop: reading it from
    /// inside the allocator neither allocates nor fails.)
    static BULK: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` with the blocks this thread allocates taken from the region (after `enable`; otherwise
/// this only runs `f`). For loading a big plan, whose blocks live as long as it does.
pub fn bulk<T>(f: impl FnOnce() -> T) -> T {
    /// Puts the flag back however `f` ends, a panic included.
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            BULK.with(|b| b.set(self.0));
        }
    }
    let _restore = Restore(BULK.with(|b| b.replace(true)));
    f()
}

/// Like `bulk`, but only when a big plan was loaded into the region already: the work that
/// follows on it (readiness, the choice, the rewrite's buffers) then takes its blocks from
/// huge pages that are touched already, instead of new 4 KiB pages of the system allocator
/// (a page fault each, ~2 µs on the bench VM; ~40 of them in a 10k-task claim). A small plan
/// never reserves the region for this.
pub fn bulk_if_started<T>(f: impl FnOnce() -> T) -> T {
    match START.load(Ordering::Acquire) != 0 {
        true => bulk(f),
        false => f(),
    }
}

/// Whether new blocks should come from the region: in `bulk`, after `enable`.
fn from_region() -> bool {
    BULK.with(Cell::get) && WANTED.load(Ordering::Relaxed)
}

/// Lets `bulk` use the region from now on, for the rest of the process: for commands that
/// exit soon after. The region is reserved the first time `bulk` allocates.
pub fn enable() {
    WANTED.store(true, Ordering::Relaxed);
}

/// Reserves the region (once; later calls only say whether it is there). Linux only: other
/// systems keep the system allocator.
fn reserve() -> bool {
    #[cfg(target_os = "linux")]
    if START.load(Ordering::Acquire) == 0 {
        reserve_once();
    }
    START.load(Ordering::Acquire) != 0
}

#[cfg(target_os = "linux")]
fn reserve_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a new private anonymous mapping, at an address the kernel picks, touches no
        // existing memory. It is never unmapped: blocks handed out from it live until exit.
        let mapped = unsafe {
            rustix::mm::mmap_anonymous(
                ptr::null_mut(),
                RESERVE + HUGE,
                rustix::mm::ProtFlags::READ | rustix::mm::ProtFlags::WRITE,
                rustix::mm::MapFlags::PRIVATE | rustix::mm::MapFlags::NORESERVE,
            )
        };
        let Ok(base) = mapped else {
            return;
        };
        let start = (base as usize + HUGE - 1) & !(HUGE - 1);
        // SAFETY: advice on memory of the mapping just made, which nothing uses yet. When the
        // kernel has no huge pages the advice fails, and ordinary pages are fine.
        let _ = unsafe {
            rustix::mm::madvise(start as *mut _, RESERVE, rustix::mm::Advice::LinuxHugepage)
        };
        END.store(start + RESERVE, Ordering::Relaxed);
        NEXT.store(start, Ordering::Relaxed);
        START.store(start, Ordering::Release);
    });
}

/// Whether `p` was handed out by the region.
fn in_region(p: *mut u8) -> bool {
    let start = START.load(Ordering::Acquire);
    start != 0 && (p as usize) >= start && (p as usize) < END.load(Ordering::Relaxed)
}

/// `size` bytes aligned to `align` from the region (reserved on first use), or None when it
/// cannot be reserved or is full.
fn bump(size: usize, align: usize) -> Option<*mut u8> {
    if !reserve() {
        return None;
    }
    let end = END.load(Ordering::Relaxed);
    let mut cur = NEXT.load(Ordering::Relaxed);
    loop {
        let at = cur.checked_add(align - 1)? & !(align - 1);
        let stop = at.checked_add(size)?;
        if stop > end {
            return None;
        }
        // Acquire/Release on NEXT: bytes given back by one thread and handed out again to
        // another are written by the first before the second uses them.
        match NEXT.compare_exchange_weak(cur, stop, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => return Some(at as *mut u8),
            Err(now) => cur = now,
        }
    }
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if from_region() {
            if let Some(p) = bump(layout.size(), layout.align()) {
                return p;
            }
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if from_region() {
            if let Some(p) = bump(layout.size(), layout.align()) {
                // Space given back by `dealloc` may be handed out again, so it is not known
                // to be zero.
                // SAFETY: the block was just handed out with this size.
                unsafe { ptr::write_bytes(p, 0, layout.size()) };
                return p;
            }
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, p: *mut u8, layout: Layout) {
        if in_region(p) {
            // The last block handed out gives its space back; any other stays until exit.
            let stop = p as usize + layout.size();
            let _ = NEXT.compare_exchange(stop, p as usize, Ordering::AcqRel, Ordering::Relaxed);
            return;
        }
        // SAFETY: `p` came from the system allocator with this layout.
        unsafe { System.dealloc(p, layout) }
    }

    unsafe fn realloc(&self, p: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let old = layout.size();
        if in_region(p) {
            if new_size <= old {
                return p;
            }
            // The last block handed out grows in place when the region has room.
            let (stop, new_stop) = (p as usize + old, p as usize + new_size);
            if new_stop <= END.load(Ordering::Relaxed)
                && NEXT
                    .compare_exchange(stop, new_stop, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok()
            {
                return p;
            }
        } else if !from_region() {
            // SAFETY: `p` came from the system allocator with this layout.
            return unsafe { System.realloc(p, layout, new_size) };
        }
        // Moves: into the region when blocks come from it and it has room, else anywhere.
        // SAFETY: the layout of the old block with the new size, which the caller guarantees
        // is valid; the blocks do not overlap; the old one is freed with its own layout.
        unsafe {
            let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
            let q = self.alloc(new_layout);
            if !q.is_null() {
                ptr::copy_nonoverlapping(p, q, old.min(new_size));
                self.dealloc(p, layout);
            }
            q
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize) -> Layout {
        Layout::from_size_align(size, 8).unwrap()
    }

    /// One test: the region is process-wide, and tests run in parallel.
    #[cfg(target_os = "linux")]
    #[test]
    fn blocks_come_from_the_region_only_in_bulk_after_enable() {
        let a = Allocator;
        unsafe {
            let before = bulk(|| a.alloc(layout(64)));
            assert!(!in_region(before), "not before it is enabled");
            a.dealloc(before, layout(64));
            enable();
            enable(); // twice is harmless
            let outside = a.alloc(layout(1 << 20));
            assert!(!in_region(outside), "not outside bulk");
            a.dealloc(outside, layout(1 << 20));
            let quiet = bulk_if_started(|| a.alloc(layout(64)));
            assert!(
                !in_region(quiet),
                "not before a bulk block started the region"
            );
            a.dealloc(quiet, layout(64));

            // Two blocks, one after the other; they do not overlap.
            let (x, y) = bulk(|| (a.alloc(layout(100)), a.alloc(layout(100))));
            assert!(in_region(x) && in_region(y));
            assert!(y as usize >= x as usize + 100);
            ptr::write_bytes(x, 7, 100);
            ptr::write_bytes(y, 9, 100);

            // The last one grows in place; one that is not moves, keeping its bytes.
            let y2 = bulk(|| a.realloc(y, layout(100), 300));
            assert_eq!(y2, y, "the last block grows in place");
            let x2 = bulk(|| a.realloc(x, layout(100), 200));
            assert_ne!(x2, x);
            assert!(in_region(x2));
            assert!((0..100).all(|i| *x2.add(i) == 7));
            assert!((0..100).all(|i| *y2.add(i) == 9));

            // Freeing the last block gives its space back; zeroed space is zero even then.
            a.dealloc(x2, layout(200));
            let z = bulk(|| a.alloc_zeroed(layout(200)));
            assert_eq!(z, x2, "the space of the last block is handed out again");
            assert!((0..200).all(|i| *z.add(i) == 0));

            // Outside bulk, a region block that grows and is not the last moves out, keeping
            // its bytes.
            let _after = bulk(|| a.alloc(layout(8)));
            ptr::write_bytes(z, 5, 200);
            let moved = a.realloc(z, layout(200), 1 << 16);
            assert!(!in_region(moved));
            assert!((0..200).all(|i| *moved.add(i) == 5));
            a.dealloc(moved, layout(1 << 16));

            // A system block that grows in bulk moves into the region, keeping its bytes.
            let s = a.alloc(layout(16));
            ptr::write_bytes(s, 3, 16);
            let s2 = bulk(|| a.realloc(s, layout(16), 4096));
            assert!(in_region(s2));
            assert!((0..16).all(|i| *s2.add(i) == 3));

            // Alignment is kept.
            let big = Layout::from_size_align(100, 4096).unwrap();
            let w = bulk(|| a.alloc(big));
            assert_eq!(w as usize % 4096, 0);

            // Once the region is in use, `bulk_if_started` takes blocks from it too.
            let later = bulk_if_started(|| a.alloc(layout(64)));
            assert!(in_region(later));
        }
    }
}
