//! Inline SVG line charts for the HTML report: x on a log scale (prompt lengths
//! span 31 to 11 205 tokens), y linear or log, one coloured series per
//! backend/variant with 95 % interval bars, a legend. A pure function of the
//! points; no script, no external file.

use std::fmt::Write as _;

use super::html::esc;

/// One point: x, y, and the interval around y where known.
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
    pub log_y: bool,
    pub series: &'a [Series],
}

/// Colour-blind-safe palette (Okabe–Ito).
const COLOURS: &[&str] = &[
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];

const W: f64 = 640.0;
const H: f64 = 360.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 190.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;

/// Ticks for a log axis: powers of ten and 2×, 5× between, within [lo, hi].
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let mut out = Vec::new();
    let mut p = 10f64.powi(lo.log10().floor() as i32);
    while p <= hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = p * m;
            if v >= lo * 0.9999 && v <= hi * 1.0001 {
                out.push(v);
            }
        }
        p *= 10.0;
    }
    out
}

/// About five round ticks on a linear axis from 0 to hi.
fn linear_ticks(hi: f64) -> Vec<f64> {
    if hi <= 0.0 {
        return vec![0.0];
    }
    let raw = hi / 5.0;
    let mag = 10f64.powi(raw.log10().floor() as i32);
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(mag * 10.0);
    (0..=((hi / step).ceil() as usize))
        .map(|i| i as f64 * step)
        .collect()
}

