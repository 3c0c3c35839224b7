//! Per-VM console output: bytes a VM writes to its emulated UART are assembled into lines.
//!
//! A whole line (or a full buffer) goes out at once: as text on the physical UART tagged
//! with the VM's name (`[name] …`) unless the UART carries telemetry frames, and, with any
//! telemetry feature, as one `Console { vm, bytes }` record (newline included) that the
//! monitor reassembles.
use hv_core::ids::{CpuId, VmId};

use super::generated::SYSTEM;
use super::state::{self, VmConsole};
use super::telemetry;
use super::textout::write_line;

/// Prints one line (without its newline) tagged with the VM's name.
#[cfg(any(
    not(feature = "telemetry-uart"),
    feature = "telemetry-net",
    feature = "telemetry-null",
    not(target_os = "none")
))]
fn text(vm: VmId, line: &[u8]) {
    use super::linebuf::LineBuf;
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let name = SYSTEM.vm(vm).name.as_bytes();
    let mut prefix = LineBuf::new();
    prefix.push(b'[');
    for &b in name {
        prefix.push(b);
    }
    prefix.push(b']');
    prefix.push(b' ');
    write_line(prefix.as_bytes(), line);
}

/// The UART carries telemetry frames: no text.
#[cfg(all(
    feature = "telemetry-uart",
    not(any(feature = "telemetry-net", feature = "telemetry-null")),
    target_os = "none"
))]
fn text(_vm: VmId, _line: &[u8]) {
    let _ = (&SYSTEM, write_line);
}

/// Sends the line: as text, and as telemetry what of it did not go out yet.
///
/// When a piece of the line went out already (at an idle, [`send_partial_lines`]), the
/// rest goes on the wire now, before the console is unlocked: the vCPU may have written
/// the piece on another CPU (a VM's vCPUs on several CPUs, or one that moved), and its
/// next line could otherwise leave through that CPU's ring before this rest leaves
/// through this one's — the monitor would join them in the wrong order. Rare: only
/// lines that waited for input or outlived a move.
fn emit(vm: VmId, c: &mut VmConsole) {
    text(vm, c.line.as_bytes());
    let piece_sent = c.sent > 0;
    telemetry::console(vm, &c.line.as_bytes()[c.sent..]);
    c.line.clear();
    c.sent = 0;
    if piece_sent {
        telemetry::send_here();
    }
}

/// Takes one byte of VM `vm`'s output (with its console locked).
pub fn put(vm: VmId, c: &mut VmConsole, b: u8) {
    if b == b'\r' {
        return;
    }
    c.writer = hv_arch::cpu::mpidr();
    if !c.line.push(b) {
        emit(vm, c);
        c.line.push(b);
    }
    if b == b'\n' {
        emit(vm, c);
    }
}

/// Sends what is left of VM `vm`'s last line.
pub fn flush(vm: VmId) {
    let mut c = state::vm(vm).console.lock();
    if !c.line.is_empty() {
        emit(vm, &mut c);
    }
}

/// CPU `cpu` goes idle: the unfinished lines (a shell prompt waiting for input) that this
/// CPU's vCPUs wrote go out as telemetry now, so that the monitor shows them; the text
/// console keeps printing whole lines only, so that lines of different VMs never
/// interleave mid-line. Only lines this CPU wrote last: the piece then goes through the
/// same telemetry ring as the line's earlier ones, in order.
///
/// The rest of such a line may come from a vCPU of the VM on another CPU, through that
/// CPU's ring; rings drain independently, so the piece is sent before the console is
/// unlocked (the monitor joins a VM's pieces in arrival order). Only at idle, and only
/// for a line that has a piece to send.
pub fn send_partial_lines(cpu: CpuId) {
    if !telemetry::CONSOLE_RECORDS {
        return;
    }
    let me = SYSTEM.cpu(cpu).mpidr;
    for vm in SYSTEM.vm_ids() {
        let mut c = state::vm(vm).console.lock();
        let len = c.line.as_bytes().len();
        if c.writer == me && len > c.sent {
            telemetry::console(vm, &c.line.as_bytes()[c.sent..]);
            c.sent = len;
            if SYSTEM
                .vm(vm)
                .vcpu_ids()
                .any(|v| super::placement::cpu_of(v) != cpu)
            {
                telemetry::send_now(cpu);
            }
        }
    }
}

/// Writes bytes to VM `vm`'s console (CONSOLE_WRITE hypercall).
pub fn write(vm: VmId, bytes: &[u8]) {
    let mut c = state::vm(vm).console.lock();
    for &b in bytes {
        put(vm, &mut c, b);
    }
}

/// The VM that receives console input: the first VM with a console.
fn input_vm() -> Option<VmId> {
    SYSTEM.vm_ids().find(|&vm| SYSTEM.vm(vm).console)
}

/// A byte typed on the hypervisor's UART: into the receive FIFO of the input VM's
/// emulated UART. A byte that does not fit (the guest is not reading) is dropped, as a
/// real UART would. Returns the VM and its UART's new interrupt level when the line
/// changed: the caller drives the vGIC (`mmio::update_uart_irq`).
pub fn input(b: u8) -> Option<(VmId, bool)> {
    let vm = input_vm()?;
    let mut c = state::vm(vm).console.lock();
    let _ = c.uart.push_rx(b);
    c.sync_irq_line().map(|level| (vm, level))
}
