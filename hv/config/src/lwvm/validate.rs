//! Rules for lightweight VMs (`[[lwvm]]`) and the VHE requirement: the lwVM
//! extension's `ConfigExtension::validate`.
//!
//! Decisions recorded here (tested below):
//! - A system that needs HCR_EL2.E2H=1 (it has lwVMs, or `[hypervisor] vhe = true`) runs
//!   the whole hypervisor under VHE on every CPU, so every cluster of the board must list
//!   the `"vhe"` feature; the error names the lwVM (or `hypervisor.vhe`) and the cluster.
//! - Names are unique among VMs and lwVMs together: channels and shared maps name both.
//! - An lwVM's memory (and every shared region it maps) lies in the lwVM window
//!   (`crate::lwvm::WINDOW_BASE..WINDOW_END`), which must lie above everything the
//!   hypervisor maps for itself (RAM and devices), so that user pages never shadow them.
//! - lwVMs are scheduled by priority: a CPU with a slot table cannot host one.
//! - A channel into an lwVM carries no INTID (the lwVM has no GIC; its `wait` returns a
//!   mask of channel indices) and so must be one of the first 64 channels. A channel into
//!   a VM needs its INTID (a core rule, checked with the channels).

use super::{WINDOW_BASE, WINDOW_END};
use crate::config::Config;
use crate::diag::Checker;
use crate::fmt::{hex, overlaps, range};
use crate::system::Channel;

/// Channels into an lwVM are reported as bits of a 64-bit mask.
pub(crate) const MAX_LW_CHANNEL: usize = 64;

/// Every rule of this module, in order: the board, each lwVM, the channels into lwVMs,
/// the shared maps of lwVMs.
pub(crate) fn check(cfg: &Config, c: &mut Checker) {
    check_lwvms(cfg, c);
    for (i, ch) in cfg.system.channel.iter().enumerate() {
        check_channel_target(cfg, c, i, ch);
    }
    for (i, s) in cfg.system.shared.iter().enumerate() {
        for (k, m) in s.maps.iter().enumerate() {
            if let Some(j) = cfg.system.lwvm_index(&m.vm) {
                check_shared_map(cfg, c, i, k, j);
            }
        }
    }
}

fn check_lwvms(cfg: &Config, c: &mut Checker) {
    check_vhe_board(cfg, c);
    let ncpus = cfg.board.cpus().len();
    for (j, lw) in cfg.system.lwvm.iter().enumerate() {
        let p = format!("lwvm[{j}]");
        if lw.name.is_empty()
            || !lw
                .name
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            c.err(
                format!("{p}.name"),
                format!(
                    "lwvm name \"{}\" must be non-empty letters, digits, '_' or '-'",
                    lw.name
                ),
            );
        }
        if let Some(k) = cfg.system.vm_index(&lw.name) {
            c.err(
                format!("{p}.name"),
                format!("lwvm name \"{}\" is also the name of vm[{k}]", lw.name),
            );
        }
        if let Some(first) = cfg.system.lwvm[..j].iter().position(|o| o.name == lw.name) {
            c.err(
                format!("{p}.name"),
                format!("duplicate lwvm name \"{}\" (also lwvm[{first}])", lw.name),
            );
        }
        let mem = lw.memory.0;
        c.size(
            &format!("{p}.memory"),
            &format!("lwvm \"{}\" memory", lw.name),
            mem,
        );
        if WINDOW_BASE.checked_add(mem).is_none_or(|e| e > WINDOW_END) {
            c.err(
                format!("{p}.memory"),
                format!(
                    "lwvm \"{}\" memory of {} does not fit the lwVM window {}",
                    lw.name,
                    hex(mem),
                    range(WINDOW_BASE, WINDOW_END - WINDOW_BASE)
                ),
            );
        }
        if let Some(base) = lw.base {
            c.base(
                &format!("{p}.base"),
                &format!("lwvm \"{}\" memory", lw.name),
                base.0,
                mem,
            );
        }
        if usize::from(lw.cpu) >= ncpus {
            c.err(
                format!("{p}.cpu"),
                format!(
                    "CPU {} does not exist (the board has CPUs 0..={})",
                    lw.cpu,
                    ncpus.saturating_sub(1)
                ),
            );
        }
        if cfg.system.slots.iter().any(|t| t.cpu == lw.cpu) {
            c.err(
                format!("{p}.cpu"),
                format!(
                    "CPU {} is time-partitioned ([[slots]]); lwVMs run only on CPUs scheduled by priority",
                    lw.cpu
                ),
            );
        }
        check_shadow(c, j, lw);
        if lw.paging == crate::system::Paging::Shadow
            && super::shadowed(cfg)
                .take_while(|o| !std::ptr::eq(*o, lw))
                .count()
                >= hv_core::sysdesc::SHADOW_SLOTS_MAX
        {
            c.err(
                format!("{p}.paging"),
                format!(
                    "at most {} lwVMs of a system have `paging = \"shadow\"`",
                    hv_core::sysdesc::SHADOW_SLOTS_MAX
                ),
            );
        }
        if let Some(entry) = lw.entry
            && (entry.0 < WINDOW_BASE || entry.0 >= WINDOW_BASE.saturating_add(mem))
        {
            c.err(
                format!("{p}.entry"),
                format!(
                    "entry {} lies outside lwvm \"{}\" memory at VA {}",
                    hex(entry.0),
                    lw.name,
                    range(WINDOW_BASE, mem)
                ),
            );
        }
    }
}

