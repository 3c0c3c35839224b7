//! `lw-mmu`: a mini-kernel on shadow paging (system `shadow-mmu`, `paging = "shadow"`).
//! It builds its own stage-1 tables, turns translation on, and checks the emulated MMU
//! the way a kernel relies on it: aliases, read-only and write-protect, unmapped pages at
//! each level, the access flag, execute-never (also hierarchical: UXNTable, APTable),
//! 2 MiB blocks, break-before-make edits of live entries with each TLBI form, and two
//! address spaces (ASIDs 1 and 2, separate trees) switched 1000 times — then four more,
//! more than the hypervisor's cached roots. It also tries what it must not get: output
//! addresses outside its memory, tables outside its memory, VAs below the lwVM window.
//! Each check prints `RESULT <key> <what it saw>`; `RESULT status pass` only if all
//! passed, exit 0 (else 1).
//!
//! Its memory is 2 MiB (one aligned block) at the window; data frames and table pages
//! are static arrays in it, reached at VA = PA in every address space.
#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
#[path = "../common/mmu_kit.rs"]
mod kit;

#[cfg(target_os = "none")]
mod lw {
    use lwvm_sdk::mmu::probe::{self, Class};
    use lwvm_sdk::mmu::{self, PagePool, PageSource, Tables, desc};
    use lwvm_sdk::{Boot, sys};

    use crate::kit::{Checks, map_own, map_under, publish, rd, read, tag, wr, write};

    const ASID_A: u16 = 1;
    const ASID_B: u16 = 2;
    /// Address spaces beyond A and B (ASIDs 3..): with the default four cached shadow
    /// roots, rotating through six evicts and rebuilds roots.
    const MORE: usize = 4;
    const SWITCHES: u64 = 1000;
    const ROTATIONS: u64 = 100;
    const BBM_EDITS: u64 = 200;

    /// The kernel's extra mappings live at level-1 index 320.
    const T: u64 = 0x50_0000_0000;
    const V_ALIAS1: u64 = T;
    const V_RO: u64 = T + 0x1000;
    const V_HOLE: u64 = T + 0x2000;
    const V_AF: u64 = T + 0x3000;
    const V_WP: u64 = T + 0x4000;
    const V_BBM: u64 = T + 0x5000;
    const V_X: u64 = T + 0x6000;
    const V_XN: u64 = T + 0x7000;
    const V_BEYOND: u64 = T + 0x8000;
    const V_RAM: u64 = T + 0x9000;
    const V_UART: u64 = T + 0xa000;
    const V_PROC: u64 = T + 0xb000;
    /// Another level-2 entry (its own level-3 table).
    const V_ALIAS2: u64 = T + 0x20_0000;
    /// A level-2 entry left invalid.
    const V_NO_L3: u64 = T + 0x40_0000;
    const V_UXNT: u64 = T + 0x60_0000;
    const V_APRO: u64 = T + 0x80_0000;
    const V_APNOEL0: u64 = T + 0xa0_0000;
    const V_L3_OUT: u64 = T + 0xc0_0000;
    /// Level-1 index 321: 2 MiB blocks.
    const V_BLOCK: u64 = 0x50_4000_0000;
    const V_BLOCK_BEYOND: u64 = 0x50_4020_0000;
    /// Level-1 index 384, never made.
    const V_NO_L2: u64 = 0x60_0000_0000;
    /// Level-1 entries 448 and 449 point at tables outside the lwVM's memory.
    const V_TABLE_RAM: u64 = 0x70_0000_0000;
    const V_TABLE_BEYOND: u64 = 0x70_4000_0000;
    /// Below the window: the hypervisor's half, whatever the lwVM's tables say.
    const V_LOW: u64 = 0x1000_0000;
    const V_LOW_HV: u64 = 0x4020_0000;

    /// The board's RAM (the hypervisor image is at its start) and UART: never the lwVM's.
    const BOARD_RAM: u64 = 0x4000_0000;
    const UART: u64 = 0x0900_0000;
    const RET: u64 = 0xd65f_03c0;

    static TABLES: PagePool<56> = PagePool::new();
    static FRAMES: PagePool<16> = PagePool::new();

    fn page(pa: u64, attrs: u64) -> u64 {
        pa | attrs | desc::PAGE
    }

