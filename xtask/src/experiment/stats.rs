//! Order statistics of a sample set (exact: the sets are small).
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    pub count: usize,
    pub min: u64,
    pub median: f64,
    pub mean: f64,
    pub p99: u64,
    pub max: u64,
}

impl Stats {
    /// `None` for an empty set. The median of an even count is the mean of the middle two;
    /// p99 is the nearest-rank percentile.
    pub fn of(values: &[u64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_unstable();
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2] as f64
        } else {
            (v[n / 2 - 1] as f64 + v[n / 2] as f64) / 2.0
        };
        let rank = ((0.99 * n as f64).ceil() as usize).clamp(1, n);
        Some(Stats {
            count: n,
            min: v[0],
            median,
            mean: v.iter().map(|&x| x as f64).sum::<f64>() / n as f64,
            p99: v[rank - 1],
            max: v[n - 1],
        })
    }
}

/// Formats a median: integer when it is one.
pub fn num(x: f64) -> String {
    if x.fract() == 0.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_statistics() {
        let s = Stats::of(&[5, 1, 3]).unwrap();
        assert_eq!((s.count, s.min, s.median, s.p99, s.max), (3, 1, 3.0, 5, 5));
        let s = Stats::of(&(1..=100).collect::<Vec<u64>>()).unwrap();
        assert_eq!((s.median, s.p99, s.mean), (50.5, 99, 50.5));
        assert!(Stats::of(&[]).is_none());
        assert_eq!(num(3.0), "3");
        assert_eq!(num(2.5), "2.5");
    }
}
