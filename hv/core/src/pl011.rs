//! An emulated Arm PrimeCell PL011 UART as a guest sees it (trapped MMIO).
//!
//! Why: each VM with a console gets its own virtual UART at its `uart_ipa`; the real UART
//! belongs to the hypervisor. The model is complete enough for Linux's `amba-pl011` driver
//! to probe (PrimeCell IDs) and run interrupt-driven, and for simple guests to poll.
//! Spec: Arm PrimeCell UART (PL011) Technical Reference Manual r1p5 (DDI 0183), chapter 3
//! "Programmers Model" (register map, UARTFR, interrupt conditions, "Interrupts").
//!
//! Model decisions (the invariants a reader must not break):
//! - Transmission is instantaneous: the TX FIFO is always empty (`TXFE=1`, `TXFF=0`,
//!   `BUSY=0`); a write to UARTDR returns the byte in [`Effect::tx`] and latches the TX
//!   interrupt (cleared through UARTICR), as QEMU's model does. Bytes are transmitted even
//!   if UARTEN is clear, so early consoles that skip the set-up still print.
//! - Reception: the host side pushes bytes with [`Pl011::push_rx`] into a 32-byte ring
//!   (1 byte deep when LCR_H.FEN=0). A full FIFO refuses the byte (`false`) so the caller
//!   keeps it and retries: input is never lost silently. Toggling FEN flushes the FIFO.
//! - Interrupts: RX latches when the FIFO level reaches the UARTIFLS trigger and clears
//!   when reads bring it below the trigger (or through UARTICR); the receive timeout (RT)
//!   is taken as already elapsed, so it is asserted exactly while the FIFO is non-empty —
//!   a driver that only reacts to interrupts still sees every byte below the trigger.
//!   The VM's SPI level is [`Pl011::irq_level`] (`RIS & IMSC != 0`).
//! - Accesses must be 8, 16 or 32 bits wide at a word-aligned offset; anything else reads
//!   as zero, writes are ignored, and both are counted ([`Pl011::bad_accesses`]).

/// Register offsets (PL011 TRM table 3-1).
pub mod reg {
    /// Data register.
    pub const DR: u64 = 0x000;
    /// Receive status / error clear register.
    pub const RSR_ECR: u64 = 0x004;
    /// Flag register.
    pub const FR: u64 = 0x018;
    /// IrDA low-power counter register.
    pub const ILPR: u64 = 0x020;
    /// Integer baud rate register.
    pub const IBRD: u64 = 0x024;
    /// Fractional baud rate register.
    pub const FBRD: u64 = 0x028;
    /// Line control register.
    pub const LCR_H: u64 = 0x02C;
    /// Control register.
    pub const CR: u64 = 0x030;
    /// Interrupt FIFO level select register.
    pub const IFLS: u64 = 0x034;
    /// Interrupt mask set/clear register.
    pub const IMSC: u64 = 0x038;
    /// Raw interrupt status register.
    pub const RIS: u64 = 0x03C;
    /// Masked interrupt status register.
    pub const MIS: u64 = 0x040;
    /// Interrupt clear register (write only).
    pub const ICR: u64 = 0x044;
    /// DMA control register.
    pub const DMACR: u64 = 0x048;
    /// First PrimeCell peripheral ID register (UARTPeriphID0).
    pub const PERIPH_ID0: u64 = 0xFE0;
    /// Last PrimeCell cell ID register (UARTPCellID3).
    pub const CELL_ID3: u64 = 0xFFC;
}

/// UARTFR bits.
pub mod fr {
    /// UART busy transmitting.
    pub const BUSY: u32 = 1 << 3;
    /// Receive FIFO empty.
    pub const RXFE: u32 = 1 << 4;
    /// Transmit FIFO full.
    pub const TXFF: u32 = 1 << 5;
    /// Receive FIFO full.
    pub const RXFF: u32 = 1 << 6;
    /// Transmit FIFO empty.
    pub const TXFE: u32 = 1 << 7;
}

