//! Putting a VM's boot payload into its RAM: at first boot and at SYSTEM_RESET.
//!
//! The pristine images live in the image store (placed by the linker at the address the
//! configuration chose); a VM's RAM is cleared and the payload copied in, then cleaned to
//! the point of coherency because the guest starts with its MMU and caches off.
use hv_core::ids::VmId;
use hv_core::sysdesc::{ImageDesc, VmDesc};

use super::generated::SYSTEM;
use crate::hvlog;

/// Prints where a VM lives.
pub fn announce(id: VmId, vm: &VmDesc) {
    let index = id.raw();
    if let Some(lw) = vm.lwvm {
        hvlog!(
            "lwvm {} (#{index}, asid {}): memory {:#x}..{:#x} at VA {:#x}, entry {:#x}",
            vm.name,
            lw.asid,
            vm.ram_pa,
            vm.ram_pa + vm.ram_size,
            vm.ram_ipa,
            vm.entry_ipa
        );
        return;
    }
    hvlog!(
        "vm {} (#{index}, vmid {}): RAM {:#x}..{:#x} at IPA {:#x}, entry {:#x}, {} vCPU(s)",
        vm.name,
        vm.vmid,
        vm.ram_pa,
        vm.ram_pa + vm.ram_size,
        vm.ram_ipa,
        vm.entry_ipa,
        vm.vcpus.len()
    );
}

/// Translates a guest-physical address inside the VM's RAM to a physical one.
pub fn ipa_to_pa(vm: &VmDesc, ipa: u64, len: u64) -> Option<u64> {
    let off = ipa.checked_sub(vm.ram_ipa)?;
    (off.checked_add(len)? <= vm.ram_size).then_some(vm.ram_pa + off)
}

fn copy_blob(vm: &VmDesc, blob: &ImageDesc) {
    let store_end = SYSTEM.hv.images_base + SYSTEM.hv.images_size;
    let Some(dst) = ipa_to_pa(vm, blob.load_ipa, blob.size) else {
        hvlog!(
            "vm {}: payload at IPA {:#x} does not fit its RAM; not loaded",
            vm.name,
            blob.load_ipa
        );
        return;
    };
    if blob.store_pa < SYSTEM.hv.images_base || blob.store_pa + blob.size > store_end {
        hvlog!(
            "vm {}: payload outside the image store; not loaded",
            vm.name
        );
        return;
    }
    // SAFETY: `dst..dst+size` lies in the VM's RAM (checked above), which no vCPU of the
    // VM is running on while it is (re)loaded; the source lies in the image store
    // (checked above); both are identity-mapped normal memory and do not overlap
    // because the layout never places VM RAM over the image store.
    unsafe { hv_arch::mem::copy(dst, blob.store_pa, blob.size) };
}

/// Clears the VM's RAM and copies its image, initrd and DTB into it.
pub fn load(vm: &VmDesc) {
    // SAFETY: the VM's RAM is identity-mapped normal memory reserved for it by the
    // layout, and none of its vCPUs runs while it is loaded.
    unsafe { hv_arch::mem::zero(vm.ram_pa, vm.ram_size) };
    copy_blob(vm, &vm.image);
    if let Some(i) = &vm.initrd {
        copy_blob(vm, i);
    }
    if let Some(d) = &vm.dtb {
        copy_blob(vm, d);
    }
    hv_arch::cache::clean_to_poc(vm.ram_pa, vm.ram_size);
}
