//! Synthetic models made on another host's engine from their recipe, where
//! they are used, instead of made here and copied over the network (tens of
//! GB for the study's shapes). The recipe is resolved here (its vocabulary
//! read from the real model it names, whose header alone goes there); rigbench
//! run there (`host_probe`) writes the file into the model's volume,
//! `rigbench-synth-KEY16` after the recipe's identity; a type rigbench does not
//! write is written as Q8_0 into a scratch volume and made by the run's image's
//! llama-quantize there. The file is then read there (`rigbench model-facts`:
//! sha256, header) and checked against the plan's pin, and its record
//! (`FILE.made.json`: sha256 and provenance) is put beside it last: a volume
//! whose file has its record is found whole by the next run, checked by its
//! sha256 again; one without is made anew.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;

use super::host_probe::{self, Job};
use super::remote_files::{self, MOUNT, NOT_THERE};
use super::synthetic::Sidecar;
use crate::engine::{Engine, LABEL_MANAGED, LABEL_ROLE, run_to_completion};
use crate::fetch::{FetchedModel, MadeThere, Verification};
use crate::hash::HashOrigin;
use crate::plan::Model;
use crate::synth::quantize::{self, Quantizer};
use crate::synth::there::{FileFacts, Written, made_record};
use crate::synth::{Provenance, Recipe};

/// The label naming a made model's recipe key on its volume.
pub const LABEL_SYNTHETIC: &str = "io.rigbench.synthetic";

/// A synthetic model to make there.
#[derive(Debug)]
pub struct ToMake {
    pub model: Model,
    pub recipe: Recipe,
    /// `synth::cached::key` of it.
    pub key: String,
    /// The real model (its file here) whose vocabulary the recipe takes.
    pub vocab_model: Option<PathBuf>,
}

/// The volume a synthetic model of recipe key `key` is made in.
pub fn volume_name(key: &str) -> String {
    format!("rigbench-synth-{}", &key[..key.len().min(16)])
}

/// `t` in its volume on the engine's host: found there whole (checked by its
/// sha256 there), or made there; llama-quantize's types in `quantizer`'s
/// image, which a type rigbench writes does not need.
pub async fn make<E: Engine>(
    engine: &E,
    there: &super::There,
    t: ToMake,
    quantizer: Option<&Quantizer<'_>>,
) -> anyhow::Result<FetchedModel> {
    let name = &t.model.name;
    let image = host_probe::ensure_image(engine).await?;
    let volume = volume_name(&t.key);
    let labels = BTreeMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_ROLE.to_string(), "model".to_string()),
        (LABEL_SYNTHETIC.to_string(), t.key.clone()),
    ]);
    let created = engine.create_volume(&volume, &labels).await?;
    let at = Place {
        engine,
        there,
        image: &image,
        volume: &volume,
    };
    if !created {
        if let Some(found) = at.found(&t).await? {
            log::info!(
                "model {name}: synthetic {} found on {} in volume {volume} (sha256 {} checked there)",
                t.recipe.describe(),
                there.engine,
                &found.sha256[..16]
            );
            return Ok(found);
        }
    }
    let made = at.made(&t, quantizer).await;
    if made.is_err() && created {
        let _ = engine.remove_volume(&volume).await;
    }
    let (facts, provenance) =
        made.with_context(|| format!("model {name}: making it on {}", there.engine))?;
    // Checked against the plan's pin once kept: a mismatch leaves the file
    // there to look at.
    at.fetched(&t, facts, provenance)
}

/// Where a model is made: the engine, the probe's image there, the volume.
struct Place<'a, E: Engine> {
    engine: &'a E,
    there: &'a super::There,
    image: &'a str,
    volume: &'a str,
}

