//! Per-VM console output: bytes a VM writes to its emulated UART are assembled into lines
//! and printed on the physical UART tagged with the VM's name (`[name] …`).
use super::generated::SYSTEM;
use super::log::{LineBuf, write_line};
use super::state::{VMS, VmConsole};

fn emit(vm: usize, line: &LineBuf) {
    let name = SYSTEM.vms[vm].name.as_bytes();
    let mut prefix = LineBuf::new();
    prefix.push(b'[');
    for &b in name {
        prefix.push(b);
    }
    prefix.push(b']');
    prefix.push(b' ');
    write_line(prefix.as_bytes(), line.as_bytes());
}

/// Takes one byte of VM `vm`'s output (with its console locked).
pub fn put(vm: usize, c: &mut VmConsole, b: u8) {
    match b {
        b'\n' => {
            emit(vm, &c.line);
            c.line.clear();
        }
        b'\r' => {}
        _ => {
            if !c.line.push(b) {
                emit(vm, &c.line);
                c.line.clear();
                c.line.push(b);
            }
        }
    }
}

/// Prints what is left of VM `vm`'s last line.
pub fn flush(vm: usize) {
    let mut c = VMS[vm].console.lock();
    if !c.line.is_empty() {
        emit(vm, &c.line);
        c.line.clear();
    }
}
