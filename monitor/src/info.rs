//! An owned copy of the hello: what the rest of the monitor needs to name things and convert time.

use hv_protocol::Hello;
use serde::Serialize;

use crate::time::Clock;

/// Most VMs a hello may name (VM ids of the vCPU map are bytes).
pub const MAX_VMS: usize = 256;
/// Most vCPUs a hello may map; a longer map is cut here (ids beyond are invalid).
pub const MAX_VCPUS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Info {
    pub version: u16,
    #[serde(serialize_with = "hex")]
    pub schema: u64,
    #[serde(serialize_with = "hex")]
    pub build_id: u64,
    #[serde(serialize_with = "hex")]
    pub config_id: u64,
    pub counter_hz: u64,
    pub cpus: u16,
    pub features: Vec<String>,
    pub vms: Vec<String>,
    pub vcpu_vm: Vec<u8>,
}

fn hex<S: serde::Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{v:#018x}"))
}

impl Info {
    pub fn from_hello(h: &Hello<'_>) -> Self {
        Info {
            version: h.version,
            schema: h.schema,
            build_id: h.build_id,
            config_id: h.config_id,
            counter_hz: h.counter_hz,
            cpus: h.cpus.min(hv_protocol::MAX_CPUS as u16),
            features: h.feature_list().map(str::to_owned).collect(),
            vms: h
                .vm_names
                .split(',')
                .filter(|s| !s.is_empty())
                .take(MAX_VMS)
                .map(str::to_owned)
                .collect(),
            vcpu_vm: h.vcpu_vm[..h.vcpu_vm.len().min(MAX_VCPUS)].to_vec(),
        }
    }

    pub fn clock(&self) -> Clock {
        Clock::new(self.counter_hz)
    }

    /// Whether every CPU, vCPU and VM id `e` names exists in this hello.
    pub fn ids_valid(&self, cpu: u16, e: &hv_protocol::Event<'_>) -> bool {
        use hv_protocol::Event::*;
        let vcpu = |v: u16| usize::from(v) < self.vcpu_vm.len();
        let vm = |v: u16| usize::from(v) < self.vms.len();
        cpu < self.cpus
            && match *e {
                Switch { from, to, .. } => from.is_none_or(vcpu) && to.is_none_or(vcpu),
                Trap { vcpu: v, .. }
                | IrqInjected { vcpu: v, .. }
                | Hypercall { vcpu: v, .. }
                | Marker { vcpu: v, .. } => vcpu(v),
                Migrated {
                    vcpu: v, from, to, ..
                } => vcpu(v) && from < self.cpus && to < self.cpus,
                Console { vm: v, .. }
                | VmExit { vm: v, .. }
                | Elastic { vm: v, .. }
                | Shadow { vm: v, .. } => vm(v),
                Log { .. } | Counters { .. } | Dropped { .. } => true,
            }
    }

    /// Name of VM `vm`, or `vm<N>` when the hello does not list it.
    pub fn vm_name(&self, vm: u16) -> String {
        self.vms
            .get(vm as usize)
            .cloned()
            .unwrap_or_else(|| format!("vm{vm}"))
    }

    /// VM of vCPU `vcpu`, if known.
    pub fn vm_of(&self, vcpu: u16) -> Option<u16> {
        self.vcpu_vm.get(vcpu as usize).map(|&v| u16::from(v))
    }

    /// `linux/vcpu1`-style label of a vCPU (the index within its VM).
    pub fn vcpu_label(&self, vcpu: u16) -> String {
        match self.vm_of(vcpu) {
            Some(vm) => {
                let local = self.vcpu_vm[..vcpu as usize]
                    .iter()
                    .filter(|&&v| u16::from(v) == vm)
                    .count();
                format!("{}/vcpu{local}", self.vm_name(vm))
            }
            None => format!("vcpu{vcpu}"),
        }
    }
}
