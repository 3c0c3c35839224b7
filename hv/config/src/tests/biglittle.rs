//! big.LITTLE placement (`cpus = [..]`, `[vm.big-little]`): the description it generates,
//! every refusal with its field and message, the image-feature check and the
//! certificate's placement rules on mutated descriptions.

use super::Setup;
use crate::certify::property::Property;
use crate::isolation::report;
use crate::{ImageFeatures, Plan};
use hv_core::sysdesc::{CpuDesc, DeviceDesc, HvDesc, MigratePolicy, SystemDesc};

/// One VM `a` whose vCPU may run on CPU 0 (cluster "big") or CPU 2 ("little"), and a
/// pinned VM `b` on CPU 1.
const MOVING: &str = r#"
name = "bl"
[[vm]]
name = "a"
memory = "16M"
image = "hello"
vcpus = [{ cpus = [0, 2] }]
[[vm]]
name = "b"
memory = "16M"
image = "hello"
vcpus = [{ cpu = 1 }]
"#;

/// The system with `a`'s `vcpus` replaced and `extra` after its keys (e.g. a
/// `[vm.big-little]` table).
fn with_a(vcpus: &str, extra: &str) -> String {
    MOVING
        .replace(
            "vcpus = [{ cpus = [0, 2] }]",
            &format!("vcpus = {vcpus}\n{extra}"),
        )
        .replacen("[[vm]]\nname = \"b\"", "\n[[vm]]\nname = \"b\"", 1)
}

/// The system with `[vm.big-little]` body `table` on `a`.
fn policy(table: &str) -> String {
    with_a("[{ cpus = [0, 2] }]", &format!("[vm.big-little]\n{table}"))
}

/// Every diagnostic of validating `system` on the qemu-virt board, as (field, message).
fn diags(system: &str) -> Vec<(String, String)> {
    let s = Setup::new(system);
    match crate::check(&s.board(), &s.system()) {
        Ok(_) => Vec::new(),
        Err(e) => {
            let d = e.diagnostics();
            assert!(!d.is_empty(), "{e}");
            for x in d {
                assert!(x.file.ends_with("sys.toml"), "{x}");
            }
            d.iter()
                .map(|x| (x.field.clone(), x.message.clone()))
                .collect()
        }
    }
}

/// `system` is refused with exactly this one diagnostic.
fn refused(system: &str, field: &str, message: &str) {
    assert_eq!(
        diags(system),
        [(field.to_string(), message.to_string())],
        "{system}"
    );
}

#[test]
fn a_vcpu_on_two_clusters_is_in_both_schedules_with_a_hint_policy() {
    assert_eq!(diags(MOVING), []);
    let d = Setup::new(MOVING).plan().desc;
    let a = &d.vms[0];
    assert_eq!(a.vcpus, &[0]);
    let v = &d.vcpus[0];
    assert_eq!((v.vm, v.cpu, v.cpus), (0, 0, &[0u16, 2][..]));
    // b's pinned vCPU lists just its CPU.
    assert_eq!((d.vcpus[1].cpu, d.vcpus[1].cpus), (1, &[1u16][..]));
    let on: Vec<usize> = (0..d.cpus.len())
        .filter(|&c| d.cpus[c].schedule.contains(&0))
        .collect();
    assert_eq!(on, [0, 2]);
    assert_eq!(d.cpus[0].schedule, &[0]);
    assert_eq!(d.cpus[1].schedule, &[1]);
    assert_eq!(d.cpus[2].schedule, &[0]);
    assert_eq!(d.cpus[3].schedule, &[] as &[u16]);
    // Without `[vm.big-little]`, the VM is moved by its guest's hints; b is not listed.
    assert_eq!(d.migrations.len(), 1);
    let m = &d.migrations[0];
    assert_eq!((m.vm, m.policy), (0, MigratePolicy::Hint));
    assert_eq!(
        (m.window_us, m.up, m.down, m.plan.len()),
        (10_000, 70, 30, 0)
    );
    assert!(d.migration(hv_core::ids::VmId::new(1)).is_none());
}

