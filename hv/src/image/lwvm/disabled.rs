//! The `lwvm` feature is off: no VM is lightweight, every hook is empty.
#![allow(unused_variables)]
use super::super::run::CpuCtx;

/// Checks the CPU before the MMU comes on (nothing to check without VHE).
#[inline(always)]
pub fn boot_check() {}

/// Whether vCPU slot `v` is an lwVM.
#[inline(always)]
pub fn is_lw(v: usize) -> bool {
    false
}

/// Whether VM `vm` is an lwVM.
#[inline(always)]
pub fn is_lw_vm(vm: usize) -> bool {
    false
}

/// Runs lwVM slot `v` once (never called).
#[inline(always)]
pub fn run(ctx: &mut CpuCtx, v: usize) {}

/// Loads and starts lwVM `vm` (never called).
#[inline(always)]
pub fn boot(vm: usize) {}

/// Whether lwVM slot `v` has events (never called).
#[inline(always)]
pub fn has_events(v: usize) -> bool {
    false
}

/// Posts event `bit` to lwVM `vm` (never called).
#[inline(always)]
pub fn signal(vm: usize, bit: u32) {}

/// Before a full vCPU runs on CPU `cpu` (nothing to give back without lwVMs).
#[inline(always)]
pub fn before_full_vm(cpu: usize) {}
