//! `rigbench model synth` (make a synthetic model file from a recipe),
//! `rigbench model prepare` (a plan's models into the cache ahead of its run)
//! and `rigbench model shapes` (the built-in shapes).

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;

use super::{Globals, load_plan};
use crate::cli::{ModelAction, SynthArgs};
use crate::fetch::Fetcher;
use crate::host::devices::Passthrough;
use crate::session::{prepare, synthetic};
use crate::synth::shape::{self, ShapeFile, WrittenShape};
use crate::synth::{Quant, RecipeFile, VocabFile, layout, make, quantize};

pub async fn model(g: &Globals, action: &ModelAction) -> anyhow::Result<ExitCode> {
    match action {
        ModelAction::Synth(args) => synth(g, args).await,
        ModelAction::Prepare { plan } => {
            prepare_plan(g, plan).await?;
            Ok(ExitCode::SUCCESS)
        }
        ModelAction::Shapes { json } => {
            shapes(*json)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Each of the plan's models that its cells need fetched or made into the
/// cache, as its run would (the same step, so the run finds them there), one
/// line each.
async fn prepare_plan(g: &Globals, path: &Path) -> anyhow::Result<()> {
    // On another host's engine each model is also put there, as a volume,
    // and the plan is that host's (its CPUs).
    let remote = match g.engine.remote() {
        true => Some(g.connect().await?),
        false => None,
    };
    let plan = match &remote {
        Some(c) => {
            let seen = super::host_view::of_engine(c, Path::new("/")).await?;
            super::host_view::plan_for(Some(path), &seen.view)?
        }
        None => {
            let host = crate::host::probe(Path::new("/"));
            load_plan(Some(path), host.cpu.logical_cpus.max(1))?
        }
    };
    let mut fetcher = Fetcher::new(&g.cache)?;
    // The plan's matrix, not this host's: a model is prepared here for a run
    // on a machine with the devices this one may lack.
    let needed = crate::plan::matrix::expand(&plan).models_needed(&plan);
    let obtained =
        prepare::models(&mut fetcher, &g.cache, &plan, &needed, remote.is_some()).await?;
    for (m, o) in plan.models.iter().zip(obtained) {
        match o {
            prepare::Obtained::Unused => {
                println!("{}: not needed (no cell of the plan uses it)", m.name)
            }
            prepare::Obtained::Ready(f) => {
                println!("{}: {} (sha256 {})", m.name, f.path.display(), f.sha256);
                if let Some(c) = &remote {
                    put_there(c, &m.name, &f).await?;
                }
            }
            prepare::Obtained::Pending(p) => {
                println!(
                    "{}: made by the run (llama-quantize runs in its image)",
                    m.name
                );
                p.discard()?;
            }
            prepare::Obtained::There(t) if !t.recipe.quant.written_directly() => {
                println!(
                    "{}: made by the run there (llama-quantize runs in its image)",
                    m.name
                );
            }
            prepare::Obtained::There(t) => {
                // `There` comes only for another host's engine.
                let Some(c) = &remote else { continue };
                let there = crate::session::There::of(&c.client).await?;
                let f = crate::session::remote_synth::make(&c.client, &there, t, None).await?;
                let made = f.synthetic.as_ref().is_some_and(|p| p.made_now);
                let volume = f.there.as_ref().map_or("?", |t| t.volume.as_str());
                println!(
                    "{}: on {} in volume {volume} as {} ({}; sha256 {} checked there)",
                    m.name,
                    there.engine,
                    f.file,
                    if made { "made there" } else { "already there" },
                    f.sha256
                );
            }
        }
    }
    Ok(())
}

/// Puts the model `f` (a split model's shards too) into its volume on the
/// remote engine `c`'s host, each file checked by its sha256 there, and says so.
async fn put_there(
    c: &crate::engine::connect::Connected,
    name: &str,
    f: &crate::fetch::FetchedModel,
) -> anyhow::Result<()> {
    let there = crate::session::There::of(&c.client).await?;
    let (volume, placed) = crate::session::remote_files::fetched_model_volume(
        &c.client,
        &there.engine,
        f,
        &there.binary,
    )
    .await?;
    let names: Vec<&str> = std::iter::once(f)
        .chain(&f.shards)
        .map(|s| s.file.as_str())
        .collect();
    println!(
        "{name}: on {} in volume {volume} as {} ({}; sha256 checked there)",
        there.engine,
        names.join(", "),
        placed.said()
    );
    Ok(())
}

fn shapes(json: bool) -> anyhow::Result<()> {
    let all = shape::builtins();
    if json {
        let v: Vec<serde_json::Value> = all
            .iter()
            .map(|b| {
                serde_json::json!({
                    "shape": b.shape,
                    "parameters": layout::parameters(&b.shape),
                    "source": b.source,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let mut t = crate::render::Table::new([
        "shape", "arch", "params", "layers", "width", "heads/kv", "ffn", "experts", "vocab",
        "context",
    ]);
    for b in &all {
        let s = &b.shape;
        t.push([
            s.name.clone(),
            s.arch.name().to_string(),
            format!("{:.2} B", layout::parameters(s) as f64 / 1e9),
            s.block_count.to_string(),
            s.embedding_length.to_string(),
            format!("{}/{} × {}", s.head_count, s.head_count_kv, s.head_dim),
            s.expert_feed_forward_length
                .unwrap_or(s.feed_forward_length)
                .to_string(),
            match (s.expert_count, s.expert_used_count) {
                (Some(n), Some(k)) => format!("{k} of {n}"),
                _ => "-".to_string(),
            },
            s.vocab_size.to_string(),
            s.context_length.to_string(),
        ]);
    }
    println!("{}", crate::render::terminal::table(&t));
    for b in &all {
        println!("{}: {}", b.shape.name, b.source);
    }
    Ok(())
}

/// `--shape`: a built-in name, or a TOML file of a written shape.
fn shape_arg(s: &str) -> anyhow::Result<ShapeFile> {
    if s.ends_with(".toml") || Path::new(s).is_file() {
        let text = std::fs::read_to_string(s).with_context(|| format!("--shape {s}"))?;
        let w: WrittenShape = toml::from_str(&text).map_err(|e| anyhow::anyhow!("{s}: {e}"))?;
        return Ok(ShapeFile::Written(Box::new(w)));
    }
    Ok(ShapeFile::Named(s.to_string()))
}

/// The recipe `synth`'s arguments name, resolved: its shape, type, seed and
/// vocabulary (a `--vocab-from` file hashed).
fn recipe_of_args(
    g: &Globals,
    a: &SynthArgs,
    quant: Quant,
) -> anyhow::Result<(crate::synth::Recipe, crate::synth::vocab::Vocab)> {
    let recipe_file = RecipeFile {
        shape: shape_arg(&a.shape)?,
        quant,
        seed: a.seed,
        vocab: match &a.vocab_from {
            Some(p) => VocabFile::Model {
                model: p.display().to_string(),
            },
            None => VocabFile::Builtin,
        },
        generator: None,
    };
    recipe_file
        .check()
        .map_err(|e| anyhow::anyhow!("--{}: {}", e.field.replace('.', " "), e.message))?;
    let mut fetcher = Fetcher::new(&g.cache)?;
    let vocab_file = match &a.vocab_from {
        Some(p) => {
            let (sha, _, _) = fetcher
                .hash(p)
                .with_context(|| format!("--vocab-from {}", p.display()))?;
            let name = p.file_name().map_or_else(
                || p.display().to_string(),
                |n| n.to_string_lossy().into_owned(),
            );
            Some((name, p.clone(), sha))
        }
        None => None,
    };
    synthetic::resolve(
        &recipe_file,
        vocab_file
            .as_ref()
            .map(|(n, p, s)| (n.as_str(), p.as_path(), s.as_str())),
    )
}

async fn synth(g: &Globals, a: &SynthArgs) -> anyhow::Result<ExitCode> {
    let quant = Quant::parse(&a.quant).map_err(|e| anyhow::anyhow!("--quant {e}"))?;
    let (recipe, vocab) = recipe_of_args(g, a, quant)?;
    let threads = a.threads.unwrap_or_else(synthetic::threads);
    let out_dir = match a.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let file = a
        .out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| anyhow::anyhow!("--out {}: not a file name", a.out.display()))?;
    println!("recipe: {}", recipe.describe());
    let written = quant.intermediate();
    let direct = quant.written_directly();
    let target = if direct {
        a.out.clone()
    } else {
        std::fs::create_dir_all(g.cache.tmp())?;
        g.cache.tmp().join(format!(
            "synth-{}.q8_0.gguf",
            crate::engine::unique_suffix()
        ))
    };
    let c = make::content(&recipe, written, &vocab)?;
    let bar = crate::progress::bytes(Some(c.file_size()), &format!("writing {written}"));
    let b = bar.clone();
    let out = target.clone();
    let made = tokio::task::spawn_blocking(move || c.write(&out, threads, &|n| b.set_position(n)))
        .await??;
    bar.finish_and_clear();
    println!(
        "wrote {} ({} bytes of {written}) in {:.1} s on {} threads",
        made.path.display(),
        made.size_bytes,
        made.seconds,
        made.threads
    );
    let (sha, key) = if direct {
        (made.sha256, recipe.key(None))
    } else {
        let result = quantize_here(g, a, &made, &out_dir, &file, quant, threads).await;
        let _ = std::fs::remove_file(&made.path);
        let (record, sha) = result?;
        println!(
            "llama-quantize in {} ({}): {} in {:.1} s",
            record.image,
            &record.image_id[..record.image_id.len().min(19)],
            record.command.join(" "),
            record.seconds
        );
        let key = recipe.key(Some(&record.llama_cpp_commit));
        (sha, key)
    };
    println!("file: {}", a.out.display());
    println!("sha256: {sha}");
    println!("recipe key: {key}");
    println!("made by: rigbench {}", crate::version::LONG);
    println!(
        "recipe (JSON): {}",
        serde_json::to_string(&recipe).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// llama-quantize in the plan's CPU image (built or reused), from the Q8_0
/// file `made` to `out_dir/file`.
async fn quantize_here(
    g: &Globals,
    a: &SynthArgs,
    made: &make::Made,
    out_dir: &Path,
    file: &str,
    quant: Quant,
    threads: usize,
) -> anyhow::Result<(quantize::QuantizeRecord, String)> {
    let host = crate::host::probe(Path::new("/"));
    let plan = load_plan(a.plan.as_deref(), host.cpu.logical_cpus.max(1))?;
    let images = crate::plan::images::image_plans(&plan, || host.clone());
    let cpu = images.iter().find(|i| !i.backend.is_gpu()).ok_or_else(|| {
        anyhow::anyhow!(
            "{}: the plan has no cpu backend, whose image llama-quantize runs in",
            plan.origin
        )
    })?;
    g.engine.local_only("making a model with llama-quantize")?;
    let connected = g.connect().await?;
    let mut fetcher = Fetcher::new(&g.cache)?;
    let sources = prepare::sources(&mut fetcher, &plan).await?;
    let logs = g.cache.root().join("logs");
    std::fs::create_dir_all(&logs)?;
    let none = Passthrough::default();
    let images = prepare::images(
        &connected.client,
        &plan,
        &[(cpu, &none)],
        &sources[..1],
        &crate::image::BuildPlace {
            cache: &g.cache,
            logs: &logs,
            rebuild: crate::image::Rebuild::No,
        },
    )
    .await?;
    let image = images
        .first()
        .ok_or_else(|| anyhow::anyhow!("no CPU image was built"))?;
    let q = image.quantizer();
    let job = quantize::Job {
        input: &made.path,
        input_sha256: &made.sha256,
        out_dir,
        file,
        quant,
        threads,
    };
    let (path, record) = quantize::run(&connected.client, &q, &job)
        .await
        .map_err(anyhow::Error::msg)?;
    let sha = crate::hash::sha256_file(&path)?;
    Ok((record, sha))
}
