//! Counter ticks → wall-clock units, using the frequency from the hello.

/// Converts ticks of a counter running at `hz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    hz: u64,
}

impl Clock {
    /// A zero frequency (a broken hello) is treated as 1 GHz so that ticks read as nanoseconds.
    pub fn new(hz: u64) -> Self {
        Clock {
            hz: if hz == 0 { 1_000_000_000 } else { hz },
        }
    }

    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Nanoseconds for `ticks` (exact integer arithmetic, no overflow for any u64 input).
    pub fn ns(&self, ticks: u64) -> u64 {
        (u128::from(ticks) * 1_000_000_000 / u128::from(self.hz)) as u64
    }

    /// Microseconds as a float (Chrome trace JSON's unit).
    pub fn us_f64(&self, ticks: u64) -> f64 {
        ticks as f64 * 1e6 / self.hz as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts() {
        let c = Clock::new(62_500_000);
        assert_eq!(c.ns(1), 16);
        assert_eq!(c.ns(62_500_000), 1_000_000_000);
        assert_eq!(c.us_f64(625), 10.0);
        assert_eq!(Clock::new(0).ns(5), 5);
    }
}
