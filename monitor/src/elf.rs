//! The hypervisor ELF: its build id (to refuse a mismatched stream) and its defmt table.
//!
//! Contract with the hypervisor image: it carries a section named `.hv_build_id` holding the
//! image's build id as 8 bytes, little endian — the same u64 it sends as `Hello::build_id`, e.g.
//!
//! ```ignore
//! #[unsafe(link_section = ".hv_build_id")]
//! #[used]
//! static BUILD_ID: [u8; 8] = build_id::VALUE.to_le_bytes();
//! ```
//! (keep the section in the linker script: `KEEP(*(.hv_build_id))`). Log frames are decoded with
//! defmt-decoder's table from the same ELF; without a table they are shown as hex.

use anyhow::{Context, Result, bail};
use object::{Object, ObjectSection};

/// Name of the section holding the build id.
pub const BUILD_ID_SECTION: &str = ".hv_build_id";

pub struct Elf {
    pub path: String,
    pub build_id: Option<u64>,
    table: Option<defmt_decoder::Table>,
}

impl Elf {
    pub fn load(path: &str) -> Result<Self> {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read ELF {path}"))?;
        Self::parse(path, &bytes)
    }

    pub fn parse(path: &str, bytes: &[u8]) -> Result<Self> {
        let file = object::File::parse(bytes).with_context(|| format!("{path} is not an ELF"))?;
        let build_id = match file.section_by_name(BUILD_ID_SECTION) {
            Some(s) => {
                let data = s
                    .data()
                    .with_context(|| format!("{path}: {BUILD_ID_SECTION}"))?;
                let Some(id) = data.get(..8) else {
                    bail!(
                        "{path}: section {BUILD_ID_SECTION} holds {} bytes, expected 8",
                        data.len()
                    )
                };
                Some(u64::from_le_bytes(id.try_into().expect("8 bytes")))
            }
            None => None,
        };
        // An ELF without defmt data is fine (logs shown as hex); a broken table is reported.
        let table = defmt_decoder::Table::parse(bytes)
            .with_context(|| format!("{path}: defmt table does not parse"))?;
        Ok(Elf {
            path: path.to_owned(),
            build_id,
            table,
        })
    }

    /// Refuses a stream whose hello names another build than this ELF.
    pub fn check_build_id(&self, hello_build_id: u64) -> Result<()> {
        match self.build_id {
            Some(id) if id == hello_build_id => Ok(()),
            Some(id) => bail!(
                "the stream comes from build {hello_build_id:#018x} but {} is build {id:#018x}: \
                 pass the ELF of the image that is running",
                self.path
            ),
            None => bail!(
                "{} has no {BUILD_ID_SECTION} section, so it cannot be matched to the stream \
                 (build {hello_build_id:#018x}); run without --elf to see logs as hex",
                self.path
            ),
        }
    }

    pub fn has_defmt(&self) -> bool {
        self.table.is_some()
    }

    /// Text of one defmt frame, or `None` when there is no table or the frame does not decode.
    pub fn decode_log(&self, frame: &[u8]) -> Option<String> {
        let table = self.table.as_ref()?;
        let (f, _) = table.decode(frame).ok()?;
        Some(f.display_message().to_string())
    }
}

/// Log text for display: decoded when possible, else `defmt[hex…]`.
pub fn log_text(elf: Option<&Elf>, frame: &[u8]) -> String {
    elf.and_then(|e| e.decode_log(frame)).unwrap_or_else(|| {
        let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
        format!("defmt[{hex}]")
    })
}
