//! `attacker`: after the victim's "ready" (INTID 101), probes memory outside its RAM
//! (the hypervisor's and the victim's physical addresses, devices it was not given),
//! GIC state it does not own, SGIs aimed outside the VM, and every hypercall/PSCI call
//! with bad arguments. One `RESULT` line per probe; then raises channel 0 ("done").
//! Physical addresses come from `cargo xtask layout attacker` (bases are fixed in
//! boards/qemu-virt/systems/attacker.toml).
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
mod guest {
    use core::fmt::Display;
    use guest_rt::gic::{self, GICD, SgiTarget};
    use guest_rt::hypercall::{self, err};
    use guest_rt::psci::{self, ret};
    use guest_rt::{irq, probe, result, result::check};

    const DONE: u64 = 0;
    const READY_CH: u64 = 1;
    const FROM_VICTIM: u32 = 101;
    const VICTIM_SPI: u32 = 100;
    const RAM: usize = 0x4000_0000;
    const RAM_SIZE: usize = 2 << 20;

    /// Memory probes: (name, IPA). None of these is mapped for this VM.
    const MEM: &[(&str, usize)] = &[
        ("below-ram", RAM - 0x1000),
        ("above-ram", RAM + RAM_SIZE),
        ("hv-image", 0x4030_0000),
        ("hv-page-tables", 0x4060_0000),
        ("own-pa-alias", 0x4100_0000),
        ("victim-ram", 0x4200_0000),
        ("victim-ram-mid", 0x4240_0000),
        ("board-ram-end", 0x7fff_f000),
        ("above-4g", 0x1_0000_0000),
        ("flash", 0x0),
        ("gicd-adjacent", 0x0801_0000),
        ("gic-its", 0x0808_0000),
        ("rtc", 0x0901_0000),
        ("fw-cfg", 0x0902_0000),
        ("virtio-mmio", 0x0a00_0000),
    ];

    fn mem_probe(name: &str, addr: usize) {
        let r = probe::read32(addr);
        result!(
            format_args!("mem-{name}-read"),
            "{}",
            if r.is_err() { "fault" } else { "ALLOWED" }
        );
        check(r.is_err(), "memory-read-allowed");
        let w = probe::write32(addr, 0x4141_4141);
        result!(
            format_args!("mem-{name}-write"),
            "{}",
            if w.is_err() { "fault" } else { "ALLOWED" }
        );
        check(w.is_err(), "memory-write-allowed");
    }

    /// Every 2M of the board's RAM outside this VM's own: reads and writes must fault.
    fn ram_sweep() {
        let (mut n, mut leaked) = (0, 0);
        let mut a = RAM + RAM_SIZE;
        while a < 0x8000_0000 {
            n += 1;
            if probe::read64(a).is_ok() || probe::write64(a + 8, 0x4242_4242_4242_4242).is_ok() {
                leaked += 1;
            }
            a += 2 << 20;
        }
        // Below the RAM window, from the end of the devices to the RAM base.
        let mut a = 0x1000_0000;
        while a < RAM {
            n += 1;
            if probe::read64(a).is_ok() || probe::write64(a, 0x4242_4242_4242_4242).is_ok() {
                leaked += 1;
            }
            a += 16 << 20;
        }
        result!(
            "ram-sweep",
            "{}",
            if leaked == 0 { "fault" } else { "LEAKED" }
        );
        guest_rt::println!("attacker: ram sweep {n} addresses, {leaked} reachable");
        check(leaked == 0, "ram-sweep");
    }

    fn code(name: &str, r: i64, want: impl Display, ok: bool) {
        result!(format_args!("{name}"), "{r}");
        if !ok {
            guest_rt::println!("attacker: {name}: got {r}, want {want}");
        }
        check(ok, "bad-call-accepted");
    }

    fn gic_probe(name: &str, addr: usize, write: u32, owned_mask: u32) {
        let w = probe::write32(addr, write);
        let r = probe::read32(addr);
        let verdict = match (w, r) {
            (Ok(()), Ok(v)) if v & !owned_mask == 0 => "ignored",
            (Err(_), Err(_)) => "fault",
            _ => "LEAKED",
        };
        result!(format_args!("{name}"), "{verdict}");
        check(verdict == "ignored", "gic-unowned-state-visible");
    }

