//! The `RESULT` convention of the test guests: every guest prints lines
//! `RESULT <key> <value>` and ends with exactly one `RESULT status pass` or
//! `RESULT status fail <reason>`, then powers its VM off (PSCI SYSTEM_OFF).
//! The integration tests assert these lines (see guests/README.md).
use core::sync::atomic::{AtomicU32, Ordering};

static FAILURES: AtomicU32 = AtomicU32::new(0);
static FIRST: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);
static FIRST_LEN: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(0);

/// Prints `RESULT <key> <formatted value>`.
#[macro_export]
macro_rules! result {
    ($key:expr, $($arg:tt)*) => {
        $crate::println!("RESULT {} {}", $key, format_args!($($arg)*))
    };
}

/// Notes a failed check (`reason` is reported by [`finish`] if it is the first).
pub fn note_failure(reason: &'static str) {
    if FAILURES.fetch_add(1, Ordering::SeqCst) == 0 {
        FIRST.store(reason.as_ptr() as usize, Ordering::SeqCst);
        FIRST_LEN.store(reason.len(), Ordering::SeqCst);
    }
}

/// Checks `ok`; notes `reason` as a failure otherwise. Returns `ok`.
pub fn check(ok: bool, reason: &'static str) -> bool {
    if !ok {
        crate::println!("check failed: {reason}");
        note_failure(reason);
    }
    ok
}

/// Failed checks so far.
pub fn failures() -> u32 {
    FAILURES.load(Ordering::SeqCst)
}

/// Prints `RESULT status pass` or `RESULT status fail <first reason>`; powers off.
pub fn finish() -> ! {
    if failures() == 0 {
        pass()
    }
    let p = FIRST.load(Ordering::SeqCst) as *const u8;
    let n = FIRST_LEN.load(Ordering::SeqCst);
    // SAFETY: FIRST/FIRST_LEN describe a `&'static str` stored by `note_failure`.
    let reason = unsafe { core::str::from_utf8_unchecked(core::slice::from_raw_parts(p, n)) };
    fail(reason)
}

/// Prints `RESULT status pass` and powers off.
pub fn pass() -> ! {
    crate::println!("RESULT status pass");
    crate::psci::system_off()
}

/// Prints `RESULT status fail <reason>` and powers off.
pub fn fail(reason: &str) -> ! {
    crate::println!("RESULT status fail {reason}");
    crate::psci::system_off()
}
