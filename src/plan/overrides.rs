//! What the command line changes in a plan: `rigbench run --model …
//! --backend … --runs …`. Applied to the plan file as written (before its
//! defaults are filled in), so that `--print-plan` prints a plan file that
//! resolves to the same plan, and recorded in the resolved plan as the flags
//! given.

use super::PlanError;
use super::file::{BackendFile, ModelFile, ModelSourceFile, PlanFile};
use crate::backend::Backend;

/// A model named on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelArg {
    /// A GGUF file on this machine (for a split model, its first shard).
    Path(std::path::PathBuf),
    /// `hf://OWNER/REPO/FILE[@REVISION]`.
    HuggingFace {
        repo: String,
        file: String,
        revision: String,
    },
}

impl ModelArg {
    /// Parses `PATH` or `hf://OWNER/REPO/FILE[@REVISION]`.
    pub fn parse(s: &str) -> Result<ModelArg, String> {
        let Some(rest) = s.strip_prefix("hf://") else {
            return Ok(ModelArg::Path(s.into()));
        };
        let (path, revision) = match rest.rsplit_once('@') {
            Some((p, r)) if !r.is_empty() && !r.contains('/') => (p, r.to_string()),
            _ => (rest, "main".to_string()),
        };
        let parts: Vec<&str> = path.splitn(3, '/').collect();
        match parts.as_slice() {
            [owner, repo, file] if !owner.is_empty() && !repo.is_empty() && !file.is_empty() => {
                Ok(ModelArg::HuggingFace {
                    repo: format!("{owner}/{repo}"),
                    file: (*file).to_string(),
                    revision,
                })
            }
            _ => Err(format!(
                "--model {s}: a Hugging Face model is hf://OWNER/REPO/FILE.gguf[@REVISION] (name the file: for a split model its first shard, …-00001-of-0000N.gguf)"
            )),
        }
    }

    /// The file's name (a model's `file` is a bare name).
    fn file_name(&self) -> Option<String> {
        match self {
            ModelArg::Path(p) => p.file_name().map(|n| n.to_string_lossy().into_owned()),
            ModelArg::HuggingFace { file, .. } => file.rsplit('/').next().map(str::to_string),
        }
    }
}

/// The model's name in cell ids: its file's name without `.gguf` and without a
/// split suffix (`-00001-of-00003`).
pub fn model_name(file: &str) -> String {
    let stem = file.strip_suffix(".gguf").unwrap_or(file);
    match crate::gguf::split::parse_shard_name(file) {
        Some(s) => s.prefix.clone(),
        None => stem.to_string(),
    }
}

/// The flags of `rigbench run` that change a plan; each `None` (or empty)
/// leaves the plan's own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    pub model: Option<ModelArg>,
    pub backends: Vec<Backend>,
    pub prompt_tokens: Vec<u32>,
    pub runs: Option<u32>,
    pub rounds: Option<u32>,
    pub n_predict: Option<u32>,
    pub ctx_size: Option<u32>,
    pub warmup: Option<super::WarmUp>,
    /// `[ab] until_decided` on (the plan must have `[ab]`).
    pub until_decided: bool,
    /// `[ab] max_minutes`.
    pub max_minutes: Option<u32>,
}

impl Overrides {
    pub fn is_empty(&self) -> bool {
        *self == Overrides::default()
    }

    /// The flags as given, for the record: `--runs 2`, `--backend cpu`.
    pub fn words(&self) -> Vec<String> {
        let mut w = Vec::new();
        let join = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        match &self.model {
            Some(ModelArg::Path(p)) => w.push(format!("--model {}", p.display())),
            Some(ModelArg::HuggingFace {
                repo,
                file,
                revision,
            }) => w.push(format!("--model hf://{repo}/{file}@{revision}")),
            None => {}
        }
        for b in &self.backends {
            w.push(format!("--backend {b}"));
        }
        if !self.prompt_tokens.is_empty() {
            w.push(format!("--prompt-tokens {}", join(&self.prompt_tokens)));
        }
        let numbers = [
            ("--runs", self.runs),
            ("--rounds", self.rounds),
            ("--n-predict", self.n_predict),
            ("--ctx-size", self.ctx_size),
        ];
        for (flag, v) in numbers {
            if let Some(v) = v {
                w.push(format!("{flag} {v}"));
            }
        }
        if let Some(wu) = self.warmup {
            w.push(format!("--warmup {}", wu.name()));
        }
        if self.until_decided {
            w.push("--until-decided".to_string());
        }
        if let Some(m) = self.max_minutes {
            w.push(format!("--max-minutes {m}"));
        }
        w
    }

