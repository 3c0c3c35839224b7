//! The event word of an lwVM: one bit per channel that signals it.
//!
//! Any CPU may post (a VM on another CPU raises a channel); only the CPU that runs the
//! lwVM takes. Taking clears atomically, so an event posted concurrently is either in
//! the mask returned or still pending for the next `wait` — never lost.
use core::sync::atomic::{AtomicU64, Ordering};

/// Pending events of one lwVM.
#[derive(Debug, Default)]
pub struct Events(AtomicU64);

impl Events {
    /// No events.
    pub const fn new() -> Self {
        Events(AtomicU64::new(0))
    }

    /// Posts the events in `mask`.
    pub fn post(&self, mask: u64) {
        self.0.fetch_or(mask, Ordering::Release);
    }

    /// Takes (and clears) every pending event.
    pub fn take(&self) -> u64 {
        if self.0.load(Ordering::Relaxed) == 0 {
            return 0;
        }
        self.0.swap(0, Ordering::Acquire)
    }

    /// Whether an event is pending.
    pub fn pending(&self) -> bool {
        self.0.load(Ordering::Acquire) != 0
    }

    /// Drops every pending event (the lwVM restarts).
    pub fn clear(&self) {
        self.0.store(0, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn post_take_clear() {
        let e = Events::new();
        assert!(!e.pending());
        assert_eq!(e.take(), 0);
        e.post(1 << 3);
        e.post(1);
        assert!(e.pending());
        assert_eq!(e.take(), 0b1001);
        assert_eq!(e.take(), 0);
        e.post(2);
        e.clear();
        assert!(!e.pending());
    }

    #[test]
    fn concurrent_posts_are_never_lost() {
        let e = std::sync::Arc::new(Events::new());
        let posters: Vec<_> = (0..4)
            .map(|t| {
                let e = e.clone();
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        e.post(1 << t);
                    }
                })
            })
            .collect();
        let mut seen = 0u64;
        while posters.iter().any(|p| !p.is_finished()) {
            seen |= e.take();
        }
        for p in posters {
            p.join().unwrap();
        }
        seen |= e.take();
        assert_eq!(seen, 0b1111);
    }
}