impl<E: Engine> Place<'_, E> {
    /// `t`'s file in the volume with its record, its sha256 (computed there)
    /// the record's: found. Otherwise `None` (made anew).
    async fn found(&self, t: &ToMake) -> anyhow::Result<Option<FetchedModel>> {
        let Some(facts) = self.facts(self.volume, &t.model.file).await? else {
            return Ok(None);
        };
        let Some(record) = facts.made.clone() else {
            return Ok(None);
        };
        let record = match serde_json::from_value::<Sidecar>(record) {
            Ok(r) if r.sha256 == facts.sha256 => r,
            _ => return Ok(None),
        };
        let mut provenance = record.provenance;
        provenance.made_now = false;
        Ok(Some(self.fetched(t, facts, provenance)?))
    }

    /// Makes `t`'s file there (see the module comment).
    async fn made(
        &self,
        t: &ToMake,
        quantizer: Option<&Quantizer<'_>>,
    ) -> anyhow::Result<(FileFacts, Provenance)> {
        let quant = t.recipe.quant;
        let direct = quant.written_directly();
        let q = match (direct, quantizer) {
            (true, _) => None,
            (false, Some(q)) => Some(q),
            (false, None) => anyhow::bail!(
                "{} is made by llama-quantize, and no image of the plan's source is there to run it in",
                quant
            ),
        };
        let scratch = match direct {
            true => None,
            false => {
                let v = format!("rigbench-synth-q8-{}", crate::engine::unique_suffix());
                let labels = BTreeMap::from([
                    (LABEL_MANAGED.to_string(), "true".to_string()),
                    (LABEL_ROLE.to_string(), "model-scratch".to_string()),
                ]);
                self.engine.create_volume(&v, &labels).await?;
                Some(v)
            }
        };
        let result = self.write_and_quantize(t, q, scratch.as_deref()).await;
        if let Some(v) = &scratch {
            if let Err(e) = self.engine.remove_volume(v).await {
                log::warn!("the scratch volume {v} on {} stays: {e}", self.there.engine);
            }
        }
        let quantize = result?;
        let facts = (self.facts(self.volume, &t.model.file).await?).ok_or_else(|| {
            anyhow::anyhow!("{} is not in {} after making it", t.model.file, self.volume)
        })?;
        let written = quantize.written;
        let provenance = Provenance {
            recipe: t.recipe.clone(),
            key: t.key.clone(),
            made_by: crate::version::LONG.to_string(),
            made_now: true,
            write_seconds: written.seconds,
            threads: written.threads,
            muted_tokens: written.muted,
            padded_tokens: written.padded,
            quantize: quantize.record,
        };
        self.keep_record(t, &facts, &provenance).await?;
        log::info!(
            "model {}: made on {} in volume {} ({} bytes of {} in {:.1} s on {} threads there{}, sha256 {})",
            t.model.name,
            self.there.engine,
            self.volume,
            facts.size_bytes,
            quant,
            written.seconds,
            written.threads,
            match &provenance.quantize {
                Some(q) => format!("; llama-quantize {:.1} s", q.seconds),
                None => String::new(),
            },
            &facts.sha256[..16]
        );
        Ok((facts, provenance))
    }

    /// rigbench writes the recipe's file (Q8_0 into `scratch` for
    /// llama-quantize, which then makes it in the volume).
    async fn write_and_quantize(
        &self,
        t: &ToMake,
        q: Option<&Quantizer<'_>>,
        scratch: Option<&str>,
    ) -> anyhow::Result<Made> {
        let quant = t.recipe.quant;
        let local = tempfile::tempdir().context("a folder for the recipe")?;
        let recipe = local.path().join("recipe.json");
        std::fs::write(&recipe, serde_json::to_vec(&t.recipe)?)?;
        let mut uploads = vec![(recipe, "recipe.json".to_string())];
        if let Some(real) = &t.vocab_model {
            let header = local.path().join("vocab.gguf");
            crate::synth::there::header_only(real, &header)
                .with_context(|| format!("the vocabulary's header from {}", real.display()))?;
            uploads.push((header, "vocab.gguf".to_string()));
        }
        let (into, written_name) = match scratch {
            None => (self.volume, t.model.file.clone()),
            Some(v) => (
                v,
                format!("{}.q8_0.gguf", t.model.file.trim_end_matches(".gguf")),
            ),
        };
        let out = format!("{MOUNT}/{written_name}");
        let written_quant = quant.intermediate();
        let mut args = vec!["synth-write", "--recipe", "/recipe.json"];
        if t.vocab_model.is_some() {
            args.extend(["--vocab", "/vocab.gguf"]);
        }
        args.extend(["--quant", written_quant.name(), "--out", &out]);
        let job = Job {
            binds: vec![remote_files::volume_bind(into, false)],
            uploads,
            ..Job::new("synth-write", &args)
        };
        let waiting = crate::progress::waiting(&format!(
            "making model {} on {} ({})",
            t.model.name,
            self.there.engine,
            t.recipe.describe()
        ));
        let ran =
            host_probe::rigbench_there(self.engine, self.image, &self.there.binary, job).await;
        drop(waiting);
        let ran = ran?;
        if ran.code != 0 {
            anyhow::bail!(
                "rigbench synth-write there exited with {}: {}",
                ran.code,
                ran.output
            );
        }
        let written: Written = serde_json::from_slice(&ran.stdout)
            .with_context(|| format!("rigbench synth-write there printed: {}", ran.output))?;
        let (Some(q), Some(scratch)) = (q, scratch) else {
            return Ok(Made {
                written,
                record: None,
            });
        };
        let cmd = quantize::command(&written_name, &t.model.file, quant, written.threads);
        let input = remote_files::volume_bind(scratch, true);
        let output = remote_files::volume_bind(self.volume, false);
        let waiting = crate::progress::waiting(&format!(
            "llama-quantize: {} to {quant} in {} on {}",
            t.model.name, q.image, self.there.engine
        ));
        let t0 = Instant::now();
        let done = run_to_completion(self.engine, &quantize::spec(q, &cmd, input, output)).await;
        drop(waiting);
        let done = done.map_err(|e| anyhow::anyhow!("llama-quantize in {}: {e}", q.image))?;
        if done.status.code != 0 {
            anyhow::bail!("{}", quantize::failure(q, &done));
        }
        let record = quantize::record(q, cmd, &written.file.sha256, t0.elapsed().as_secs_f64());
        Ok(Made {
            written,
            record: Some(record),
        })
    }

    /// `file` in `volume` as read there; `None` where it is not there.
    async fn facts(&self, volume: &str, file: &str) -> anyhow::Result<Option<FileFacts>> {
        let path = format!("{MOUNT}/{file}");
        let args = ["model-facts", path.as_str()];
        let job = Job {
            binds: vec![remote_files::volume_bind(volume, true)],
            ..Job::new("model-check", &args)
        };
        let ran =
            host_probe::rigbench_there(self.engine, self.image, &self.there.binary, job).await?;
        match ran.code {
            0 => Ok(Some(serde_json::from_slice(&ran.stdout).with_context(
                || format!("rigbench model-facts there printed: {}", ran.output),
            )?)),
            c if c == i64::from(NOT_THERE) => Ok(None),
            c => anyhow::bail!("rigbench model-facts there exited with {c}: {}", ran.output),
        }
    }

    /// Puts the made file's record beside it: the last step, after which
    /// the volume holds a whole model.
    async fn keep_record(
        &self,
        t: &ToMake,
        facts: &FileFacts,
        provenance: &Provenance,
    ) -> anyhow::Result<()> {
        let record = Sidecar {
            sha256: facts.sha256.clone(),
            provenance: provenance.clone(),
        };
        let local = tempfile::NamedTempFile::new()?;
        std::fs::write(local.path(), serde_json::to_vec_pretty(&record)?)?;
        let name = made_record(Path::new(&t.model.file));
        let name = name.to_string_lossy();
        host_probe::upload_into(
            self.engine,
            self.image,
            self.volume,
            (local.path(), &name),
            0o644,
        )
        .await?;
        Ok(())
    }

    /// The model as the run records and mounts it.
    fn fetched(
        &self,
        t: &ToMake,
        facts: FileFacts,
        provenance: Provenance,
    ) -> anyhow::Result<FetchedModel> {
        super::synthetic::check_pin(
            &t.model,
            &provenance,
            &facts.sha256,
            &format!("on {}", self.there.engine),
            &format!("{} in volume {} there", t.model.file, self.volume),
        )?;
        Ok(FetchedModel {
            file: t.model.file.clone(),
            path: PathBuf::from(format!("{MOUNT}/{}", t.model.file)),
            sha256: facts.sha256,
            size_bytes: facts.size_bytes,
            source: t.model.sources[0].clone(),
            verification: Verification {
                pinned: t.model.sha256.is_some(),
                hash_origin: HashOrigin::Computed,
                hash_seconds: 0.0,
            },
            shards: Vec::new(),
            synthetic: Some(provenance),
            there: Some(Box::new(MadeThere {
                volume: self.volume.to_string(),
                gguf: facts.gguf,
            })),
        })
    }
}