    /// Applies the flags to the plan file `raw` (named `origin` in errors).
    pub fn apply(&self, raw: &mut PlanFile, origin: &str) -> Result<(), PlanError> {
        if let Some(model) = &self.model {
            replace_models(raw, model, origin)?;
        }
        if !self.backends.is_empty() {
            self.keep_backends(raw);
        }
        self.bench(raw);
        if self.until_decided || self.max_minutes.is_some() {
            let Some(ab) = raw.ab.as_mut() else {
                return Err(invalid(
                    origin,
                    "--until-decided",
                    "the plan has no [ab] section naming the arms to compare (see docs/comparisons-and-ab.md, \"A/B\")"
                        .to_string(),
                ));
            };
            ab.until_decided = Some(true);
            if let Some(m) = self.max_minutes {
                ab.max_minutes = Some(f64::from(m));
            }
        }
        if let Some(c) = self.ctx_size {
            if raw.variants.is_empty() {
                raw.variants.push(super::file::VariantFile {
                    name: "default".to_string(),
                    ..Default::default()
                });
            }
            for v in &mut raw.variants {
                v.ctx_size = Some(c);
            }
        }
        Ok(())
    }

    /// `--backend`: only these backends, each as the plan has it (else with
    /// the defaults); selectors of the others go.
    fn keep_backends(&self, raw: &mut PlanFile) {
        let mut backends = Vec::new();
        for b in &self.backends {
            let kept = raw.backends.iter().find(|x| x.name == b.name()).cloned();
            backends.push(kept.unwrap_or(BackendFile {
                name: b.name().to_string(),
                base_image: None,
                build_args: Default::default(),
                driver: None,
            }));
        }
        let names: Vec<&str> = self.backends.iter().map(|b| b.name()).collect();
        let keeps = |s: &super::CellSelector| {
            s.backend
                .as_ref()
                .is_none_or(|b| names.contains(&b.as_str()))
        };
        raw.exclude.retain(keeps);
        raw.include.retain(keeps);
        raw.backends = backends;
    }

    /// The `[bench]` flags: prompt lengths, runs, rounds, tokens, warm-up.
    fn bench(&self, raw: &mut PlanFile) {
        if !self.prompt_tokens.is_empty() {
            raw.bench.prompt_tokens = Some(self.prompt_tokens.clone());
        }
        if let Some(r) = self.runs {
            // (Above a precision target's max_runs, validation says so.)
            raw.bench.runs = Some(r);
        }
        if let Some(r) = self.rounds {
            raw.bench.rounds = Some(r);
        }
        if let Some(n) = self.n_predict {
            raw.bench.n_predict = Some(n);
        }
        if let Some(wu) = self.warmup {
            raw.bench.warmup = Some(wu);
        }
    }
}

fn invalid(origin: &str, field: &str, message: String) -> PlanError {
    PlanError::Invalid {
        file: origin.to_string(),
        field: field.to_string(),
        message,
    }
}

/// `--model`: the plan measures this file instead of its models (named after
/// it); selectors of the plan's models go.
fn replace_models(raw: &mut PlanFile, model: &ModelArg, origin: &str) -> Result<(), PlanError> {
    let bad = |message: String| invalid(origin, "--model", message);
    let file = model
        .file_name()
        .filter(|f| !f.is_empty())
        .ok_or_else(|| bad("names no file".to_string()))?;
    let source = match model {
        ModelArg::Path(p) => {
            let abs = std::path::absolute(p).map_err(|e| bad(format!("{}: {e}", p.display())))?;
            if !abs.is_file() {
                return Err(bad(format!(
                    "{}: no such file (give a GGUF file's path, or hf://OWNER/REPO/FILE)",
                    p.display()
                )));
            }
            ModelSourceFile::Path {
                path: abs.display().to_string(),
            }
        }
        ModelArg::HuggingFace {
            repo,
            file,
            revision,
        } => ModelSourceFile::Huggingface {
            repo: repo.clone(),
            file: file.clone(),
            revision: revision.clone(),
        },
    };
    let name = model_name(&file);
    // Selectors of the plan's models name models that are gone.
    let old: Vec<String> = raw.models.iter().map(|m| m.name.clone()).collect();
    let keeps = |s: &super::CellSelector| s.model.as_ref().is_none_or(|m| !old.contains(m));
    raw.exclude.retain(keeps);
    raw.include.retain(keeps);
    raw.description = Some(format!(
        "{file}, measured as the {} plan measures",
        raw.name
    ));
    raw.name = name.clone();
    raw.models = vec![ModelFile {
        name,
        file,
        sha256: None,
        size_bytes: None,
        sources: vec![source],
        synthetic: None,
    }];
    Ok(())
}
