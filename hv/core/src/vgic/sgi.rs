//! SGI generation: decoding a guest's write to ICC_SGI1R_EL1 (trapped through
//! ICH_HCR_EL2.TC or by the hardware's own trap of SGI registers) into target vCPUs.
//!
//! Spec: IHI 0069, ICC_SGI1R_EL1: TargetList \[15:0\] (bit n = Aff0 `RS * 16 + n`),
//! Aff1 \[23:16\], INTID \[27:24\], Aff2 \[39:32\], IRM \[40\] (1 = every PE except the sender),
//! RS \[47:44\], Aff3 \[55:48\]. Targets that name no vCPU of the VM are ignored, as the GIC
//! ignores non-existent PEs — a VM can never reach another VM's vCPUs.

use super::Vgic;

/// A decoded ICC_SGI1R_EL1 value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SgiRequest {
    /// SGI INTID (0..15).
    pub intid: u32,
    /// Send to every PE but the sender.
    pub broadcast: bool,
    /// Aff3.Aff2.Aff1 of the targets in MPIDR layout (Aff3 \[39:32\], Aff2 \[23:16\],
    /// Aff1 \[15:8\]).
    pub aff_hi: u64,
    /// Range selector: target Aff0 values are `16 * rs + n`.
    pub rs: u8,
    /// Target list.
    pub target_list: u16,
}

impl SgiRequest {
    /// Decodes an ICC_SGI1R_EL1 (or ICC_SGI0R/ASGI1R) value.
    pub const fn decode(v: u64) -> SgiRequest {
        let aff1 = (v >> 16) & 0xFF;
        let aff2 = (v >> 32) & 0xFF;
        let aff3 = (v >> 48) & 0xFF;
        SgiRequest {
            intid: ((v >> 24) & 0xF) as u32,
            broadcast: v & (1 << 40) != 0,
            aff_hi: (aff3 << 32) | (aff2 << 16) | (aff1 << 8),
            rs: ((v >> 44) & 0xF) as u8,
            target_list: v as u16,
        }
    }

    /// Encodes back (for tests and for the hypervisor's own SGIs).
    pub const fn encode(&self) -> u64 {
        let aff1 = (self.aff_hi >> 8) & 0xFF;
        let aff2 = (self.aff_hi >> 16) & 0xFF;
        let aff3 = (self.aff_hi >> 32) & 0xFF;
        (self.target_list as u64)
            | (aff1 << 16)
            | ((self.intid as u64 & 0xF) << 24)
            | (aff2 << 32)
            | ((self.broadcast as u64) << 40)
            | ((self.rs as u64 & 0xF) << 44)
            | (aff3 << 48)
    }

    /// Whether the request can reach no vCPU at all (not a broadcast, empty target list):
    /// the trap path answers it without the VM's model.
    pub const fn is_empty(&self) -> bool {
        !self.broadcast && self.target_list == 0
    }

    /// The set of target vCPUs (bit i = vCPU i) among `mpidrs`, the sender being
    /// vCPU `sender`.
    pub fn targets(&self, mpidrs: &[u64], sender: usize) -> u64 {
        let mut set = 0u64;
        for (i, &m) in mpidrs.iter().enumerate().take(64) {
            let hit = if self.broadcast {
                i != sender
            } else {
                let aff0 = m & 0xFF;
                m & 0xFF_00FF_FF00 == self.aff_hi
                    && aff0 / 16 == self.rs as u64
                    && self.target_list & (1 << (aff0 % 16)) != 0
            };
            if hit {
                set |= 1 << i;
            }
        }
        set
    }
}

impl<const V: usize, const B: usize> Vgic<V, B> {
    /// Handles a guest write of `value` to ICC_SGI1R_EL1 from vCPU `sender`: marks the
    /// SGI pending on each target. Returns the set of vCPUs (bit i = vCPU i) that got it
    /// and must be kicked (the sender refills its own list registers on return).
    pub fn send_sgi(&mut self, sender: usize, value: u64) -> u64 {
        let req = SgiRequest::decode(value);
        let set = req.targets(&self.mpidr[..self.vcpus], sender);
        for v in 0..self.vcpus {
            if set & (1 << v) != 0 {
                self.private[v].latch |= 1 << req.intid;
            }
        }
        set
    }
}
