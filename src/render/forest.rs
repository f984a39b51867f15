//! A forest plot as inline SVG: one row per cell, B/A as a square with its 95 %
//! interval as a line, the noise band shaded around 1, the verdict on the right
//! in its colour (same green, faster blue, slower vermilion, inconclusive grey;
//! a row without a ratio shows its note in black). A pure function.

use std::fmt::Write as _;

use super::html::esc;
use crate::stats::compare::Verdict;

/// One row: the label, the ratio with its interval where both sides ran, and
/// what the right-hand column says.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestRow {
    pub label: String,
    /// (ratio, low, high).
    pub interval: Option<(f64, f64, f64)>,
    pub verdict: Option<Verdict>,
    pub note: String,
}

const W: f64 = 820.0;
const LEFT: f64 = 300.0;
const RIGHT: f64 = 200.0;
const TOP: f64 = 10.0;
const ROW: f64 = 22.0;
const BOTTOM: f64 = 40.0;
/// The axis never goes beyond half or double (plus its padding): a wider
/// interval is cut at the plot's edge and marked with an arrowhead.
const FLOOR: f64 = 0.5;
const CEIL: f64 = 2.0;
/// Tick candidates, the most wanted first; one is kept if it is at least
/// `TICK_GAP` px from every tick kept before it.
const TICKS: &[f64] = &[
    1.0, 0.5, 2.0, 0.8, 1.25, 0.9, 1.1, 0.95, 1.05, 0.98, 1.02, 0.67, 1.5, 0.99, 1.01,
];
const TICK_GAP: f64 = 28.0;

fn colour(v: Option<Verdict>) -> &'static str {
    match v {
        Some(Verdict::Same) => "#009E73",
        Some(Verdict::Faster) => "#0072B2",
        Some(Verdict::Slower) => "#D55E00",
        Some(Verdict::Inconclusive) => "#777777",
        None => "#000000",
    }
}

/// The plot as an `<svg>` element (`title` is its accessible name); `band` is
/// the noise band (0.02 = ±2 %). The ratio axis is logarithmic, so B/A = 2 and
/// 0.5 lie equally far from 1; it spans the band and every interval, within
/// [0.5, 2], plus a tenth on each side.
pub fn render(title: &str, rows: &[ForestRow], band: f64) -> String {
    render_at(title, "95 %", rows, band)
}

