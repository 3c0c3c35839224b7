//! The board's `[uart]` (the hypervisor's own UART) and `[psci]`: a model the image has
//! a driver for, register placement only where the model has a choice, and a firmware
//! conduit the hypervisor can use from EL2.

use super::Checker;
use crate::board::{Board, UART_MODELS};
use crate::error::suggest;

/// `reg-shift` values the 16550 driver supports: packed byte registers, or one register
/// per 32-bit word (Rockchip's DesignWare APB UARTs).
const REG_SHIFTS: [u8; 2] = [0, 2];
/// `reg-io-width` values the 16550 driver supports (bytes per access).
const IO_WIDTHS: [u8; 2] = [1, 4];

/// Reports a model without a driver, register placement the model does not take or the
/// driver does not support, and a PSCI conduit other than SMC.
pub(crate) fn check_uart_and_psci(b: &Board, c: &mut Checker) {
    let u = &b.uart;
    if !UART_MODELS.contains(&u.model.as_str()) {
        let hint = suggest(&u.model, UART_MODELS.iter().copied());
        c.err(
            "uart.model",
            format!(
                "unknown UART model \"{}\"{hint} (the hypervisor drives {})",
                u.model,
                UART_MODELS.join(", ")
            ),
        );
    }
    if u.model == "pl011" {
        for (field, set) in [
            ("uart.reg-shift", u.reg_shift.is_some()),
            ("uart.reg-io-width", u.reg_io_width.is_some()),
        ] {
            if set {
                c.err(
                    field,
                    "only an ns16550 UART takes a register placement; a PL011's is fixed",
                );
            }
        }
    }
    if let Some(s) = u.reg_shift.filter(|s| !REG_SHIFTS.contains(s)) {
        c.err(
            "uart.reg-shift",
            format!("reg-shift {s} is not supported (0: byte registers, 2: one per 32-bit word)"),
        );
    }
    if let Some(w) = u.reg_io_width.filter(|w| !IO_WIDTHS.contains(w)) {
        c.err(
            "uart.reg-io-width",
            format!("reg-io-width {w} is not supported (1 or 4 bytes per access)"),
        );
    }
    if u.model == "ns16550" && u.reg_io_width.unwrap_or(1) > 1 << u.reg_shift.unwrap_or(0) {
        c.err(
            "uart.reg-io-width",
            format!(
                "{}-byte accesses do not fit registers {} byte(s) apart (reg-shift {})",
                u.reg_io_width.unwrap_or(1),
                1u32 << u.reg_shift.unwrap_or(0),
                u.reg_shift.unwrap_or(0)
            ),
        );
    }
    match b.psci.conduit.as_str() {
        "smc" => {}
        "hvc" => c.err(
            "psci.conduit",
            "PSCI through HVC is not possible: the hypervisor runs at EL2, where an HVC \
             traps to itself; the platform firmware must offer PSCI through SMC",
        ),
        other => c.err(
            "psci.conduit",
            format!("unknown PSCI conduit \"{other}\" (only \"smc\")"),
        ),
    }
}