fn label(v: f64) -> String {
    if v >= 1000.0 && v % 1000.0 == 0.0 {
        format!("{}k", v / 1000.0)
    } else if v >= 10.0 || v == v.round() {
        format!("{v:.0}")
    } else {
        // Up to three decimals, trailing zeros dropped: 0.05, 0.15, 2.5.
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// The chart as an `<svg>` element.
pub fn render(c: &Chart) -> String {
    let pts = || c.series.iter().flat_map(|s| s.points.iter());
    // x is always logarithmic; y may be 0 on a linear axis.
    let finite = |v: &f64| v.is_finite() && *v > 0.0;
    let y_ok = |v: &f64| v.is_finite() && (*v > 0.0 || (!c.log_y && *v >= 0.0));
    let xs: Vec<f64> = pts().map(|p| p.x).filter(finite).collect();
    let ys: Vec<f64> = pts()
        .flat_map(|p| [Some(p.y), p.low, p.high])
        .flatten()
        .filter(y_ok)
        .collect();
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {W} {H}\" width=\"{W}\" height=\"{H}\" role=\"img\" aria-label=\"{}\">",
        esc(c.title)
    );
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"22\" font-size=\"15\" font-weight=\"bold\">{}</text>",
        LEFT,
        esc(c.title)
    );
    if xs.is_empty() || ys.is_empty() {
        let _ = write!(
            out,
            "<text x=\"{LEFT}\" y=\"{}\" font-size=\"13\">no data</text></svg>",
            H / 2.0
        );
        return out;
    }
    let (x_lo, x_hi) = (
        xs.iter().copied().fold(f64::MAX, f64::min) / 1.3,
        xs.iter().copied().fold(0.0, f64::max) * 1.3,
    );
    let y_max = ys.iter().copied().fold(0.0, f64::max);
    let y_min = ys.iter().copied().fold(f64::MAX, f64::min);
    let (y_lo, y_hi) = if c.log_y {
        (y_min / 1.5, y_max * 1.5)
    } else {
        (0.0, *linear_ticks(y_max * 1.05).last().unwrap_or(&y_max))
    };
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x.ln() - x_lo.ln()) / (x_hi.ln() - x_lo.ln()) * pw;
    let sy = |y: f64| {
        let f = if c.log_y {
            (y.ln() - y_lo.ln()) / (y_hi.ln() - y_lo.ln())
        } else {
            (y - y_lo) / (y_hi - y_lo)
        };
        TOP + ph - f.clamp(0.0, 1.0) * ph
    };
    // Axes, grid, ticks.
    let _ = write!(
        out,
        "<rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#444\"/>"
    );
    let y_ticks = if c.log_y {
        log_ticks(y_lo, y_hi)
    } else {
        linear_ticks(y_hi)
    };
    for t in y_ticks {
        let y = sy(t);
        let _ = write!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            label(t)
        );
    }
    let mut xticks: Vec<f64> = xs.clone();
    xticks.sort_by(f64::total_cmp);
    xticks.dedup();
    for t in xticks {
        let x = sx(t);
        let _ = write!(
            out,
            "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{TOP}\" y2=\"{}\" stroke=\"#eee\"/><text x=\"{x:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
            TOP + ph,
            TOP + ph + 16.0,
            label(t)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">{}</text>",
        LEFT + pw / 2.0,
        H - 12.0,
        esc(c.x_label)
    );
    let _ = write!(
        out,
        "<text x=\"16\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 16 {})\">{}</text>",
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        esc(c.y_label)
    );
    // Series: interval bars, line, points; legend on the right.
    for (i, s) in c.series.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let mut path = String::new();
        for p in s.points.iter().filter(|p| finite(&p.x) && y_ok(&p.y)) {
            let (x, y) = (sx(p.x), sy(p.y));
            let _ = write!(
                path,
                "{}{x:.1},{y:.1}",
                if path.is_empty() { "M" } else { " L" }
            );
            if let (Some(lo), Some(hi)) = (p.low.filter(y_ok), p.high.filter(y_ok)) {
                let (y1, y2) = (sy(lo), sy(hi));
                let _ = write!(
                    out,
                    "<line x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{y1:.1}\" y2=\"{y2:.1}\" stroke=\"{colour}\" stroke-width=\"1.5\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y1:.1}\" y2=\"{y1:.1}\" stroke=\"{colour}\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{y2:.1}\" y2=\"{y2:.1}\" stroke=\"{colour}\"/>",
                    x - 4.0,
                    x + 4.0,
                    x - 4.0,
                    x + 4.0
                );
            }
            let _ = write!(
                out,
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3.5\" fill=\"{colour}\"><title>{}: {} → {:.2}</title></circle>",
                esc(&s.name),
                label(p.x),
                p.y
            );
        }
        if !path.is_empty() {
            let _ = write!(
                out,
                "<path d=\"{path}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\"/>"
            );
        }
        let ly = TOP + 10.0 + i as f64 * 18.0;
        let lx = LEFT + pw + 12.0;
        let _ = write!(
            out,
            "<rect x=\"{lx}\" y=\"{:.1}\" width=\"12\" height=\"12\" fill=\"{colour}\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"12\">{}</text>",
            ly - 10.0,
            lx + 18.0,
            ly,
            esc(&s.name)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_by_hand() {
        assert_eq!(
            log_ticks(20.0, 12000.0),
            [
                20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0
            ]
        );
        // hi 88: raw step 17.6 → 20; ticks 0..100.
        assert_eq!(linear_ticks(88.0), [0.0, 20.0, 40.0, 60.0, 80.0, 100.0]);
        assert_eq!(label(11205.0), "11205");
        assert_eq!(label(2000.0), "2k");
        assert_eq!(label(0.5), "0.5");
        assert_eq!(label(0.05), "0.05");
        assert_eq!(label(0.15), "0.15");
        // hi 0.2: raw 0.04 → step 0.05.
        assert_eq!(
            linear_ticks(0.2),
            [0.0, 0.05, 0.1, 0.15000000000000002, 0.2]
        );
    }

    #[test]
    fn a_series_becomes_points_bars_a_line_and_a_legend() {
        let s = [Series {
            name: "cpu/default".into(),
            points: vec![
                Point {
                    x: 31.0,
                    y: 80.0,
                    low: Some(78.0),
                    high: Some(82.0),
                },
                Point {
                    x: 11205.0,
                    y: 60.0,
                    low: None,
                    high: None,
                },
            ],
        }];
        let svg = render(&Chart {
            title: "Generation <t/s>",
            x_label: "prompt tokens",
            y_label: "tokens/s",
            log_y: false,
            series: &s,
        });
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 2);
        // One interval bar (three lines) for the point that has an interval.
        assert_eq!(svg.matches("stroke-width=\"1.5\"").count(), 1);
        assert!(svg.contains("Generation &lt;t/s&gt;"));
        assert!(svg.contains(">cpu/default</text>"));
        // x = 31 sits at the left third of a log axis from 31/1.3 to 11205·1.3:
        // LEFT + ln(1.3)/ln(11205·1.69/31) · 380 = 70 + 0.2624/6.4176 · 380 = 85.5.
        assert!(svg.contains("<circle cx=\"85.5\""), "{svg}");
        let empty = render(&Chart {
            title: "t",
            x_label: "x",
            y_label: "y",
            log_y: true,
            series: &[],
        });
        assert!(empty.contains("no data"));
    }
}