    fn main(_boot: Boot) {
        let mut c = Checks::new();
        let info = sys::info();
        let (mem, size) = (info.mem_va, info.mem_size);
        if let Err(e) = probe::install_probe_handler() {
            c.report("fault-handler", false, e);
            c.finish();
        }
        c.report("fault-handler", true, "installed");
        c.ok("sctlr-m-at-entry-off", mmu::get_sctlr() & mmu::SCTLR_M == 0);

        let f: [u64; 16] = core::array::from_fn(|_| FRAMES.alloc().expect("frames"));
        for (i, &pa) in f.iter().enumerate() {
            wr(pa, tag(i));
        }
        let rw = desc::RW | desc::NG;
        let ro = desc::RO | desc::NG;

        let mut a = Tables::new(&TABLES, ASID_A).expect("root A");
        let mut b = Tables::new(&TABLES, ASID_B).expect("root B");
        map_own(&mut a, mem, size, true).expect("flat map A");
        map_own(&mut b, mem, size, false).expect("flat map B");

        mmu::set_mair(mmu::MAIR);
        mmu::set_tcr(mmu::TCR);
        mmu::set_ttbr0(a.ttbr());
        mmu::isb();
        c.ok(
            "regs-readback",
            mmu::get_mair() == mmu::MAIR
                && mmu::get_tcr() == mmu::TCR
                && mmu::get_ttbr0() == a.ttbr(),
        );
        mmu::set_sctlr(mmu::get_sctlr() | mmu::SCTLR_M);
        mmu::isb();
        c.ok(
            "translation-on",
            mmu::get_sctlr() & mmu::SCTLR_M != 0 && rd(f[0]) == tag(0),
        );

        // Aliases: two VAs (in different level-3 tables) and the flat VA of one frame.
        a.map_page(V_ALIAS1, f[0], rw).unwrap();
        a.map_page(V_ALIAS2, f[0], rw).unwrap();
        publish();
        let v = 0x1111_2222_3333_4444;
        let ok = write(V_ALIAS1 + 16, v).is_ok()
            && read(V_ALIAS2 + 16) == Ok(v)
            && rd(f[0] + 16) == v
            && write(V_ALIAS2 + 24, !v).is_ok()
            && read(V_ALIAS1 + 24) == Ok(!v)
            && read(V_ALIAS1) == Ok(tag(0));
        c.ok("alias", ok);

        // Read-only.
        a.map_page(V_RO, f[1], ro).unwrap();
        publish();
        c.reads("ro-read", read(V_RO), tag(1));
        let s = c.faults("ro-write", write(V_RO, 0xbad), Class::Permission(3));
        c.ok("ro-write-wnr", s.is_some_and(probe::is_write));
        c.ok("ro-intact", rd(f[1]) == tag(1));

        // Nothing mapped, at each level.
        c.faults("unmapped-l3", read(V_HOLE), Class::Translation(3));
        let s = c.faults("unmapped-l3-write", write(V_HOLE, 1), Class::Translation(3));
        c.ok("unmapped-write-wnr", s.is_some_and(probe::is_write));
        c.faults("unmapped-l2", read(V_NO_L3), Class::Translation(2));
        c.faults("unmapped-l1", read(V_NO_L2), Class::Translation(1));

        // Access flag clear, then set.
        a.map_page(V_AF, f[2], rw & !desc::AF).unwrap();
        publish();
        c.faults("af-clear", read(V_AF), Class::AccessFlag(3));
        a.update(V_AF, 3, page(f[2], rw)).unwrap();
        c.reads("af-set", read(V_AF), tag(2));

        // Write-protect a writable page and lift it again.
        a.map_page(V_WP, f[3], rw).unwrap();
        publish();
        c.ok(
            "wp-writable",
            write(V_WP + 8, 7).is_ok() && rd(f[3] + 8) == 7,
        );
        a.update(V_WP, 3, page(f[3], ro)).unwrap();
        c.faults("wp-write", write(V_WP + 8, 8), Class::Permission(3));
        c.reads("wp-read", read(V_WP + 8), 7);
        a.update(V_WP, 3, page(f[3], rw)).unwrap();
        c.ok("wp-lifted", write(V_WP + 8, 9).is_ok() && rd(f[3] + 8) == 9);

        // Unmap one alias: the other stays; map it again.
        a.unmap(V_ALIAS1).unwrap();
        c.faults("unmap", read(V_ALIAS1), Class::Translation(3));
        c.reads("unmap-other-alias", read(V_ALIAS2), tag(0));
        a.map_page(V_ALIAS1, f[0], rw).unwrap();
        publish();
        c.reads("map-again", read(V_ALIAS1), tag(0));

        // Break-before-make on a live entry: the new page at once, every time.
        a.map_page(V_BBM, f[4], rw).unwrap();
        publish();
        c.reads("bbm-before", read(V_BBM), tag(4));
        let mut good = 0;
        for i in 0..BBM_EDITS {
            let n = if i % 2 == 0 { 5 } else { 4 };
            a.remap(V_BBM, 3, page(f[n], rw)).unwrap();
            if read(V_BBM) == Ok(tag(n)) {
                good += 1;
            }
        }
        c.count("bbm-remaps", good, BBM_EDITS);

        // Execute, and execute-never.
        let rp = probe::ret_page();
        a.map_page(V_X, rp, desc::RX | desc::NG).unwrap();
        a.map_page(V_XN, rp, ro).unwrap();
        publish();
        // SAFETY: V_X maps the SDK's `ret` page.
        c.succeeds("exec", unsafe { probe::exec(V_X) });
        // SAFETY: as above (and it must not run).
        let s = c.faults(
            "exec-xn",
            unsafe { probe::exec(V_XN) },
            Class::Permission(3),
        );
        c.ok("exec-xn-fetch", s.is_some_and(probe::is_exec));
        c.reads("exec-xn-readable", read(V_XN).map(|w| w & 0xffff_ffff), RET);

        // Hierarchical rights on the table entries above a permissive leaf.
        map_under(&mut a, V_UXNT, rp, desc::RX | desc::NG, desc::UXN_TABLE).unwrap();
        map_under(&mut a, V_APRO, f[6], rw, desc::AP_TABLE_RO).unwrap();
        map_under(&mut a, V_APNOEL0, f[6], rw, desc::AP_TABLE_NO_EL0).unwrap();
        publish();
        // SAFETY: V_UXNT maps the `ret` page.
        c.faults_kind(
            "uxntable-exec",
            unsafe { probe::exec(V_UXNT) },
            "permission",
        );
        c.reads("uxntable-read", read(V_UXNT).map(|w| w & 0xffff_ffff), RET);
        c.reads("aptable-ro-read", read(V_APRO), tag(6));
        c.faults_kind("aptable-ro-write", write(V_APRO, 0), "permission");
        c.faults_kind("aptable-no-el0", read(V_APNOEL0), "permission");
        c.ok("aptable-intact", rd(f[6]) == tag(6));

        // A read-only 2 MiB block over the program's own memory.
        a.map_block(V_BLOCK, mem, ro).unwrap();
        publish();
        c.reads("block-2m-read", read(V_BLOCK + (f[7] - mem)), tag(7));
        c.faults(
            "block-2m-write",
            write(V_BLOCK + (f[7] - mem), 0),
            Class::Permission(2),
        );

        // Output addresses that are not the lwVM's: external aborts, never a mapping.
        let beyond = mem + size + 0x1_0000;
        a.map_page(V_BEYOND, beyond, rw).unwrap();
        a.map_page(V_RAM, BOARD_RAM, rw).unwrap();
        a.map_page(V_UART, UART, rw).unwrap();
        let block_beyond = (mem + size + mmu::BLOCK_2M - 1) & !(mmu::BLOCK_2M - 1);
        a.map_block(V_BLOCK_BEYOND, block_beyond, rw).unwrap();
        publish();
        c.faults("oa-beyond-memory", read(V_BEYOND), Class::External);
        c.faults(
            "oa-beyond-memory-write",
            write(V_BEYOND, 0),
            Class::External,
        );
        c.faults("oa-board-ram", read(V_RAM), Class::External);
        c.faults("oa-board-ram-write", write(V_RAM, 0), Class::External);
        c.faults("oa-uart-write", write(V_UART, 0x41), Class::External);
        c.faults("oa-block-beyond", read(V_BLOCK_BEYOND), Class::External);

        // Tables outside the lwVM's memory: external aborts on the walk.
        a.set(V_TABLE_RAM, 1, BOARD_RAM | desc::TABLE).unwrap();
        a.set(V_TABLE_BEYOND, 1, beyond | desc::TABLE).unwrap();
        a.set(V_L3_OUT, 2, BOARD_RAM | desc::TABLE).unwrap();
        publish();
        c.faults_kind("table-in-board-ram", read(V_TABLE_RAM), "walk-external");
        c.faults_kind("table-beyond-memory", read(V_TABLE_BEYOND), "walk-external");
        c.faults_kind("l3-table-outside", read(V_L3_OUT), "walk-external");

        // VAs below the window: the hypervisor's half, even when mapped.
        a.map_page(V_LOW, f[0], rw).unwrap();
        a.map_page(V_LOW_HV, f[0], rw).unwrap();
        publish();
        c.faults("low-va", read(V_LOW), Class::Translation(1));
        c.faults("low-va-write", write(V_LOW, 0), Class::Translation(1));
        c.faults("low-va-hv-image", read(V_LOW_HV), Class::Translation(1));
        c.ok("frame-intact", rd(f[0]) == tag(0));

        // Two address spaces, one VA, a page each.
        a.map_page(V_PROC, f[9], rw).unwrap();
        b.map_page(V_PROC, f[8], rw).unwrap();
        publish();
        mmu::switch_to(b.ttbr());
        c.faults("b-isolated", read(V_RO), Class::Translation(3));
        c.faults("b-no-alias", read(V_ALIAS2), Class::Translation(2));
        mmu::switch_to(a.ttbr());
        let (mut round_trips, mut bad) = (0, 0);
        for i in 0..SWITCHES {
            mmu::switch_to(b.ttbr());
            let prev_b = if i == 0 { 0 } else { i - 1 };
            if read(V_PROC) != Ok(tag(8)) || read(V_PROC + 8) != Ok(prev_b) {
                bad += 1;
            }
            if write(V_PROC + 8, i).is_err() {
                bad += 1;
            }
            mmu::switch_to(a.ttbr());
            let prev_a = if i == 0 { 0 } else { (i - 1) | 1 << 63 };
            if read(V_PROC) != Ok(tag(9)) || read(V_PROC + 8) != Ok(prev_a) {
                bad += 1;
            }
            if write(V_PROC + 8, i | 1 << 63).is_err() {
                bad += 1;
            }
            round_trips += 1;
        }
        c.count("switches", round_trips, SWITCHES);
        c.count("switch-mismatches", bad, 0);
        c.ok(
            "switch-frames",
            rd(f[8] + 8) == SWITCHES - 1 && rd(f[9] + 8) == (SWITCHES - 1) | 1 << 63,
        );

        // Each TLBI form after a break-before-make edit (A is current unless said).
        b.remap_with(V_PROC, 3, page(f[10], rw), |_, asid| mmu::tlbi_aside1(asid))
            .unwrap();
        mmu::switch_to(b.ttbr());
        c.reads("tlbi-aside1", read(V_PROC), tag(10));
        mmu::switch_to(a.ttbr());
        b.remap_with(V_PROC, 3, page(f[8], rw), |_, asid| {
            mmu::tlbi_aside1is(asid)
        })
        .unwrap();
        mmu::switch_to(b.ttbr());
        c.reads("tlbi-aside1is", read(V_PROC), tag(8));
        mmu::switch_to(a.ttbr());
        let forms: [(&str, fn(u64, u16)); 8] = [
            ("tlbi-vae1", mmu::tlbi_vae1),
            ("tlbi-vae1is", mmu::tlbi_vae1is),
            ("tlbi-vale1", mmu::tlbi_vale1),
            ("tlbi-vale1is", mmu::tlbi_vale1is),
            ("tlbi-vaae1", |va, _| mmu::tlbi_vaae1(va)),
            ("tlbi-vaale1", |va, _| mmu::tlbi_vaale1(va)),
            ("tlbi-vmalle1", |_, _| mmu::tlbi_vmalle1()),
            ("tlbi-vmalle1is", |_, _| mmu::tlbi_vmalle1is()),
        ];
        for (k, (key, tlbi)) in forms.iter().enumerate() {
            let n = 11 + k % 5;
            a.remap_with(V_PROC, 3, page(f[n], rw), tlbi).unwrap();
            c.reads(key, read(V_PROC), tag(n));
        }
        a.remap(V_PROC, 3, page(f[9], rw)).unwrap();

        // More address spaces than cached roots, round robin.
        let mut more: [Option<Tables>; MORE] = [const { None }; MORE];
        for (k, t) in more.iter_mut().enumerate() {
            let mut s = Tables::new(&TABLES, 3 + k as u16).expect("root");
            map_own(&mut s, mem, size, k % 2 == 0).expect("flat map");
            s.map_page(V_PROC, f[2 + k], rw).unwrap();
            *t = Some(s);
        }
        publish();
        let (mut rounds, mut bad) = (0, 0);
        for _ in 0..ROTATIONS {
            rounds += 1;
            for (k, t) in more.iter().enumerate() {
                mmu::switch_to(t.as_ref().unwrap().ttbr());
                if read(V_PROC) != Ok(tag(2 + k)) {
                    bad += 1;
                }
            }
            for (t, n) in [(&a, 9), (&b, 8)] {
                mmu::switch_to(t.ttbr());
                if read(V_PROC) != Ok(tag(n)) {
                    bad += 1;
                }
            }
        }
        c.count("rotations", rounds, ROTATIONS);
        c.count("rotation-mismatches", bad, 0);
        mmu::switch_to(a.ttbr());

        // Translation off (the flat view) and on again.
        mmu::disable();
        c.ok(
            "mmu-off-flat",
            mmu::get_sctlr() & mmu::SCTLR_M == 0 && rd(f[0]) == tag(0),
        );
        mmu::enable(a.ttbr());
        c.reads("mmu-on-again", read(V_PROC), tag(9));
        c.finish()
    }
    lwvm_sdk::entry!(main);
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "this lwVM runs under the hypervisor: use `cargo xtask run --system shadow-mmu --features lwvm,shadow-paging`"
    );
}