/// As `render`, with the intervals' level named in the caption (`level`,
/// e.g. "97.5 %").
pub fn render_at(title: &str, level: &str, rows: &[ForestRow], band: f64) -> String {
    let h = TOP + ROW * rows.len().max(1) as f64 + BOTTOM;
    let mut lo = (1.0 - band).max(FLOOR);
    let mut hi = (1.0 + band).min(CEIL);
    for (_, l, u) in rows.iter().filter_map(|r| r.interval) {
        if l.is_finite() && u.is_finite() && l > 0.0 {
            lo = lo.min(l.max(FLOOR));
            hi = hi.max(u.min(CEIL));
        }
    }
    let pad = (hi.ln() - lo.ln()) * 0.1;
    let (ll, lh) = (lo.ln() - pad, hi.ln() + pad);
    let pw = W - LEFT - RIGHT;
    let ph = ROW * rows.len().max(1) as f64;
    let sx = |v: f64| LEFT + (v.max(f64::MIN_POSITIVE).ln().clamp(ll, lh) - ll) / (lh - ll) * pw;
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {h}\" width=\"{W}\" height=\"{h}\" role=\"img\" aria-label=\"{}\">",
        esc(title)
    );
    let (b0, b1) = (sx(1.0 - band), sx(1.0 + band));
    let _ = write!(
        out,
        "<rect x=\"{b0:.1}\" y=\"{TOP}\" width=\"{:.1}\" height=\"{ph}\" fill=\"#e8f5ee\"/>",
        b1 - b0
    );
    let mut kept: Vec<f64> = Vec::new();
    for &t in TICKS {
        let x = sx(t);
        if t.ln() < ll || t.ln() > lh || kept.iter().any(|k| (k - x).abs() < TICK_GAP) {
            continue;
        }
        kept.push(x);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{t}</text>",
            TOP + ph,
            TOP + ph + 16.0
        );
    }
    let one = sx(1.0);
    let _ = write!(
        out,
        "<line x1=\"{one:.1}\" x2=\"{one:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#444\"/><rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>",
        TOP + ph
    );
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">B/A with its {} interval (log scale); shaded: ±{} % band</text>",
        LEFT + pw / 2.0,
        h - 8.0,
        esc(level),
        band * 100.0
    );
    for (i, r) in rows.iter().enumerate() {
        let y = TOP + (i as f64 + 0.5) * ROW;
        let c = colour(r.verdict);
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{}</text>",
            LEFT - 8.0,
            y + 4.0,
            esc(&r.label)
        );
        if let Some((ratio, l, u)) = r.interval {
            let (xl, xu) = (sx(l), sx(u));
            let _ = write!(
                out,
                "<line x1=\"{xl:.1}\" x2=\"{xu:.1}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"{c}\" stroke-width=\"2\"/><rect x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"{c}\"><title>{ratio:.3} ({l:.3}–{u:.3})</title></rect>",
                sx(ratio) - 4.0,
                y - 4.0
            );
            // An interval cut by the axis ends in an arrowhead.
            if l < FLOOR {
                let _ = write!(out, "<path d=\"M{xl:.1},{y:.1} l6,-4 v8 z\" fill=\"{c}\"/>");
            }
            if u > CEIL {
                let _ = write!(
                    out,
                    "<path d=\"M{xu:.1},{y:.1} l-6,-4 v8 z\" fill=\"{c}\"/>"
                );
            }
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"12\" fill=\"{c}\">{}</text>",
            W - RIGHT + 8.0,
            y + 4.0,
            esc(&r.note)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_the_point_and_the_interval_where_worked_out() {
        // One row 1.000 (0.990–1.010), band ±2 %: the axis spans ln 0.98 =
        // −0.0202027 to ln 1.02 = 0.0198026, padded by a tenth of that span
        // (0.0040005) to −0.0242032 … 0.0238031 (width 0.0480063) over
        // 820 − 300 − 200 = 320 px: x(v) = 300 + (ln v + 0.0242032) / 0.0480063
        // · 320. x(0.98) = 326.7, x(1.02) = 593.3 (band 266.7 wide),
        // x(1) = 461.3 (the 8 px square at 457.3), x(0.99) = 394.3,
        // x(1.01) = 527.7. Row 0 is centred at 10 + 11 = 21.
        let rows = [
            ForestRow {
                label: "cpu m default p31".into(),
                interval: Some((1.0, 0.99, 1.01)),
                verdict: Some(Verdict::Same),
                note: "same".into(),
            },
            ForestRow {
                label: "cpu m default p461 <x>".into(),
                interval: None,
                verdict: None,
                note: "A: ok 4/4, B: crash 0/4".into(),
            },
        ];
        let svg = render("Generation", &rows, 0.02);
        assert!(
            svg.contains(
                "<rect x=\"326.7\" y=\"10\" width=\"266.7\" height=\"44\" fill=\"#e8f5ee\"/>"
            ),
            "{svg}"
        );
        assert!(
            svg.contains(
                "<line x1=\"394.3\" x2=\"527.7\" y1=\"21.0\" y2=\"21.0\" stroke=\"#009E73\""
            ),
            "{svg}"
        );
        assert!(
            svg.contains("<rect x=\"457.3\" y=\"17.0\" width=\"8\" height=\"8\" fill=\"#009E73\">"),
            "{svg}"
        );
        // Ticks 0.98 … 1.02, each at least 28 px apart (67 px here); 0.95 is
        // off the axis.
        for t in [">0.98<", ">0.99<", ">1<", ">1.01<", ">1.02<"] {
            assert!(svg.contains(t), "tick {t}");
        }
        assert!(!svg.contains(">0.95<"));
        // The failed row: its note in black, no interval; labels escaped.
        assert!(svg.contains("fill=\"#000000\">A: ok 4/4, B: crash 0/4</text>"));
        assert!(svg.contains("p461 &lt;x&gt;"));
        assert_eq!(svg.matches("stroke-width=\"2\"").count(), 1);
        assert!(!svg.contains("<path"));
        // Height: 10 + 2 rows × 22 + 40.
        assert!(svg.contains("viewBox=\"0 0 820 94\""));
    }

    #[test]
    fn an_interval_beyond_half_or_double_is_cut_with_arrowheads() {
        // 0.95 (0.3–3.0): the axis stops at 0.5 and 2 (padded by a tenth of
        // ln 4 each side); both ends of the line carry an arrowhead.
        let rows = [ForestRow {
            label: "p31".into(),
            interval: Some((0.95, 0.3, 3.0)),
            verdict: Some(Verdict::Inconclusive),
            note: "inconclusive".into(),
        }];
        let svg = render("TTFT", &rows, 0.02);
        assert_eq!(svg.matches("<path").count(), 2, "{svg}");
        assert!(svg.contains(">0.5<") && svg.contains(">2<"));
        // Ticks: x(0.5) = 300 + 0.1 / 1.2 · 320 = 326.7; the cut line runs to
        // the plot's edges, 300 and 620.
        assert!(svg.contains("<line x1=\"326.7\" x2=\"326.7\""), "{svg}");
        assert!(
            svg.contains("<line x1=\"300.0\" x2=\"620.0\" y1=\"21.0\""),
            "{svg}"
        );
    }
}