/// Interrupt bits (UARTIMSC, UARTRIS, UARTMIS, UARTICR).
pub mod int {
    /// Receive interrupt.
    pub const RX: u32 = 1 << 4;
    /// Transmit interrupt.
    pub const TX: u32 = 1 << 5;
    /// Receive timeout interrupt.
    pub const RT: u32 = 1 << 6;
    /// Every defined interrupt bit (modem, RX, TX, RT, errors).
    pub const ALL: u32 = 0x7FF;
}

/// UARTLCR_H.FEN: FIFOs enabled.
const LCR_H_FEN: u32 = 1 << 4;
/// Reset value of UARTCR: TXE and RXE set, UART disabled.
const CR_RESET: u32 = 0x0300;
/// Reset value of UARTIFLS: both triggers at half full.
const IFLS_RESET: u32 = 0x12;
/// PrimeCell IDs at 0xFE0..0xFFC, one byte per word: PL011 r1p3-style periph ID
/// 0x00141011 (part 0x011, designer 0x41 'A', revision 1) and cell ID 0xB105F00D — the
/// values QEMU presents; Linux matches `0x00041011` under mask `0x000fffff`.
const IDS: [u8; 8] = [0x11, 0x10, 0x14, 0x00, 0x0D, 0xF0, 0x05, 0xB1];

/// Receive FIFO depth with FIFOs enabled.
pub const RX_FIFO_DEPTH: usize = 32;

/// What a register write asks the caller to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Effect {
    /// A byte the guest transmitted: write it to the VM's console sink.
    pub tx: Option<u8>,
    /// The interrupt line level after the access (drive the VM's SPI with it).
    pub irq_level: bool,
}

/// The state of one emulated PL011.
#[derive(Debug, Clone)]
pub struct Pl011 {
    rx: [u8; RX_FIFO_DEPTH],
    rx_head: usize,
    rx_len: usize,
    ilpr: u32,
    ibrd: u32,
    fbrd: u32,
    lcr_h: u32,
    cr: u32,
    ifls: u32,
    imsc: u32,
    /// Latched raw interrupt bits (TX and RX); RT is derived from the FIFO.
    latched: u32,
    dmacr: u32,
    bad_accesses: u32,
}

impl Default for Pl011 {
    fn default() -> Self {
        Self::new()
    }
}

impl Pl011 {
    /// A UART in its reset state.
    pub const fn new() -> Self {
        Pl011 {
            rx: [0; RX_FIFO_DEPTH],
            rx_head: 0,
            rx_len: 0,
            ilpr: 0,
            ibrd: 0,
            fbrd: 0,
            lcr_h: 0,
            cr: CR_RESET,
            ifls: IFLS_RESET,
            imsc: 0,
            latched: 0,
            dmacr: 0,
            bad_accesses: 0,
        }
    }

    /// Whether an access of `size` bytes at `offset` is one the model serves; the caller
    /// may inject a data abort for the others instead of calling read/write.
    pub const fn access_ok(offset: u64, size: u8) -> bool {
        offset & 3 == 0 && offset <= reg::CELL_ID3 && matches!(size, 1 | 2 | 4)
    }

    fn capacity(&self) -> usize {
        if self.lcr_h & LCR_H_FEN != 0 {
            RX_FIFO_DEPTH
        } else {
            1
        }
    }

    /// RX trigger level in bytes (UARTIFLS.RXIFLSEL: 1/8, 1/4, 1/2, 3/4, 7/8).
    fn rx_trigger(&self) -> usize {
        if self.lcr_h & LCR_H_FEN == 0 {
            return 1;
        }
        match (self.ifls >> 3) & 7 {
            0 => RX_FIFO_DEPTH / 8,
            1 => RX_FIFO_DEPTH / 4,
            2 => RX_FIFO_DEPTH / 2,
            3 => RX_FIFO_DEPTH * 3 / 4,
            _ => RX_FIFO_DEPTH * 7 / 8,
        }
    }

    /// Raw interrupt status (UARTRIS).
    pub fn ris(&self) -> u32 {
        let rt = if self.rx_len > 0 { int::RT } else { 0 };
        self.latched | rt
    }

    /// Masked interrupt status (UARTMIS).
    pub fn mis(&self) -> u32 {
        self.ris() & self.imsc
    }

