//! Descriptive statistics of measured runs: pure functions of numbers.
//!
//! Warm-up runs are excluded by the caller. The standard deviation is the sample
//! standard deviation (divisor n − 1); the 95 % confidence interval is that of the
//! mean, mean ± t(0.975, n − 1) · sd / √n, with Student's t from `statrs`.

pub mod compare;
pub mod paired;

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Summary of one metric over the measured runs of a cell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Summary {
    /// Number of values summarised.
    pub n: usize,
    /// Arithmetic mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1); `None` for fewer than two values.
    pub sd: Option<f64>,
    /// Median (mean of the two middle values for an even count).
    pub median: f64,
    /// Lower end of the 95 % confidence interval of the mean; `None` below two values.
    pub ci95_low: Option<f64>,
    /// Upper end of the 95 % confidence interval of the mean; `None` below two values.
    pub ci95_high: Option<f64>,
}

/// Summarises `values`; `None` when there are none or any is not finite.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() || values.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n as f64;
    let median = median(values);
    if n < 2 {
        return Some(Summary {
            n,
            mean,
            sd: None,
            median,
            ci95_low: None,
            ci95_high: None,
        });
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    let sd = var.sqrt();
    let half = t_quantile_975(n - 1) * sd / (n as f64).sqrt();
    Some(Summary {
        n,
        mean,
        sd: Some(sd),
        median,
        ci95_low: Some(mean - half),
        ci95_high: Some(mean + half),
    })
}

/// Half the width of the 95 % interval of the mean, as a fraction of the mean;
/// `None` below two values or for a mean that is not positive.
pub fn rel_half_width(values: &[f64]) -> Option<f64> {
    let s = summarize(values)?;
    let high = s.ci95_high?;
    (s.mean > 0.0).then(|| (high - s.mean) / s.mean)
}

/// Median of finite values; the caller guarantees at least one.
pub(crate) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mid = sorted.len() / 2;
    if sorted.len() % 2 == 0 {
        (sorted[mid - 1] + sorted[mid]) / 2.0
    } else {
        sorted[mid]
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (df ≥ 1).
fn t_quantile_975(df: usize) -> f64 {
    match StudentsT::new(0.0, 1.0, df as f64) {
        Ok(t) => t.inverse_cdf(0.975),
        // Unreachable for df ≥ 1; the normal quantile is the honest fallback.
        Err(_) => 1.959_963_984_540_054,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn four_values_by_hand() {
        // Values 10, 12, 14, 16: mean 13; squared deviations 9+1+1+9 = 20;
        // sd = sqrt(20/3) = 2.581989; t(0.975, 3) = 3.182446 (tables);
        // half-width = 3.182446 * 2.581989 / 2 = 4.108521.
        let s = summarize(&[16.0, 10.0, 14.0, 12.0]).unwrap();
        assert_eq!(s.n, 4);
        assert!(close(s.mean, 13.0, 1e-12));
        assert!(close(s.median, 13.0, 1e-12));
        assert!(close(s.sd.unwrap(), 2.581_989, 1e-6));
        assert!(close(s.ci95_low.unwrap(), 13.0 - 4.108_521, 1e-5));
        assert!(close(s.ci95_high.unwrap(), 13.0 + 4.108_521, 1e-5));
    }

    #[test]
    fn odd_count_median_and_t_for_two_df() {
        // 1, 2, 6: mean 3, median 2, sd = sqrt((4+1+9)/2) = sqrt(7) = 2.645751;
        // t(0.975, 2) = 4.302653; half = 4.302653 * 2.645751 / sqrt(3) = 6.572411.
        let s = summarize(&[6.0, 1.0, 2.0]).unwrap();
        assert!(close(s.median, 2.0, 1e-12));
        assert!(close(s.sd.unwrap(), 2.645_751, 1e-6));
        assert!(close(s.ci95_high.unwrap() - s.mean, 6.572_411, 1e-5));
    }

    #[test]
    fn relative_half_width_by_hand() {
        // 10, 12, 14, 16 as above: half-width 4.108521 over mean 13 = 0.316040.
        let r = rel_half_width(&[16.0, 10.0, 14.0, 12.0]).unwrap();
        assert!(close(r, 0.316_040, 1e-6));
        // 99, 100, 101: sd 1, t(0.975, 2) = 4.302653, half 4.302653 / sqrt(3)
        // = 2.484138, over 100.
        let r = rel_half_width(&[99.0, 100.0, 101.0]).unwrap();
        assert!(close(r, 0.024_841_38, 1e-8));
        assert_eq!(rel_half_width(&[5.0]), None);
        assert_eq!(rel_half_width(&[-1.0, 1.0]), None);
    }

    #[test]
    fn one_value_has_no_spread() {
        let s = summarize(&[55.6]).unwrap();
        assert_eq!(s.n, 1);
        assert_eq!(s.mean, 55.6);
        assert_eq!(s.sd, None);
        assert_eq!(s.ci95_low, None);
    }

    #[test]
    fn empty_or_nan_gives_nothing() {
        assert_eq!(summarize(&[]), None);
        assert_eq!(summarize(&[1.0, f64::NAN]), None);
    }

    #[test]
    fn identical_values_have_zero_width() {
        let s = summarize(&[7.0, 7.0, 7.0, 7.0]).unwrap();
        assert_eq!(s.sd, Some(0.0));
        assert_eq!(s.ci95_low, Some(7.0));
        assert_eq!(s.ci95_high, Some(7.0));
    }
}
