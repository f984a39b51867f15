//! Expands a plan into its matrix: server groups (backend × model × variant, one
//! server start each) holding cells (one per prompt length) and their resolved
//! server settings, and the cells left out because they cannot run as planned,
//! each with the reason. `Matrix::on_host` resolves it for a host: each
//! backend's device passthrough there, the cells of backends it cannot run
//! excluded, each backend's image inputs (`images`) and each model as the
//! host's cache has it (`models`). With them, the llama-bench runs
//! (`llama_bench_runs`). The dry run prints it, the run executes it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::llama_bench::Run;
use super::settings::{CellVariant, cell_variant};
use super::{CellSelector, Plan, Variant};
use crate::backend::Backend;
use crate::host::devices::Passthrough;
use crate::host::view::HostView;

/// One server start: a backend's image serving one model with one variant.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub backend: Backend,
    /// Index into `plan.sources`.
    pub source: usize,
    /// Index into `plan.models`.
    pub model: usize,
    /// Index into `plan.variants`.
    pub variant: usize,
    /// The source's, model's name and the model's file name.
    pub source_name: String,
    pub model_name: String,
    pub model_file: String,
    /// The server settings, resolved for this backend and model: what the
    /// dry run prints, the runner starts and the manifest records.
    pub settings: CellVariant,
    pub cells: Vec<CellPlan>,
}

/// One cell: a prompt length measured on a group's server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CellPlan {
    pub id: String,
    pub prompt_tokens: u32,
}

/// A cell the plan names but that cannot run as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Excluded {
    pub id: String,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub groups: Vec<Group>,
    /// Cells that cannot run as planned (context too small, device missing).
    pub excluded: Vec<Excluded>,
    /// How many cells each of the plan's `exclude` rules left out (by index):
    /// the plan's intent, counted rather than listed.
    pub left_out: Vec<usize>,
    /// Each runnable backend's devices, groups and environment on the host
    /// (`on_host`; none from `expand` alone).
    pub passthroughs: BTreeMap<Backend, Passthrough>,
    /// Each backend's image inputs, host `auto` arguments resolved
    /// (`on_host`; none from `expand` alone).
    pub images: Vec<super::images::ImagePlan>,
    /// Each of the plan's models: needed here or not, cached or not
    /// (`on_host`; none from `expand` alone).
    pub models: Vec<super::models::ModelPlan>,
    /// The llama-bench runs: one per backend, source and model that has a
    /// server group, when the plan has `[llama_bench]`.
    pub llama_bench: Vec<Run>,
}

/// The id of a cell: stable, file-name safe, unique within a plan. `source` is
/// the source's name when the plan has several (`vulkan@b9016.model...`).
pub fn cell_id(
    backend: Backend,
    source: Option<&str>,
    model: &str,
    variant: &Variant,
    prompt_tokens: u32,
) -> String {
    let safe: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!(
        "{}{}.{}.{}.p{}",
        backend.name(),
        source.map(|s| format!("@{s}")).unwrap_or_default(),
        safe,
        variant.name,
        prompt_tokens
    )
}

impl Matrix {
    /// `plan`'s matrix on the host under `root` (`/` for this one): each
    /// backend's passthrough there, the cells of backends whose devices are
    /// missing moved to the excluded, each backend's image inputs and each
    /// model as the host and its `cache` have it.
    pub fn on_host(plan: &Plan, root: &Path, cache: &crate::cache::Cache) -> Matrix {
        let env = |k: &str| std::env::var(k).ok();
        Matrix::on_view(plan, &HostView::read(root, &env), cache)
    }

    /// `plan`'s matrix on the host `view` describes (this one's, or another's
    /// read there by a probe container), as `on_host`.
    pub fn on_view(plan: &Plan, view: &HostView, cache: &crate::cache::Cache) -> Matrix {
        let mut matrix = expand(plan);
        let (passthroughs, missing) = passthroughs(plan, view);
        matrix.exclude_backends(&missing);
        matrix.passthroughs = passthroughs;
        matrix.resolve_inputs(plan, || view.facts.clone(), cache);
        matrix
    }

    /// Adds what the host and its cache decide beside the passthroughs: each
    /// backend's image inputs (`host` probed only where a build argument is
    /// `auto`) and each model, needed here or not, cached or not. After the
    /// backends the host cannot run are excluded: a model only they used is
    /// not needed.
    pub fn resolve_inputs(
        &mut self,
        plan: &Plan,
        host: impl FnOnce() -> crate::host::HostFacts,
        cache: &crate::cache::Cache,
    ) {
        self.images = super::images::image_plans(plan, host);
        self.models = super::models::model_plans(plan, &self.models_needed(plan), cache);
    }

