//! Every expected number here was computed apart from this code: with mpmath
//! 1.3.0 at 30 digits (Student's t CDF from the regularized incomplete beta,
//! quantiles by root finding; the script is quoted in the test), or by hand.

use super::*;

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol
}

// Wikipedia's Welch example 1 ("Welch's t-test", Examples): t = −2.46,
// ν ≈ 25.0, p = 0.021 as printed there; mpmath gives t = −2.455356398,
// df = 24.98852929, p = 0.02137800146.
const A1: [f64; 15] = [
    27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4,
];
const A2: [f64; 15] = [
    27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4,
];

#[test]
fn welch_matches_the_published_example() {
    let w = welch(&A1, &A2).unwrap();
    assert!(close(w.t, -2.455_356_398, 1e-8), "{w:?}");
    assert!(close(w.df, 24.988_529_29, 1e-6), "{w:?}");
    assert!(close(w.p, 0.021_378_001_46, 1e-8), "{w:?}");
}

#[test]
fn welch_and_ratio_on_study_like_numbers() {
    // A: Vulkan-like 55.6 55.5 55.7 55.6; B: ROCm-like 42.1 47.9 37.0 41.4.
    // mpmath: t = 6.029349759, df = 3.001995344, p = 0.009128793598;
    // ratio B/A = 0.7571942446, 95 % [0.6393250514, 0.8967943972] (df 3.001144017).
    let a = [55.6, 55.5, 55.7, 55.6];
    let b = [42.1, 47.9, 37.0, 41.4];
    let w = welch(&a, &b).unwrap();
    assert!(close(w.t, 6.029_349_759, 1e-8));
    assert!(close(w.df, 3.001_995_344, 1e-8));
    assert!(close(w.p, 0.009_128_793_598, 1e-8));
    let r = ratio(&a, &b).unwrap();
    assert!(close(r.ratio, 0.757_194_244_6, 1e-9));
    assert!(close(r.ci95_low, 0.639_325_051_4, 1e-7), "{r:?}");
    assert!(close(r.ci95_high, 0.896_794_397_2, 1e-7), "{r:?}");
    // Generation (higher is better): B is slower, well outside ±2 %.
    assert_eq!(verdict(&r, w.p, DEFAULT_BAND, true), Verdict::Slower);
    // The same ratio for a lower-is-better metric would mean B is faster.
    assert_eq!(verdict(&r, w.p, DEFAULT_BAND, false), Verdict::Faster);
    // Adjusted p above 0.05: inconclusive even though the interval is far out.
    assert_eq!(verdict(&r, 0.2, DEFAULT_BAND, true), Verdict::Inconclusive);
}

#[test]
fn two_quiet_runs_of_the_same_thing_are_the_same() {
    // 80.0 80.4 79.8 80.2 against 80.3 80.1 80.5 79.9. mpmath: t = −0.5477225575,
    // df = 6.0, p = 0.6036450565; ratio 1.001248439 [0.9956831641, 1.006844821].
    let a = [80.0, 80.4, 79.8, 80.2];
    let b = [80.3, 80.1, 80.5, 79.9];
    let w = welch(&a, &b).unwrap();
    assert!(close(w.t, -0.547_722_557_5, 1e-9));
    assert!(close(w.df, 6.0, 1e-9));
    assert!(close(w.p, 0.603_645_056_5, 1e-8));
    let r = ratio(&a, &b).unwrap();
    assert!(close(r.ci95_low, 0.995_683_164_1, 1e-8), "{r:?}");
    assert!(close(r.ci95_high, 1.006_844_821, 1e-8), "{r:?}");
    assert_eq!(verdict(&r, w.p, DEFAULT_BAND, true), Verdict::Same);
    // A band of ±0.5 % is narrower than the interval: inconclusive.
    assert_eq!(verdict(&r, w.p, 0.005, true), Verdict::Inconclusive);
}

