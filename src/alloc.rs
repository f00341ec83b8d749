//! The binary's global allocator: mimalloc for everything except large blocks, which are
//! mapped straight from the kernel on Linux.
//!
//! Why: decoders allocate their whole state zeroed for every stream (libbz2-rs: 3.6 MB for
//! a `BZh9` stream however small its data; lzma dictionaries), and mimalloc zeroes a reused
//! block by writing every byte. Fresh anonymous pages are already zero and cost nothing
//! until touched, which is how glibc's `calloc` serves large blocks; `lint` over many small
//! compressed files touches a few pages of each. (On 1,000 files of the benchmark tree
//! this was 13% of lint's instructions, all `memset`.)
//!
//! Routing is by the layout alone (size at least [`LARGE`], alignment at most a page), and
//! Rust hands `dealloc`/`realloc` the layout it allocated with, so every block is freed by
//! the allocator that made it.

use std::alloc::{GlobalAlloc, Layout};

use mimalloc::MiMalloc;

/// Blocks from this size up are mapped.
const LARGE: usize = 1 << 20;

/// The alignment `mmap` guarantees.
const PAGE: usize = 4096;

/// mimalloc, with large blocks mapped on Linux.
pub struct Allocator;

fn is_large(size: usize, align: usize) -> bool {
    cfg!(target_os = "linux") && size >= LARGE && align <= PAGE
}

/// `size` rounded up to whole pages (sizes near `usize::MAX` never reach here: a layout's
/// size rounded up to its alignment fits in `isize`).
fn mapped_len(size: usize) -> usize {
    size.div_ceil(PAGE).saturating_mul(PAGE)
}

#[cfg(target_os = "linux")]
mod map {
    use std::ptr;

    pub(super) unsafe fn map(len: usize) -> *mut u8 {
        // SAFETY: an anonymous private mapping with no address hint touches no existing memory.
        let p = unsafe {
            libc::mmap(
                ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            ptr::null_mut()
        } else {
            p.cast()
        }
    }

    pub(super) unsafe fn unmap(p: *mut u8, len: usize) {
        // SAFETY: `p`/`len` are a whole mapping made by `map` (or `remap`), freed once.
        unsafe { libc::munmap(p.cast(), len) };
    }

    pub(super) unsafe fn remap(p: *mut u8, old: usize, new: usize) -> *mut u8 {
        // SAFETY: `p`/`old` are a whole mapping made by `map`; the kernel moves it if needed.
        let q = unsafe { libc::mremap(p.cast(), old, new, libc::MREMAP_MAYMOVE) };
        if q == libc::MAP_FAILED {
            ptr::null_mut()
        } else {
            q.cast()
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod map {
    pub(super) unsafe fn map(_: usize) -> *mut u8 {
        unreachable!("large blocks are mapped on Linux only")
    }
    pub(super) unsafe fn unmap(_: *mut u8, _: usize) {
        unreachable!("large blocks are mapped on Linux only")
    }
    pub(super) unsafe fn remap(_: *mut u8, _: usize, _: usize) -> *mut u8 {
        unreachable!("large blocks are mapped on Linux only")
    }
}

// SAFETY: every block is served and freed by one of two allocators, chosen by its layout,
// which Rust passes unchanged to `dealloc` and (as the old layout) to `realloc`.
unsafe impl GlobalAlloc for Allocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size(), layout.align()) {
            unsafe { map::map(mapped_len(layout.size())) }
        } else {
            unsafe { MiMalloc.alloc(layout) }
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size(), layout.align()) {
            // Fresh anonymous pages read as zero.
            unsafe { map::map(mapped_len(layout.size())) }
        } else {
            unsafe { MiMalloc.alloc_zeroed(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if is_large(layout.size(), layout.align()) {
            unsafe { map::unmap(ptr, mapped_len(layout.size())) }
        } else {
            unsafe { MiMalloc.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let align = layout.align();
        match (is_large(layout.size(), align), is_large(new_size, align)) {
            (false, false) => unsafe { MiMalloc.realloc(ptr, layout, new_size) },
            (true, true) => unsafe {
                map::remap(ptr, mapped_len(layout.size()), mapped_len(new_size))
            },
            _ => {
                // Crossing the threshold: move the block to the other allocator.
                let Ok(new_layout) = Layout::from_size_align(new_size, align) else {
                    return std::ptr::null_mut();
                };
                let new = unsafe { self.alloc(new_layout) };
                if !new.is_null() {
                    let n = layout.size().min(new_size);
                    // SAFETY: both blocks are at least `n` bytes and distinct.
                    unsafe { std::ptr::copy_nonoverlapping(ptr, new, n) };
                    unsafe { self.dealloc(ptr, layout) };
                }
                new
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::LARGE;

    /// The test binary runs on this allocator too (`main.rs` declares it global).
    #[test]
    fn large_zeroed_blocks_read_as_zero_and_keep_their_contents_across_reallocs() {
        let mut v: Vec<u8> = vec![0; LARGE * 3];
        assert!(v.iter().all(|&b| b == 0));
        for (i, b) in v.iter_mut().enumerate() {
            *b = (i % 251) as u8;
        }
        // Large to larger (remap), larger to small (moved to mimalloc), small to large.
        v.reserve_exact(LARGE * 5);
        assert!(v.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        v.truncate(1000);
        v.shrink_to_fit();
        assert!(v.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
        v.resize(LARGE * 2, 7);
        assert!(v[..1000]
            .iter()
            .enumerate()
            .all(|(i, &b)| b == (i % 251) as u8));
        assert!(v[1000..].iter().all(|&b| b == 7));
    }

    #[test]
    fn over_aligned_large_blocks_stay_with_mimalloc() {
        #[repr(align(8192))]
        struct Page([u8; 8192]);
        let v: Vec<Page> = (0..200).map(|_| Page([1; 8192])).collect();
        assert_eq!(v.as_ptr() as usize % 8192, 0);
        assert!(v.iter().all(|p| p.0.iter().all(|&b| b == 1)));
    }
}