    /// Which of `plan`'s models this matrix needs: those of its server groups
    /// and llama-bench runs, and the real models whose vocabulary a needed
    /// synthetic one takes. In plan order. A model not needed is neither
    /// fetched nor made.
    pub fn models_needed(&self, plan: &Plan) -> Vec<bool> {
        let mut out = self.models_measured(plan);
        for (i, m) in plan.models.iter().enumerate() {
            let Some(recipe) = m.recipe().filter(|_| out[i]) else {
                continue;
            };
            if let crate::synth::VocabFile::Model { model } = &recipe.vocab {
                if let Some(v) = plan.models.iter().position(|x| &x.name == model) {
                    out[v] = true;
                }
            }
        }
        out
    }

    /// Which of `plan`'s models a server group or llama-bench run mounts
    /// (not those needed only for a synthetic model's vocabulary).
    pub fn models_measured(&self, plan: &Plan) -> Vec<bool> {
        let mut out = vec![false; plan.models.len()];
        let used = self.groups.iter().map(|g| g.model);
        for i in used.chain(self.llama_bench.iter().map(|r| r.model)) {
            if let Some(n) = out.get_mut(i) {
                *n = true;
            }
        }
        out
    }

    /// Moves the cells of backends this host cannot run into `excluded`, each with
    /// the reason (for example: rocm6 needs /dev/kfd).
    pub fn exclude_backends(&mut self, reasons: &std::collections::BTreeMap<Backend, String>) {
        let (kept, dropped): (Vec<Group>, Vec<Group>) = std::mem::take(&mut self.groups)
            .into_iter()
            .partition(|g| !reasons.contains_key(&g.backend));
        self.groups = kept;
        self.llama_bench
            .retain(|r| !reasons.contains_key(&r.backend));
        for g in dropped {
            let reason = reasons.get(&g.backend).cloned().unwrap_or_default();
            for c in g.cells {
                self.excluded.push(Excluded {
                    id: c.id,
                    reason: reason.clone(),
                });
            }
        }
    }
}

/// Whether `sel` picks (backend, source, model, variant); prompt lengths are
/// checked apart.
pub fn picks(
    sel: &CellSelector,
    backend: Backend,
    source: &str,
    model: &str,
    variant: &str,
) -> bool {
    sel.backend.as_deref().is_none_or(|b| b == backend.name())
        && sel.source.as_deref().is_none_or(|s| s == source)
        && sel.model.as_deref().is_none_or(|m| m == model)
        && sel.variant.as_deref().is_none_or(|v| v == variant)
}

/// The bench's prompt lengths and those the `include` rules that pick a group
/// add, ascending.
fn prompt_lengths(plan: &Plan, includes: &[&CellSelector]) -> Vec<u32> {
    let mut prompts: Vec<u32> = plan.bench.prompt_tokens.clone();
    prompts.extend(
        includes
            .iter()
            .flat_map(|s| s.prompt_tokens.iter().flatten()),
    );
    prompts.sort_unstable();
    prompts.dedup();
    prompts
}

/// Whether an `include` rule (of those that pick the group) puts prompt
/// length `p` back: one without prompt lengths, every planned one.
fn included(plan: &Plan, includes: &[&CellSelector], p: u32) -> bool {
    includes.iter().any(|s| {
        s.prompt_tokens
            .as_ref()
            .map_or(plan.bench.prompt_tokens.contains(&p), |l| l.contains(&p))
    })
}

