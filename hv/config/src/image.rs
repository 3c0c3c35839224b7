//! Guest payloads in the three formats QEMU's `-kernel` loader boots, told apart by
//! their first bytes in the order QEMU tries them ([`Format::detect`]): ELF files
//! flattened into blobs, Linux arm64 `Image` files checked and placed at their
//! `text_offset`, anything else a raw binary loaded at RAM + [`RAW_OFFSET`] and entered
//! at its first byte.
//!
//! A blob is copied verbatim into the VM's RAM at `load_ipa` when the VM starts, so an
//! ELF is flattened from its PT_LOAD segments by *physical* address (`p_paddr`, what a
//! loader without an MMU uses): a position-dependent ELF is loaded at the VM's IPAs it
//! was linked for. BSS past the last file-backed byte is not stored: the guest runtime
//! zeroes it (guests/rt does). Gaps between segments become zeros.

use crate::error::Diagnostic;
use crate::fmt::{hex, range};
use object::elf::{FileHeader64, PT_LOAD};
use object::read::elf::{ElfFile64, FileHeader, ProgramHeader};
use object::{Endianness, Object};
use std::path::Path;

/// A flattened payload and where it goes in the VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    /// Bytes to copy.
    pub bytes: Vec<u8>,
    /// Guest-physical address of the first byte.
    pub load_ipa: u64,
}

/// What one guest boots: a VM's (see [`crate::payload`]) or an extension's guest's.
#[derive(Debug, Clone)]
pub struct Payload {
    /// The ELF blob or the Linux kernel.
    pub image: Blob,
    /// The initial RAM disk of a Linux guest.
    pub initrd: Option<Blob>,
    /// The device tree of a Linux guest (generated).
    pub dtb: Option<Blob>,
    /// Guest-physical entry point.
    pub entry_ipa: u64,
}

/// What a payload file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// An ELF file (starts with `\x7fELF`): loaded by its segments' physical addresses.
    Elf,
    /// A Linux arm64 `Image` (`ARM\x64` at offset 56): placed per the boot protocol.
    LinuxImage,
    /// Anything else: a raw binary, as QEMU loads a non-ELF, non-Linux `-kernel`.
    Raw,
}

impl Format {
    /// The format of `data`, decided as QEMU's loader decides it (ELF first, then the
    /// Linux header, else raw; QEMU's U-Boot images are not supported).
    pub fn detect(data: &[u8]) -> Format {
        if data.starts_with(b"\x7fELF") {
            Format::Elf
        } else if data.get(56..60) == Some(&ARM64_MAGIC.to_le_bytes()[..]) {
            Format::LinuxImage
        } else {
            Format::Raw
        }
    }

    /// Human name, for errors and the layout.
    pub fn name(self) -> &'static str {
        match self {
            Format::Elf => "ELF",
            Format::LinuxImage => "Linux Image",
            Format::Raw => "raw binary",
        }
    }
}

/// Offset from the RAM base at which a raw binary is loaded and entered: QEMU's
/// `KERNEL64_LOAD_ADDR`, so a binary built for `qemu -kernel` runs unchanged.
pub const RAW_OFFSET: u64 = 0x8_0000;

/// A payload file read for a VM.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// What to copy into RAM.
    pub blob: Blob,
    /// Guest-physical entry point.
    pub entry: u64,
    /// First IPA past everything the payload occupies once running as far as its file
    /// says (an ELF's memory sizes, a Linux `image_size`; a raw binary's file size):
    /// an initrd or device tree is placed after it.
    pub end: u64,
    /// The format it was read as.
    pub format: Format,
}