/// The shadow-paging fields of lwVM `j`: only with `paging = "shadow"`, a pool the
/// hypervisor's bookkeeping is sized for, a memory it can track page by page.
fn check_shadow(c: &mut Checker, j: usize, lw: &crate::system::Lwvm) {
    use crate::system::Paging;
    use hv_core::sysdesc::{SHADOW_GUEST_PAGES_MAX, SHADOW_POOL_PAGES_MAX, SHADOW_ROOTS_MAX};
    let p = format!("lwvm[{j}]");
    if lw.paging == Paging::Static {
        for (set, f) in [
            (lw.shadow_pool.is_some(), "shadow-pool"),
            (lw.shadow_roots.is_some(), "shadow-roots"),
        ] {
            if set {
                c.err(
                    format!("{p}.{f}"),
                    format!(
                        "`{f}` applies only to an lwVM with `paging = \"shadow\"` (lwvm \"{}\" has static tables)",
                        lw.name
                    ),
                );
            }
        }
        return;
    }
    let pool = lw.shadow_pool_bytes();
    let pages = pool / 4096;
    if !pool.is_multiple_of(4096) || !(4..=SHADOW_POOL_PAGES_MAX as u64).contains(&pages) {
        c.err(
            format!("{p}.shadow-pool"),
            format!(
                "shadow pool of {} must be a multiple of 4K between 16K (4 table pages: a root and one walk) and {}K",
                hex(pool),
                SHADOW_POOL_PAGES_MAX * 4
            ),
        );
    }
    let roots = lw.shadow_root_count();
    if !(1..=SHADOW_ROOTS_MAX).contains(&roots) {
        c.err(
            format!("{p}.shadow-roots"),
            format!("{roots} shadow roots: give 1..={SHADOW_ROOTS_MAX}"),
        );
    } else if u64::from(roots) >= pages.max(1) {
        c.err(
            format!("{p}.shadow-roots"),
            format!(
                "{roots} shadow roots do not leave room in a pool of {pages} table pages (each root is one page; a walk needs two more)"
            ),
        );
    }
    if lw.memory.0 > (SHADOW_GUEST_PAGES_MAX as u64) * 4096 {
        c.err(
            format!("{p}.memory"),
            format!(
                "a shadow-paged lwVM has at most {} MiB of memory (the hypervisor tracks it page by page)",
                (SHADOW_GUEST_PAGES_MAX * 4096) >> 20
            ),
        );
    }
}