/// Expands `plan` into groups and excluded cells, in plan order, prompts ascending.
/// A cell of the cross product is left out by an `exclude` rule or when prompt and
/// generated tokens exceed the context; an `include` rule puts it back (and can add
/// prompt lengths), so a plan can run a cell that is expected to fail.
pub fn expand(plan: &Plan) -> Matrix {
    let mut groups = Vec::new();
    let mut excluded = Vec::new();
    let mut left_out = vec![0; plan.exclude.len()];
    let several = plan.sources.len() > 1;
    for b in &plan.backends {
        for (si, source) in plan.sources.iter().enumerate() {
            let label = several.then_some(source.name.as_str());
            for (mi, model) in plan.models.iter().enumerate() {
                for (vi, variant) in plan.variants.iter().enumerate() {
                    let includes: Vec<&CellSelector> = plan
                        .include
                        .iter()
                        .filter(|s| picks(s, b.backend, &source.name, &model.name, &variant.name))
                        .collect();
                    let mut cells = Vec::new();
                    for p in prompt_lengths(plan, &includes) {
                        let id = cell_id(b.backend, label, &model.name, variant, p);
                        let needed = u64::from(p) + u64::from(plan.bench.n_predict);
                        let rule = plan.exclude.iter().position(|s| {
                            picks(s, b.backend, &source.name, &model.name, &variant.name)
                                && s.prompt_tokens.as_ref().is_none_or(|l| l.contains(&p))
                        });
                        let reason = if included(plan, &includes, p) {
                            None
                        } else if let Some(i) = rule {
                            left_out[i] += 1;
                            continue;
                        } else if needed > u64::from(variant.ctx_size) {
                            Some(format!(
                                "{p} prompt + {} generated tokens exceed ctx_size {}",
                                plan.bench.n_predict, variant.ctx_size
                            ))
                        } else {
                            None
                        };
                        match reason {
                            Some(reason) => excluded.push(Excluded { id, reason }),
                            None => cells.push(CellPlan {
                                id,
                                prompt_tokens: p,
                            }),
                        }
                    }
                    if !cells.is_empty() {
                        groups.push(Group {
                            backend: b.backend,
                            source: si,
                            model: mi,
                            variant: vi,
                            source_name: source.name.clone(),
                            model_name: model.name.clone(),
                            model_file: model.file.clone(),
                            settings: cell_variant(
                                b.backend,
                                &model.file,
                                variant,
                                plan.bench.warmup,
                            ),
                            cells,
                        });
                    }
                }
            }
        }
    }
    let llama_bench = llama_bench_runs(plan, &groups);
    Matrix {
        images: Vec::new(),
        models: Vec::new(),
        groups,
        excluded,
        left_out,
        passthroughs: BTreeMap::new(),
        llama_bench,
    }
}

/// The llama-bench runs of a plan whose matrix has `groups`, in the plan's
/// order: each backend, source and model that has a server group. A pair the
/// plan leaves out (the CPU on a 27B model) is not benched: it would spend
/// the timeout. None when the plan has no `[llama_bench]`.
fn llama_bench_runs(plan: &Plan, groups: &[Group]) -> Vec<Run> {
    let Some(settings) = &plan.llama_bench else {
        return Vec::new();
    };
    let several = plan.sources.len() > 1;
    let mut out = Vec::new();
    for bp in &plan.backends {
        for si in 0..plan.sources.len() {
            for mi in 0..plan.models.len() {
                let Some(g) = groups
                    .iter()
                    .find(|g| g.backend == bp.backend && g.source == si && g.model == mi)
                else {
                    continue;
                };
                let name = if several {
                    format!("{}@{}.{}", bp.backend.name(), g.source_name, g.model_name)
                } else {
                    format!("{}.{}", bp.backend.name(), g.model_name)
                };
                let gpu_layers = super::settings::gpu_layers(bp.backend, settings.n_gpu_layers);
                out.push(Run {
                    name,
                    backend: bp.backend,
                    source: si,
                    source_name: g.source_name.clone(),
                    model: mi,
                    model_name: g.model_name.clone(),
                    model_file: g.model_file.clone(),
                    gpu_layers,
                });
            }
        }
    }
    out
}

