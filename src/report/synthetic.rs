//! What the report says of synthetic models (random weights made from a
//! recipe): which they are, what they were made from, and which checks their
//! cells did without. Shared by report.md and report.html; a pure function of
//! the manifest.

use std::fmt::Write as _;

use crate::manifest::Manifest;
use crate::render::{Table, Text, markdown};
use crate::synth::shape::Arch;

/// The paragraphs and the table of recipes; `None` when no model is synthetic.
pub fn parts(m: &Manifest) -> Option<(Vec<String>, Table)> {
    let synth: Vec<_> = m
        .models
        .iter()
        .filter_map(|r| Some((r, r.synthetic.as_ref()?)))
        .collect();
    if synth.is_empty() {
        return None;
    }
    let names: Vec<&str> = synth.iter().map(|(r, _)| r.name.as_str()).collect();
    let mut paragraphs = vec![
        format!(
            "Synthetic: {}. Random weights in the shape and file type of the recipe below, \
             the same bytes on every machine (`rigbench model synth`, or this plan, remakes \
             them; a rerun checks the sha256). Their figures stand for a model of that shape \
             and quantization, not for any trained model.",
            names.join(", ")
        ),
        "Not applied to their cells, because they need real weights: greedy output agreement \
         across backends and the degenerate-output check (random weights repeat themselves). \
         The token counts are still checked (EOS is ignored)."
            .to_string(),
    ];
    let on_cpu = m
        .cells
        .iter()
        .any(|c| names.contains(&c.model.as_str()) && !c.backend.is_gpu());
    if on_cpu {
        paragraphs.push(
            "On the CPU, read their figures as an upper bound: llama.cpp's CPU decode speed \
             depends on the values flowing through the network, and the synthetic Gemma 3 \
             270M generated 1.24 times as fast as the real one with the same tensors \
             (interleaved A/B on a 2-vCPU VM, results/synthetic-2026-12 in rigbench's \
             repository)."
                .to_string(),
        );
    }
    if let Some(l) = logits_sentence(m, &names) {
        paragraphs.push(l);
    }
    for (r, p) in &synth {
        if p.recipe.shape.arch == Arch::Qwen3moe {
            paragraphs.push(format!(
                "{} is an MoE model whose routing comes from random router weights, not a \
                 trained model's: tokens spread over its experts differently, which changes \
                 how many experts' weights prompt processing reads.",
                r.name
            ));
        }
        if p.muted_tokens > 0 {
            paragraphs.push(format!(
                "{}: {} tokens whose text is part of a UTF-8 character have an output row of \
                 zeros, so greedy decoding never picks one (llama-server holds such a token \
                 back instead of streaming it, and rigbench counts streamed tokens).",
                r.name, p.muted_tokens
            ));
        }
    }
    let mut t = Table::new([
        "model",
        "recipe",
        "vocabulary",
        "file",
        "sha256",
        "made by",
        "how",
    ]);
    for (r, p) in &synth {
        let how = match &p.quantize {
            Some(q) => format!(
                "Q8_0 written in {:.0} s on {} threads, then llama-quantize in {} ({:.0} s)",
                p.write_seconds, p.threads, q.image, q.seconds
            ),
            None => format!(
                "written in {:.0} s on {} threads{}",
                p.write_seconds,
                p.threads,
                if p.made_now { "" } else { " (cached)" }
            ),
        };
        t.push([
            Text::plain(r.name.clone()),
            Text::plain(format!(
                "{} {}, seed {}, generator {}",
                p.recipe.shape.name, p.recipe.quant, p.recipe.seed, p.recipe.generator
            )),
            Text::plain(match &p.recipe.vocab {
                crate::synth::VocabSource::Builtin => "built-in".to_string(),
                crate::synth::VocabSource::Model { name, sha256 } => {
                    format!("{name}'s ({})", &sha256[..sha256.len().min(12)])
                }
            }),
            Text::code(r.file.clone()),
            Text::code(r.sha256.clone()),
            Text::plain(p.made_by.clone()),
            Text::plain(how),
        ]);
    }
    Some((paragraphs, t))
}

