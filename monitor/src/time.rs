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

/// A duration for people: `840 ns`, `3.21 µs`, `12.4 ms`, `1.50 s` (three significant digits).
pub fn fmt_ns(ns: f64) -> String {
    let (v, unit) = if ns < 1e3 {
        return format!("{ns:.0} ns");
    } else if ns < 1e6 {
        (ns / 1e3, "µs")
    } else if ns < 1e9 {
        (ns / 1e6, "ms")
    } else {
        (ns / 1e9, "s")
    };
    if v < 10.0 {
        format!("{v:.2} {unit}")
    } else if v < 100.0 {
        format!("{v:.1} {unit}")
    } else {
        format!("{v:.0} {unit}")
    }
}

/// The unit an axis spanning `max_ns` reads best in: (divisor, name).
pub fn axis_unit(max_ns: f64) -> (f64, &'static str) {
    if max_ns < 10e3 {
        (1.0, "ns")
    } else if max_ns < 10e6 {
        (1e3, "µs")
    } else if max_ns < 10e9 {
        (1e6, "ms")
    } else {
        (1e9, "s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_durations() {
        assert_eq!(fmt_ns(504.0), "504 ns");
        assert_eq!(fmt_ns(3210.0), "3.21 µs");
        assert_eq!(fmt_ns(12_400_000.0), "12.4 ms");
        assert_eq!(fmt_ns(1.5e9), "1.50 s");
        assert_eq!(axis_unit(5_000.0).1, "ns");
        assert_eq!(axis_unit(250_000.0).1, "µs");
        assert_eq!(axis_unit(2.5e8).1, "ms");
    }

    #[test]
    fn converts() {
        let c = Clock::new(62_500_000);
        assert_eq!(c.ns(1), 16);
        assert_eq!(c.ns(62_500_000), 1_000_000_000);
        assert_eq!(c.us_f64(625), 10.0);
        assert_eq!(Clock::new(0).ns(5), 5);
    }
}
