//! The defmt global logger: each defmt frame becomes one `Log` record of the CPU that logged.
//!
//! The bytes defmt hands over between `acquire` and `release` are the raw frame (no rzCOBS:
//! the record is already framed by the wire format), which the monitor decodes with the ELF's
//! defmt table (`defmt_decoder::Table::decode`). A frame longer than the buffer is cut (the
//! monitor then shows it as hex).
use super::{log_frame, logger_cpu};

#[defmt::global_logger]
struct Logger;

// SAFETY: acquire/release bracket each frame on one CPU; the per-CPU `logging` flag refuses a
// nested frame (defmt's requirement that a frame is not interleaved with another).
unsafe impl defmt::Logger for Logger {
    fn acquire() {
        let p = logger_cpu();
        if p.logging {
            return;
        }
        p.logging = true;
        p.log_len = 0;
    }

    unsafe fn flush() {}

    unsafe fn release() {
        let p = logger_cpu();
        if p.logging {
            log_frame(p);
            p.logging = false;
        }
    }

    unsafe fn write(bytes: &[u8]) {
        let p = logger_cpu();
        let free = p.log.len() - p.log_len;
        let n = bytes.len().min(free);
        p.log[p.log_len..p.log_len + n].copy_from_slice(&bytes[..n]);
        p.log_len += n;
    }
}
