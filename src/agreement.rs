//! Output agreement across backends: with greedy decoding, each cell's generated
//! token ids are compared with the same cell (model, variant, prompt length) on the
//! reference backend: CPU when the plan has it, else its first backend. Pure
//! functions of the manifest's cells, whose `Agreement` they fill in.
//!
//! Small numeric differences between backends can move a token that is close to
//! its runner-up, after which the continuations differ; an agreement that ends
//! within the first tokens (or never starts) is the mark of a broken backend.

use crate::backend::Backend;
use crate::manifest::{Agreement, Cell, Divergence};

/// Compares two token sequences.
pub fn compare(reference_id: &str, reference: &[u32], other: &[u32]) -> Agreement {
    let compared = reference.len().min(other.len());
    let matching_prefix = reference
        .iter()
        .zip(other)
        .take_while(|(a, b)| a == b)
        .count();
    Agreement {
        reference: reference_id.to_string(),
        compared,
        matching_prefix,
        first_divergence: (matching_prefix < compared).then(|| Divergence {
            index: matching_prefix,
            reference_token: reference[matching_prefix],
            token: other[matching_prefix],
        }),
    }
}

/// The reference backend among `backends` (in plan order): the one
/// `Backend::is_agreement_reference` names, else the first.
pub fn reference_backend(backends: &[Backend]) -> Option<Backend> {
    backends
        .iter()
        .find(|b| b.is_agreement_reference())
        .or_else(|| backends.first())
        .copied()
}

/// The first measured run's tokens of a cell.
fn tokens(c: &Cell) -> Option<&[u32]> {
    c.runs
        .iter()
        .find(|r| !r.warmup && r.checks.all())
        .map(|r| r.token_ids.as_slice())
}

/// Sets each cell's agreement with its reference cell: the same source, model,
/// variant and prompt on the reference backend (none on the reference backend
/// itself, nor where either has no measured run).
///
/// Cells of the models in `skip` (synthetic ones: random weights say nothing
/// of a backend's output) are not compared.
pub fn annotate(cells: &mut [Cell], reference: Backend, skip: &[String]) {
    let refs: Vec<(String, String, String, u32, String, Vec<u32>)> = cells
        .iter()
        .filter(|c| c.backend == reference)
        .filter_map(|c| {
            Some((
                c.source.clone(),
                c.model.clone(),
                c.variant.name.clone(),
                c.prompt_tokens,
                c.id.clone(),
                tokens(c)?.to_vec(),
            ))
        })
        .collect();
    for c in cells.iter_mut() {
        c.agreement = None;
        if c.backend == reference || skip.contains(&c.model) {
            continue;
        }
        let Some(mine) = tokens(c).map(<[u32]>::to_vec) else {
            continue;
        };
        if let Some((_, _, _, _, id, theirs)) = refs.iter().find(|(s, m, v, p, _, _)| {
            *s == c.source && *m == c.model && *v == c.variant.name && *p == c.prompt_tokens
        }) {
            c.agreement = Some(compare(id, theirs, &mine));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_outputs_agree_fully() {
        let a = compare("cpu.x", &[1, 2, 3], &[1, 2, 3]);
        assert_eq!(a.compared, 3);
        assert_eq!(a.matching_prefix, 3);
        assert_eq!(a.first_divergence, None);
    }

    #[test]
    fn the_first_difference_is_recorded() {
        // The e2e run's 461-token cell: CPU and Vulkan part at the seventh token.
        let cpu = [2214, 3324, 506, 7764, 236787, 532, 901, 964];
        let vk = [2214, 3324, 506, 7764, 236787, 532, 506, 3446];
        let a = compare("cpu.g.small.p461", &cpu, &vk);
        assert_eq!(a.matching_prefix, 6);
        assert_eq!(
            a.first_divergence,
            Some(Divergence {
                index: 6,
                reference_token: 901,
                token: 506
            })
        );
    }

    #[test]
    fn a_collapsed_stream_diverges_at_once_and_lengths_may_differ() {
        let a = compare("r", &[107, 34130, 9, 9], &[236855, 715]);
        assert_eq!(a.compared, 2);
        assert_eq!(a.matching_prefix, 0);
        assert_eq!(a.first_divergence.unwrap().index, 0);
    }

    #[test]
    fn a_synthetic_models_cells_are_not_compared() {
        use crate::manifest::fixtures::{cell, run};
        let with_tokens = |backend: Backend, model: &str, tokens: &[u32]| {
            let mut c = cell(31, "default", vec![run(10.0, 100.0, 50.0, false)], None);
            c.backend = backend;
            c.model = model.into();
            c.runs[0].token_ids = tokens.to_vec();
            c
        };
        let mut cells = vec![
            with_tokens(Backend::Cpu, "real", &[1, 2, 3]),
            with_tokens(Backend::Vulkan, "real", &[1, 2, 4]),
            with_tokens(Backend::Cpu, "synth", &[5, 5, 5]),
            with_tokens(Backend::Vulkan, "synth", &[6, 6, 6]),
        ];
        annotate(&mut cells, Backend::Cpu, &["synth".to_string()]);
        assert_eq!(
            cells[1].agreement.as_ref().map(|a| a.matching_prefix),
            Some(2)
        );
        assert_eq!(cells[3].agreement, None);
    }

    #[test]
    fn cpu_is_the_reference_when_present() {
        assert_eq!(
            reference_backend(&[Backend::Vulkan, Backend::Cpu]),
            Some(Backend::Cpu)
        );
        assert_eq!(
            reference_backend(&[Backend::Rocm6, Backend::Vulkan]),
            Some(Backend::Rocm6)
        );
        assert_eq!(reference_backend(&[]), None);
    }
}
