//! Shared regions: memory an lwVM shares with VMs (`[[shared]]` maps with the lwVM's
//! name; `ipa` is the virtual address in the lwVM). The hypervisor maps them
//! non-cacheable for the lwVM, so that a full VM running with its MMU off sees every
//! store. Accesses are volatile and bounds-checked; an access the configuration does
//! not allow (e.g. a write to a read-only map) stops the lwVM.
use core::ptr::{read_volatile, write_volatile};

/// A shared region at a fixed virtual address.
#[derive(Debug, Clone, Copy)]
pub struct Region {
    base: usize,
    len: usize,
}

impl Region {
    /// The region `[va, va + len)`.
    ///
    /// # Safety
    /// The range must be a shared region mapped for this lwVM (its configuration says
    /// so) and must not overlap the program's own image, data or stack, which Rust owns.
    pub const unsafe fn new(va: u64, len: usize) -> Region {
        Region {
            base: va as usize,
            len,
        }
    }

    /// Bytes in the region.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn at<T>(&self, off: usize) -> *mut T {
        let size = core::mem::size_of::<T>();
        assert!(
            off % size == 0 && off + size <= self.len,
            "shared access out of bounds"
        );
        (self.base + off) as *mut T
    }

    /// Reads the u32 at byte offset `off`.
    pub fn read_u32(&self, off: usize) -> u32 {
        // SAFETY: in bounds and aligned (checked); the region is mapped memory outside
        // anything Rust owns (`new`'s contract).
        unsafe { read_volatile(self.at::<u32>(off)) }
    }

    /// Writes the u32 at byte offset `off`.
    pub fn write_u32(&self, off: usize, v: u32) {
        // SAFETY: as in `read_u32`.
        unsafe { write_volatile(self.at::<u32>(off), v) }
    }

    /// Reads the u64 at byte offset `off`.
    pub fn read_u64(&self, off: usize) -> u64 {
        // SAFETY: as in `read_u32`.
        unsafe { read_volatile(self.at::<u64>(off)) }
    }

    /// Writes the u64 at byte offset `off`.
    pub fn write_u64(&self, off: usize, v: u64) {
        // SAFETY: as in `read_u32`.
        unsafe { write_volatile(self.at::<u64>(off), v) }
    }

    /// Reads the byte at offset `off`.
    pub fn read_u8(&self, off: usize) -> u8 {
        // SAFETY: as in `read_u32`.
        unsafe { read_volatile(self.at::<u8>(off)) }
    }
}
