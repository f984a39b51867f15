//! The precision target's outcome in words: which finished cells met it and
//! which stopped at `max_runs` with an interval still too wide. A pure function
//! shared by the Markdown and HTML reports.

use crate::manifest::Manifest;
use crate::status::CellStatus;

/// One sentence, or `None` when the plan sets no precision target.
pub fn sentence(m: &Manifest) -> Option<String> {
    let p = m.plan.bench.precision.as_ref()?;
    let done: Vec<_> = m
        .cells
        .iter()
        .filter(|c| c.status == CellStatus::Ok)
        .collect();
    let wide: Vec<String> = done
        .iter()
        .filter_map(|c| {
            let unmet = c.imprecise(p);
            (!unmet.is_empty()).then(|| {
                let what: Vec<String> = unmet
                    .iter()
                    .map(|(metric, w)| match w {
                        Some(w) => format!("{metric} ±{w:.1} %"),
                        None => format!("{metric} no interval"),
                    })
                    .collect();
                format!(
                    "{} after {} runs ({})",
                    c.id,
                    c.measured_runs(),
                    what.join(", ")
                )
            })
        })
        .collect();
    let mut s = format!(
        "Precision target: runs added, up to {}, while the 95 % interval of {} was wider than ±{} % of its mean; met by {} of {} finished cells",
        p.max_runs,
        p.metric_names(),
        p.target_ci_pct,
        done.len() - wide.len(),
        done.len()
    );
    if wide.is_empty() {
        s.push('.');
    } else {
        s.push_str(&format!("; still wider: {}.", wide.join("; ")));
    }
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::fixtures::{cell, gen_runs};

    #[test]
    fn names_the_cells_left_wide_with_their_half_widths() {
        let plan = crate::plan::parse(
            &crate::plan::DEFAULT_PLAN_TOML
                .replace(
                    "runs = 4 ",
                    "runs = 2\nmax_runs = 3\ntarget_ci_pct = 1.0\n#",
                )
                .replace("rounds = 4 ", "rounds = 1 "),
            "p",
            2,
        )
        .unwrap();
        let mut m = Manifest::new(
            "r",
            plan,
            crate::host::probe(std::path::Path::new("/nonexistent")),
            None,
        );
        assert_eq!(m.plan.bench.precision.as_ref().unwrap().max_runs, 3);
        // Steady: met. 99/100/101 on gen: ±2.484 % (t(0.975, 2) = 4.302653 ×
        // sd 1 / √3 over 100), pp and TTFT steady. A failed cell is not counted.
        let mut steady = cell(31, "v", gen_runs(&[100.0, 100.0]), None);
        steady.status = CellStatus::Ok;
        let mut wide = cell(461, "v", gen_runs(&[99.0, 100.0, 101.0]), None);
        wide.status = CellStatus::Ok;
        let mut failed = cell(3799, "v", vec![], None);
        failed.status = CellStatus::Failed;
        m.cells = vec![steady.clone(), wide, failed];
        assert_eq!(
            sentence(&m).unwrap(),
            "Precision target: runs added, up to 3, while the 95 % interval of gen_tps, pp_tps, ttft_ms was wider than ±1 % of its mean; met by 1 of 2 finished cells; still wider: cpu.m.v.p461 after 3 runs (gen_tps ±2.5 %)."
        );
        m.cells = vec![steady];
        assert!(
            sentence(&m)
                .unwrap()
                .ends_with("met by 1 of 1 finished cells.")
        );
        m.plan.bench.precision = None;
        assert_eq!(sentence(&m), None);
    }
}
