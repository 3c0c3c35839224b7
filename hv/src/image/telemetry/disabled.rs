//! Telemetry off: every hook is empty.
#![allow(unused_variables)]
use hv_arch::context::{Exit, GuestRegs};
use hv_core::ids::{CpuId, VcpuId, VmId};

use super::super::decision::Left;

#[inline(always)]
pub fn enter(cpu: CpuId, v: VcpuId, regs: &GuestRegs) {}
#[inline(always)]
pub fn exit(cpu: CpuId, v: VcpuId, why: &Exit, regs: &GuestRegs) {}
#[inline(always)]
pub fn stamp() -> u64 {
    0
}
#[inline(always)]
pub fn answered(v: VcpuId, esr: u64, entry: u64, x0_in: u64, x0_out: u64) {}
#[inline(always)]
pub fn idle(cpu: CpuId) {}
#[inline(always)]
pub fn power_off() {}
#[inline(always)]
pub fn seal() {}
#[inline(always)]
pub fn vm_exit(vm: VmId) {}
#[inline(always)]
pub fn console(vm: VmId, bytes: &[u8]) {}
#[inline(always)]
pub fn send_now(cpu: CpuId) {}
#[inline(always)]
pub fn send_here() {}
#[inline(always)]
pub fn log_line(line: &[u8]) {}
#[inline(always)]
pub fn marker(vcpu: VcpuId, id: u16, value: u64) {}
#[inline(always)]
pub fn elastic(pool: usize, vm: VmId, from: u32, to: u32) {}
#[inline(always)]
pub fn shadow(vm: VmId, op: super::ShadowOp, va: u64) {}
#[inline(always)]
pub fn migrated(v: VcpuId, from: CpuId, to: CpuId, cause: hv_core::ext::MoveCause) {}
#[inline(always)]
pub fn lrs_filled(cpu: CpuId, vcpu: VcpuId, lrs: &[u64]) {}
#[inline(always)]
pub fn lrs_back(vcpu: VcpuId, lrs: &[u64]) {}
#[inline(always)]
pub fn injected(cpu: CpuId, vcpu: VcpuId, intid: u32) {}
#[inline(always)]
pub fn hypercall(vcpu: VcpuId, func: u32, result: i64) {}
#[inline(always)]
pub fn left(cpu: CpuId, why: Left, slots: bool) {}