    /// Level of the UART's interrupt line.
    pub fn irq_level(&self) -> bool {
        self.mis() != 0
    }

    /// Bytes the receive FIFO can still take.
    pub fn rx_space(&self) -> usize {
        self.capacity().saturating_sub(self.rx_len)
    }

    /// Host side: offers one input byte. Returns `false` (byte not taken) when the FIFO
    /// is full; check [`Pl011::irq_level`] afterwards.
    pub fn push_rx(&mut self, byte: u8) -> bool {
        if self.rx_space() == 0 {
            return false;
        }
        self.rx[(self.rx_head + self.rx_len) % RX_FIFO_DEPTH] = byte;
        self.rx_len += 1;
        if self.rx_len >= self.rx_trigger() {
            self.latched |= int::RX;
        }
        true
    }

    fn pop_rx(&mut self) -> u8 {
        if self.rx_len == 0 {
            return 0;
        }
        let b = self.rx[self.rx_head];
        self.rx_head = (self.rx_head + 1) % RX_FIFO_DEPTH;
        self.rx_len -= 1;
        if self.rx_len < self.rx_trigger() {
            self.latched &= !int::RX;
        }
        b
    }

    fn flag_register(&self) -> u32 {
        let mut v = fr::TXFE;
        if self.rx_len == 0 {
            v |= fr::RXFE;
        }
        if self.rx_len >= self.capacity() {
            v |= fr::RXFF;
        }
        v
    }

    /// Guest read of `size` bytes at `offset` from the UART's base. Reading UARTDR pops
    /// the receive FIFO.
    pub fn read(&mut self, offset: u64, size: u8) -> u32 {
        if !Self::access_ok(offset, size) {
            self.bad_accesses = self.bad_accesses.saturating_add(1);
            return 0;
        }
        let v = match offset {
            reg::DR => self.pop_rx() as u32,
            reg::RSR_ECR => 0,
            reg::FR => self.flag_register(),
            reg::ILPR => self.ilpr,
            reg::IBRD => self.ibrd,
            reg::FBRD => self.fbrd,
            reg::LCR_H => self.lcr_h,
            reg::CR => self.cr,
            reg::IFLS => self.ifls,
            reg::IMSC => self.imsc,
            reg::RIS => self.ris(),
            reg::MIS => self.mis(),
            reg::DMACR => self.dmacr,
            reg::PERIPH_ID0..=reg::CELL_ID3 => {
                IDS[((offset - reg::PERIPH_ID0) / 4) as usize] as u32
            }
            _ => 0,
        };
        match size {
            1 => v & 0xFF,
            2 => v & 0xFFFF,
            _ => v,
        }
    }

    /// Guest write of `size` bytes at `offset` from the UART's base.
    pub fn write(&mut self, offset: u64, size: u8, value: u32) -> Effect {
        let mut tx = None;
        if !Self::access_ok(offset, size) {
            self.bad_accesses = self.bad_accesses.saturating_add(1);
        } else {
            match offset {
                reg::DR => {
                    tx = Some(value as u8);
                    self.latched |= int::TX;
                }
                reg::RSR_ECR => {}
                reg::ILPR => self.ilpr = value & 0xFF,
                reg::IBRD => self.ibrd = value & 0xFFFF,
                reg::FBRD => self.fbrd = value & 0x3F,
                reg::LCR_H => {
                    if (self.lcr_h ^ value) & LCR_H_FEN != 0 {
                        self.rx_head = 0;
                        self.rx_len = 0;
                        self.latched &= !int::RX;
                    }
                    self.lcr_h = value & 0xFF;
                }
                reg::CR => self.cr = value & 0xFF87,
                reg::IFLS => self.ifls = value & 0x3F,
                reg::IMSC => self.imsc = value & int::ALL,
                reg::ICR => self.latched &= !value,
                reg::DMACR => self.dmacr = value & 0x7,
                _ => {}
            }
        }
        Effect {
            tx,
            irq_level: self.irq_level(),
        }
    }

    /// Accesses refused as misaligned or of a bad width since reset.
    pub fn bad_accesses(&self) -> u32 {
        self.bad_accesses
    }
}

#[cfg(test)]
mod tests;
