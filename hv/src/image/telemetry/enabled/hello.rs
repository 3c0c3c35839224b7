//! The hello: first frame on the wire, sent by CPU 0 before any record.
use hv_protocol::{Hello, encode_hello, max_hello_len};

use super::super::super::generated::SYSTEM;
use super::super::super::generated::{CONFIG_ID, VCPU_COUNT};
use super::super::{BUILD_ID, FEATURES};

/// Room for the comma-separated names and features.
const TEXT: usize = 512;

/// Copies `s` (and a comma before it unless first) into `buf` at `*n`; cut when full.
fn append(buf: &mut [u8], n: &mut usize, s: &str) {
    if *n > 0 && *n < buf.len() {
        buf[*n] = b',';
        *n += 1;
    }
    for &b in s.as_bytes() {
        if *n == buf.len() {
            return;
        }
        buf[*n] = b;
        *n += 1;
    }
}

/// Encodes the hello and hands the bytes to `send`.
pub fn send(send: fn(&[u8])) {
    let mut names = [0u8; TEXT];
    let mut n = 0;
    for vm in SYSTEM.vms {
        append(&mut names, &mut n, vm.name);
    }
    let mut feats = [0u8; 128];
    let mut f = 0;
    for (name, on) in FEATURES {
        if *on {
            append(&mut feats, &mut f, name);
        }
    }
    let mut vcpu_vm = [0u8; VCPU_COUNT];
    for (i, v) in SYSTEM.vcpus.iter().enumerate() {
        vcpu_vm[i] = v.vm as u8;
    }
    let names = core::str::from_utf8(&names[..n]).unwrap_or("");
    let feats = core::str::from_utf8(&feats[..f]).unwrap_or("");
    let hello = Hello::new(
        BUILD_ID,
        CONFIG_ID,
        hv_arch::cpu::counter_frequency(),
        SYSTEM.cpus.len() as u16,
        feats,
        names,
        &vcpu_vm,
    );
    let mut buf = [0u8; max_hello_len(TEXT + 128 + VCPU_COUNT)];
    if let Ok(bytes) = encode_hello(&hello, &mut buf) {
        send(bytes);
    }
}
