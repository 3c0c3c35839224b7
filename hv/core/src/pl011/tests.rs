//! Tests of the PL011 model against the TRM's register semantics and the way Linux's
//! amba-pl011 driver uses it.

use super::*;

#[test]
fn reset_values() {
    let mut u = Pl011::new();
    assert_eq!(u.read(reg::FR, 4), fr::TXFE | fr::RXFE);
    assert_eq!(u.read(reg::CR, 4), 0x300);
    assert_eq!(u.read(reg::IFLS, 4), 0x12);
    assert_eq!(u.read(reg::IMSC, 4), 0);
    assert_eq!(u.read(reg::RIS, 4), 0);
    assert_eq!(u.read(reg::MIS, 4), 0);
    assert_eq!(u.read(reg::LCR_H, 4), 0);
    assert!(!u.irq_level());
}

#[test]
fn primecell_ids_probe_like_linux() {
    let mut u = Pl011::new();
    // Linux's amba bus reads the 4 bytes of each ID from the low byte of 4 words.
    let mut pid = 0u32;
    let mut cid = 0u32;
    for i in 0..4 {
        pid |= (u.read(0xFE0 + 4 * i, 4) & 0xFF) << (8 * i);
        cid |= (u.read(0xFF0 + 4 * i, 4) & 0xFF) << (8 * i);
    }
    assert_eq!(cid, 0xB105_F00D);
    assert_eq!(pid & 0x000F_FFFF, 0x0004_1011);
}

#[test]
fn transmit_is_immediate() {
    let mut u = Pl011::new();
    let e = u.write(reg::DR, 4, 0x141);
    assert_eq!(e.tx, Some(0x41));
    assert!(!e.irq_level, "TX not unmasked yet");
    assert_eq!(u.read(reg::FR, 2) & (fr::TXFF | fr::BUSY), 0);
    assert_eq!(u.read(reg::RIS, 4) & int::TX, int::TX);
    // Unmask TX: the line rises; ICR clears it.
    assert!(u.write(reg::IMSC, 2, int::TX).irq_level);
    assert_eq!(u.read(reg::MIS, 4), int::TX);
    let e = u.write(reg::ICR, 2, int::TX);
    assert!(!e.irq_level && e.tx.is_none());
    assert_eq!(u.read(reg::RIS, 4), 0);
    // Byte-wide store to DR.
    assert_eq!(u.write(reg::DR, 1, 0x0A).tx, Some(b'\n'));
}

#[test]
fn receive_without_fifo() {
    let mut u = Pl011::new();
    u.write(reg::IMSC, 4, int::RX | int::RT);
    assert!(u.push_rx(b'a'));
    assert!(!u.push_rx(b'b'), "FIFO disabled: one byte deep");
    assert!(u.irq_level());
    assert_eq!(u.read(reg::FR, 4), fr::TXFE | fr::RXFF);
    assert_eq!(u.read(reg::MIS, 4), int::RX | int::RT);
    assert_eq!(u.read(reg::DR, 4), b'a' as u32);
    assert!(!u.irq_level());
    assert_eq!(u.read(reg::FR, 4), fr::TXFE | fr::RXFE);
    assert!(u.push_rx(b'b'));
    assert_eq!(u.read(reg::DR, 1), b'b' as u32);
}

#[test]
fn receive_fifo_trigger_and_timeout() {
    let mut u = Pl011::new();
    u.write(reg::LCR_H, 4, 0x70); // 8 bits, FIFO enabled
    u.write(reg::IMSC, 4, int::RX | int::RT);
    // Half-full trigger (16 bytes): below it only RT is raised.
    for i in 0..15 {
        assert!(u.push_rx(i));
    }
    assert_eq!(u.read(reg::RIS, 4), int::RT);
    assert!(u.irq_level());
    assert!(u.push_rx(15));
    assert_eq!(u.read(reg::RIS, 4), int::RX | int::RT);
    // Linux drains until RXFE; RX drops below the trigger, RT once empty.
    let mut got = 0u8;
    while u.read(reg::FR, 4) & fr::RXFE == 0 {
        assert_eq!(u.read(reg::DR, 4), got as u32);
        got += 1;
        if got == 1 {
            assert_eq!(u.read(reg::RIS, 4), int::RT);
        }
    }
    assert_eq!(got, 16);
    assert!(!u.irq_level());
}

