//! The linked hypervisor ELF as the checker sees it: its allocated sections (what the
//! loader puts in memory, at which address, with which rights the linker gave them),
//! its symbols and its debug sections.

use super::dwarf::Memory;
use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SectionKind};
use std::collections::HashMap;

/// Symbol under which the generated system descriptor is exported (hv-config's emit).
pub const SYSTEM_SYMBOL: &str = "HV_SYSTEM";
/// Section holding the pregenerated page tables.
pub const TABLES_SECTION: &str = ".hv_tables";
/// Section holding the pristine guest images.
pub const IMAGES_SECTION: &str = ".hv_images";

/// What the linker says a section is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Executable (SHF_EXECINSTR).
    Code,
    /// Loaded, neither writable nor executable.
    ReadOnly,
    /// Writable (SHF_WRITE): data, bss, stacks.
    Writable,
}

/// One allocated section.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its name.
    pub name: String,
    /// Virtual (= physical: the EL2 map is an identity map) address.
    pub addr: u64,
    /// Bytes in memory.
    pub size: u64,
    /// Rights it needs.
    pub kind: Kind,
    /// Offset of its bytes in the file (None: NOBITS, zero-filled).
    pub file_offset: Option<u64>,
}

/// A parsed image.
pub struct Elf {
    /// The file.
    pub bytes: Vec<u8>,
    /// Allocated, non-empty sections in address order.
    pub sections: Vec<Section>,
    symbols: HashMap<String, (u64, u64)>,
}

impl Elf {
    /// Parses an aarch64 ELF executable.
    pub fn parse(bytes: Vec<u8>) -> Result<Elf, String> {
        let (sections, symbols) = {
            let f = object::File::parse(&*bytes).map_err(|e| format!("not an ELF file: {e}"))?;
            if f.architecture() != object::Architecture::Aarch64 {
                return Err(format!("not an aarch64 image ({:?})", f.architecture()));
            }
            let mut sections = Vec::new();
            for s in f.sections() {
                let SectionFlags::Elf { sh_flags, .. } = s.flags() else {
                    continue;
                };
                let alloc = sh_flags.0 & object::elf::SHF_ALLOC.0 != 0;
                if !alloc || s.size() == 0 {
                    continue;
                }
                let nobits = matches!(
                    s.kind(),
                    SectionKind::UninitializedData | SectionKind::UninitializedTls
                );
                // A NOBITS section (bss, stacks) is memory the code writes, whatever flags
                // the linker gave an output section that only reserves space.
                let kind = if sh_flags.0 & object::elf::SHF_EXECINSTR.0 != 0 {
                    Kind::Code
                } else if nobits || sh_flags.0 & object::elf::SHF_WRITE.0 != 0 {
                    Kind::Writable
                } else {
                    Kind::ReadOnly
                };
                let file_offset = if nobits {
                    None
                } else {
                    s.file_range().map(|(o, _)| o)
                };
                sections.push(Section {
                    name: s.name().unwrap_or("?").to_string(),
                    addr: s.address(),
                    size: s.size(),
                    kind,
                    file_offset,
                });
            }
            sections.sort_by_key(|s| s.addr);
            let symbols = f
                .symbols()
                .filter_map(|s| Some((s.name().ok()?.to_string(), (s.address(), s.size()))))
                .collect();
            (sections, symbols)
        };
        Ok(Elf {
            bytes,
            sections,
            symbols,
        })
    }

    /// Address and size of symbol `name`.
    pub fn symbol(&self, name: &str) -> Result<(u64, u64), String> {
        self.symbols
            .get(name)
            .copied()
            .ok_or_else(|| format!("the image has no symbol `{name}`"))
    }

    /// The allocated section called `name`.
    pub fn section(&self, name: &str) -> Result<&Section, String> {
        self.sections
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| format!("the image has no section `{name}`"))
    }

    /// Bytes of a non-allocated (debug) section, empty if absent.
    pub fn debug_section(&self, name: &str) -> &[u8] {
        object::File::parse(&*self.bytes)
            .ok()
            .and_then(|f| {
                let s = f.section_by_name(name)?;
                let (o, l) = s.file_range()?;
                Some((o as usize, l as usize))
            })
            .and_then(|(o, l)| self.bytes.get(o..o + l))
            .unwrap_or(&[])
    }

    /// File offset of the byte loaded at `addr` (None: not in the file).
    pub fn file_offset(&self, addr: u64) -> Option<usize> {
        let s = self
            .sections
            .iter()
            .find(|s| addr >= s.addr && addr < s.addr + s.size)?;
        Some((s.file_offset? + (addr - s.addr)) as usize)
    }
}

impl Memory for Elf {
    fn read(&self, addr: u64, len: u64) -> Result<Vec<u8>, String> {
        let s = self
            .sections
            .iter()
            .find(|s| addr >= s.addr && addr.saturating_add(len) <= s.addr + s.size)
            .ok_or_else(|| format!("{len} bytes at {addr:#x} are not inside one loaded section"))?;
        match s.file_offset {
            None => Ok(vec![0; len as usize]),
            Some(o) => {
                let at = (o + (addr - s.addr)) as usize;
                self.bytes
                    .get(at..at + len as usize)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| format!("section {} is cut short in the file", s.name))
            }
        }
    }
}
