//! Secondary vCPUs: [`start`] powers one on through PSCI CPU_ON at the runtime's
//! secondary entry, which takes the vCPU's own stack (by MPIDR_EL1.Aff0), installs the
//! vectors and calls the given Rust function.

unsafe extern "C" {
    fn rt_secondary_entry();
}

/// The IPA of the runtime's secondary entry (a valid CPU_ON entry point).
pub fn entry_point() -> u64 {
    rt_secondary_entry as *const () as usize as u64
}

/// CPU_ON of the vCPU with MPIDR affinity `target` (its index in the VM for Aff0-only
/// VMs); it runs `f(index)`. Returns the PSCI result.
pub fn start(target: u64, f: fn(usize) -> !) -> i64 {
    crate::psci::cpu_on(target, entry_point(), f as usize as u64)
}

#[unsafe(no_mangle)]
extern "C" fn rt_secondary_main(context: u64) -> ! {
    // SAFETY: `start` is the only code that names this entry in a CPU_ON, and it passes a
    // `fn(usize) -> !` as the context id (PSCI hands it back in x0 unchanged).
    let f: fn(usize) -> ! =
        unsafe { core::mem::transmute::<usize, fn(usize) -> !>(context as usize) };
    f(crate::arch::cpu_index())
}
