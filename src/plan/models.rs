//! Each model of a plan as a run on this host will have it: whether a cell or
//! llama-bench run of the matrix needs it, where the cache holds it already
//! and its size for the estimate. Resolved once, in `Matrix::on_host`: the
//! dry run prints it, the run fetches or makes only the models needed.

use std::path::PathBuf;

use super::Plan;
use crate::cache::Cache;

/// One model of the plan (in plan order) on this host.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelPlan {
    /// A cell or llama-bench run uses it, or a needed synthetic model takes
    /// its vocabulary (`Matrix::models_needed`); if not, neither fetched nor made.
    pub needed: bool,
    /// Where the cache holds the file already: a pinned real model's, or a
    /// synthetic model of the built-in vocabulary made before.
    pub cached: Option<PathBuf>,
    /// The plan's size, else a synthetic model's estimate, else the cached
    /// file's; `None` where unknown (the estimate leaves it out).
    pub size_bytes: Option<u64>,
}

/// `plan`'s models, `needed` as the matrix says, looked up in `cache`.
pub fn model_plans(plan: &Plan, needed: &[bool], cache: &Cache) -> Vec<ModelPlan> {
    let quantizer = plan.sources.first().map_or("", |s| s.commit.as_str());
    plan.models
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let cached = match (m.recipe(), &m.sha256) {
                (Some(r), _) => crate::synth::cached::file(cache, r, quantizer, &m.file),
                (None, Some(sha)) => {
                    Some(cache.models().join(sha).join(&m.file)).filter(|p| p.is_file())
                }
                (None, None) => None,
            };
            let size_bytes = m.size_bytes.or_else(|| match m.recipe() {
                Some(r) => crate::synth::estimated_size(r),
                None => cached
                    .as_ref()
                    .and_then(|p| std::fs::metadata(p).ok())
                    .map(|md| md.len()),
            });
            ModelPlan {
                needed: needed.get(i).copied().unwrap_or(true),
                cached,
                size_bytes,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cached_pinned_model_is_found_and_sized_and_an_unneeded_one_said_so() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = Cache::new(tmp.path().to_path_buf());
        let mut plan = crate::plan::builtin(2).unwrap();
        let m = &mut plan.models[0];
        m.size_bytes = None;
        let sha = m.sha256.clone().unwrap();
        let before = model_plans(&plan, &[true], &cache);
        assert_eq!(before[0].cached, None);
        assert_eq!(before[0].size_bytes, None);
        assert!(before[0].needed);
        let path = cache.models().join(&sha).join(&plan.models[0].file);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, [0u8; 1234]).unwrap();
        let after = model_plans(&plan, &[false], &cache);
        assert_eq!(after[0].cached.as_deref(), Some(path.as_path()));
        assert_eq!(after[0].size_bytes, Some(1234));
        assert!(!after[0].needed);
        // The plan's own size wins over the file's.
        plan.models[0].size_bytes = Some(99);
        assert_eq!(model_plans(&plan, &[true], &cache)[0].size_bytes, Some(99));
    }

    #[test]
    fn a_synthetic_model_is_sized_by_its_recipe_before_it_is_made() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("plans/h200-study.toml");
        let plan = crate::plan::load(&path, 16).unwrap();
        let cache = Cache::new(PathBuf::from("/nonexistent-cache"));
        let models = model_plans(&plan, &vec![true; plan.models.len()], &cache);
        let i = plan
            .models
            .iter()
            .position(|m| m.name == "synthetic-gemma3-27b-q8_0")
            .unwrap();
        assert_eq!(models[i].cached, None);
        assert_eq!(
            models[i].size_bytes,
            crate::synth::estimated_size(plan.models[i].recipe().unwrap())
        );
        assert!(models[i].size_bytes.unwrap() > 28_000_000_000);
    }
}
