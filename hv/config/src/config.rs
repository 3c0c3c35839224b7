//! The two descriptions read together: the input of every later stage.

use crate::board::Board;
use crate::error::{ConfigError, read_text};
use crate::system::System;
use std::path::{Path, PathBuf};

/// A board and a system description, with where they came from.
#[derive(Debug, Clone)]
pub struct Config {
    /// The parsed board.
    pub board: Board,
    /// The board file (named in errors about it).
    pub board_file: PathBuf,
    /// Its text (hashed into the configuration id).
    pub board_text: String,
    /// The parsed system.
    pub system: System,
    /// The system file.
    pub system_file: PathBuf,
    /// Its text.
    pub system_text: String,
    /// The image is built to run with HCR_EL2.E2H=1 whatever the system says (the `hv`
    /// crate's `lwvm` feature): generate the VHE flavour of the EL2 tables.
    pub force_vhe: bool,
}

impl Config {
    /// Reads and parses both files.
    pub fn load(board: &Path, system: &Path) -> Result<Config, ConfigError> {
        let board_text = read_text(board)?;
        let system_text = read_text(system)?;
        Config::from_texts(board, board_text, system, system_text)
    }

    /// Parses both texts; the paths are used in errors only.
    pub fn from_texts(
        board_file: &Path,
        board_text: String,
        system_file: &Path,
        system_text: String,
    ) -> Result<Config, ConfigError> {
        let board = Board::parse(board_file, &board_text);
        let system = System::parse(system_file, &system_text);
        match (board, system) {
            (Ok(board), Ok(system)) => Ok(Config {
                board,
                board_file: board_file.to_path_buf(),
                board_text,
                system,
                system_file: system_file.to_path_buf(),
                system_text,
                force_vhe: false,
            }),
            (Err(a), Err(b)) => {
                let mut d = a.diagnostics().to_vec();
                d.extend_from_slice(b.diagnostics());
                Err(ConfigError::Invalid(d))
            }
            (Err(e), _) | (_, Err(e)) => Err(e),
        }
    }

    /// Whether the hypervisor runs with HCR_EL2.E2H=1 (VHE): asked for by the image
    /// build, by `[hypervisor] vhe = true`, or implied by lightweight VMs.
    pub fn vhe(&self) -> bool {
        self.force_vhe || self.system.hypervisor.vhe || !self.system.lwvm.is_empty()
    }

    /// Guest-physical base of VM `i`'s RAM: its physical base for an `identity` VM.
    pub fn vm_ipa(&self, i: usize) -> u64 {
        let v = &self.system.vm[i];
        match (v.identity, self.vm_base(i)) {
            (true, Some(base)) => base,
            _ => v.ipa.map_or(self.board.memory.ram.base.0, |s| s.0),
        }
    }

    /// Fixed physical base of VM `i`'s RAM: its `base`, or for an `identity` VM without
    /// one, a place decided before the layout (the payloads need the IPA): identity VMs
    /// are stacked downwards from the end of board RAM, each 2 MiB aligned, below any
    /// fixed range of another VM or shared region there would be — a collision is
    /// reported by the overlap checks.
    pub fn vm_base(&self, i: usize) -> Option<u64> {
        let vms = &self.system.vm;
        if let Some(b) = vms[i].base {
            return Some(b.0);
        }
        if !vms[i].identity {
            return None;
        }
        let mut top = self.board.ram_end();
        for v in vms[..=i].iter().filter(|v| v.identity && v.base.is_none()) {
            top = top.saturating_sub(v.memory.0) & !(crate::size::MIB2 - 1);
        }
        Some(top)
    }

    /// The board devices given to VM `i` (unknown names skipped: validation reports them).
    pub fn devices_of(&self, i: usize) -> impl Iterator<Item = &crate::board::Device> {
        self.system.vm[i]
            .devices
            .iter()
            .filter_map(|n| self.board.device(n))
    }

    /// The VM owning the board device whose window holds physical address `pa`.
    pub fn device_owner(&self, pa: u64) -> Option<(usize, &crate::board::Device)> {
        (0..self.system.vm.len()).find_map(|i| {
            self.devices_of(i)
                .find(|d| pa >= d.base.0 && pa < d.base.0 + d.size.0)
                .map(|d| (i, d))
        })
    }
}
