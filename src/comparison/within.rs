//! Comparing inside one run: the cells of one backend, source, model or
//! variant against another's ("is rocm7 faster than rocm6 here?", "does the
//! synthetic model run as fast as the real one?"), matched on
//! everything else. Splits a manifest into two, A and B; their cells keep what
//! they are, and `comparison::compare_within` matches them on a key whose
//! compared field reads "a→b". Each side keeps only its own images (or
//! variant), so the setup table shows what differs between them. Pure
//! functions.

use crate::manifest::{Cell, Manifest};

/// What a within-run comparison splits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Backend,
    Source,
    Model,
    Variant,
}

impl Field {
    pub const ALL: [Field; 4] = [Field::Backend, Field::Source, Field::Model, Field::Variant];

    pub fn name(self) -> &'static str {
        match self {
            Field::Backend => "backend",
            Field::Source => "source",
            Field::Model => "model",
            Field::Variant => "variant",
        }
    }

    /// The cell's value of this field.
    pub fn of(self, c: &Cell) -> &str {
        match self {
            Field::Backend => c.backend.name(),
            Field::Source => &c.source,
            Field::Model => &c.model,
            Field::Variant => &c.variant.name,
        }
    }
}

/// A run split in two for a within-run comparison: the cells whose field is
/// `a` and those whose field is `b`, matched on everything else, the compared
/// field shown as `label` ("vulkan→rocm6").
#[derive(Debug, Clone)]
pub struct Split {
    pub a: Manifest,
    pub b: Manifest,
    pub field: Field,
    /// The compared field's value on each side.
    pub a_value: String,
    pub b_value: String,
    pub label: String,
}

/// One side: the cells whose `field` is `value`, and only that side's images
/// or variant.
fn side(m: &Manifest, field: Field, value: &str) -> Manifest {
    let mut s = m.clone();
    s.cells.retain(|c| field.of(c) == value);
    match field {
        Field::Backend => s.images.retain(|i| i.backend.name() == value),
        Field::Source => s.images.retain(|i| i.source == value),
        Field::Model => {
            s.models.retain(|r| r.name == value);
            s.plan.models.retain(|p| p.name == value);
        }
        Field::Variant => s.plan.variants.retain(|v| v.name == value),
    }
    s
}