/// With E2H=1 every CPU runs the hypervisor under VHE: every cluster needs it, and the
/// lwVM window must lie above what the hypervisor maps.
fn check_vhe_board(cfg: &Config, c: &mut Checker) {
    let s = &cfg.system;
    if !s.hypervisor.vhe && s.lwvm.is_empty() {
        return;
    }
    for cl in cfg
        .board
        .cluster
        .iter()
        .filter(|cl| !cl.features.iter().any(|f| f == "vhe"))
    {
        let (field, who) = match s.lwvm.first() {
            Some(lw) => ("lwvm[0].cpu".to_string(), format!("lwvm \"{}\"", lw.name)),
            None => ("hypervisor.vhe".to_string(), "`vhe = true`".to_string()),
        };
        let field = s
            .lwvm
            .iter()
            .enumerate()
            .find(|(_, lw)| {
                cfg.board
                    .cpus()
                    .get(usize::from(lw.cpu))
                    .is_some_and(|(_, k, _)| k.name == cl.name)
            })
            .map_or(field, |(j, _)| format!("lwvm[{j}].cpu"));
        c.err(
            field,
            format!(
                "{who} needs ARMv8.1 VHE (HCR_EL2.E2H=1) on every CPU, but cluster \"{}\" of board \"{}\" lacks the \"vhe\" feature",
                cl.name, cfg.board.name
            ),
        );
    }
    let b = &cfg.board;
    let mut top = b.ram_end();
    for end in [
        b.uart.base.0 + b.uart.size.0,
        b.gic.distributor.base.0 + b.gic.distributor.size.0,
        b.gic.redistributor.base.0 + b.gic.redistributor.size.0,
    ] {
        top = top.max(end);
    }
    if let Some(v) = &b.virtio_mmio {
        let (base, size) = v.window();
        top = top.max(base + size);
    }
    if top > WINDOW_BASE {
        c.err(
            "lwvm",
            format!(
                "board \"{}\" has memory or devices up to {}, inside the lwVM window from {}",
                b.name,
                hex(top),
                hex(WINDOW_BASE)
            ),
        );
    }
}

/// Channel `i`, when it goes into an lwVM: no INTID, and an index below
/// [`MAX_LW_CHANNEL`].
fn check_channel_target(cfg: &Config, c: &mut Checker, i: usize, ch: &Channel) {
    if !cfg.system.is_lwvm(&ch.to) {
        return;
    }
    match ch.intid {
        Some(_) => c.err(
            format!("channel[{i}].intid"),
            format!(
                "channel \"{}\" goes to lwvm \"{}\", which has no interrupt controller: leave `intid` out (its `wait` reports the channel index, {i})",
                ch.name, ch.to
            ),
        ),
        None if i >= MAX_LW_CHANNEL => c.err(
            format!("channel[{i}]"),
            format!(
                "channel \"{}\" goes to lwvm \"{}\" but has index {i}: an lwVM's events are the channel indices 0..{MAX_LW_CHANNEL}; list it earlier",
                ch.name, ch.to
            ),
        ),
        None => {}
    }
}