/// What the warm-ups of the synthetic models' cells saw of the logits: each
/// asks for every generated token's log-probability, which is a finite number
/// unless a NaN or an infinity reached the logits.
fn logits_sentence(m: &Manifest, names: &[&str]) -> Option<String> {
    let mut finite = 0;
    let mut bad: Vec<&str> = Vec::new();
    for c in m.cells.iter().filter(|c| names.contains(&c.model.as_str())) {
        for r in c.runs.iter().filter(|r| r.warmup) {
            match r.logits_finite {
                Some(true) => finite += 1,
                Some(false) if !bad.contains(&c.id.as_str()) => bad.push(&c.id),
                _ => {}
            }
        }
    }
    if finite == 0 && bad.is_empty() {
        return None;
    }
    Some(if bad.is_empty() {
        format!(
            "Logits finite: every generated token's log-probability was a number in all \
             {finite} warm-ups of their cells (no NaN or infinity reached the logits)."
        )
    } else {
        format!(
            "Logits NOT finite (a NaN or an infinity reached them) in warm-ups of {}: their \
             speed was measured on arithmetic that overflowed.",
            bad.join(", ")
        )
    })
}

/// The section in report.md.
pub fn section(out: &mut String, m: &Manifest) {
    let Some((paragraphs, t)) = parts(m) else {
        return;
    };
    let _ = writeln!(out, "## Synthetic models\n");
    for p in paragraphs {
        let _ = writeln!(out, "{p}\n");
    }
    out.push_str(&markdown::table(&t));
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::fixtures::{cell, manifest, run, synthetic_record};

    #[test]
    fn a_synthetic_model_is_labelled_and_its_skipped_checks_said() {
        let mut m = manifest();
        m.models.push(synthetic_record("gemma-3-270m-q4_k_m"));
        let mut warm = run(10.0, 100.0, 900.0, true);
        warm.logits_finite = Some(true);
        m.cells.push(cell(
            31,
            "default",
            vec![warm, run(70.0, 800.0, 40.0, false)],
            None,
        ));
        let md = crate::report::markdown::render(&m);
        assert!(
            md.contains("### gemma-3-270m-q4_k_m (synthetic: gemma3-270m Q8_0, seed 0)"),
            "{md}"
        );
        assert!(md.contains("## Synthetic models"));
        assert!(md.contains(
            "Not applied to their cells, because they need real weights: greedy output agreement"
        ));
        assert!(md.contains("128 tokens whose text is part of a UTF-8 character"));
        assert!(md.contains("gemma3-270m Q8_0, seed 0, generator 1"));
        assert!(md.contains("written in 2 s on 2 threads"));
        assert!(md.contains("log-probability was a number in all 1 warm-ups"));
        assert!(md.contains("On the CPU, read their figures as an upper bound"));
        // Not an MoE: nothing said of routing.
        assert!(!md.contains("router"));
        let html = crate::report::html::render_html(&m);
        assert!(html.contains("<h2>Synthetic models</h2>"));
        assert!(html.contains("gemma-3-270m-q4_k_m (synthetic: gemma3-270m Q8_0, seed 0)"));
        // A run of real models says nothing of it.
        let real = manifest();
        assert!(parts(&real).is_none());
    }

    #[test]
    fn an_moe_says_its_routing_is_random() {
        let mut m = manifest();
        let mut r = synthetic_record("moe");
        if let Some(p) = r.synthetic.as_mut() {
            p.recipe.shape = crate::synth::shape::builtin("qwen3moe-30b-a3b").unwrap();
            p.muted_tokens = 0;
        }
        m.models.push(r);
        let mut c = cell(31, "default", vec![run(10.0, 100.0, 900.0, true)], None);
        c.model = "moe".into();
        c.runs[0].logits_finite = Some(false);
        m.cells.push(c);
        let (paragraphs, _) = parts(&m).unwrap();
        assert_eq!(paragraphs.len(), 5);
        assert!(paragraphs[2].starts_with("On the CPU, read their figures as an upper bound"));
        assert!(paragraphs[3].starts_with(
            "Logits NOT finite (a NaN or an infinity reached them) in warm-ups of cpu.m.default.p31"
        ));
        assert!(
            paragraphs[4]
                .starts_with("moe is an MoE model whose routing comes from random router weights")
        );
    }
}
