//! The decisions handlers return to the run loop, which is the one place that carries
//! them out: a handler never ends a VM or leaves the loop by itself.

/// What the run loop does after a trap.
pub enum Outcome {
    /// Resume (or pick again).
    Continue,
    /// The vCPU's FP/SIMD instruction trapped because another vCPU's registers are in the
    /// CPU: they move (`world::take_fp`) and the instruction is retried.
    TakeFp,
    /// The VM of this vCPU powered off.
    VmOff,
    /// The VM of this vCPU asked for a reset.
    VmReset,
    /// The VM of this vCPU did something fatal; its restart policy decides.
    VmFault,
}

/// Why the inner loop gave the CPU back to the schedule (telemetry names the next switch
/// by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Left {
    /// The vCPU waits for an interrupt (WFI, WAIT_EVENT, CPU_SUSPEND).
    Waiting,
    /// The vCPU or its VM stopped (CPU_OFF, SYSTEM_OFF, reset, fault).
    Stopped,
    /// The vCPU waits for another VM to emulate its access (fault reflection).
    Reflecting,
    /// An interrupt or a handler may have made another vCPU runnable.
    Preempted,
    /// The EL2 timer fired (a slot end on a CPU with a slot table).
    Timer,
}
