//! Recursion whose depth comes from the input.
//!
//! Expression trees are as deep as the user writes them: a sum of 10^5 terms is a left-leaning
//! chain 10^5 levels deep, and so are 10^5 unary minus signs or a chain of powers. Every function
//! that recurses over a tree (parsing, lowering, validation, the evaluator, printing) runs its
//! recursive step through [`deep`], which moves onto a fresh heap-allocated stack segment when the
//! current one is nearly used up (the `stacker` crate, as rustc does), so no input overflows the
//! stack of whatever thread calls rateforge (the main thread, a test's 2 MiB thread, a Python
//! thread).

/// Stack space that must remain before a recursive step runs on the current stack.
const RED_ZONE: usize = 128 * 1024;
/// Size of each new stack segment.
const SEGMENT: usize = 4 * 1024 * 1024;

/// Runs `f`, first moving to a new stack segment if less than 128 kB of stack is left.
#[inline]
pub fn deep<R>(f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(RED_ZONE, SEGMENT, f)
}

/// Runs `f` with at least `bytes` of stack left, on a new segment of that size when the current
/// stack has less. For recursion inside other crates (the pest parser recurses once per nesting
/// level of the text it reads), sized from the input's length; the segment is reserved, not
/// touched, so only what the recursion uses becomes memory.
pub fn with_stack<R>(bytes: usize, f: impl FnOnce() -> R) -> R {
    stacker::maybe_grow(
        bytes.saturating_add(RED_ZONE),
        bytes.saturating_add(SEGMENT),
        f,
    )
}

#[cfg(test)]
mod tests {
    use super::deep;

    fn depth(n: u64) -> u64 {
        // A frame of a few hundred bytes, like the passes over expressions have.
        let pad = [n; 32];
        if n == 0 {
            0
        } else {
            deep(|| 1 + depth(n - 1)) + pad[31] - n
        }
    }

    #[test]
    fn recursion_a_million_deep_does_not_overflow_a_small_thread() {
        let h = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| depth(1_000_000))
            .unwrap();
        assert_eq!(h.join().unwrap(), 1_000_000);
    }
}
