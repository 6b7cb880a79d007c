//! Keeps the memory of freed activations in the process's heap.
//!
//! A training step or a long prefill frees and re-allocates gigabytes of tensors. By default
//! glibc's `malloc` serves blocks over its mmap threshold (at most 32 MiB) straight from the
//! kernel and hands them back on `free`, and trims the heap top beyond twice that; every reuse
//! then faults in fresh zero-filled pages. On the SFT benchmark that was about 450 000 page faults
//! and a fifth of the step (docs/performance.md, "Allocator"). [`retain_freed_memory`] raises both
//! thresholds (and grows the heap in 256 MiB steps) so freed blocks are reused instead.

use std::sync::Once;

/// Blocks below this size come from the heap (and are reused) rather than from their own mapping.
const MMAP_THRESHOLD: i32 = 1 << 30;

/// The heap top is returned to the kernel only beyond this much free memory.
const TRIM_THRESHOLD: i32 = i32::MAX;

/// Extra memory taken whenever the heap grows, so it grows in few, large steps.
const TOP_PAD: i32 = 256 << 20;

/// Tells the C allocator to keep freed memory for reuse (once per process; a no-op on platforms
/// other than glibc Linux). Programs call it at start, before the heavy work.
pub fn retain_freed_memory() {
    static ONCE: Once = Once::new();
    ONCE.call_once(tune);
}

#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune() {
    // SAFETY: `mallopt` only sets allocator parameters; it takes plain integers, is thread-safe
    // in glibc, and leaves existing allocations valid.
    let ok = unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
            && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
            && libc::mallopt(libc::M_TOP_PAD, TOP_PAD) == 1
    };
    if !ok {
        tracing::warn!("mallopt refused the allocator settings; freed memory goes back to the OS");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune() {}
