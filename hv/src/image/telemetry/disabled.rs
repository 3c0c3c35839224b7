//! Telemetry off: every hook is empty.
#![allow(unused_variables)]
use hv_arch::context::{Exit, GuestRegs};

use super::super::run::Left;

#[inline(always)]
pub fn enter(cpu: usize, v: usize, regs: &GuestRegs) {}
#[inline(always)]
pub fn exit(cpu: usize, v: usize, why: &Exit, regs: &GuestRegs) {}
#[inline(always)]
pub fn idle(cpu: usize) {}
#[inline(always)]
pub fn power_off() {}
#[inline(always)]
pub fn vm_exit(vm: usize) {}
#[inline(always)]
pub fn console(vm: usize, bytes: &[u8]) {}
#[inline(always)]
pub fn log_line(line: &[u8]) {}
#[inline(always)]
pub fn marker(vcpu: usize, id: u16, value: u64) {}
#[inline(always)]
pub fn lrs_filled(cpu: usize, vcpu: usize, lrs: &[u64]) {}
#[inline(always)]
pub fn lrs_back(vcpu: usize, lrs: &[u64]) {}
#[inline(always)]
pub fn hypercall(vcpu: usize, func: u32, result: i64) {}
#[inline(always)]
pub fn left(cpu: usize, why: Left, slots: bool) {}
