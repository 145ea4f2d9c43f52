//! The memory of a delay history: one buffer per runner call, reused by every lane block the call
//! integrates, aligned to 2 MiB and, on Linux, advised to use transparent huge pages.
//!
//! A delayed network reads every step thousands of rows from all over a history of tens to
//! hundreds of megabytes. With 4 kB pages that is a TLB miss per read, and a fresh buffer for
//! every block costs a page fault per 4 kB before the first step (measured on the 68-region
//! Montbrió network at dt 0.01 with 32 lanes: 45% of the wall time in the kernel's page faults).
//! Huge pages cut both by 512; reuse across blocks removes the faults after the first block.

use crate::real::Real;
use std::alloc::{Layout, alloc, dealloc};
use std::ptr::NonNull;

/// Buffers at least this large are aligned to it and advised to use huge pages.
pub const HUGE_PAGE: usize = 2 << 20;

/// A zero-initialised buffer of `H` values that keeps its memory between uses.
pub struct HistoryBuffer<H: Real> {
    ptr: NonNull<H>,
    /// The values in use.
    len: usize,
    /// The values allocated.
    capacity: usize,
}

// SAFETY: the buffer owns its memory, like a `Vec<H>`.
unsafe impl<H: Real + Send> Send for HistoryBuffer<H> {}

impl<H: Real> Default for HistoryBuffer<H> {
    fn default() -> Self {
        HistoryBuffer {
            ptr: NonNull::dangling(),
            len: 0,
            capacity: 0,
        }
    }
}

impl<H: Real> HistoryBuffer<H> {
    fn layout(capacity: usize) -> Option<Layout> {
        let bytes = capacity.checked_mul(std::mem::size_of::<H>())?;
        let align = if bytes >= HUGE_PAGE {
            HUGE_PAGE
        } else {
            std::mem::align_of::<H>().max(64)
        };
        Layout::from_size_align(bytes.next_multiple_of(align), align).ok()
    }

    /// Makes the buffer `len` values long. The values are zero when `zero` is set, else
    /// unspecified (the caller writes every one of them before reading). Returns false when the
    /// memory cannot be had.
    pub fn prepare(&mut self, len: usize, zero: bool) -> bool {
        if len <= self.capacity {
            if zero {
                self.as_mut_slice_of(len).fill(H::ZERO);
            }
            self.len = len;
            return true;
        }
        self.release();
        if len == 0 {
            return true;
        }
        let Some(layout) = Self::layout(len) else {
            return false;
        };
        // SAFETY: the layout has a non-zero size.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw.cast::<H>()) else {
            return false;
        };
        // The advice comes before the first write, so that the pages are faulted in huge.
        #[cfg(target_os = "linux")]
        if layout.size() >= HUGE_PAGE {
            advise_huge_pages(raw, layout.size());
        }
        // SAFETY: `layout.size()` bytes were allocated; zero bytes are a valid float.
        unsafe { std::ptr::write_bytes(raw, 0, layout.size()) };
        self.ptr = ptr;
        self.capacity = len;
        self.len = len;
        true
    }

    fn as_mut_slice_of(&mut self, len: usize) -> &mut [H] {
        // SAFETY: `len <= capacity` values are allocated and initialised (zeroed memory is a
        // valid `H`, a float).
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), len) }
    }

    fn release(&mut self) {
        if self.capacity > 0
            && let Some(layout) = Self::layout(self.capacity)
        {
            // SAFETY: allocated with this layout.
            unsafe { dealloc(self.ptr.as_ptr().cast(), layout) };
        }
        // Fields, not `*self = ...`, which would drop (and so release) again.
        self.ptr = NonNull::dangling();
        self.len = 0;
        self.capacity = 0;
    }
}

impl<H: Real> Drop for HistoryBuffer<H> {
    fn drop(&mut self) {
        self.release();
    }
}

impl<H: Real> std::ops::Deref for HistoryBuffer<H> {
    type Target = [H];
    fn deref(&self) -> &[H] {
        // SAFETY: `len` values are allocated and initialised.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<H: Real> std::ops::DerefMut for HistoryBuffer<H> {
    fn deref_mut(&mut self) -> &mut [H] {
        let len = self.len;
        self.as_mut_slice_of(len)
    }
}

/// Asks for transparent huge pages under the whole huge pages within `bytes` bytes at `ptr` (one
/// allocation, about to be written for the first time): a page fault per 2 MiB instead of per
/// 4 KiB. Nothing happens off Linux or where the system refuses, and nothing but speed changes.
pub fn advise_huge_pages_within(ptr: *mut u8, bytes: usize) {
    let start = (ptr as usize).next_multiple_of(HUGE_PAGE);
    let end = (ptr as usize).saturating_add(bytes) / HUGE_PAGE * HUGE_PAGE;
    #[cfg(target_os = "linux")]
    if end > start {
        advise_huge_pages(start as *mut u8, end - start);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = (start, end);
}

/// Asks Linux to back `len` bytes at `addr` with transparent huge pages (where the system allows
/// them only on request, `madvise` mode); a refusal changes nothing but speed.
#[cfg(target_os = "linux")]
fn advise_huge_pages(addr: *mut u8, len: usize) {
    unsafe extern "C" {
        fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
    }
    /// `MADV_HUGEPAGE` in Linux's `<asm-generic/mman-common.h>`.
    const MADV_HUGEPAGE: i32 = 14;
    // SAFETY: the range is one allocation of ours; the advice does not change its contents.
    unsafe {
        madvise(addr.cast(), len, MADV_HUGEPAGE);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_buffer_is_zeroed_reused_and_rezeroed_on_request() {
        let mut b = HistoryBuffer::<f64>::default();
        assert!(b.prepare(1000, true));
        assert_eq!(b.len(), 1000);
        assert!(b.iter().all(|&v| v == 0.0));
        b[7] = 3.0;
        let at = b.as_ptr();
        assert!(b.prepare(500, false));
        assert_eq!((b.len(), b.as_ptr(), b[7]), (500, at, 3.0));
        assert!(b.prepare(800, true));
        assert_eq!((b.as_ptr(), b[7]), (at, 0.0));
        // A large buffer is aligned to a huge page.
        assert!(b.prepare(HUGE_PAGE / 8 + 1, true));
        assert_eq!(b.as_ptr() as usize % HUGE_PAGE, 0);
        assert!(b.iter().all(|&v| v == 0.0));
        assert!(b.prepare(0, true));
        assert!(b.is_empty());
    }
}
