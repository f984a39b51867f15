//! The command line as clap sees it: types only. `commands` turns these into
//! validated plans and actions; nothing below it sees clap. The vocabulary the
//! command line shares with the rest (backends, warm-ups, export formats,
//! `--fail-on`) is given its clap values here, by name, so that clap checks
//! every value and no command parses one by hand.

use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::backend::Backend;
use crate::comparison::gate::FailOn;
use crate::comparison::within::Field;
use crate::export::Format;
use crate::plan::WarmUp;

/// `--within FIELD A B`: the field a run is split on and its two values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Within {
    pub field: Field,
    pub a: String,
    pub b: String,
}

#[derive(Debug, Parser)]
#[command(
    name = "rigbench",
    version = crate::version::LONG,
    after_help = crate::exit::TABLE,
    about = "Reproducible local-LLM inference benchmarks: one Podman image per llama.cpp backend, one manifest per run"
)]
pub struct Cli {
    /// The container engine's API socket (unix:///path); default: CONTAINER_HOST,
    /// DOCKER_HOST, the rootless and rootful Podman sockets, Docker's, else a Podman
    /// service started for this command.
    #[arg(long, global = true, value_name = "ADDRESS", conflicts_with_all = ["host", "connection"])]
    pub socket: Option<String>,
    /// Use another host's Podman over SSH: ssh://[USER@]HOST[:PORT]/PATH/TO/podman.sock
    /// (the form `podman system connection add` takes). rigbench runs your `ssh`
    /// with your agent, keys, config and known_hosts; host keys are always checked.
    #[arg(
        long,
        global = true,
        value_name = "SSH_ADDRESS",
        conflicts_with = "connection"
    )]
    pub host: Option<String>,
    /// Use the remote host of Podman's connection NAME (`podman system connection
    /// list`), with its key.
    #[arg(long, global = true, value_name = "NAME")]
    pub connection: Option<String>,
    /// The `ssh` config file to read instead of ~/.ssh/config (`ssh -F`).
    #[arg(long, global = true, value_name = "FILE")]
    pub ssh_config: Option<PathBuf>,
    /// Where sources, models and hashes are cached [default: $RIGBENCH_CACHE,
    /// $XDG_CACHE_HOME/rigbench or ~/.cache/rigbench].
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// No progress on stderr (downloads, builds, each run, the overall bar);
    /// results, warnings that change them, and errors still show.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a plan (with none, the built-in default for the hardware found).
    Run(RunArgs),
    /// Build (or reuse) the images of a plan and print their ids.
    Build(BuildArgs),
    /// Check the container engine, the host and its GPUs, and the cache; say what
    /// is missing and how to fix it.
    Doctor {
        /// Read the host's /proc, /sys and /dev under this directory instead of /
        /// (to diagnose a copied tree, or the fixtures in tests/fixtures/hosts).
        #[arg(long, value_name = "DIR", default_value = "/")]
        host_root: PathBuf,
        /// Print what was found as JSON (host facts, each backend's devices,
        /// the diagnosis, the engine, what is missing).
        #[arg(long)]
        json: bool,
    },
    /// (Internal) What the host under DIR is and can run, as JSON: what the
    /// probe container rigbench starts on another host's engine prints.
    #[command(hide = true)]
    HostView {
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
    },
    /// (Internal) The telemetry of the host under DIR, one JSON line per
    /// sample after a header: what the telemetry container rigbench starts on
    /// another host's engine prints.
    #[command(hide = true)]
    TelemetryStream {
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        #[arg(long, value_name = "MS", default_value_t = 500)]
        interval_ms: u64,
        /// Stop after N samples (default: never).
        #[arg(long, value_name = "N")]
        samples: Option<u64>,
    },
    /// (Internal) Writes a resolved recipe's file to OUT and prints what it
    /// wrote as JSON: what rigbench runs on another host to make a synthetic
    /// model there.
    #[command(hide = true)]
    SynthWrite {
        /// The resolved recipe, as JSON (a manifest's models[].synthetic.recipe).
        #[arg(long, value_name = "FILE")]
        recipe: PathBuf,
        /// The header of the real model whose vocabulary the recipe takes.
        #[arg(long, value_name = "FILE")]
        vocab: Option<PathBuf>,
        /// The type to write: the recipe's, or Q8_0 for llama-quantize.
        #[arg(long, value_name = "TYPE")]
        quant: String,
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// (Internal) FILE's sha256, size, GGUF header facts and made record, as
    /// JSON: what rigbench run on another host prints of a model made there.
    #[command(hide = true)]
    ModelFacts { file: PathBuf },
    /// (Internal) The sha256 of FILE, in hex: what rigbench run on another
    /// host prints to check a file that reached it.
    #[command(hide = true)]
    Sha256 { file: PathBuf },
    /// Regenerate the reports from DIR/manifest.json.
    Report {
        /// A run directory.
        dir: PathBuf,
    },
    /// Compare run B against run A, cell by cell: summaries, the ratio B/A with
    /// its 95 % interval, Welch's p (Holm-adjusted), a verdict; what differs in
    /// the setup above it.
    Compare(CompareArgs),
    /// Several runs side by side (one plan run on several hosts, say): per
    /// metric one row per run and its host, one column per cell, each the mean
    /// with its 95 % interval, a failure's mode, or — where a run lacks the cell.
    Summary(SummaryArgs),
    /// Write a run's results in llama-bench's layout and field names (one row
    /// per llama-bench test and per cell), for llama.cpp's
    /// compare-llama-bench.py, llama-bench viewers or SQLite.
    Export(ExportArgs),
    /// The published references runs can be compared with.
    Reference {
        #[command(subcommand)]
        action: ReferenceAction,
    },
    /// Rebuild a recorded run's images from its recorded inputs (no cached
    /// layer), run its plan here, compare with the original, and say whether the
    /// rebuilt binaries are bit-identical.
    Rerun {
        /// A bundle, a run directory or its manifest.json.
        input: PathBuf,
        /// The new run directory [default: rigbench-runs/<time>-<plan>-rerun].
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Reuse an existing image with the same inputs instead of rebuilding.
        #[arg(long, conflicts_with = "compiler_cache")]
        reuse_images: bool,
        /// Rebuild with no cached layer, but take compiled objects from
        /// rigbench's compiler cache on this machine where their inputs match
        /// (minutes instead of a full compile). "bit-identical" then shows that
        /// the recorded inputs link to the same binaries, not that compiling
        /// them again gives the same bytes; the rerun records which it was.
        #[arg(long)]
        compiler_cache: bool,
        /// Go on when an input cannot be had as recorded (a different base image
        /// here), recording each substitute.
        #[arg(long)]
        allow_substitutes: bool,
    },
    /// Pack a run directory into one deterministic .tar.gz with SHA256SUMS.
    Bundle {
        /// The run directory.
        dir: PathBuf,
        /// The bundle to write.
        #[arg(short, long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check a bundle: every file against SHA256SUMS and the manifest's
    /// integrity hash; refuses unsafe entries.
    Verify {
        /// A bundle (.tar.gz), or a run directory (its manifest's integrity).
        file: PathBuf,
    },
    /// Unpack a checked bundle into a new directory.
    Import {
        /// A bundle (.tar.gz).
        file: PathBuf,
        /// The directory to create [default: ./rigbench-<run id>].
        #[arg(long, value_name = "DIR")]
        into: Option<PathBuf>,
    },
    /// The runs in DIR [default: rigbench-runs]: status, plan, backends, cells
    /// ok/failed/pending, when, and whether each manifest's integrity holds.
    List {
        /// A directory of run directories (or one run directory).
        dir: Option<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// One run's summary: what ran where, how it ended, its cells.
    Show {
        /// A run directory, its manifest.json, or a bundle.
        run: PathBuf,
        /// Print the summary and the whole manifest as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the shell completion script for bash, zsh or fish (for example
    /// `rigbench completions bash > /etc/bash_completion.d/rigbench`).
    Completions { shell: Shell },
    /// Print the man page rigbench(1), or with --out write it and one page per
    /// subcommand (rigbench-run.1, …) into a directory.
    Man {
        /// The directory to write every page into (for example
        /// /usr/local/share/man/man1).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Synthetic models: make one from a recipe (the same bytes on every
    /// machine), list the built-in shapes.
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
    /// Remove containers (and with --images, images) that rigbench labelled.
    Cleanup {
        /// Also remove the images rigbench built.
        #[arg(long)]
        images: bool,
        /// Also remove the untagged images rigbench left (what a no-cache
        /// rebuild or a rerun replaced, and their build stages); tagged ones stay.
        #[arg(long)]
        dangling_images: bool,
        /// Also remove the model volumes on the engine's host (the models a
        /// run or `model prepare` copied to another host: `rigbench-model-*`);
        /// one a container still mounts stays.
        #[arg(long)]
        model_volumes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ModelAction {
    /// Make a synthetic model file: a model's shape with random weights, the
    /// same bytes on every machine (see docs/plans.md, "Synthetic models").
    Synth(SynthArgs),
    /// Fetch a plan's real models and make its synthetic ones into the cache,
    /// ahead of its run (while its images build, say); the run then finds
    /// them. The types llama-quantize makes wait for the run's images.
    Prepare {
        /// The plan whose models to prepare.
        #[arg(long, value_name = "FILE")]
        plan: PathBuf,
    },
    /// The built-in shapes, their dimensions and where they come from.
    Shapes {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// A built-in shape (`rigbench model shapes`), or a TOML file holding one
    /// written out (the fields of a plan's `synthetic.shape`, or `base` and
    /// the fields that differ).
    #[arg(long, value_name = "NAME|FILE")]
    pub shape: String,
    /// The file type: F32, F16, BF16, Q8_0, Q4_0 (written by rigbench), or
    /// Q4_K_M, Q5_K_M, … (made by llama-quantize in the plan's CPU image).
    #[arg(long, value_name = "TYPE")]
    pub quant: String,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Take the tokenizer from this GGUF instead of rigbench's built-in
    /// vocabulary (its sha256 becomes part of the recipe).
    #[arg(long, value_name = "FILE")]
    pub vocab_from: Option<PathBuf>,
    /// Threads to write with [default: every CPU]; the bytes do not depend on it.
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// For the types llama-quantize makes: the plan whose llama.cpp source and
    /// CPU image to use [default: the built-in plan].
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// The file to write (atomically: nothing is there until it is whole).
    #[arg(short, long, value_name = "FILE")]
    pub out: PathBuf,
}

/// The shells completions are made for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// A plan file (TOML); default: the built-in plan (plans/default.toml).
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
    /// The run directory; default: rigbench-runs/<time>-<plan name>.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Print the resolved matrix and what would be fetched and built, and stop.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: print it as JSON.
    #[arg(long, requires = "dry_run")]
    pub json: bool,
    /// With --dry-run: read the devices (and the default plan's backends) from
    /// another machine's tree instead of `/` (see tests/fixtures/hosts).
    #[arg(long, value_name = "DIR", requires = "dry_run")]
    pub host_root: Option<PathBuf>,
    /// Finish the run in DIR (after a crash or a kill): remove what the dead
    /// process left, keep every finished run, run only what is missing.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["plan", "out", "dry_run", "model", "print_plan"])]
    pub resume: Option<PathBuf>,
    /// Run the plan on each of these hosts at once: Podman connections
    /// (`podman system connection list`), comma-separated or repeated. Each
    /// host's run, with its own facts, devices and CPUs read there, goes into
    /// DIR/NAME of the run directory, and DIR/summary.md sets them side by
    /// side; with --resume DIR each host's unfinished run is taken up there.
    #[arg(long, value_name = "NAME", value_delimiter = ',', conflicts_with_all = ["dry_run", "print_plan", "host_root"])]
    pub on: Vec<String>,
    /// Measure this model instead of the plan's: a GGUF file (for a split
    /// model its first shard, `…-00001-of-0000N.gguf`) or
    /// `hf://OWNER/REPO/FILE[@REVISION]`. Its sha256 is recorded at first use.
    #[arg(long, value_name = "PATH|hf://…")]
    pub model: Option<String>,
    /// Only these backends (repeatable, or comma-separated).
    #[arg(
        long = "backend",
        value_enum,
        value_name = "NAME",
        value_delimiter = ','
    )]
    pub backends: Vec<Backend>,
    /// Prompt lengths in tokens (comma-separated), instead of the plan's.
    #[arg(long, value_name = "N,…", value_delimiter = ',')]
    pub prompt_tokens: Vec<u32>,
    /// Measured runs per cell, instead of the plan's.
    #[arg(long, value_name = "N")]
    pub runs: Option<u32>,
    /// Rounds over the matrix, instead of the plan's.
    #[arg(long, value_name = "N")]
    pub rounds: Option<u32>,
    /// Context size of every variant, instead of the plan's.
    #[arg(long, value_name = "TOKENS")]
    pub ctx_size: Option<u32>,
    /// Tokens generated per run, instead of the plan's.
    #[arg(long, value_name = "N")]
    pub n_predict: Option<u32>,
    /// Warm-ups per server start: `short` (one small request before the
    /// first cell) or `full` (each cell at its own length), instead of the plan's.
    #[arg(long, value_enum, value_name = "short|full")]
    pub warmup: Option<WarmUp>,
    /// In an A/B plan (`[ab]`): add rounds until every target cell is decided.
    #[arg(long)]
    pub until_decided: bool,
    /// With --until-decided: add no round that would end later than this many
    /// minutes after measuring began.
    #[arg(long, value_name = "M", requires = "until_decided")]
    pub max_minutes: Option<u32>,
    /// Print the resolved plan (with the flags above applied) as a plan file
    /// to reuse with --plan, and stop.
    #[arg(long, conflicts_with = "dry_run")]
    pub print_plan: bool,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Only this backend (repeatable); default: every backend of the plan.
    #[arg(long = "backend", value_enum, value_name = "NAME")]
    pub backends: Vec<Backend>,
    /// A plan file; default: the built-in plan.
    #[arg(long, value_name = "FILE")]
    pub plan: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Run A: a run directory, its manifest.json, or a bundle.
    pub a: PathBuf,
    /// Run B, compared against A.
    #[arg(required_unless_present_any = ["reference", "within"])]
    pub b: Option<PathBuf>,
    /// Compare inside run A instead: the cells of one backend, source, model or
    /// variant against another's, matched on the rest (`--within backend rocm6
    /// rocm7`: is rocm7 faster than rocm6 in this run?).
    #[arg(
        long = "within",
        id = "within",
        num_args = 3,
        value_names = ["FIELD", "A", "B"],
        conflicts_with_all = ["b", "reference"]
    )]
    within_words: Option<Vec<String>>,
    /// `--within`, typed: filled by `Cli::checked` from the three words.
    #[arg(skip)]
    pub within: Option<Within>,
    /// Compare run A with a published reference instead (a built-in name, see
    /// `rigbench reference list`, or a reference file).
    #[arg(long, value_name = "NAME|FILE", conflicts_with = "b")]
    pub reference: Option<String>,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
    /// Also write the comparison as one self-contained HTML page (forest plots
    /// of B/A with the noise band, the tables).
    #[arg(long, value_name = "FILE", conflicts_with = "reference")]
    pub html: Option<PathBuf>,
    /// The noise band, in percent: inside it a difference counts as none.
    #[arg(long, value_name = "PERCENT", default_value_t = 2.0)]
    pub band: f64,
    /// Exit with code 4 (and list what was found on stderr) when B is slower
    /// in a metric or fails a cell A ran (`slower`); also when B is faster or
    /// a cell's outcome changed either way (`changed`); also when a metric is
    /// not shown to be the same (`any`). For gating a CI job on a regression.
    #[arg(long, value_enum, value_name = "WHAT")]
    pub fail_on: Option<FailOn>,
}

#[derive(Debug, Args)]
pub struct SummaryArgs {
    /// The runs: run directories, their manifest.json or bundles (two or more).
    #[arg(required = true, num_args = 2..)]
    pub runs: Vec<PathBuf>,
    /// Print JSON instead of Markdown.
    #[arg(long)]
    pub json: bool,
    /// Also write the summary as one self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// A bundle, a run directory or its manifest.json.
    pub run: PathBuf,
    /// jsonl, csv, md or sql (as `llama-bench -o`).
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: Format,
    /// What `build_commit` says [default: the source's commit, 8 hex digits].
    /// compare-llama-bench.py compares builds by it: two runs of one commit
    /// need two names (`--build-commit a`, `--build-commit b`).
    #[arg(long, value_name = "TEXT")]
    pub build_commit: Option<String>,
    /// Write to this file instead of standard output (all or nothing: a
    /// failed export leaves no half-written file).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ReferenceAction {
    /// The built-in references.
    List {
        /// Print JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// A reference's setup, cells and failures.
    Show {
        /// A built-in name or a reference file.
        name: String,
        /// Print the whole reference as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a reference of a run (its ok cells' means and sds, its failures,
    /// its setup facts), for others to compare theirs with: `compare RUN
    /// --reference FILE`.
    FromRun {
        /// A bundle, a run directory or its manifest.json.
        run: PathBuf,
        /// Its title [default: the plan's description and the host's GPU].
        #[arg(long)]
        title: Option<String>,
        #[command(flatten)]
        out: RefOut,
    },
    /// Make a reference of llama-bench's own results (`llama-bench -o json`
    /// or `-o jsonl`, repetitions 2 or more): `compare RUN --reference FILE`
    /// then sets the run's llama-bench tests against them.
    FromLlamaBench {
        /// llama-bench JSON or JSONL files.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        #[command(flatten)]
        out: RefOut,
        /// Its title [default: "llama-bench results (FILE)"].
        #[arg(long)]
        title: Option<String>,
        /// The rigbench backend the tests ran on [default: from llama-bench's
        /// `backends`; ROCm needs rocm6 or rocm7 here].
        #[arg(long, value_enum, value_name = "NAME")]
        backend: Option<Backend>,
    },
}

/// Where a new reference goes and what it is called.
#[derive(Debug, Args)]
pub struct RefOut {
    /// The reference file to write (TOML).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
    /// Its name [default: the file's stem].
    #[arg(long)]
    pub name: Option<String>,
}

impl ValueEnum for Backend {
    fn value_variants<'a>() -> &'a [Self] {
        Backend::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for WarmUp {
    fn value_variants<'a>() -> &'a [Self] {
        &[WarmUp::Short, WarmUp::Full]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()).help(match self {
            WarmUp::Short => "one small request per server start, before its first cell",
            WarmUp::Full => "each cell warmed up at its own length",
        }))
    }
}

impl ValueEnum for Format {
    fn value_variants<'a>() -> &'a [Self] {
        &[Format::Jsonl, Format::Csv, Format::Md, Format::Sql]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            Format::Jsonl => PossibleValue::new("jsonl")
                .help("One JSON object per line, as `llama-bench -o jsonl` writes"),
            Format::Csv => {
                PossibleValue::new("csv").help("A header line and one line per row, as `llama-bench -o csv`")
            }
            Format::Md => PossibleValue::new("md")
                .help("A Markdown table of the main columns, as `llama-bench -o md`"),
            Format::Sql => PossibleValue::new("sql").help(
                "`CREATE TABLE llama_bench` and one `INSERT` per row, as `llama-bench -o sql` (pipe it into `sqlite3 FILE`)",
            ),
        })
    }
}

impl Cli {
    /// The command line, with what clap cannot type by itself typed here
    /// (`--within`'s FIELD, the first of three values); a wrong value exits as
    /// clap's own errors do (usage, status 2).
    pub fn checked() -> Self {
        Self::parse().typed().unwrap_or_else(|e| e.exit())
    }

    /// `checked` of `args` (the first is the program's name), for tests.
    pub fn try_checked_from<I, T>(args: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        Self::try_parse_from(args)?.typed()
    }

    fn typed(mut self) -> Result<Self, clap::Error> {
        if let Command::Compare(c) = &mut self.command
            && let Some(words) = c.within_words.take()
        {
            let [field, a, b] = <[String; 3]>::try_from(words).map_err(|w| {
                clap::Error::raw(
                    clap::error::ErrorKind::WrongNumberOfValues,
                    format!("--within takes three values, FIELD A B; got {}\n", w.len()),
                )
            })?;
            let field = Field::from_str(&field, false).map_err(|_| {
                <Self as clap::CommandFactory>::command().error(
                    clap::error::ErrorKind::InvalidValue,
                    format!("--within {field}: compare by backend, source, model or variant"),
                )
            })?;
            c.within = Some(Within { field, a, b });
        }
        Ok(self)
    }
}

impl ValueEnum for Field {
    fn value_variants<'a>() -> &'a [Self] {
        &Field::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

impl ValueEnum for FailOn {
    fn value_variants<'a>() -> &'a [Self] {
        &[FailOn::Slower, FailOn::Changed, FailOn::Any]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_args(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let mut argv = vec!["rigbench", "run"];
        argv.extend_from_slice(args);
        match Cli::try_parse_from(argv)?.command {
            Command::Run(a) => Ok(a),
            other => panic!("not run: {other:?}"),
        }
    }

    #[test]
    fn vocabulary_values_are_typed_by_clap() {
        let a = run_args(&[
            "--backend",
            "cuda,vulkan",
            "--backend",
            "cpu",
            "--warmup",
            "short",
        ])
        .unwrap();
        assert_eq!(a.backends, [Backend::Cuda, Backend::Vulkan, Backend::Cpu]);
        assert_eq!(a.warmup, Some(WarmUp::Short));
        let e = run_args(&["--backend", "metal"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        let text = e.to_string();
        assert!(text.contains("cpu, vulkan, rocm6, rocm7, cuda"), "{text}");
        let e = run_args(&["--warmup", "long"]).unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
    }

    #[test]
    fn within_is_typed_before_any_command_sees_it() {
        let cli =
            Cli::try_checked_from(["rigbench", "compare", "r", "--within", "model", "x", "y"])
                .unwrap();
        let Command::Compare(c) = cli.command else {
            panic!("not compare")
        };
        assert_eq!(
            c.within,
            Some(Within {
                field: Field::Model,
                a: "x".into(),
                b: "y".into()
            })
        );
        let e = Cli::try_checked_from(["rigbench", "compare", "r", "--within", "shape", "x", "y"])
            .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue);
        assert!(
            e.to_string()
                .contains("--within shape: compare by backend, source, model or variant"),
            "{e}"
        );
        let e = Cli::try_checked_from(["rigbench", "compare", "r", "--within", "model", "x"])
            .unwrap_err();
        assert_eq!(e.kind(), clap::error::ErrorKind::WrongNumberOfValues);
        let cli = Cli::try_checked_from(["rigbench", "compare", "r", "s"]).unwrap();
        let Command::Compare(c) = cli.command else {
            panic!("not compare")
        };
        assert_eq!(c.within, None);
    }

    #[test]
    fn every_value_reads_back_as_its_name() {
        for b in Backend::value_variants() {
            assert_eq!(Backend::from_str(b.name(), false), Ok(*b));
        }
        for w in WarmUp::value_variants() {
            assert_eq!(WarmUp::from_str(w.name(), false), Ok(*w));
        }
        for f in FailOn::value_variants() {
            assert_eq!(FailOn::from_str(f.name(), false), Ok(*f));
        }
        let names: Vec<String> = Format::value_variants()
            .iter()
            .filter_map(|f| f.to_possible_value().map(|v| v.get_name().to_string()))
            .collect();
        assert_eq!(names, ["jsonl", "csv", "md", "sql"]);
    }

    #[test]
    fn clap_uses_the_usage_code() {
        let e = Cli::try_parse_from(["rigbench", "no-such-command"])
            .expect_err("an unknown command is refused");
        assert_eq!(e.exit_code(), i32::from(crate::exit::Exit::Usage.code()));
    }
}