#[test]
fn no_spread_on_either_side() {
    let w = welch(&[5.0, 5.0], &[5.0, 5.0]).unwrap();
    assert_eq!(w.p, 1.0);
    let w = welch(&[5.0, 5.0], &[6.0, 6.0]).unwrap();
    assert_eq!(w.p, 0.0);
    let r = ratio(&[5.0, 5.0], &[6.0, 6.0]).unwrap();
    assert_eq!((r.ratio, r.ci95_low, r.ci95_high), (1.2, 1.2, 1.2));
    assert!(welch(&[5.0], &[6.0, 6.0]).is_none());
    assert!(ratio(&[0.0, 0.0], &[6.0, 6.0]).is_none());
}

#[test]
fn holm_by_hand() {
    // p = 0.01, 0.04, 0.03, 0.005; m = 4. Sorted: 0.005·4 = 0.02,
    // 0.01·3 = 0.03, 0.03·2 = 0.06, 0.04·1 = 0.04 → max(0.06, 0.04) = 0.06.
    let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
    let expect = [0.03, 0.06, 0.06, 0.02];
    for (a, e) in adj.iter().zip(expect) {
        assert!(close(*a, e, 1e-12), "{adj:?}");
    }
    assert_eq!(holm(&[0.6, 0.9]), [1.0, 1.0]);
    assert!(holm(&[]).is_empty());
}

/// A test as the comparisons hold one.
#[derive(Debug, PartialEq)]
struct T {
    p: Option<f64>,
    ratio: Option<Ratio>,
    adj: Option<f64>,
    verdict: Option<Verdict>,
}

impl Tested for T {
    fn p(&self) -> Option<f64> {
        self.p
    }
    fn ratio(&self) -> Option<Ratio> {
        self.ratio
    }
    fn decided(&mut self, p_adjusted: f64, verdict: Option<Verdict>) {
        self.adj = Some(p_adjusted);
        self.verdict = verdict;
    }
}

fn t(p: Option<f64>, r: f64, lo: f64, hi: f64) -> T {
    T {
        p,
        ratio: Some(Ratio {
            ratio: r,
            ci95_low: lo,
            ci95_high: hi,
        }),
        adj: None,
        verdict: None,
    }
}

#[test]
fn decide_adjusts_the_tested_only_and_gives_verdicts() {
    // Tested p = 0.01 and 0.04 (the middle one has none): m = 2, sorted
    // 0.01·2 = 0.02, 0.04·1 = 0.04. Ratio 1.05–1.15 lies above the 2 % band at
    // p 0.02: faster; 0.85–0.95 below it at p 0.04: slower; where lower is
    // better the two swap.
    let mut tests = [
        t(Some(0.01), 1.10, 1.05, 1.15),
        t(None, 1.0, 0.99, 1.01),
        t(Some(0.04), 0.90, 0.85, 0.95),
    ];
    decide(tests.iter_mut(), 0.02, true);
    assert!(close(tests[0].adj.unwrap(), 0.02, 1e-12));
    assert!(close(tests[2].adj.unwrap(), 0.04, 1e-12));
    assert_eq!(tests[0].verdict, Some(Verdict::Faster));
    assert_eq!(tests[2].verdict, Some(Verdict::Slower));
    assert_eq!((tests[1].adj, tests[1].verdict), (None, None));
    decide(tests.iter_mut(), 0.02, false);
    assert_eq!(tests[0].verdict, Some(Verdict::Slower));
    assert_eq!(tests[2].verdict, Some(Verdict::Faster));
    // Three tested: 0.04 now counts three times and is no longer significant.
    let mut three = [
        t(Some(0.04), 1.10, 1.05, 1.15),
        t(Some(0.5), 1.0, 0.99, 1.01),
        t(Some(0.3), 1.0, 0.97, 1.03),
    ];
    decide(three.iter_mut(), 0.02, true);
    assert!(close(three[0].adj.unwrap(), 0.12, 1e-12));
    assert_eq!(three[0].verdict, Some(Verdict::Inconclusive));
    assert_eq!(three[1].verdict, Some(Verdict::Same));
    assert_eq!(three[2].verdict, Some(Verdict::Inconclusive));
}