/// Map `k` of shared region `i` by lwVM `j`: a page-aligned VA range in its window, off
/// its memory and off its other shared maps.
fn check_shared_map(cfg: &Config, c: &mut Checker, i: usize, k: usize, j: usize) {
    let s = &cfg.system.shared[i];
    let lw = &cfg.system.lwvm[j];
    let m = &s.maps[k];
    let f = format!("shared[{i}].maps[{k}].ipa");
    let (va, size) = (m.ipa.0, s.size.0);
    c.base(&f, &format!("shared \"{}\" VA", s.name), va, size);
    if va < WINDOW_BASE || va.checked_add(size).is_none_or(|e| e > WINDOW_END) {
        c.err(
            &f,
            format!(
                "shared \"{}\" at VA {} in lwvm \"{}\" lies outside the lwVM window {}",
                s.name,
                range(va, size),
                lw.name,
                range(WINDOW_BASE, WINDOW_END - WINDOW_BASE)
            ),
        );
    }
    if overlaps(va, size, WINDOW_BASE, lw.memory.0) {
        c.err(
            &f,
            format!(
                "shared \"{}\" at VA {} overlaps lwvm \"{}\" memory at {}",
                s.name,
                range(va, size),
                lw.name,
                range(WINDOW_BASE, lw.memory.0)
            ),
        );
    }
    for (oi, o) in cfg.system.shared.iter().enumerate() {
        for (ok, om) in o.maps.iter().enumerate() {
            let earlier = (oi, ok) < (i, k);
            if earlier && om.vm == lw.name && overlaps(va, size, om.ipa.0, o.size.0) {
                c.err(
                    &f,
                    format!(
                        "shared \"{}\" at VA {} overlaps shared \"{}\" in lwvm \"{}\" (shared[{oi}].maps[{ok}])",
                        s.name,
                        range(va, size),
                        o.name,
                        lw.name
                    ),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;
    use crate::validate::tests::board_text;

    fn validate(cfg: &Config) -> Result<(), crate::error::ConfigError> {
        crate::validate::validate(cfg, crate::EXTENSIONS)
    }

    const VM: &str =
        "[[vm]]\nname = \"a\"\nmemory = \"16M\"\nimage = \"hello\"\nvcpus = [{ cpu = 0 }]\n";
    const LW: &str = "[[lwvm]]\nname = \"svc\"\nmemory = \"1M\"\nimage = \"lw\"\ncpu = 2\n";

    fn errors_on(board: &str, system: &str) -> String {
        let dir = tempfile::tempdir().unwrap();
        let (b, s) = (dir.path().join("board.toml"), dir.path().join("sys.toml"));
        std::fs::write(&b, board).unwrap();
        std::fs::write(&s, system).unwrap();
        let strip = |e: String| e.replace(&dir.path().display().to_string(), "");
        match Config::load(&b, &s) {
            Ok(cfg) => validate(&cfg)
                .err()
                .map(|e| strip(e.to_string()))
                .unwrap_or_default(),
            Err(e) => strip(e.to_string()),
        }
    }

    fn errors(system: &str) -> String {
        errors_on(&board_text(), system)
    }

    fn expect(system: &str, needle: &str) {
        let e = errors(system);
        assert!(e.contains(needle), "expected {needle:?} in:\n{e}");
    }

    fn sys(extra: &str) -> String {
        format!("name = \"s\"\n{VM}{LW}{extra}")
    }

    #[test]
    fn valid_lwvm_system() {
        let s = sys(
            "[[channel]]\nname = \"r\"\nfrom = \"a\"\nto = \"svc\"\n[[channel]]\nname = \"q\"\nfrom = \"svc\"\nto = \"a\"\nintid = 101\n",
        );
        assert_eq!(errors(&s), "");
        // An lwVM alone is a system too.
        assert_eq!(errors(&format!("name = \"s\"\n{LW}")), "");
    }

    #[test]
    fn lwvms_need_vhe_on_every_cluster() {
        // The board's "little" cluster (CPUs 2, 3) without VHE.
        let board = board_text().replacen(
            "capacity = 512\nfeatures = [\"vhe\"]",
            "capacity = 512\nfeatures = []",
            1,
        );
        assert!(board != board_text());
        let e = errors_on(&board, &sys(""));
        assert!(
            e.contains("sys.toml: lwvm[0].cpu: lwvm \"svc\" needs ARMv8.1 VHE (HCR_EL2.E2H=1) on every CPU, but cluster \"little\" of board \"qemu-virt\" lacks the \"vhe\" feature"),
            "{e}"
        );
        let e = errors_on(
            &board,
            &format!("name = \"s\"\n[hypervisor]\nvhe = true\n{VM}"),
        );
        assert!(
            e.contains("sys.toml: hypervisor.vhe: `vhe = true` needs ARMv8.1 VHE"),
            "{e}"
        );
        // Without lwVMs nor `vhe`, the board's features do not matter.
        assert_eq!(errors_on(&board, &format!("name = \"s\"\n{VM}")), "");
    }

    #[test]
    fn channel_intids_follow_the_receiver() {
        expect(
            &sys("[[channel]]\nname = \"r\"\nfrom = \"a\"\nto = \"svc\"\nintid = 100\n"),
            "sys.toml: channel[0].intid: channel \"r\" goes to lwvm \"svc\", which has no interrupt controller: leave `intid` out",
        );
        expect(
            &sys("[[channel]]\nname = \"q\"\nfrom = \"svc\"\nto = \"a\"\n"),
            "sys.toml: channel[0].intid: channel \"q\" goes to vm \"a\" and needs the `intid` it raises there",
        );
        let mut many = sys("");
        for k in 0..65 {
            many += &format!("[[channel]]\nname = \"c{k}\"\nfrom = \"a\"\nto = \"svc\"\n");
        }
        expect(
            &many,
            "sys.toml: channel[64]: channel \"c64\" goes to lwvm \"svc\" but has index 64",
        );
    }

    #[test]
    fn names_are_shared_with_vms() {
        expect(
            &format!("name = \"s\"\n{VM}{}", LW.replace("\"svc\"", "\"a\"")),
            "sys.toml: lwvm[0].name: lwvm name \"a\" is also the name of vm[0]",
        );
        expect(
            &sys("[[channel]]\nname = \"r\"\nfrom = \"a\"\nto = \"svx\"\n"),
            "sys.toml: channel[0].to: unknown vm or lwvm \"svx\" — did you mean \"svc\"?",
        );
        expect(
            &sys(
                "[[emulated]]\nvm = \"a\"\nbase = 0x0a00_0000\nsize = \"4K\"\nby = \"svc\"\nintid = 101\n",
            ),
            "sys.toml: emulated[0].by: \"svc\" is a lightweight VM ([[lwvm]]); only a full VM fits here",
        );
    }

    #[test]
    fn memory_entry_cpu_and_slots() {
        expect(
            &format!("name = \"s\"\n{}", LW.replace("cpu = 2", "cpu = 9")),
            "sys.toml: lwvm[0].cpu: CPU 9 does not exist (the board has CPUs 0..=3)",
        );
        expect(
            &format!("name = \"s\"\n{}", LW.replace("\"1M\"", "\"1001K\"")),
            "sys.toml: lwvm[0].memory: lwvm \"svc\" memory size 0xf_a400 is not a multiple of 4K",
        );
        expect(
            &format!("name = \"s\"\n{LW}entry = 0x40_0010_0000\n"),
            "sys.toml: lwvm[0].entry: entry 0x40_0010_0000 lies outside lwvm \"svc\" memory at VA",
        );
        expect(
            &sys("[[slots]]\ncpu = 2\ntable = [{ us = 100 }]\n"),
            "sys.toml: lwvm[0].cpu: CPU 2 is time-partitioned ([[slots]])",
        );
    }

    #[test]
    fn shared_maps_in_the_window() {
        let shared = |va: &str| {
            sys(&format!(
                "[[shared]]\nname = \"r\"\nsize = \"64K\"\nmaps = [{{ vm = \"a\", ipa = 0x5000_0000 }}, {{ vm = \"svc\", ipa = {va} }}]\n"
            ))
        };
        assert_eq!(errors(&shared("0x40_1000_0000")), "");
        expect(
            &shared("0x5000_0000"),
            "sys.toml: shared[0].maps[1].ipa: shared \"r\" at VA 0x5000_0000..0x5001_0000 in lwvm \"svc\" lies outside the lwVM window",
        );
        expect(
            &shared("0x40_0000_0000"),
            "sys.toml: shared[0].maps[1].ipa: shared \"r\" at VA 0x40_0000_0000..0x40_0001_0000 overlaps lwvm \"svc\" memory",
        );
    }

    #[test]
    fn shadow_paging_fields() {
        let lw = |extra: &str| sys("").replace("cpu = 2\n", &format!("cpu = 2\n{extra}"));
        assert_eq!(errors(&lw("paging = \"shadow\"\n")), "");
        assert_eq!(
            errors(&lw(
                "paging = \"shadow\"\nshadow-pool = \"2M\"\nshadow-roots = 16\n"
            )),
            ""
        );
        expect(
            &lw("shadow-pool = \"64K\"\n"),
            "sys.toml: lwvm[0].shadow-pool: `shadow-pool` applies only to an lwVM with `paging = \"shadow\"`",
        );
        expect(
            &lw("shadow-roots = 2\n"),
            "sys.toml: lwvm[0].shadow-roots: `shadow-roots` applies only",
        );
        expect(
            &lw("paging = \"shadow\"\nshadow-pool = \"12K\"\n"),
            "sys.toml: lwvm[0].shadow-pool: shadow pool of 0x3000 must be a multiple of 4K between 16K",
        );
        expect(
            &lw("paging = \"shadow\"\nshadow-pool = \"4M\"\n"),
            "sys.toml: lwvm[0].shadow-pool: shadow pool of 0x40_0000",
        );
        expect(
            &lw("paging = \"shadow\"\nshadow-roots = 0\n"),
            "sys.toml: lwvm[0].shadow-roots: 0 shadow roots: give 1..=16",
        );
        expect(
            &lw("paging = \"shadow\"\nshadow-pool = \"16K\"\nshadow-roots = 4\n"),
            "sys.toml: lwvm[0].shadow-roots: 4 shadow roots do not leave room in a pool of 4 table pages",
        );
        expect(
            &lw("paging = \"shadow\"\n").replace(
                "memory = \"1M\"\nimage = \"lw\"",
                "memory = \"32M\"\nimage = \"lw\"",
            ),
            "sys.toml: lwvm[0].memory: a shadow-paged lwVM has at most 16 MiB of memory",
        );
        expect(&lw("paging = \"nested\"\n"), "paging");
    }
}
