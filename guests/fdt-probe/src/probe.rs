//! The probe (both binaries): checks the device tree the hypervisor enters the VM with:
//! x0 holds its address, the header has the FDT magic, `/memory` covers the RAM the guest runs in and holds the
//! tree, and the root's `model` names the VM. Prints what it found as `RESULT` lines for
//! the integration test (`fdt_probe_elf_and_raw`) to compare with the system file.
#[cfg(target_os = "none")]
mod guest {
    use guest_rt::fdt::Fdt;
    use guest_rt::result::{check, finish};
    use guest_rt::{println, result};

    /// Where this code runs (not where it was linked): PC-relative `_start`.
    fn start_pc() -> u64 {
        let pc: u64;
        // SAFETY: computes an address; reads and writes nothing.
        unsafe { core::arch::asm!("adrp {0}, _start", "add {0}, {0}, :lo12:_start", out(reg) pc) };
        pc
    }

    #[unsafe(no_mangle)]
    extern "C" fn guest_main(x0: u64) -> ! {
        println!("fdt-probe: entered with x0 = {x0:#x}");
        let pc = start_pc();
        result!("start", "{pc:#x}");
        // SAFETY: a non-zero x0 is the device tree the hypervisor placed in this VM's
        // RAM (its size comes from its own header).
        let fdt = match unsafe { Fdt::at(x0) } {
            Ok(f) => f,
            Err(e) => guest_rt::result::fail(e),
        };
        result!("fdt", "ok");
        let reg = fdt.find("memory", "reg");
        let (base, size) = reg
            .and_then(|r| Some((r.u64(0)?, r.u64(1)?)))
            .unwrap_or((0, 0));
        result!("memory", "{base:#x}+{size:#x}");
        check(base <= pc && pc < base + size, "code-outside-memory-node");
        check(
            base <= x0 && x0 + fdt.size() as u64 <= base + size,
            "tree-outside-memory-node",
        );
        let mut buf = [0u8; 64];
        let model = fdt.find("", "model").map_or("", |p| p.str(&mut buf));
        result!("model", "{model}");
        let cpus = (0..8)
            .take_while(|&n| fdt.nth("cpu", "reg", n).is_some())
            .count();
        result!("cpus", "{cpus}");
        finish()
    }
}