/// Reads a payload of any [`Format`] for a VM whose RAM is `[ram_ipa, ram_ipa +
/// ram_size)`. Errors name `file` and what is wrong with it.
pub fn load(
    file: &Path,
    vm: &str,
    data: &[u8],
    ram_ipa: u64,
    ram_size: u64,
) -> Result<Loaded, Diagnostic> {
    let format = Format::detect(data);
    let (blob, entry, end) = match format {
        Format::Elf => {
            let (blob, entry) = elf_to_blob(file, vm, data, ram_ipa, ram_size)?;
            let end = elf_end(data).max(blob.load_ipa + blob.bytes.len() as u64);
            (blob, entry, end)
        }
        Format::LinuxImage => {
            let (blob, size) = linux_kernel(file, vm, data, ram_ipa, ram_size)?;
            (blob.clone(), blob.load_ipa, blob.load_ipa + size)
        }
        Format::Raw => {
            let blob = raw_binary(file, vm, data, ram_ipa, ram_size)?;
            let end = blob.load_ipa + blob.bytes.len() as u64;
            (blob.clone(), blob.load_ipa, end)
        }
    };
    Ok(Loaded {
        blob,
        entry,
        end,
        format,
    })
}

/// Places a raw binary at RAM + [`RAW_OFFSET`]; it must fit in the VM's RAM.
pub fn raw_binary(
    file: &Path,
    vm: &str,
    data: &[u8],
    ram_ipa: u64,
    ram_size: u64,
) -> Result<Blob, Diagnostic> {
    let err = |msg: String| Diagnostic::new(file, "", msg);
    if data.is_empty() {
        return Err(err(
            "the file is empty (neither an ELF file, a Linux Image nor a raw binary)".into(),
        ));
    }
    let load = ram_ipa.saturating_add(RAW_OFFSET);
    let len = data.len() as u64;
    if RAW_OFFSET.saturating_add(len) > ram_size {
        return Err(err(format!(
            "raw binary of {} bytes (no ELF or Linux Image header) does not fit at {} in vm \"{vm}\" RAM at IPA {}",
            len,
            hex(load),
            range(ram_ipa, ram_size)
        )));
    }
    Ok(Blob {
        bytes: data.to_vec(),
        load_ipa: load,
    })
}

/// The end of an ELF's loadable segments in memory (`p_paddr + p_memsz`, BSS included);
/// 0 if it cannot be read (the caller has parsed it already).
fn elf_end(data: &[u8]) -> u64 {
    let Ok(elf) = ElfFile64::<Endianness>::parse(data) else {
        return 0;
    };
    let endian = elf.endian();
    elf.elf_program_headers()
        .iter()
        .filter(|ph| ph.p_type(endian) == PT_LOAD)
        .map(|ph| ph.p_paddr(endian).saturating_add(ph.p_memsz(endian)))
        .max()
        .unwrap_or(0)
}

/// Flattens an ELF for a VM whose RAM is `[ram_ipa, ram_ipa + ram_size)`; returns the
/// blob and the entry point (e_entry).
pub fn elf_to_blob(
    file: &Path,
    vm: &str,
    data: &[u8],
    ram_ipa: u64,
    ram_size: u64,
) -> Result<(Blob, u64), Diagnostic> {
    let err = |msg: String| Diagnostic::new(file, "", msg);
    let elf = ElfFile64::<Endianness>::parse(data)
        .map_err(|e| err(format!("not a 64-bit ELF file: {e}")))?;
    let endian = elf.endian();
    let header: &FileHeader64<Endianness> = elf.elf_header();
    if header.e_machine(endian) != object::elf::EM_AARCH64 {
        return Err(err("not an AArch64 ELF file".into()));
    }
    let ram_end = ram_ipa.saturating_add(ram_size);
    let mut segments = Vec::new();
    for (i, ph) in elf.elf_program_headers().iter().enumerate() {
        if ph.p_type(endian) != PT_LOAD || ph.p_memsz(endian) == 0 {
            continue;
        }
        let (pa, memsz) = (ph.p_paddr(endian), ph.p_memsz(endian));
        if pa < ram_ipa || pa.checked_add(memsz).is_none_or(|end| end > ram_end) {
            return Err(err(format!(
                "PT_LOAD segment {i} at {} lies outside vm \"{vm}\" RAM at IPA {}",
                range(pa, memsz),
                range(ram_ipa, ram_size)
            )));
        }
        let bytes = ph
            .data(endian, data)
            .map_err(|()| err(format!("PT_LOAD segment {i} lies outside the file")))?;
        segments.push((pa, bytes));
    }
    let entry = elf.entry();
    let Some(start) = segments.iter().map(|s| s.0).min() else {
        return Err(err("the ELF file has no PT_LOAD segment".into()));
    };
    let end = segments
        .iter()
        .map(|(pa, b)| pa + b.len() as u64)
        .max()
        .unwrap_or(start);
    let mut bytes = vec![0u8; (end - start) as usize];
    for (pa, b) in segments {
        let off = (pa - start) as usize;
        bytes[off..off + b.len()].copy_from_slice(b);
    }
    if entry < ram_ipa || entry >= ram_end {
        return Err(err(format!(
            "entry point {} lies outside vm \"{vm}\" RAM at IPA {}",
            hex(entry),
            range(ram_ipa, ram_size)
        )));
    }
    Ok((
        Blob {
            bytes,
            load_ipa: start,
        },
        entry,
    ))
}

