//! What the threads that share one network's nodes use to keep in step: a barrier that spins
//! (a step of a big network takes microseconds to milliseconds, far less than a futex wake-up
//! would add twice per step), then yields, so that more threads than cores still make progress;
//! and a stop flag that one thread sets and every thread reads after the same barrier, so that
//! all of them stop at the same step.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Spins before a waiting thread starts yielding its core.
const SPINS: u32 = 1 << 12;

/// A reusable barrier for a fixed number of threads.
pub struct SpinBarrier {
    threads: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// Set by one thread, read by all after a [`SpinBarrier::wait`].
    stop: AtomicBool,
}

impl SpinBarrier {
    /// A barrier for `threads` threads (at least one).
    pub fn new(threads: usize) -> SpinBarrier {
        SpinBarrier {
            threads: threads.max(1),
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        }
    }

    /// Waits until every thread has called `wait` the same number of times. Everything a thread
    /// wrote before its call is visible to every thread after theirs.
    pub fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.threads {
            // The last to arrive: reset the count before releasing the others, who cannot
            // arrive again before they see the new generation.
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if spins < SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Asks every thread to stop (read with [`SpinBarrier::stopping`] after the next `wait`).
    pub fn request_stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Whether a stop was requested before the last `wait`.
    pub fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_thread_sees_every_write_of_the_round_before() {
        let threads = 4;
        let rounds = 2000;
        let barrier = SpinBarrier::new(threads);
        let slots: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
        std::thread::scope(|s| {
            for t in 0..threads {
                let (barrier, slots) = (&barrier, &slots);
                s.spawn(move || {
                    for round in 1..=rounds {
                        slots[t].store(round, Ordering::Relaxed);
                        barrier.wait();
                        for slot in slots {
                            assert_eq!(slot.load(Ordering::Relaxed), round);
                        }
                        barrier.wait();
                    }
                });
            }
        });
        assert!(!barrier.stopping());
        let alone = SpinBarrier::new(1);
        alone.request_stop();
        alone.wait();
        assert!(alone.stopping());
    }
}