#[test]
fn a_plan_names_clusters_by_board_index() {
    let sys = with_a(
        "[{ cpus = [0, 2] }, { cpus = [3, 1] }]",
        "[vm.big-little]\npolicy = \"plan\"\nplan = [{ cluster = \"little\", us = 300 }, { cluster = \"big\", us = 5000 }]",
    )
    .replace("vcpus = [{ cpu = 1 }]", "vcpus = [{ cpu = 0 }]");
    assert_eq!(diags(&sys), []);
    let d = Setup::new(&sys).plan().desc;
    let m = d.migration(hv_core::ids::VmId::new(0)).unwrap();
    assert_eq!(m.policy, MigratePolicy::Plan);
    let steps: Vec<(u16, u32)> = m.plan.iter().map(|s| (s.cluster, s.us)).collect();
    assert_eq!(steps, [(1, 300), (0, 5000)]);
    assert_eq!((d.vcpus[1].cpu, d.vcpus[1].cpus), (3, &[3u16, 1][..]));
    // CPU 0 runs a's vCPU 0 and b's vCPU; CPU 1 and 3 a's vCPU 1.
    assert_eq!(d.cpus[1].schedule, &[1]);
    assert_eq!(d.cpus[3].schedule, &[1]);
}

#[test]
fn cpu_and_cpus_together_or_neither() {
    refused(
        &with_a("[{ cpu = 0, cpus = [0, 2] }]", ""),
        "vm[0].vcpus[0]",
        "vCPU 0 of vm \"a\" gives both `cpu` and `cpus`: give one, `cpu` (pinned) or `cpus` (the CPUs it may move among)",
    );
    refused(
        &with_a("[{ priority = 1 }]", ""),
        "vm[0].vcpus[0]",
        "vCPU 0 of vm \"a\" gives neither `cpu` nor `cpus`: give one, `cpu` (pinned) or `cpus` (the CPUs it may move among)",
    );
}

#[test]
fn one_cpu_per_cluster() {
    refused(
        &with_a("[{ cpus = [0, 2, 3] }]", ""),
        "vm[0].vcpus[0].cpus",
        "CPUs 2 and 3 are both in cluster \"little\": a vCPU may run on one CPU per cluster",
    );
    refused(
        &with_a("[{ cpus = [0, 7] }]", ""),
        "vm[0].vcpus[0].cpus",
        "CPU 7 does not exist (the board has CPUs 0..=3)",
    );
}

#[test]
fn two_vcpus_of_a_vm_that_could_share_a_cpu() {
    refused(
        &with_a("[{ cpus = [0, 2] }, { cpus = [1, 2] }]", "")
            .replace("vcpus = [{ cpu = 1 }]", "vcpus = [{ cpu = 3 }]"),
        "vm[0].vcpus[1].cpus",
        "vCPUs 0 and 1 of vm \"a\" may both run on CPU 2: a VM's vCPUs need distinct CPUs wherever they move",
    );
    // A pinned vCPU on a CPU another vCPU of its VM may move to.
    refused(
        &with_a("[{ cpus = [0, 2] }, { cpu = 2 }]", ""),
        "vm[0].vcpus[1].cpu",
        "vCPUs 0 and 1 of vm \"a\" may both run on CPU 2: a VM's vCPUs need distinct CPUs wherever they move",
    );
}

#[test]
fn a_moving_vcpu_stays_off_time_partitioned_cpus() {
    let sys = format!("{MOVING}\n[[slots]]\ncpu = 2\ntable = [{{ vcpu = \"a\", us = 500 }}]\n");
    let d = diags(&sys);
    let want = (
        "vm[0].vcpus[0].cpus".to_string(),
        "CPU 2 is time-partitioned ([[slots]]): a vCPU that moves may not run on it".to_string(),
    );
    assert!(d.contains(&want), "{d:?}");
    // A pinned vCPU may hold the slot.
    assert_eq!(
        diags(&sys.replace("cpus = [0, 2]", "cpu = 2")),
        [],
        "pinned on the slotted CPU"
    );
}