/// Splits run `m` into A (`field` = `a`) and B (`field` = `b`).
pub fn split(m: &Manifest, field: Field, a: &str, b: &str) -> Result<Split, String> {
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
    Ok(Split {
        a: side(m, field, a),
        b: side(m, field, b),
        field,
        a_value: a.to_string(),
        b_value: b.to_string(),
        label: format!("{a}→{b}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Backend;
    use crate::comparison::compare_within;
    use crate::manifest::fixtures::{cell, run};
    use crate::stats::compare::Verdict;
    use crate::status::CellStatus;

    /// A run of the built-in plan with no cells yet.
    fn run_of_builtin_plan() -> Manifest {
        let plan = crate::plan::builtin(2).unwrap();
        let host = crate::host::probe(std::path::Path::new("/nonexistent"));
        Manifest::new("r", plan, host, None)
    }

    /// Three runs generating at `g` tokens/s ± 0.1 %, mean `g`.
    fn steady(g: f64) -> Vec<crate::manifest::Run> {
        [g, g * 1.001, g * 0.999]
            .map(|x| run(x, 800.0, 40.0, false))
            .to_vec()
    }

    /// The fixture cell (made on cpu) on `backend`.
    fn on(backend: Backend, mut c: Cell) -> Cell {
        c.id = c.id.replacen("cpu", backend.name(), 1);
        c.backend = backend;
        c.status = CellStatus::Ok;
        c
    }

    #[test]
    fn one_backend_against_another_in_the_same_run() {
        let mut m = run_of_builtin_plan();
        m.cells = vec![
            on(Backend::Vulkan, cell(31, "default", steady(55.6), None)),
            on(Backend::Rocm6, cell(31, "default", steady(42.0), None)),
            on(Backend::Vulkan, cell(461, "default", steady(50.0), None)),
            on(Backend::Cpu, cell(31, "default", steady(80.0), None)),
        ];
        let s = split(&m, Field::Backend, "vulkan", "rocm6").unwrap();
        assert_eq!(s.a.cells.len(), 2);
        assert_eq!(s.b.cells.len(), 1);
        // The cells stay what they are; the key carries the label.
        assert_eq!(s.a.cells[0].id, "vulkan.m.default.p31");
        assert_eq!(s.a.cells[0].backend, Backend::Vulkan);
        assert_eq!(s.label, "vulkan→rocm6");
        let c = compare_within("A", "B", &s, 0.02);
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
        assert_eq!(c.only_in_a, ["vulkan.m.default.p461"]);
        // The cpu cell is on neither side.
        assert!(c.only_in_b.is_empty());
    }

    #[test]
    fn values_not_in_the_run_are_named_with_those_that_are() {
        let mut m = run_of_builtin_plan();
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
        let s = split(&m, Field::Variant, "default", "q8").unwrap();
        assert_eq!(s.a.cells[0].variant.name, "default");
        assert_eq!(s.b.cells[0].variant.name, "q8");
        let c = compare_within("A", "B", &s, 0.02);
        assert_eq!(c.cells.len(), 1);
        assert_eq!(c.cells[0].key.variant, "default→q8");
    }

    #[test]
    fn the_setup_table_sets_a_field_of_one_side_beside_the_same_field_of_the_other() {
        let mut m = run_of_builtin_plan();
        let mut q8 = m.plan.variants[0].clone();
        q8.name = "q8".to_string();
        q8.cache_type_k = "q8_0".to_string();
        m.plan.variants.push(q8);
        let base = m.plan.variants[0].name.clone();
        m.cells = vec![
            cell(31, &base, steady(80.0), None),
            cell(31, "q8", steady(79.0), None),
        ];
        let s = split(&m, Field::Variant, &base, "q8").unwrap();
        let c = compare_within("A", "B", &s, 0.02);
        // Only the name and the K cache's type differ, each on one row under
        // the label, not the whole of each variant as absent on the other side.
        let rows: Vec<(&str, Option<&str>, Option<&str>)> = c
            .setup
            .iter()
            .map(|d| (d.field.as_str(), d.a.as_deref(), d.b.as_deref()))
            .collect();
        let label = format!("plan.variant[{base}→q8]");
        assert_eq!(
            rows,
            [
                (
                    format!("{label}.cache_type_k").as_str(),
                    Some("f16"),
                    Some("q8_0")
                ),
                (
                    format!("{label}.name").as_str(),
                    Some(base.as_str()),
                    Some("q8")
                ),
            ]
        );
    }

    #[test]
    fn compared_images_and_models_are_named_by_the_label_and_the_rest_stays() {
        use crate::comparison::setup::renamed;
        let r = |key, field, value| renamed(key, field, value, "L");
        assert_eq!(
            r(
                "image[vulkan@default].build_args.X",
                Field::Backend,
                "vulkan"
            ),
            "image[L@default].build_args.X"
        );
        assert_eq!(
            r("image[vulkan@default].build_args.X", Field::Backend, "cuda"),
            "image[vulkan@default].build_args.X"
        );
        assert_eq!(
            r("image[cuda@new].tag", Field::Source, "new"),
            "image[cuda@L].tag"
        );
        assert_eq!(r("model[m].sha256", Field::Model, "m"), "model[L].sha256");
        assert_eq!(r("model[m].sha256", Field::Variant, "m"), "model[m].sha256");
        assert_eq!(r("host.cpu.model", Field::Backend, "cpu"), "host.cpu.model");
        // A server group's and a llama-bench run's argv: the compared part only.
        assert_eq!(
            r(
                "cell[cuda@default/m/f16].server_argv",
                Field::Variant,
                "f16"
            ),
            "cell[cuda@default/m/L].server_argv"
        );
        assert_eq!(
            r(
                "cell[cuda@default/m/f16].server_argv",
                Field::Backend,
                "cuda"
            ),
            "cell[L@default/m/f16].server_argv"
        );
        assert_eq!(
            r("cell[cuda@default/m/f16].server_argv", Field::Model, "m"),
            "cell[cuda@default/L/f16].server_argv"
        );
        assert_eq!(
            r("cell[cuda@default/m/f16].server_argv", Field::Model, "f16"),
            "cell[cuda@default/m/f16].server_argv"
        );
        assert_eq!(
            r("llama_bench[cuda@new/m].argv", Field::Source, "new"),
            "llama_bench[cuda@L/m].argv"
        );
        assert_eq!(
            r("llama_bench[cuda@new/m].argv", Field::Variant, "m"),
            "llama_bench[cuda@new/m].argv"
        );
    }

    #[test]
    fn one_model_against_another_on_the_same_backend_and_variant() {
        let mut m = run_of_builtin_plan();
        let mut synthetic = cell(31, "default", steady(75.0), None);
        synthetic.model = "synthetic-gemma3-270m".to_string();
        synthetic.id = "cpu.synthetic-gemma3-270m.default.p31".to_string();
        let mut real = cell(31, "default", steady(80.0), None);
        real.status = CellStatus::Ok;
        synthetic.status = CellStatus::Ok;
        m.cells = vec![real, synthetic];
        let s = split(
            &m,
            Field::Model,
            "gemma-3-270m-q4_k_m",
            "synthetic-gemma3-270m",
        )
        .unwrap();
        assert_eq!((s.a.cells.len(), s.b.cells.len()), (1, 1));
        assert_eq!(s.a.cells[0].model, "gemma-3-270m-q4_k_m");
        assert_eq!(s.b.cells[0].model, "synthetic-gemma3-270m");
        let c = compare_within("A", "B", &s, 0.02);
        assert_eq!(c.cells.len(), 1);
        assert_eq!(
            c.cells[0].key.label(),
            "cpu gemma-3-270m-q4_k_m→synthetic-gemma3-270m default p31"
        );
        // 75 / 80 = 0.9375, outside the 2 % band: slower.
        let g = &c.cells[0].metrics[0];
        assert!((g.ratio.unwrap().ratio - 0.9375).abs() < 1e-12);
        assert_eq!(g.verdict, Some(Verdict::Slower));
    }
}
