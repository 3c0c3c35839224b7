extern crate std;
use core::cell::RefCell;
use std::vec::Vec;

use super::*;
use crate::ids::{CpuId, VcpuId, VmId};

/// A core that records what extensions asked of it.
#[derive(Default)]
struct Rec {
    calls: RefCell<Vec<&'static str>>,
}

impl Core for Rec {
    type Vcpu = u64;
    type Exit = ();
    fn load_payload(&self, _vm: VmId) {
        self.calls.borrow_mut().push("load");
    }
    fn vm_alive(&self, _vm: VmId) -> bool {
        true
    }
    fn vm_off(&self, _vm: VmId) {
        self.calls.borrow_mut().push("off");
    }
    fn kick(&self, _v: VcpuId) {}
    fn raise(&self, _vm: VmId, _intid: u32) -> Result<(), NotOwned> {
        Ok(())
    }
    fn console_write(&self, _vm: VmId, _bytes: &[u8]) {}
    fn console_flush(&self, _vm: VmId) {}
    fn marker(&self, _v: VcpuId, _id: u16, _value: u64) {}
    fn trap_enter(&self, _cpu: CpuId, _v: VcpuId, _state: &u64) {}
    fn trap_exit(&self, _cpu: CpuId, _v: VcpuId, _why: &(), _state: &u64) {}
}

/// Claims one VM; runs it by bumping its state; names itself in every call.
struct Claims(VmId, &'static str);

impl Extension<Rec> for Claims {
    fn claims_vm(&self, vm: VmId) -> bool {
        vm == self.0
    }
    fn boot_vm(&self, core: &Rec, _vm: VmId, _state: &mut u64) {
        core.calls.borrow_mut().push(self.1);
        core.load_payload(self.0);
    }
    fn run(&self, core: &Rec, _cpu: CpuId, _vm: VmId, _v: VcpuId, state: &mut u64) -> Ran {
        core.calls.borrow_mut().push(self.1);
        *state += 1;
        Ran::PhysicalIrq
    }
    fn has_events(&self, _vm: VmId, _v: VcpuId) -> bool {
        true
    }
    fn stage2_root(&self, vm: VmId) -> Option<u64> {
        (vm == self.0).then_some(0x1000 * (vm.raw() as u64 + 1))
    }
}

#[test]
fn no_extension_claims_nothing_and_answers_nothing() {
    let none = ();
    assert!(!Extension::<Rec>::claims_vm(&none, vm(0)));
    assert!(!Extension::<Rec>::has_events(&none, vm(0), VcpuId::new(0)));
    assert_eq!(Extension::<Rec>::stage2_root(&none, vm(3)), None);
    assert_eq!(Extension::<Rec>::departure(&none, CpuId::new(3)), None);
    let mut st = 0;
    assert_eq!(
        Extension::<Rec>::run(
            &none,
            &Rec::default(),
            CpuId::new(0),
            vm(0),
            VcpuId::new(0),
            &mut st
        ),
        Ran::Handled
    );
}

#[test]
fn a_pair_dispatches_each_vm_to_the_extension_that_claims_it() {
    let core = Rec::default();
    let pair = (Claims(vm(1), "a"), (Claims(vm(2), "b"), ()));
    assert!(pair.claims_vm(vm(1)) && pair.claims_vm(vm(2)) && !pair.claims_vm(vm(0)));
    pair.boot_vm(&core, vm(2), &mut 0);
    pair.boot_vm(&core, vm(1), &mut 0);
    let mut st = 0;
    let ran = pair.run(&core, CpuId::new(0), vm(2), VcpuId::new(0), &mut st);
    assert_eq!(
        (st, ran),
        (1, Ran::PhysicalIrq),
        "run once, by its owner only, whose decision is returned"
    );
    assert_eq!(*core.calls.borrow(), ["b", "load", "a", "load", "b"]);
    assert!(
        !pair.has_events(vm(0), VcpuId::new(0)),
        "an unclaimed VM has no extension events"
    );
    assert_eq!(pair.stage2_root(vm(2)), Some(0x3000));
    assert_eq!(pair.stage2_root(vm(0)), None);
}

fn vm(raw: u16) -> VmId {
    VmId::new(raw)
}