/// Magic of an arm64 Linux `Image` header (offset 56).
const ARM64_MAGIC: u32 = 0x644d_5241;

/// Checks a Linux arm64 `Image` and places it per the boot protocol: at `text_offset`
/// above the 2 MiB aligned RAM base. Returns the blob and the bytes the kernel occupies
/// (its `image_size`, which includes BSS).
pub fn linux_kernel(
    file: &Path,
    vm: &str,
    data: &[u8],
    ram_ipa: u64,
    ram_size: u64,
) -> Result<(Blob, u64), Diagnostic> {
    let err = |msg: String| Diagnostic::new(file, "", msg);
    let word = |off: usize| {
        data.get(off..off + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
    };
    let magic = data
        .get(56..60)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if magic != Some(ARM64_MAGIC) {
        return Err(err(
            "not an arm64 Linux Image (no \"ARM\\x64\" magic at offset 56)".into(),
        ));
    }
    let text_offset = word(8).unwrap_or(0);
    let image_size = word(16)
        .filter(|&s| s != 0)
        .unwrap_or(data.len() as u64)
        .max(data.len() as u64);
    let load = ram_ipa.saturating_add(text_offset);
    if load.saturating_add(image_size) > ram_ipa.saturating_add(ram_size) {
        return Err(err(format!(
            "the kernel needs {} at {} but vm \"{vm}\" RAM is {}",
            hex(image_size),
            hex(load),
            range(ram_ipa, ram_size)
        )));
    }
    Ok((
        Blob {
            bytes: data.to_vec(),
            load_ipa: load,
        },
        image_size,
    ))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal AArch64 ELF: one PT_LOAD per `(paddr, data, memsz)`.
    pub(crate) fn tiny_elf(entry: u64, segs: &[(u64, &[u8], u64)]) -> Vec<u8> {
        let phoff = 64u64;
        let data_off = phoff + 56 * segs.len() as u64;
        let mut out = Vec::new();
        out.extend_from_slice(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
        out.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        out.extend_from_slice(&183u16.to_le_bytes()); // EM_AARCH64
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&entry.to_le_bytes());
        out.extend_from_slice(&phoff.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes()); // shoff
        out.extend_from_slice(&0u32.to_le_bytes()); // flags
        for v in [64u16, 56, segs.len() as u16, 64, 0, 0] {
            out.extend_from_slice(&v.to_le_bytes());
        }
        let mut off = data_off;
        for (pa, d, memsz) in segs {
            out.extend_from_slice(&1u32.to_le_bytes());
            out.extend_from_slice(&7u32.to_le_bytes());
            for v in [off, *pa, *pa, d.len() as u64, *memsz, 0x1000] {
                out.extend_from_slice(&v.to_le_bytes());
            }
            off += d.len() as u64;
        }
        for (_, d, _) in segs {
            out.extend_from_slice(d);
        }
        out
    }

    const RAM: u64 = 0x4000_0000;

    #[test]
    fn flattens_segments_with_gaps() {
        let elf = tiny_elf(RAM + 4, &[(RAM, b"abcd", 4), (RAM + 8, b"xy", 0x100)]);
        let (blob, entry) = elf_to_blob(Path::new("g"), "a", &elf, RAM, 1 << 20).unwrap();
        assert_eq!(entry, RAM + 4);
        assert_eq!(blob.load_ipa, RAM);
        assert_eq!(blob.bytes, b"abcd\0\0\0\0xy");
    }

    #[test]
    fn rejects_segment_outside_ram() {
        let elf = tiny_elf(RAM, &[(RAM + 0xff000, b"abcd", 0x2000)]);
        let e = elf_to_blob(Path::new("img/g"), "a", &elf, RAM, 1 << 20)
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with(
                "img/g: PT_LOAD segment 0 at 0x400f_f000..0x4010_1000 lies outside vm \"a\" RAM"
            ),
            "{e}"
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(
            elf_to_blob(Path::new("g"), "a", b"hello", RAM, 1 << 20)
                .unwrap_err()
                .to_string()
                .contains("not a 64-bit ELF")
        );
    }

    #[test]
    fn formats_are_told_apart_as_qemu_does() {
        let elf = tiny_elf(RAM, &[(RAM, b"abcd", 0x3000)]);
        let l = load(Path::new("g"), "a", &elf, RAM, 1 << 20).unwrap();
        assert_eq!((l.format, l.entry, l.end), (Format::Elf, RAM, RAM + 0x3000));
        let raw = b"\x00\x00\x00\x14 raw code".to_vec();
        let l = load(Path::new("r"), "a", &raw, RAM, 1 << 20).unwrap();
        assert_eq!(l.format, Format::Raw);
        assert_eq!(
            (l.blob.load_ipa, l.entry),
            (RAM + RAW_OFFSET, RAM + RAW_OFFSET)
        );
        assert_eq!(l.end, RAM + RAW_OFFSET + raw.len() as u64);
        let mut img = vec![0u8; 128];
        img[56..60].copy_from_slice(&ARM64_MAGIC.to_le_bytes());
        assert_eq!(Format::detect(&img), Format::LinuxImage);
    }

    #[test]
    fn raw_binary_bigger_than_ram_is_named() {
        let raw = vec![1u8; 0x10_0000];
        let e = load(Path::new("img/big.bin"), "a", &raw, RAM, 1 << 20)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "img/big.bin: raw binary of 1048576 bytes (no ELF or Linux Image header) does not fit at 0x4008_0000 in vm \"a\" RAM at IPA 0x4000_0000..0x4010_0000"
        );
        assert!(
            load(Path::new("e"), "a", &[], RAM, 1 << 20)
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[test]
    fn linux_image_is_placed_at_text_offset() {
        let mut img = vec![0u8; 128];
        img[8..16].copy_from_slice(&0x8_0000u64.to_le_bytes());
        img[16..24].copy_from_slice(&0x10_0000u64.to_le_bytes());
        img[56..60].copy_from_slice(&ARM64_MAGIC.to_le_bytes());
        let (blob, size) = linux_kernel(Path::new("k"), "l", &img, RAM, 16 << 20).unwrap();
        assert_eq!((blob.load_ipa, size), (RAM + 0x8_0000, 0x10_0000));
        assert!(linux_kernel(Path::new("k"), "l", &img, RAM, 1 << 20).is_err());
        assert!(linux_kernel(Path::new("k"), "l", &img[..50], RAM, 16 << 20).is_err());
    }
}