    fn main() -> ! {
        gic::init_distributor();
        gic::init_cpu();
        gic::configure(FROM_VICTIM, 0x80);
        guest_rt::println!("attacker: waiting for the victim's ready (INTID {FROM_VICTIM})");
        irq::wait_count(FROM_VICTIM, 1);

        // Memory outside this VM.
        for &(name, addr) in MEM {
            mem_probe(name, addr);
        }
        ram_sweep();

        // GIC state of interrupts this VM does not own: writes ignored, reads zero.
        // INTIDs 32..63: only 33, the interrupt of this VM's own (emulated) UART, is ours.
        gic_probe(
            "gicd-isenabler-spi32",
            GICD + gic::ISENABLER + 4,
            u32::MAX,
            1 << 1,
        );
        gic_probe(
            "gicd-icenabler-spi32",
            GICD + gic::ICENABLER + 4,
            u32::MAX,
            1 << 1,
        );
        gic_probe(
            "gicd-ispendr-spi32",
            GICD + gic::ISPENDR + 4,
            u32::MAX,
            1 << 1,
        );
        // INTIDs 96..127: only 101 is ours (bit 5).
        gic_probe(
            "gicd-isenabler-spi96",
            GICD + gic::ISENABLER + 12,
            u32::MAX,
            1 << 5,
        );
        gic_probe(
            "gicd-ispendr-spi96",
            GICD + gic::ISPENDR + 12,
            !(1 << 5),
            1 << 5,
        );
        gic_probe(
            "gicd-ipriorityr-spi100",
            GICD + gic::IPRIORITYR + VICTIM_SPI as usize,
            0x0000_0000,
            0xff00,
        );
        gic::set_priority(FROM_VICTIM, 0x80);
        let w = probe::write64(GICD + gic::IROUTER + VICTIM_SPI as usize * 8, 1);
        let r = probe::read64(GICD + gic::IROUTER + VICTIM_SPI as usize * 8);
        let verdict = match (w, r) {
            (Ok(()), Ok(0)) => "ignored",
            (Err(_), Err(_)) => "fault",
            _ => "LEAKED",
        };
        result!("gicd-irouter-spi100", "{verdict}");
        check(verdict == "ignored", "gic-unowned-state-visible");
        // Redistributor frame 2 would be the physical CPU 2's (the victim's): this VM has
        // two vCPUs, so it must not reach it.
        let frame2 = gic::GICR + 2 * gic::GICR_STRIDE;
        let r = probe::read64(frame2 + gic::GICR_TYPER);
        let w = probe::write32(frame2 + gic::GICR_WAKER, 1 << 1);
        let verdict = match (r, w) {
            (Err(_), Err(_)) => "fault",
            (Ok(0), Ok(())) => "ignored",
            _ => "LEAKED",
        };
        result!("gicr-foreign-frame", "{verdict}");
        check(verdict != "LEAKED", "gicr-foreign-frame");

        // SGIs aimed outside the VM: the victim counts what reaches it.
        for sgi in 8..16 {
            gic::write_sgi1r(gic::sgi1r(sgi, SgiTarget::Others));
            gic::write_sgi1r(gic::sgi1r(
                sgi,
                SgiTarget::List {
                    aff: 0,
                    list: 0xfffe,
                },
            ));
            gic::write_sgi1r(gic::sgi1r(
                sgi,
                SgiTarget::List {
                    aff: 1,
                    list: 0xffff,
                },
            ));
            gic::write_sgi1r(gic::sgi1r(
                sgi,
                SgiTarget::List {
                    aff: 0x01_0000,
                    list: 0xffff,
                },
            ));
        }
        result!("sgi-probes", "sent");

        // Hypercalls with bad arguments.
        let r = hypercall::virq_raise(99);
        code("hvc-virq-bad-channel", r, err::INVALID, r == err::INVALID);
        let r = hypercall::virq_raise(0x1_0000);
        code("hvc-virq-huge-channel", r, err::INVALID, r == err::INVALID);
        let r = hypercall::virq_raise(READY_CH);
        code("hvc-virq-not-sender", r, err::DENIED, r == err::DENIED);
        let r = hypercall::console_write_raw(0x1000, 16);
        code(
            "hvc-console-bad-address",
            r,
            err::INVALID_ADDRESS,
            r == err::INVALID_ADDRESS,
        );
        let r = hypercall::console_write_raw(0x4200_0000, 16);
        code(
            "hvc-console-victim-pa",
            r,
            err::INVALID_ADDRESS,
            r == err::INVALID_ADDRESS,
        );
        let r = hypercall::console_write_raw((RAM + RAM_SIZE - 8) as u64, 16);
        code(
            "hvc-console-straddle",
            r,
            err::INVALID_ADDRESS,
            r == err::INVALID_ADDRESS,
        );
        let r = hypercall::console_write_raw(u64::MAX - 7, 16);
        code(
            "hvc-console-wrap",
            r,
            err::INVALID_ADDRESS,
            r == err::INVALID_ADDRESS,
        );
        let msg = b"attacker: console write ok\n";
        let r = hypercall::console_write(msg);
        code("hvc-console-ok", r, msg.len(), r == msg.len() as i64);
        let r = hypercall::telemetry_marker(1 << 32, 0);
        code("hvc-telemetry-bad-id", r, err::INVALID, r == err::INVALID);
        let r = hypercall::fault_fetch().err().unwrap_or(0);
        code("hvc-fault-fetch-not-driver", r, "< 0", r < 0);
        let r = hypercall::fault_complete(1, 1, 0);
        code("hvc-fault-complete-no-fault", r, "< 0", r < 0);
        let r = hypercall::fault_complete(1, 9, 0);
        code(
            "hvc-fault-complete-bad-action",
            r,
            err::INVALID,
            r == err::INVALID,
        );
        for (name, fid) in [
            ("hvc-unknown-c60000ff", 0xC600_00FFu64),
            ("hvc-unknown-c6000000", 0xC600_0000),
            ("hvc-unknown-86000010", 0x8600_0010),
            ("hvc-unknown-oem", 0xC300_0001),
            ("hvc-unknown-c5000001", 0xC500_0001),
            ("hvc-unknown-yielding", 0x0600_0001),
            ("hvc-unknown-psci-64bit-off", 0xC400_0008),
        ] {
            let r = hypercall::call(fid, [0; 5])[0] as i64;
            code(name, r, err::NOT_SUPPORTED, r == err::NOT_SUPPORTED);
        }

        // PSCI: vCPUs of other VMs do not exist here; bad entry points are refused.
        let r = psci::cpu_on(2, guest_rt::smp::entry_point(), 0);
        code(
            "psci-cpu-on-other-vm",
            r,
            ret::INVALID_PARAMETERS,
            r == ret::INVALID_PARAMETERS,
        );
        let r = psci::cpu_on(0x100, guest_rt::smp::entry_point(), 0);
        code(
            "psci-cpu-on-aff1",
            r,
            ret::INVALID_PARAMETERS,
            r == ret::INVALID_PARAMETERS,
        );
        let r = psci::affinity_info(2, 0);
        code(
            "psci-affinity-other-vm",
            r,
            ret::INVALID_PARAMETERS,
            r == ret::INVALID_PARAMETERS,
        );
        let r = psci::cpu_on(1, 0x1000, 0);
        code(
            "psci-cpu-on-entry-outside-ram",
            r,
            ret::INVALID_ADDRESS,
            r == ret::INVALID_ADDRESS,
        );
        let r = psci::cpu_on(1, 0x4200_0000, 0);
        code(
            "psci-cpu-on-entry-victim-pa",
            r,
            ret::INVALID_ADDRESS,
            r == ret::INVALID_ADDRESS,
        );

        // Conduits with a nonzero immediate (SMCCC requires 0): a fault or NOT_SUPPORTED.
        for (name, r) in [
            ("smc-imm1", probe::smc_imm1(psci::PSCI_VERSION)),
            ("hvc-imm1", probe::hvc_imm1(psci::PSCI_VERSION)),
        ] {
            let verdict = match r {
                Err(_) => "fault",
                Ok(x) if x as i64 == err::NOT_SUPPORTED => "not-supported",
                Ok(_) => "ALLOWED",
            };
            result!(format_args!("{name}"), "{verdict}");
            check(verdict != "ALLOWED", "nonzero-immediate-accepted");
        }
        // EL2 state from EL1: UNDEFINED.
        let r = probe::read_vttbr_el2();
        result!(
            "el2-sysreg",
            "{}",
            if r.is_err() { "fault" } else { "ALLOWED" }
        );
        check(r.is_err(), "el2-sysreg");

        check(hypercall::virq_raise(DONE) == 0, "done-raise-failed");
        guest_rt::result::finish()
    }
    guest_rt::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("this guest runs under the hypervisor: use `cargo xtask run --system attacker`");
}
