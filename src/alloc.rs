//! The binary's allocator: large blocks of one-shot commands come from one region backed by
//! transparent huge pages; everything else goes to the system allocator.
//!
//! A claim on a 10k-task plan allocates a few megabytes in a handful of large blocks (the file,
//! the tasks, the id index) and fills each once. With 4 KiB pages every page of them is a page
//! fault on first touch, over a thousand for one claim, and on virtual machines that was about
//! a sixth of the claim. A 2 MiB huge page is one fault. The region is only address space until
//! touched, so reserving a lot costs nothing.
//!
//! Large blocks are handed out in order (a bump allocator) and freeing one gives its space back
//! only when it was the last handed out (or grows in place when it is): one-shot commands exit
//! right after, so what they free is left behind. Long-running commands (`watch`, `launch`,
//! `demo`) never turn it on and use the system allocator throughout. Small blocks always do:
//! they are freed and reused in loops, which the system allocator is good at.
//!
//! When the region cannot be reserved (a strict overcommit policy, `ulimit -v`), or it runs
//! out, blocks come from the system allocator as usual. Huge pages are advice: where they are
//! off, the region has ordinary pages.

use std::alloc::{GlobalAlloc, Layout, System};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Once;

/// Blocks at least this big come from the region.
pub const LARGE: usize = 128 << 10;
/// Address space reserved for the region (never all touched).
const RESERVE: usize = 8 << 30;
/// The huge page size the region is aligned to.
const HUGE: usize = 2 << 20;

/// The region: where it starts (0 until enabled), the next free byte, and its end.
static START: AtomicUsize = AtomicUsize::new(0);
static NEXT: AtomicUsize = AtomicUsize::new(0);
static END: AtomicUsize = AtomicUsize::new(0);

/// The allocator: `#[global_allocator] static A: swarm::alloc::Allocator = Allocator;`.
pub struct Allocator;

/// Whether large blocks should come from the region (set by `enable`).
static WANTED: AtomicBool = AtomicBool::new(false);

/// Whether every block, small ones too, should come from the region (see `bulk`).
static BULK: AtomicBool = AtomicBool::new(false);

/// Runs `f` with every block it allocates, small ones too, taken from the region (when the
/// region is wanted; otherwise this only runs `f`). For loading a plan: tens of thousands of
/// small blocks (ids, titles, blocker lists) that live as long as the plan, which a one-shot
/// command never frees. In huge pages they cost a fraction of the page faults.
pub fn bulk<T>(f: impl FnOnce() -> T) -> T {
    let was = BULK.swap(true, Ordering::Relaxed);
    let out = f();
    BULK.store(was, Ordering::Relaxed);
    out
}

/// Whether a block of `size` bytes should come from the region.
fn from_region(size: usize) -> bool {
    size >= LARGE || BULK.load(Ordering::Relaxed)
}

/// Large blocks come from the region from now on, for the rest of the process. For commands
/// that exit soon after. The region is reserved on the first large block: commands on small
/// plans never make one, and skip the two system calls.
pub fn enable() {
    WANTED.store(true, Ordering::Relaxed);
}

/// Reserves the region (once; later calls only say whether it is there).
fn reserve() -> bool {
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
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let _ = unsafe {
            rustix::mm::madvise(start as *mut _, RESERVE, rustix::mm::Advice::LinuxHugepage)
        };
        END.store(start + RESERVE, Ordering::Relaxed);
        NEXT.store(start, Ordering::Relaxed);
        START.store(start, Ordering::Release);
    });
    START.load(Ordering::Acquire) != 0
}

/// Whether `p` was handed out by the region.
fn in_region(p: *mut u8) -> bool {
    let start = START.load(Ordering::Acquire);
    start != 0 && (p as usize) >= start && (p as usize) < END.load(Ordering::Relaxed)
}

/// `size` bytes aligned to `align` from the region, or None (not wanted, or full).
fn bump(size: usize, align: usize) -> Option<*mut u8> {
    if START.load(Ordering::Acquire) == 0 && !(WANTED.load(Ordering::Relaxed) && reserve()) {
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
        match NEXT.compare_exchange_weak(cur, stop, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return Some(at as *mut u8),
            Err(now) => cur = now,
        }
    }
}

unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if from_region(layout.size()) {
            if let Some(p) = bump(layout.size(), layout.align()) {
                return p;
            }
        }
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if from_region(layout.size()) {
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
            let _ = NEXT.compare_exchange(stop, p as usize, Ordering::Relaxed, Ordering::Relaxed);
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
                    .compare_exchange(stop, new_stop, Ordering::Relaxed, Ordering::Relaxed)
                    .is_ok()
            {
                return p;
            }
        } else if !from_region(new_size) || !WANTED.load(Ordering::Relaxed) {
            // SAFETY: `p` came from the system allocator with this layout.
            return unsafe { System.realloc(p, layout, new_size) };
        }
        // Moves: into the region when it has room (a block grown large), else anywhere.
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
    #[test]
    fn large_blocks_come_from_the_region_and_small_ones_do_not() {
        let a = Allocator;
        unsafe {
            let before = a.alloc(layout(LARGE));
            assert!(!in_region(before), "not before it is enabled");
            a.dealloc(before, layout(LARGE));
            enable();
            enable(); // twice is harmless

            let small = a.alloc(layout(100));
            assert!(!in_region(small));
            a.dealloc(small, layout(100));

            // Two large blocks, one after the other; they do not overlap.
            let x = a.alloc(layout(LARGE));
            let y = a.alloc(layout(LARGE));
            assert!(in_region(x) && in_region(y));
            assert!(y as usize >= x as usize + LARGE);
            ptr::write_bytes(x, 7, LARGE);
            ptr::write_bytes(y, 9, LARGE);

            // The last one grows in place; one that is not moves, keeping its bytes.
            let y2 = a.realloc(y, layout(LARGE), 3 * LARGE);
            assert_eq!(y2, y, "the last block grows in place");
            let x2 = a.realloc(x, layout(LARGE), 2 * LARGE);
            assert_ne!(x2, x);
            assert!(in_region(x2));
            assert!((0..LARGE).all(|i| *x2.add(i) == 7));
            assert!((0..LARGE).all(|i| *y2.add(i) == 9));

            // Freeing the last block gives its space back; zeroed space is zero even then.
            a.dealloc(x2, layout(2 * LARGE));
            let z = a.alloc_zeroed(layout(2 * LARGE));
            assert_eq!(z, x2, "the space of the last block is handed out again");
            assert!((0..2 * LARGE).all(|i| *z.add(i) == 0));

            // A small block that grows large moves into the region, keeping its bytes.
            let s = a.alloc(layout(16));
            ptr::write_bytes(s, 5, 16);
            let s2 = a.realloc(s, layout(16), LARGE);
            assert!(in_region(s2));
            assert!((0..16).all(|i| *s2.add(i) == 5));

            // In bulk, small blocks come from the region too; after it, not.
            let b = bulk(|| a.alloc(layout(24)));
            assert!(in_region(b));
            assert!(!in_region(a.alloc(layout(24))));

            // Alignment is kept.
            let big = Layout::from_size_align(LARGE, 4096).unwrap();
            let w = a.alloc(big);
            assert_eq!(w as usize % 4096, 0);
        }
    }
}
