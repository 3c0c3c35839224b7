extern crate std;
use core::cell::RefCell;
use std::vec::Vec;

use super::*;

/// A core that records what extensions asked of it.
#[derive(Default)]
struct Rec {
    calls: RefCell<Vec<&'static str>>,
}

impl Core for Rec {
    type Vcpu = u64;
    type Cpu = ();
    type Exit = ();
    fn load_payload(&self, _vm: VmIndex) {
        self.calls.borrow_mut().push("load");
    }
    fn vm_alive(&self, _vm: VmIndex) -> bool {
        true
    }
    fn vm_off(&self, _vm: VmIndex) {
        self.calls.borrow_mut().push("off");
    }
    fn kick(&self, _v: VcpuIndex) {}
    fn raise(&self, _vm: VmIndex, _intid: u32) -> Result<(), NotOwned> {
        Ok(())
    }
    fn console_write(&self, _vm: VmIndex, _bytes: &[u8]) {}
    fn console_flush(&self, _vm: VmIndex) {}
    fn physical_irqs(&self, _cpu: &mut ()) {}
    fn marker(&self, _v: VcpuIndex, _id: u16, _value: u64) {}
    fn trap_enter(&self, _cpu: &(), _v: VcpuIndex, _state: &u64) {}
    fn trap_exit(&self, _cpu: &(), _v: VcpuIndex, _why: &(), _state: &u64) {}
}

/// Claims one VM; runs it by bumping its state; names itself in every call.
struct Claims(VmIndex, &'static str);

impl Extension<Rec> for Claims {
    fn claims_vm(&self, vm: VmIndex) -> bool {
        vm == self.0
    }
    fn boot_vm(&self, core: &Rec, _vm: VmIndex, _state: &mut u64) {
        core.calls.borrow_mut().push(self.1);
        core.load_payload(self.0);
    }
    fn run(&self, core: &Rec, _cpu: &mut (), _vm: VmIndex, _v: VcpuIndex, state: &mut u64) {
        core.calls.borrow_mut().push(self.1);
        *state += 1;
    }
    fn has_events(&self, _vm: VmIndex, _v: VcpuIndex) -> bool {
        true
    }
    fn stage2_root(&self, vm: VmIndex) -> Option<u64> {
        (vm == self.0).then_some(0x1000 * (vm as u64 + 1))
    }
}

#[test]
fn no_extension_claims_nothing_and_answers_nothing() {
    let none = ();
    assert!(!Extension::<Rec>::claims_vm(&none, 0));
    assert!(!Extension::<Rec>::has_events(&none, 0, 0));
    assert_eq!(Extension::<Rec>::stage2_root(&none, 3), None);
    assert_eq!(Extension::<Rec>::placement(&none, 3), None);
}

#[test]
fn a_pair_dispatches_each_vm_to_the_extension_that_claims_it() {
    let core = Rec::default();
    let pair = (Claims(1, "a"), (Claims(2, "b"), ()));
    assert!(pair.claims_vm(1) && pair.claims_vm(2) && !pair.claims_vm(0));
    pair.boot_vm(&core, 2, &mut 0);
    pair.boot_vm(&core, 1, &mut 0);
    let mut st = 0;
    pair.run(&core, &mut (), 2, 0, &mut st);
    assert_eq!(st, 1, "run once, by its owner only");
    assert_eq!(*core.calls.borrow(), ["b", "load", "a", "load", "b"]);
    assert!(
        !pair.has_events(0, 0),
        "an unclaimed VM has no extension events"
    );
    assert_eq!(pair.stage2_root(2), Some(0x3000));
    assert_eq!(pair.stage2_root(0), None);
}