#[test]
fn a_cold_first_run_is_an_outlier() {
    // 40 among 40, 55.5, 55.6, 55.7: median 55.55; deviations 15.55, 0.05,
    // 0.05, 0.15; MAD = (0.05 + 0.15) / 2 = 0.1;
    // z = 0.6745 · (40 − 55.55) / 0.1 = −104.88475.
    let v = [40.0, 55.5, 55.6, 55.7];
    let z = modified_z(40.0, &v).unwrap();
    assert!(close(z, -104.884_75, 1e-6), "{z}");
    assert!(z.abs() > OUTLIER_Z);
    // 55.5 in the same runs: 0.6745 · (−0.05) / 0.1 = −0.33725.
    assert!(close(modified_z(55.5, &v).unwrap(), -0.337_25, 1e-9));
    assert_eq!(modified_z(1.0, &[1.0, 2.0]), None);
}

#[test]
fn published_summaries_give_the_same_answers_as_the_values() {
    // 55.6 ± 0.1 (n = 4) as published, against the values behind a summary of
    // the same shape: the tests above with the values' own mean and sd.
    let a = [55.6, 55.5, 55.7, 55.6];
    let b = [42.1, 47.9, 37.0, 41.4];
    let (ma, mb) = (Moments::of(&a).unwrap(), Moments::of(&b).unwrap());
    let pa = Moments::published(ma.mean, ma.var.sqrt(), 4).unwrap();
    let pb = Moments::published(mb.mean, mb.var.sqrt(), 4).unwrap();
    let (w1, w2) = (welch(&a, &b).unwrap(), welch_of(pa, pb).unwrap());
    assert!(close(w1.p, w2.p, 1e-12));
    let (r1, r2) = (ratio(&a, &b).unwrap(), ratio_of(pa, pb).unwrap());
    assert!(close(r1.ci95_low, r2.ci95_low, 1e-12));
    assert!(Moments::published(55.6, 0.1, 1).is_none());
}

#[test]
fn runs_to_decide_by_hand() {
    let m = |mean: f64, sd: f64| Moments::published(mean, sd, 4).unwrap();
    // Equal means, 2 % spread on each side, ±2 % band: the interval must fit
    // in ln 1.02 = 0.0198026 around 0. With n a side, se = √(0.0008 / n) and
    // df = 2(n − 1) (equal terms). n = 9: t(0.975, 16) = 2.119905 · 0.0282843
    // / 3 = 0.019987 > 0.0198026; n = 10: t(0.975, 18) = 2.100922 · 0.0282843
    // / 3.1622777 = 0.018791 ≤ 0.0198026. So 10.
    assert_eq!(runs_to_decide(m(100.0, 2.0), m(100.0, 2.0), 0.02), Some(10));
    // B 5 % higher, both 2 %: distance ln 1.05 − ln 1.02 = 0.0289876.
    // n = 5: t(0.975, 8) = 2.306004 · 0.0282843 / 2.2360680 = 0.029169 > d;
    // n = 6: t(0.975, 10) = 2.228139 · 0.0282843 / 2.4494897 = 0.025728 ≤ d.
    assert_eq!(runs_to_decide(m(100.0, 2.0), m(105.0, 2.1), 0.02), Some(6));
    // Mirrored, B = A / 1.05: ln(1/1.05) = −0.0487902 lies 0.0285875 below
    // the lower edge ln 0.98 = −0.0202027; n = 5 gives 0.029169 > 0.0285875,
    // n = 6 gives 0.025728 ≤ it. So 6 again.
    assert_eq!(runs_to_decide(m(105.0, 2.1), m(100.0, 2.0), 0.02), Some(6));
    // A ratio exactly on an edge can never be decided; a spread as large as
    // the mean needs about 2 (1.96 / 0.0198)² ≈ 19 600 > 10 000 runs.
    assert_eq!(runs_to_decide(m(100.0, 1.0), m(102.0, 1.0), 0.02), None);
    assert_eq!(runs_to_decide(m(100.0, 100.0), m(100.0, 100.0), 0.02), None);
    assert_eq!(runs_to_decide(m(0.0, 1.0), m(1.0, 1.0), 0.02), None);
}