#[test]
fn big_little_table_needs_a_vcpu_that_moves() {
    refused(
        &with_a("[{ cpu = 0 }]", "[vm.big-little]\npolicy = \"hint\""),
        "vm[0].big-little",
        "vm \"a\" has no vCPU that may move, so nothing follows `[vm.big-little]` (give a vCPU `cpus = [..]` with CPUs of two or more clusters)",
    );
    // `cpus` with a single CPU is pinned too.
    refused(
        &with_a("[{ cpus = [0] }]", "[vm.big-little]\npolicy = \"hint\""),
        "vm[0].big-little",
        "vm \"a\" has no vCPU that may move, so nothing follows `[vm.big-little]` (give a vCPU `cpus = [..]` with CPUs of two or more clusters)",
    );
}

#[test]
fn governor_thresholds_and_window() {
    assert_eq!(
        diags(&policy(
            "policy = \"governor\"\nwindow-us = 100\nup = 100\ndown = 99"
        )),
        []
    );
    for (up, down) in [(50, 50), (40, 60), (101, 30)] {
        refused(
            &policy(&format!("policy = \"governor\"\nup = {up}\ndown = {down}")),
            "vm[0].big-little.up",
            &format!(
                "the governor needs down < up <= 100 (hysteresis), not down = {down} and up = {up}"
            ),
        );
    }
    // The defaults (up 70, down 30) hold: only `down` given above them fails.
    refused(
        &policy("policy = \"governor\"\ndown = 80"),
        "vm[0].big-little.up",
        "the governor needs down < up <= 100 (hysteresis), not down = 80 and up = 70",
    );
    refused(
        &policy("policy = \"governor\"\nwindow-us = 99"),
        "vm[0].big-little.window-us",
        "the governor's window is at least 100 us",
    );
}

#[test]
fn plan_unknown_cluster_lists_the_boards() {
    refused(
        &policy(
            "policy = \"plan\"\nplan = [{ cluster = \"big\", us = 1000 }, { cluster = \"medium\", us = 1000 }]",
        ),
        "vm[0].big-little.plan[1].cluster",
        "board \"qemu-virt\" has no cluster \"medium\" (it has: big, little)",
    );
}

#[test]
fn plan_cluster_every_vcpu_reaches() {
    // vCPU 1 is pinned to the big CPU 1: it cannot follow a step on "little".
    let sys = with_a(
        "[{ cpus = [0, 2] }, { cpu = 1 }]",
        "[vm.big-little]\npolicy = \"plan\"\nplan = [{ cluster = \"big\", us = 1000 }, { cluster = \"little\", us = 1000 }]",
    )
    .replace("vcpus = [{ cpu = 1 }]", "vcpus = [{ cpu = 3 }]");
    refused(
        &sys,
        "vm[0].big-little.plan[1].cluster",
        "vCPU 1 of vm \"a\" has no CPU in cluster \"little\", where this step runs the whole VM (add one of the cluster's CPUs to its `cpus`)",
    );
    refused(
        &policy("policy = \"plan\"\nplan = [{ cluster = \"big\", us = 99 }]"),
        "vm[0].big-little.plan[0].us",
        "a plan step lasts at least 100 us",
    );
}

#[test]
fn a_plan_needs_policy_plan_and_policy_plan_a_plan() {
    refused(
        &policy("policy = \"hint\"\nplan = [{ cluster = \"big\", us = 1000 }]"),
        "vm[0].big-little.plan",
        "a plan is only followed with policy = \"plan\", and vm \"a\" has policy = \"hint\"",
    );
    // The default policy is "hint" too.
    refused(
        &policy("plan = [{ cluster = \"big\", us = 1000 }]"),
        "vm[0].big-little.plan",
        "a plan is only followed with policy = \"plan\", and vm \"a\" has policy = \"hint\"",
    );
    refused(
        &policy("policy = \"plan\""),
        "vm[0].big-little.plan",
        "policy \"plan\" needs at least one step",
    );
    refused(
        &policy("policy = \"plan\"\nplan = []"),
        "vm[0].big-little.plan",
        "policy \"plan\" needs at least one step",
    );
}

