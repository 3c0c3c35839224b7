//! A spin lock for the little state that is shared between CPUs (a VM's emulated UART,
//! the physical console). Only used with the MMU on (exclusives need cacheable memory).
//!
//! Why not the `spin` crate's mutex: it is the same test-and-set lock, but with it
//! (`spin` 0.10, `SpinMutex`) the measured trap paths grow — deterministic counts, plain
//! image, `cargo xtask experiment all --mode det`: virtual timer → guest handler 561 →
//! 585 over native, vIPI round trip 3911 → 3977, VM↔VM round trip 1845 → 1862, remote
//! vIRQ 1739 → 1772 — and these are the paths the project is measured by.
use core::cell::UnsafeCell;
use core::ops::{Deref, DerefMut};
use core::sync::atomic::{AtomicBool, Ordering};

/// Mutual exclusion by spinning.
pub struct SpinLock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked` (acquire on lock, release on
// unlock), so sharing the lock between CPUs is sound when T can be sent between them.
unsafe impl<T: Send> Sync for SpinLock<T> {}

impl<T> SpinLock<T> {
    /// A new unlocked lock.
    pub const fn new(value: T) -> Self {
        SpinLock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Spins until the lock is ours, yielding between tries (`cpu::relax`: the holder may
    /// be a CPU that QEMU's round-robin TCG runs only when this one gives way).
    pub fn lock(&self) -> SpinGuard<'_, T> {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            hv_arch::cpu::relax();
        }
        SpinGuard { lock: self }
    }
}

/// Holds the lock until dropped.
pub struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard exists only while this CPU holds the lock.
        unsafe { &*self.lock.value.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard exists only while this CPU holds the lock, and `&mut self`
        // makes this the only reference through the guard.
        unsafe { &mut *self.lock.value.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
