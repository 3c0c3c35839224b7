//! Building and checking the hello: how two builds recognise whether they can talk.

use crate::schema::{MAGIC, SCHEMA_HASH, VERSION};
use crate::wire::Hello;

impl<'a> Hello<'a> {
    /// A hello for this build of the protocol (magic, version and schema filled in).
    #[allow(clippy::too_many_arguments)]
    pub const fn new(
        build_id: u64,
        config_id: u64,
        counter_hz: u64,
        cpus: u16,
        features: &'a str,
        vm_names: &'a str,
        vcpu_vm: &'a [u8],
    ) -> Self {
        Hello {
            magic: MAGIC,
            version: VERSION,
            schema: SCHEMA_HASH,
            build_id,
            config_id,
            counter_hz,
            cpus,
            features,
            vm_names,
            vcpu_vm,
        }
    }

    /// Name of VM `id`, if the hello lists it.
    pub fn vm_name(&self, id: u16) -> Option<&'a str> {
        self.vm_names
            .split(',')
            .filter(|s| !s.is_empty())
            .nth(id as usize)
    }

    /// VM that vCPU `vcpu` belongs to.
    pub fn vm_of_vcpu(&self, vcpu: u16) -> Option<u16> {
        self.vcpu_vm.get(vcpu as usize).map(|&v| v as u16)
    }

    /// Enabled cargo features of the image.
    pub fn feature_list(&self) -> impl Iterator<Item = &'a str> {
        self.features.split(',').filter(|s| !s.is_empty())
    }

    /// Checks that a monitor built from this crate can decode the producer's stream.
    pub fn check(&self) -> Result<(), Mismatch> {
        check_prefix(self.magic, self.version, self.schema)
    }
}

/// The part of the hello that every version shares, checked before the rest is trusted.
pub(crate) fn check_prefix(magic: [u8; 4], version: u16, schema: u64) -> Result<(), Mismatch> {
    if magic != MAGIC {
        return Err(Mismatch::Magic { found: magic });
    }
    if version != VERSION {
        return Err(Mismatch::Version {
            target: version,
            monitor: VERSION,
        });
    }
    if schema != SCHEMA_HASH {
        return Err(Mismatch::Schema {
            target: schema,
            monitor: SCHEMA_HASH,
        });
    }
    Ok(())
}

/// Why a stream is refused. The messages say which side to rebuild.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mismatch {
    /// Not a hypervisor telemetry stream (or a different protocol entirely).
    Magic { found: [u8; 4] },
    /// Different framing versions.
    Version { target: u16, monitor: u16 },
    /// Same framing, different event types: the two were built from different sources.
    Schema { target: u64, monitor: u64 },
}

impl core::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Mismatch::Magic { found } => write!(
                f,
                "not a hypervisor telemetry stream: hello magic {found:02x?}, expected {MAGIC:02x?}"
            ),
            Mismatch::Version { target, monitor } if target > monitor => write!(
                f,
                "the hypervisor speaks protocol version {target}, this monitor only {monitor}: \
                 the hypervisor is newer, rebuild the monitor from the same sources"
            ),
            Mismatch::Version { target, monitor } => write!(
                f,
                "the hypervisor speaks protocol version {target}, this monitor {monitor}: \
                 the monitor is newer, rebuild the hypervisor or use an older monitor"
            ),
            Mismatch::Schema { target, monitor } => write!(
                f,
                "event schema differs (hypervisor {target:#018x}, monitor {monitor:#018x}) at the \
                 same protocol version {VERSION}: the two were built from different sources of \
                 monitor/protocol; rebuild both from one checkout"
            ),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Mismatch {}