/// Each of `plan`'s backends' device passthrough on the host `view` describes
/// (with the Vulkan driver the plan names), or why it cannot run there.
pub fn passthroughs(
    plan: &Plan,
    view: &HostView,
) -> (BTreeMap<Backend, Passthrough>, BTreeMap<Backend, String>) {
    let mut ok = BTreeMap::new();
    let mut missing = BTreeMap::new();
    for bp in &plan.backends {
        match view.passthrough(bp.backend, bp.vulkan_driver) {
            Ok(p) => {
                for n in &p.notes {
                    log::info!("{}: {n}", bp.backend.name());
                }
                ok.insert(bp.backend, p);
            }
            Err(e) => {
                log::info!("{e}: its cells are excluded");
                missing.insert(bp.backend, e);
            }
        }
    }
    (ok, missing)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::builtin;

    #[test]
    fn default_plan_expands_to_four_cpu_cells() {
        let plan = builtin(2).unwrap();
        let m = expand(&plan);
        assert_eq!(m.groups.len(), 1);
        assert!(m.excluded.is_empty());
        let ids: Vec<_> = m.groups[0].cells.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "cpu.gemma-3-270m-q4_k_m.default.p31",
                "cpu.gemma-3-270m-q4_k_m.default.p461",
                "cpu.gemma-3-270m-q4_k_m.default.p3799",
                "cpu.gemma-3-270m-q4_k_m.default.p11205",
            ]
        );
    }

    #[test]
    fn cells_of_a_backend_without_its_device_are_listed_with_the_reason() {
        let plan = crate::plan::builtin_for(2, &[Backend::Rocm6]).unwrap();
        let mut m = expand(&plan);
        assert_eq!(m.groups.len(), 2);
        let reasons = std::collections::BTreeMap::from([(
            Backend::Rocm6,
            "rocm6 needs /dev/kfd".to_string(),
        )]);
        m.exclude_backends(&reasons);
        assert_eq!(m.groups.len(), 1);
        assert_eq!(m.groups[0].backend, Backend::Cpu);
        assert_eq!(m.excluded.len(), 4);
        assert!(
            m.excluded
                .iter()
                .all(|e| e.id.starts_with("rocm6.") && e.reason == "rocm6 needs /dev/kfd")
        );
    }

    #[test]
    fn exclude_rules_leave_cells_out_and_include_rules_put_them_back() {
        let mut plan = builtin(2).unwrap();
        plan.variants[0].ctx_size = 1024;
        // Out: the 31-token cell, by rule. 3799 and 11205 do not fit 1024.
        plan.exclude.push(CellSelector {
            prompt_tokens: Some(vec![31]),
            ..CellSelector::default()
        });
        // Back in: 3799 although it does not fit; and a length the plan lacks.
        plan.include.push(CellSelector {
            backend: Some("cpu".into()),
            prompt_tokens: Some(vec![3799, 100]),
            ..CellSelector::default()
        });
        // Names another model: picks nothing here.
        plan.include.push(CellSelector {
            model: Some("other".into()),
            ..CellSelector::default()
        });
        let m = expand(&plan);
        let kept: Vec<_> = m.groups[0].cells.iter().map(|c| c.prompt_tokens).collect();
        assert_eq!(kept, [100, 461, 3799]);
        let out: Vec<_> = m
            .excluded
            .iter()
            .map(|e| (e.id.as_str(), e.reason.as_str()))
            .collect();
        // The rule's cell is counted, the one that cannot run is listed.
        assert_eq!(m.left_out, [1]);
        assert_eq!(
            out,
            [(
                "cpu.gemma-3-270m-q4_k_m.default.p11205",
                "11205 prompt + 128 generated tokens exceed ctx_size 1024"
            )]
        );
    }

    #[test]
    fn prompts_that_do_not_fit_the_context_are_excluded_with_reason() {
        let mut plan = builtin(2).unwrap();
        plan.variants[0].ctx_size = 4096;
        let m = expand(&plan);
        let kept: Vec<_> = m.groups[0].cells.iter().map(|c| c.prompt_tokens).collect();
        assert_eq!(kept, [31, 461, 3799]);
        assert_eq!(m.excluded.len(), 1);
        assert_eq!(m.excluded[0].id, "cpu.gemma-3-270m-q4_k_m.default.p11205");
        assert_eq!(
            m.excluded[0].reason,
            "11205 prompt + 128 generated tokens exceed ctx_size 4096"
        );
    }

    /// The study's plan with `extra` rules appended.
    fn study(extra: &str) -> Plan {
        let text = include_str!("../../plans/h200-study.toml");
        crate::plan::parse(&format!("{text}{extra}"), "h200-study.toml", 16).unwrap()
    }

    fn needed_names(plan: &Plan) -> Vec<&str> {
        let n = expand(plan).models_needed(plan);
        plan.models
            .iter()
            .zip(n)
            .filter(|(_, n)| *n)
            .map(|(m, _)| m.name.as_str())
            .collect()
    }

    #[test]
    fn a_model_no_cell_uses_is_not_needed_unless_a_needed_twin_takes_its_vocabulary() {
        let all = [
            "gemma-3-270m-q4_k_m",
            "synthetic-gemma3-270m",
            "synthetic-gemma3-27b-q8_0",
            "synthetic-qwen3moe-30b-a3b-q4_0",
        ];
        assert_eq!(needed_names(&study("")), all);
        let rule = |m: &str| format!("\n[[exclude]]\nmodel = \"{m}\"\n");
        // The real model's own cells all left out: still needed, for the
        // twin's vocabulary.
        let plan = study(&(rule(all[0]) + &rule(all[2])));
        assert_eq!(needed_names(&plan), [all[0], all[1], all[3]]);
        // The twin left out too: the real model is not.
        let plan = study(&(rule(all[0]) + &rule(all[1]) + &rule(all[2])));
        assert_eq!(needed_names(&plan), [all[3]]);
    }
}
