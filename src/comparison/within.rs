//! Comparing inside one run: the cells of one backend, source or variant
//! against another's ("is rocm7 faster than rocm6 here?"), matched on
//! everything else. Splits a manifest into two, A and B, whose cells carry the
//! compared field as "a→b" so that they match; each side keeps only its own
//! images (or variant), so the setup table shows what differs between them.
//! Pure functions; the comparison itself is `comparison::compare`.

use crate::manifest::{Cell, Manifest};

/// What a within-run comparison splits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Backend,
    Source,
    Variant,
}

impl Field {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "backend" => Ok(Field::Backend),
            "source" => Ok(Field::Source),
            "variant" => Ok(Field::Variant),
            other => Err(format!(
                "--within {other}: compare by backend, source or variant"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::Backend => "backend",
            Field::Source => "source",
            Field::Variant => "variant",
        }
    }

    fn of(self, c: &Cell) -> &str {
        match self {
            Field::Backend => &c.backend,
            Field::Source => &c.source,
            Field::Variant => &c.variant.name,
        }
    }
}

/// The cell with `field` set to `to`, its id rewritten to match where the id
/// carries it (backend first, source after `@`).
fn masked(c: &Cell, field: Field, to: &str) -> Cell {
    let mut c = c.clone();
    match field {
        Field::Backend => {
            let rest = c.id.strip_prefix(&c.backend).unwrap_or(&c.id).to_string();
            c.id = format!("{to}{rest}");
            c.backend = to.to_string();
        }
        Field::Source => {
            let old = format!("{}@{}.", c.backend, c.source);
            if let Some(rest) = c.id.strip_prefix(&old) {
                c.id = format!("{}@{to}.{rest}", c.backend);
            }
            c.source = to.to_string();
        }
        Field::Variant => c.variant.name = to.to_string(),
    }
    c
}

/// One side: the cells whose `field` is `value`, masked, and only that side's
/// images or variant.
fn side(m: &Manifest, field: Field, value: &str, mask: &str) -> Manifest {
    let mut s = m.clone();
    s.cells = m
        .cells
        .iter()
        .filter(|c| field.of(c) == value)
        .map(|c| masked(c, field, mask))
        .collect();
    match field {
        Field::Backend => s.images.retain(|i| i.backend == value),
        Field::Source => s.images.retain(|i| i.source == value),
        Field::Variant => s.plan.variants.retain(|v| v.name == value),
    }
    s
}

/// Splits run `m` into A (`field` = `a`) and B (`field` = `b`).
pub fn split(m: &Manifest, field: Field, a: &str, b: &str) -> Result<(Manifest, Manifest), String> {
    let mut present: Vec<&str> = m.cells.iter().map(|c| field.of(c)).collect();
    present.sort_unstable();
    present.dedup();
    for v in [a, b] {
        if !present.contains(&v) {
            return Err(format!(
                "{} \"{v}\" has no cell in this run (it has: {})",
                field.name(),
                present.join(", ")
            ));
        }
    }
    if a == b {
        return Err(format!(
            "--within {} {a} {b}: name two different values",
            field.name()
        ));
    }
    let mask = format!("{a}→{b}");
    Ok((side(m, field, a, &mask), side(m, field, b, &mask)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::comparison::compare;
    use crate::manifest::fixtures::{cell, run};
    use crate::stats::compare::Verdict;
    use crate::status::CellStatus;

    fn on(backend: &str, c: Cell) -> Cell {
        let mut c = masked(&c, Field::Backend, backend);
        c.status = CellStatus::Ok;
        c
    }

    #[test]
    fn one_backend_against_another_in_the_same_run() {
        let plan = crate::plan::builtin(2).unwrap();
        let host = crate::host::probe(std::path::Path::new("/nonexistent"));
        let mut m = Manifest::new("r", plan, host, None);
        let steady = |g: f64| {
            [g, g * 1.001, g * 0.999]
                .map(|x| run(x, 800.0, 40.0, false))
                .to_vec()
        };
        m.cells = vec![
            on("vulkan", cell(31, "default", steady(55.6), None)),
            on("rocm6", cell(31, "default", steady(42.0), None)),
            on("vulkan", cell(461, "default", steady(50.0), None)),
            on("cpu", cell(31, "default", steady(80.0), None)),
        ];
        let (a, b) = split(&m, Field::Backend, "vulkan", "rocm6").unwrap();
        assert_eq!(a.cells.len(), 2);
        assert_eq!(b.cells.len(), 1);
        assert_eq!(a.cells[0].id, "vulkan→rocm6.m.default.p31");
        let c = compare("A", &a, "B", &b, 0.02);
        // p31 matched across the two backends: 42 / 55.6 = 0.755, slower;
        // p461 ran on vulkan only.
        assert_eq!(c.cells.len(), 1);
        assert_eq!(
            c.cells[0].key.label(),
            "vulkan→rocm6 gemma-3-270m-q4_k_m default p31"
        );
        let g = &c.cells[0].metrics[0];
        assert!((g.ratio.unwrap().ratio - 42.0 / 55.6).abs() < 1e-12);
        assert_eq!(g.verdict, Some(Verdict::Slower));
        assert_eq!(c.only_in_a, ["vulkan→rocm6.m.default.p461"]);
        // The cpu cell is on neither side.
        assert!(c.only_in_b.is_empty());
    }

    #[test]
    fn values_not_in_the_run_are_named_with_those_that_are() {
        let plan = crate::plan::builtin(2).unwrap();
        let host = crate::host::probe(std::path::Path::new("/nonexistent"));
        let mut m = Manifest::new("r", plan, host, None);
        m.cells = vec![
            cell(31, "default", vec![], None),
            cell(31, "q8", vec![], None),
        ];
        let err = split(&m, Field::Backend, "cpu", "rocm7").unwrap_err();
        assert_eq!(
            err,
            "backend \"rocm7\" has no cell in this run (it has: cpu)"
        );
        let err = split(&m, Field::Variant, "default", "default").unwrap_err();
        assert!(err.contains("two different values"), "{err}");
        let (a, b) = split(&m, Field::Variant, "default", "q8").unwrap();
        assert_eq!(a.cells[0].variant.name, "default→q8");
        assert_eq!(b.cells[0].variant.name, "default→q8");
        assert_eq!(
            Field::parse("model").unwrap_err(),
            "--within model: compare by backend, source or variant"
        );
    }
}