/// What making took: rigbench's writing, and llama-quantize's record.
struct Made {
    written: Written,
    record: Option<quantize::QuantizeRecord>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::engine::FakeEngine;

    /// The plan's one synthetic model, resolved, to make there.
    fn to_make(quant: &str) -> ToMake {
        let text = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans/e2e.toml"),
        )
        .unwrap();
        let text = format!(
            "{text}\n[[models]]\nname = \"tiny\"\n\
             synthetic = {{ shape = {{ base = \"gemma3-270m\", block_count = 1, vocab_size = 1024 }}, quant = \"{quant}\" }}\n"
        );
        let plan = crate::plan::parse(&text, "test", 2).unwrap();
        let model = plan
            .models
            .iter()
            .find(|m| m.name == "tiny")
            .unwrap()
            .clone();
        let (recipe, _) = super::super::synthetic::resolve(model.recipe().unwrap(), None).unwrap();
        ToMake {
            key: crate::synth::cached::key(&recipe, "0c1e57098bba"),
            model,
            recipe,
            vocab_model: None,
        }
    }

    fn there() -> (super::super::There, tempfile::NamedTempFile) {
        let bin = tempfile::NamedTempFile::new().unwrap();
        let t = super::super::There {
            engine: "ssh://gpu/podman.sock".into(),
            binary: bin.path().to_path_buf(),
        };
        (t, bin)
    }

    #[tokio::test]
    async fn a_type_llama_quantize_makes_needs_an_image_there_and_the_volume_made_goes() {
        let engine = FakeEngine::default();
        engine.add_image(host_probe::PROBE_IMAGE);
        let (there, _bin) = there();
        let t = to_make("q4_k_m");
        let volume = volume_name(&t.key);
        let err = format!("{:#}", make(&engine, &there, t, None).await.unwrap_err());
        assert_eq!(
            err,
            "model tiny: making it on ssh://gpu/podman.sock: Q4_K_M is made by llama-quantize, and no image of the plan's source is there to run it in"
        );
        // The volume this call made is gone again; nothing was started.
        assert!(!engine.volumes.lock().unwrap().contains_key(&volume));
        assert!(engine.specs.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn rigbench_there_writes_the_recipe_into_the_models_volume() {
        let engine = FakeEngine::default();
        engine.add_image(host_probe::PROBE_IMAGE);
        let (there, _bin) = there();
        let t = to_make("q8_0");
        let volume = volume_name(&t.key);
        // Named after its recipe, where the plan names no file.
        assert_eq!(t.model.file, "gemma3-270m-custom-q8_0-s0.gguf");
        let err = format!("{:#}", make(&engine, &there, t, None).await.unwrap_err());
        // The fake's container prints a server's line, not what was written.
        assert!(
            err.starts_with("model tiny: making it on ssh://gpu/podman.sock: rigbench synth-write there printed: main: server is listening"),
            "{err}"
        );
        let specs = engine.specs.lock().unwrap().clone();
        let role = |s: &&crate::engine::ContainerSpec| {
            s.labels.get(LABEL_ROLE).map(String::as_str) == Some("synth-write")
        };
        let spec = specs.iter().find(role).unwrap();
        assert_eq!(
            spec.cmd,
            [
                "synth-write",
                "--recipe",
                "/recipe.json",
                "--quant",
                "Q8_0",
                "--out",
                "/models/gemma3-270m-custom-q8_0-s0.gguf"
            ]
        );
        let bind = spec.binds.iter().find(|b| b.container == MOUNT).unwrap();
        assert_eq!(bind.host, Path::new(&volume));
        assert!(!bind.read_only);
        // The recipe went in beside rigbench, resolved.
        let uploads = engine.uploads.lock().unwrap();
        let recipe = uploads.iter().find(|u| u.path == "/recipe.json").unwrap();
        let sent: Recipe = serde_json::from_slice(&recipe.bytes).unwrap();
        assert_eq!(sent.shape.block_count, 1);
        assert!(!engine.volumes.lock().unwrap().contains_key(&volume));
        assert_eq!(engine.live_containers(), 0);
    }

    #[test]
    fn a_recipe_keys_its_volume() {
        assert_eq!(
            volume_name("0123456789abcdef0123456789abcdef"),
            "rigbench-synth-0123456789abcdef"
        );
        assert_eq!(volume_name("abc"), "rigbench-synth-abc");
    }
}
