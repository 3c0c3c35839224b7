//! What the shadow-paging programs (`lw-mmu`, `lw-mmu-tiny`, `lw-mmu-bench`) share: the
//! checks' bookkeeping and `RESULT` lines, the flat map of the program's own memory, and
//! flat accesses to data frames.
//!
//! A check prints what it saw (`ok`, a fault class such as `permission-l3`, a count),
//! so that a failing run says what happened; the integration case expects the values a
//! correct MMU gives.
// Each program uses a part of the kit.
#![allow(dead_code)]

use core::fmt::Display;
use core::ptr::{read_volatile, write_volatile};

use lwvm_sdk::mmu::probe::{self, Class};
use lwvm_sdk::mmu::{self, MapError, Tables, desc};
use lwvm_sdk::{println, result, sys};

/// Counts checks and failures.
pub struct Checks {
    total: u32,
    failed: u32,
}

impl Checks {
    pub const fn new() -> Self {
        Checks {
            total: 0,
            failed: 0,
        }
    }

    /// `RESULT key shown`, a failure unless `ok`.
    pub fn report(&mut self, key: &str, ok: bool, shown: impl Display) {
        self.total += 1;
        if !ok {
            self.failed += 1;
        }
        result!(key, "{}", shown);
    }

    /// `ok` or `bad`.
    pub fn ok(&mut self, key: &str, ok: bool) {
        self.report(key, ok, if ok { "ok" } else { "bad" });
    }

    /// A count that must be `want` (printed in decimal).
    pub fn count(&mut self, key: &str, got: u64, want: u64) {
        self.report(key, got == want, got);
    }

    /// An access that must succeed and give `want`: `ok`, else the fault or the value seen.
    pub fn reads(&mut self, key: &str, got: Result<u64, u64>, want: u64) {
        match got {
            Ok(v) if v == want => self.report(key, true, "ok"),
            Ok(v) => self.report(key, false, format_args!("value-{v:#x}-not-{want:#x}")),
            Err(s) => self.report(key, false, Class::of(s)),
        }
    }

    /// An access that must succeed.
    pub fn succeeds<T>(&mut self, key: &str, r: Result<T, u64>) {
        match r {
            Ok(_) => self.report(key, true, "ok"),
            Err(s) => self.report(key, false, Class::of(s)),
        }
    }

    /// An access that must fault with exactly `want` (kind and level); returns the
    /// syndrome.
    pub fn faults<T>(&mut self, key: &str, r: Result<T, u64>, want: Class) -> Option<u64> {
        match r {
            Ok(_) => {
                self.report(key, false, "no-fault");
                None
            }
            Err(s) => {
                self.report(key, Class::of(s) == want, Class::of(s));
                Some(s)
            }
        }
    }

    /// An access that must fault with a kind (`"permission"`, `"walk-external"`) at
    /// whatever level the walk reports: prints the kind only.
    pub fn faults_kind<T>(&mut self, key: &str, r: Result<T, u64>, want: &str) -> Option<u64> {
        match r {
            Ok(_) => {
                self.report(key, false, "no-fault");
                None
            }
            Err(s) => {
                let c = Class::of(s);
                if c.kind() != want {
                    println!("{key}: {c} (syndrome {s:#x})");
                }
                self.report(key, c.kind() == want, c.kind());
                Some(s)
            }
        }
    }

    /// The summary, `RESULT status pass` only if every check passed, and the exit: 0 or 1.
    pub fn finish(self) -> ! {
        result!("checks", "{}", self.total);
        result!("checks-failed", "{}", self.failed);
        if self.failed == 0 {
            result!("status", "pass");
            sys::exit(0)
        }
        result!("status", "fail");
        sys::exit(1)
    }
}

/// Maps the program's own memory `[mem, mem + size)` at VA = PA, global (every address
/// space maps it the same way) and executable: with `blocks`, 2 MiB blocks wherever a
/// whole aligned block lies inside, 4 KiB pages elsewhere.
pub fn map_own(t: &mut Tables, mem: u64, size: u64, blocks: bool) -> Result<(), MapError> {
    let end = mem + size;
    let mut va = mem;
    while va < end {
        if blocks && va % mmu::BLOCK_2M == 0 && va + mmu::BLOCK_2M <= end {
            t.map_block(va, va, desc::RWX)?;
            va += mmu::BLOCK_2M;
        } else {
            t.map_page(va, va, desc::RWX)?;
            va += mmu::PAGE_SIZE;
        }
    }
    Ok(())
}

/// Maps page `va` to `pa` with `attrs`, making the tables on the way with `table_bits`
/// (APTable/UXNTable) on the entries it makes.
pub fn map_under(
    t: &mut Tables,
    va: u64,
    pa: u64,
    attrs: u64,
    table_bits: u64,
) -> Result<(), MapError> {
    t.entry_alloc(va, 3, table_bits)?;
    t.set(va, 3, pa | attrs | desc::PAGE)
}

/// After making entries that were invalid: stores visible to the walker, then context
/// synchronisation (no TLBI: an invalid entry is never cached).
pub fn publish() {
    mmu::dsb_st();
    mmu::isb();
}

/// Loads the word at flat address `pa` (the program's own memory: always mapped).
pub fn rd(pa: u64) -> u64 {
    // SAFETY: `pa` is in a frame pool of the program, mapped flat in every address space.
    unsafe { read_volatile(pa as *const u64) }
}

/// Stores the word at flat address `pa`.
pub fn wr(pa: u64, v: u64) {
    // SAFETY: as in `rd`; frames hold only what the program puts there through these.
    unsafe { write_volatile(pa as *mut u64, v) }
}

/// Probe-loads the word at `va`.
pub fn read(va: u64) -> Result<u64, u64> {
    probe::read_u64(va)
}

/// Probe-stores the word at `va` (which maps a data frame, if anything).
pub fn write(va: u64, v: u64) -> Result<(), u64> {
    // SAFETY: the programs only point test VAs at data frames (or at nothing they own),
    // never at Rust's statics or stack.
    unsafe { probe::write_u64(va, v) }
}

/// The tag in word 0 of data frame `i`.
pub const fn tag(i: usize) -> u64 {
    0x5a5a_0000_0000_0000 | ((i as u64) << 16) | 0xf00d
}