#[test]
fn the_image_needs_the_big_little_feature() {
    let s = Setup::new(MOVING);
    let e = crate::check_image(&s.board(), &s.system(), ImageFeatures::default())
        .expect_err("refused without big-little");
    let d = e.diagnostics();
    assert_eq!(d.len(), 1, "{e}");
    assert_eq!(d[0].field, "vm[0].vcpus[0].cpus");
    assert!(d[0].message.contains("--features big-little"), "{e}");
    assert_eq!(
        d[0].message,
        "a vCPU that may run on several CPUs needs the hypervisor built with the `big-little` feature (--features big-little)"
    );
    let with = ImageFeatures::from_names(&["big-little"]);
    assert!(with.big_little);
    crate::check_image(&s.board(), &s.system(), with).unwrap_or_else(|e| panic!("{e}"));
    // A system where nothing moves needs no feature.
    let pinned = Setup::new(&MOVING.replace("cpus = [0, 2]", "cpu = 0"));
    crate::check_image(&pinned.board(), &pinned.system(), ImageFeatures::default())
        .unwrap_or_else(|e| panic!("{e}"));
}

/// `p` with its description replaced by `f` of a copy.
fn mutated(mut p: Plan, f: impl FnOnce(&mut SystemDesc)) -> Plan {
    let d = p.desc;
    let mut m = SystemDesc {
        hv: HvDesc { ..d.hv },
        devices: DeviceDesc { ..d.devices },
        ..*d
    };
    f(&mut m);
    p.desc = Box::leak(Box::new(m));
    p
}

/// The certificate's `vcpu-placement` violations of `p`.
fn placement_violations(p: &Plan) -> Vec<String> {
    report(p)
        .violations
        .iter()
        .filter(|v| v.property == Property::VcpuPlacement)
        .map(|v| v.message.clone())
        .collect()
}

#[test]
fn the_certificate_holds_on_the_generated_description() {
    let p = Setup::new(MOVING).plan();
    let r = report(&p);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert!(r.checked.get("vcpu-placement").copied().unwrap_or(0) > 0);
}

#[test]
fn the_certificate_refuses_a_moving_vcpu_missing_from_a_schedule() {
    let p = mutated(Setup::new(MOVING).plan(), |d| {
        let cpus: Vec<CpuDesc> = d
            .cpus
            .iter()
            .enumerate()
            .map(|(c, x)| CpuDesc {
                schedule: if c == 2 { &[] } else { x.schedule },
                ..*x
            })
            .collect();
        d.cpus = crate::parts::leak(cpus);
    });
    assert_eq!(
        placement_violations(&p),
        ["vcpu 0 of a appears 0 times in CPU 2's schedule (it may run on [0, 2])"]
    );
    let e = crate::isolation::check(&p).unwrap_err();
    assert!(e.starts_with("vcpu-placement: "), "{e}");
}

#[test]
fn the_certificate_refuses_a_moving_vcpu_without_a_policy() {
    let p = mutated(Setup::new(MOVING).plan(), |d| d.migrations = &[]);
    assert_eq!(
        placement_violations(&p),
        ["vcpu 0 of a may move but its VM has no migration policy"]
    );
}

#[test]
fn a_per_cluster_midr_comes_from_the_board_and_needs_it_on_every_cluster() {
    let s = Setup::new(&policy("midr = \"per-cluster\""));
    let d = s.plan().desc;
    assert!(d.migrations[0].per_cluster_midr);
    // boards/qemu-virt/board.toml: big 0x414f_d0b1, little 0x412f_d050.
    assert_eq!(d.cpus[0].midr, 0x414f_d0b1);
    assert_eq!(d.cpus[2].midr, 0x412f_d050);
    // The default is one MIDR everywhere.
    assert!(!Setup::new(MOVING).plan().desc.migrations[0].per_cluster_midr);
    // A cluster without `midr` refuses it, naming the cluster.
    let board = std::fs::read_to_string(s.board()).unwrap();
    let without = board.replacen("midr = 0x412f_d050", "", 1);
    assert_ne!(board, without);
    std::fs::write(s.board(), without).unwrap();
    let e = crate::check(&s.board(), &s.system()).unwrap_err();
    let d: Vec<(String, String)> = e
        .diagnostics()
        .iter()
        .map(|x| (x.field.clone(), x.message.clone()))
        .collect();
    assert_eq!(
        d,
        [(
            "vm[0].big-little.midr".to_string(),
            "vCPU 0 of vm \"a\" may run in cluster \"little\", whose `midr` board \"qemu-virt\" does not give".to_string()
        )]
    );
}