#[test]
fn fifo_full_refuses_and_wraps() {
    let mut u = Pl011::new();
    u.write(reg::LCR_H, 4, 0x70);
    for round in 0..3u8 {
        for i in 0..RX_FIFO_DEPTH as u8 {
            assert!(u.push_rx(round.wrapping_mul(50).wrapping_add(i)));
        }
        assert!(!u.push_rx(0xFF));
        assert_eq!(u.rx_space(), 0);
        assert_ne!(u.read(reg::FR, 4) & fr::RXFF, 0);
        for i in 0..RX_FIFO_DEPTH as u8 {
            assert_eq!(
                u.read(reg::DR, 4),
                round.wrapping_mul(50).wrapping_add(i) as u32
            );
        }
        // Read a couple so head moves off zero for the next round.
        u.push_rx(1);
        u.read(reg::DR, 4);
    }
    assert_eq!(u.read(reg::DR, 4), 0, "empty FIFO reads 0");
}

#[test]
fn icr_clears_rx_until_next_byte() {
    let mut u = Pl011::new();
    u.write(reg::LCR_H, 4, 0x70);
    u.write(reg::IFLS, 4, 0); // RX trigger at 1/8 = 4 bytes
    u.write(reg::IMSC, 4, int::RX);
    for i in 0..4 {
        u.push_rx(i);
    }
    assert!(u.irq_level());
    assert!(!u.write(reg::ICR, 4, int::ALL).irq_level);
    u.push_rx(4);
    assert!(
        u.irq_level(),
        "still above trigger: a new byte re-raises RX"
    );
}

#[test]
fn fen_toggle_flushes() {
    let mut u = Pl011::new();
    u.write(reg::LCR_H, 4, 0x70);
    u.push_rx(1);
    u.push_rx(2);
    u.write(reg::LCR_H, 4, 0x60);
    assert_eq!(u.read(reg::FR, 4) & fr::RXFE, fr::RXFE);
    // Writing LCR_H with FEN unchanged keeps the data.
    u.push_rx(3);
    u.write(reg::LCR_H, 4, 0x62);
    assert_eq!(u.read(reg::DR, 4), 3);
}

#[test]
fn plain_registers_keep_their_width() {
    let mut u = Pl011::new();
    let cases = [
        (reg::ILPR, 0xFFFF_FFFF, 0xFF),
        (reg::IBRD, 0xFFFF_FFFF, 0xFFFF),
        (reg::FBRD, 0xFFFF_FFFF, 0x3F),
        (reg::LCR_H, 0xFFFF_FFFF, 0xFF),
        (reg::CR, 0xFFFF_FFFF, 0xFF87),
        (reg::IFLS, 0xFFFF_FFFF, 0x3F),
        (reg::IMSC, 0xFFFF_FFFF, 0x7FF),
        (reg::DMACR, 0xFFFF_FFFF, 0x7),
    ];
    for (off, w, r) in cases {
        u.write(off, 4, w);
        assert_eq!(u.read(off, 4), r, "offset {off:#x}");
    }
    // Read-only and write-only registers ignore writes / read zero.
    u.write(reg::RIS, 4, 0xFFFF);
    u.write(reg::FR, 4, 0xFFFF);
    assert_eq!(u.read(reg::ICR, 4), 0);
    assert_eq!(u.read(reg::RSR_ECR, 4), 0);
    assert_eq!(u.read(0x100, 4), 0, "reserved offset reads zero");
    assert_eq!(u.bad_accesses(), 0);
}

#[test]
fn narrow_reads_truncate() {
    let mut u = Pl011::new();
    u.write(reg::IBRD, 4, 0x1234);
    assert_eq!(u.read(reg::IBRD, 1), 0x34);
    assert_eq!(u.read(reg::IBRD, 2), 0x1234);
}

#[test]
fn bad_accesses_are_counted() {
    let mut u = Pl011::new();
    assert!(!Pl011::access_ok(reg::DR + 1, 1));
    assert!(!Pl011::access_ok(reg::DR, 8));
    assert!(!Pl011::access_ok(0x1000, 4));
    assert!(Pl011::access_ok(reg::CELL_ID3, 4));
    assert_eq!(u.read(reg::FR + 2, 2), 0);
    let e = u.write(reg::DR, 8, 0x41);
    assert_eq!(e.tx, None);
    assert_eq!(u.write(reg::DR + 1, 1, 0x41).tx, None);
    assert_eq!(u.bad_accesses(), 3);
}
