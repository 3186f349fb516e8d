//! Latency samples and their percentiles.

use std::time::Duration;

/// Collected latency samples (nanoseconds).
#[derive(Debug, Default)]
pub struct Latencies {
    samples: Vec<u64>,
}

/// Percentiles of a sample set, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub avg: f64,
}

impl Latencies {
    /// Room for `n` samples.
    pub fn with_capacity(n: usize) -> Self {
        Latencies { samples: Vec::with_capacity(n) }
    }

    /// Adds one sample.
    pub fn record(&mut self, d: Duration) {
        self.samples.push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// The percentiles, or `None` without samples.
    pub fn percentiles(&mut self) -> Option<Percentiles> {
        if self.samples.is_empty() {
            return None;
        }
        self.samples.sort_unstable();
        let s = &self.samples;
        let at = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize] as f64 / 1e6;
        let avg = s.iter().map(|&v| v as f64).sum::<f64>() / s.len() as f64 / 1e6;
        Some(Percentiles { p50: at(0.5), p99: at(0.99), p999: at(0.999), max: at(1.0), avg })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_of_one_to_a_thousand() {
        let mut l = Latencies::default();
        for i in 1..=1000 {
            l.record(Duration::from_millis(i));
        }
        let p = l.percentiles().expect("samples");
        assert_eq!(p.p50, 501.0);
        assert_eq!(p.p99, 990.0);
        assert_eq!(p.max, 1000.0);
        assert!(Latencies::default().percentiles().is_none());
    }
}
