//! Tests of the vGIC model, one file per register block or concern.

use super::*;

mod dist;
mod lr;
mod pending;
mod redist;
mod sgi;
mod sim;
mod stress;

/// Four vCPUs (the last one in cluster 1), SPIs 32..95.
pub(super) type G = Vgic<4, 2>;

pub(super) const MPIDRS: [u64; 4] = [0x8000_0000, 0x8000_0001, 0x8000_0002, 0x8000_0100];

/// A VM owning the UART SPI (33) and a channel SPI (48).
pub(super) fn vgic() -> G {
    G::new(&MPIDRS, &[33, 48]).unwrap()
}

#[test]
fn construction() {
    assert_eq!(G::new(&[], &[]).unwrap_err(), VgicError::TooManyVcpus);
    assert_eq!(
        G::new(&[0, 1, 2, 3, 4], &[]).unwrap_err(),
        VgicError::TooManyVcpus
    );
    assert_eq!(G::new(&MPIDRS, &[31]).unwrap_err(), VgicError::BadIntid(31));
    assert_eq!(G::new(&MPIDRS, &[96]).unwrap_err(), VgicError::BadIntid(96));
    let g = vgic();
    assert_eq!(g.vcpus(), 4);
    assert!(g.owns(0) && g.owns(31) && g.owns(33) && g.owns(48));
    assert!(!g.owns(32) && !g.owns(34) && !g.owns(95) && !g.owns(1020));
    assert_eq!(g.max_owned_spi(), Some(48));
    assert_eq!(G::new(&MPIDRS, &[]).unwrap().max_owned_spi(), None);
    assert_eq!(
        G::new(&MPIDRS, &[95, 40]).unwrap().max_owned_spi(),
        Some(95)
    );
}

#[test]
fn injection_respects_ownership() {
    let mut g = vgic();
    assert_eq!(g.raise(0, 34), Err(VgicError::NotOwned(34)));
    assert_eq!(g.set_level(0, 1000, true), Err(VgicError::NotOwned(1000)));
    assert_eq!(g.set_hw(0, 40, 40), Err(VgicError::NotOwned(40)));
    assert_eq!(g.raise(7, 20), Err(VgicError::BadVcpu(7)));
    // SPIs go to their routed vCPU (reset route: affinity 0 = vCPU 0).
    assert_eq!(g.raise(2, 48), Ok(Some(0)));
    // PPIs and SGIs go to the named vCPU.
    assert_eq!(g.raise(2, 27), Ok(Some(2)));
    assert_eq!(g.private_block(2).latch, 1 << 27);
    assert_eq!(g.private_block(1).latch, 0);
    assert_eq!(g.spi_block(48).unwrap().latch, 1 << 16);
}
