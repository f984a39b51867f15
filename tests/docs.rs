//! The user guide against the program: every `rigbench …` line in a ```sh block
//! of README.md and docs/*.md parses against rigbench's command line
//! (`rigbench::cli::Cli`, nothing is run), every relative link and anchor in
//! those pages leads to a file and a heading that exist, and every docs/ page
//! is on the README's map. No Podman, no network, no GPU: these run in a plain
//! `cargo test`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use clap::error::ErrorKind;
use rigbench::cli::Cli;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// README.md and every docs/*.md, README first, the rest by name.
fn pages() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(repo().join("docs"))
        .expect("a docs/ folder")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    let mut all = vec![repo().join("README.md")];
    all.extend(docs);
    all
}

fn shown(page: &Path) -> String {
    page.strip_prefix(repo())
        .unwrap_or(page)
        .display()
        .to_string()
}

/// The command lines of a page's ```sh blocks (also bash, shell, console):
/// (line number, the line with its `\` continuations joined).
fn sh_lines(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<bool> = None; // Some(is_sh) inside a fenced block
    let mut pending: Option<(usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") {
            fence = match fence {
                None => {
                    let info = trimmed.trim_start_matches('`').trim();
                    Some(matches!(info, "sh" | "bash" | "shell" | "console"))
                }
                Some(_) => None,
            };
            if let Some(p) = pending.take() {
                out.push(p);
            }
            continue;
        }
        if fence != Some(true) {
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((i + 1, String::new()));
        match line.strip_suffix('\\') {
            Some(head) => {
                joined.push_str(head);
                joined.push(' ');
                pending = Some((start, joined));
            }
            None => {
                joined.push_str(line);
                out.push((start, joined));
            }
        }
    }
    out.extend(pending);
    out
}

#[derive(Debug, PartialEq)]
enum Tok {
    Word(String),
    Op(String),
}

/// A shell line as words and operators: quotes and backslashes as a shell
/// reads them, a `#` that starts a word ends the line, and `|`, `&`, `;`,
/// `<`, `>` (single or doubled) stand apart as operators.
fn shell_tokens(line: &str) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                for q in chars.by_ref() {
                    if q == '\'' {
                        break;
                    }
                    word.push(q);
                }
            }
            '"' => {
                in_word = true;
                while let Some(q) = chars.next() {
                    match q {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                word.push(n);
                            }
                        }
                        _ => word.push(q),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            '#' if !in_word => break,
            c if c.is_whitespace() => {
                if in_word {
                    toks.push(Tok::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
            }
            '|' | '&' | ';' | '<' | '>' => {
                if in_word {
                    toks.push(Tok::Word(std::mem::take(&mut word)));
                    in_word = false;
                }
                let mut op = c.to_string();
                if chars.peek() == Some(&c) {
                    op.push(c);
                    chars.next();
                }
                toks.push(Tok::Op(op));
            }
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        toks.push(Tok::Word(word));
    }
    toks
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// Each invocation of rigbench on a shell line, as its argv: in every
/// command of a list or pipeline, after any `NAME=value` assignments and a
/// `sudo`, `env`, `exec`, `time` or `command` in front, a word whose last path
/// component is `rigbench`; a redirection's target is left out.
fn rigbench_argvs(line: &str) -> Vec<Vec<String>> {
    let line = line.trim_start();
    let line = line.strip_prefix("$ ").unwrap_or(line);
    let mut commands: Vec<Vec<String>> = vec![Vec::new()];
    let mut toks = shell_tokens(line).into_iter();
    while let Some(t) = toks.next() {
        match t {
            Tok::Word(w) => commands.last_mut().unwrap().push(w),
            Tok::Op(op) if op.starts_with(['<', '>']) => {
                toks.next(); // the file it reads or writes
            }
            Tok::Op(_) => commands.push(Vec::new()),
        }
    }
    commands
        .into_iter()
        .filter_map(|words| {
            let first = words.iter().position(|w| {
                !is_assignment(w)
                    && !matches!(w.as_str(), "sudo" | "env" | "exec" | "time" | "command")
            })?;
            let program = Path::new(&words[first]).file_name()?;
            (program == "rigbench").then(|| {
                let mut argv = vec!["rigbench".to_string()];
                argv.extend(words[first + 1..].iter().cloned());
                argv
            })
        })
        .collect()
}

/// Whether rigbench's command line takes `argv` (help and version count as
/// taken); clap's message where it does not.
fn parses(argv: &[String]) -> Result<(), String> {
    match Cli::try_checked_from(argv) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => Ok(()),
        Err(e) => Err(e.render().to_string()),
    }
}

/// Every rigbench command a page shows, checked: how many there were, and a
/// message naming the file, line and command for each that does not parse.
fn check_page(name: &str, text: &str) -> (usize, Vec<String>) {
    let mut count = 0;
    let mut failures = Vec::new();
    for (line_no, line) in sh_lines(text) {
        for argv in rigbench_argvs(&line) {
            count += 1;
            if let Err(why) = parses(&argv) {
                failures.push(format!(
                    "{name}:{line_no}: `{}` does not parse:\n{why}",
                    argv.join(" ")
                ));
            }
        }
    }
    (count, failures)
}

#[test]
fn every_rigbench_command_shown_parses() {
    let mut total = 0;
    let mut failures = Vec::new();
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        let (count, mut failed) = check_page(&shown(&page), &text);
        eprintln!("{}: {count} rigbench commands", shown(&page));
        total += count;
        failures.append(&mut failed);
    }
    assert!(
        failures.is_empty(),
        "{} of {total} commands in README.md and docs/ do not parse:\n\n{}",
        failures.len(),
        failures.join("\n")
    );
    // The guide shows dozens; a handful would mean the blocks were not found.
    assert!(
        total >= 30,
        "only {total} rigbench commands found in ```sh blocks"
    );
}

#[test]
fn a_wrong_command_is_caught_and_named() {
    let argv = |s: &str| rigbench_argvs(s).remove(0);
    assert!(parses(&argv("rigbench run --no-such-flag")).is_err());
    assert!(parses(&argv("rigbench no-such-command")).is_err());
    assert!(parses(&argv("rigbench compare A B --fail-on sometimes")).is_err());
    assert!(parses(&argv("rigbench run --dry-run")).is_ok());
    assert!(parses(&argv("rigbench --version")).is_ok());
    let page = "text\n\n```sh\nrigbench run --dry-run\nrigbench run \\\n  --no-such-flag\n```\n";
    let (count, failures) = check_page("docs/x.md", page);
    assert_eq!(count, 2);
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(
        failures[0].starts_with("docs/x.md:5: `rigbench run --no-such-flag` does not parse:"),
        "{}",
        failures[0]
    );
}

#[test]
fn shell_lines_are_read_as_a_shell_would() {
    let argvs = |s: &str| rigbench_argvs(s);
    assert_eq!(
        argvs("$ RIGBENCH_PROGRESS_INTERVAL_S=5 rigbench run --plan 'my plan.toml' # a comment"),
        [["rigbench", "run", "--plan", "my plan.toml"]]
    );
    assert_eq!(
        argvs("sudo rigbench man --out /usr/local/share/man/man1"),
        [["rigbench", "man", "--out", "/usr/local/share/man/man1"]]
    );
    assert_eq!(
        argvs("rigbench completions bash > ~/.local/share/bash-completion/completions/rigbench"),
        [["rigbench", "completions", "bash"]]
    );
    assert_eq!(
        argvs("cd x && target/release/rigbench verify run.tar.gz | tee log"),
        [["rigbench", "verify", "run.tar.gz"]]
    );
    assert_eq!(
        argvs("tar -xzf run.tar.gz && cd rigbench-*/"),
        Vec::<Vec<String>>::new()
    );
    assert_eq!(
        argvs("scripts/test.sh  # rigbench run"),
        Vec::<Vec<String>>::new()
    );
    let lines = sh_lines("```toml\nrigbench = 1\n```\n```sh\na \\\n  b\nc\n```\n`rigbench x`\n");
    assert_eq!(lines, [(5, "a    b".to_string()), (7, "c".to_string())]);
}

/// The text with fenced blocks and inline code blanked out (line breaks
/// kept, so offsets still give line numbers).
fn prose(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_fence = false;
    for line in text.split_inclusive('\n') {
        let fence = line.trim_start().starts_with("```");
        if in_fence || fence {
            out.extend(line.chars().map(|c| if c == '\n' { '\n' } else { ' ' }));
        } else {
            out.push_str(line);
        }
        if fence {
            in_fence = !in_fence;
        }
    }
    let code = regex::Regex::new(r"`[^`]*`").unwrap();
    code.replace_all(&out, |m: &regex::Captures| {
        m[0].chars()
            .map(|c| if c == '\n' { '\n' } else { ' ' })
            .collect::<String>()
    })
    .into_owned()
}

/// GitHub's anchors for a page's headings: lower case, letters, digits, `-`
/// and `_` kept (inline code's text too), spaces made `-`, the rest dropped; a
/// repeated one gets `-1`, ….
fn anchors(text: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut in_fence = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        let hashes = line.len() - line.trim_start_matches('#').len();
        if in_fence || !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base: String = line[hashes..]
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut slug = base.clone();
        let mut n = 0;
        while seen.contains(&slug) {
            n += 1;
            slug = format!("{base}-{n}");
        }
        seen.insert(slug);
    }
    seen
}

/// The relative links of a page: (line number, target).
fn links(text: &str) -> Vec<(usize, String)> {
    let prose = prose(text);
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").unwrap();
    link.captures_iter(&prose)
        .map(|c| {
            let m = c.get(1).unwrap();
            (
                prose[..m.start()].matches('\n').count() + 1,
                m.as_str().to_string(),
            )
        })
        .filter(|(_, t)| !t.contains("://") && !t.starts_with("mailto:"))
        .collect()
}

/// The links of `text` (the page at `page`) whose file or heading is missing,
/// each named with its page and line.
fn broken_links(page: &Path, text: &str) -> Vec<String> {
    let mut broken = Vec::new();
    for (line_no, target) in links(text) {
        let (path, anchor) = match target.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (target.as_str(), None),
        };
        let file = if path.is_empty() {
            page.to_path_buf()
        } else {
            page.parent().unwrap().join(path)
        };
        let Ok(linked) = std::fs::read_to_string(&file) else {
            if !file.is_dir() {
                broken.push(format!("{}:{line_no}: {target}: no such file", shown(page)));
            }
            continue;
        };
        if let Some(anchor) = anchor
            && !anchors(&linked).contains(anchor)
        {
            broken.push(format!(
                "{}:{line_no}: {target}: {} has no such heading",
                shown(page),
                shown(&file)
            ));
        }
    }
    broken
}

#[test]
fn every_link_leads_to_a_page_and_heading() {
    let mut broken = Vec::new();
    let mut total = 0;
    for page in pages() {
        let text = std::fs::read_to_string(&page).unwrap();
        total += links(&text).len();
        broken.extend(broken_links(&page, &text));
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
    assert!(total >= 20, "only {total} relative links found");
}

#[test]
fn a_broken_link_is_named() {
    let page = repo().join("docs/x.md");
    let text = concat!(
        "See [a](commands.md#global-options-and-progress),\n",
        "[b](commands.md#no-such) and\n",
        "[c](no-such.md), `[d](no-such.md)`.\n",
    );
    let broken = broken_links(&page, text);
    assert_eq!(
        broken,
        [
            "docs/x.md:2: commands.md#no-such: docs/commands.md has no such heading",
            "docs/x.md:3: no-such.md: no such file",
        ]
    );
}

#[test]
fn the_readme_maps_every_docs_page() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let start = readme
        .find("\n## User guide\n")
        .expect("the README's \"User guide\" map")
        + 1;
    let map = &readme[start..];
    let map = &map[..map[3..].find("\n## ").map_or(map.len(), |e| e + 3)];
    let mapped: Vec<PathBuf> = links(map)
        .into_iter()
        .map(|(_, t)| repo().join(t.split('#').next().unwrap()))
        .collect();
    for page in &mapped {
        assert!(
            page.is_file(),
            "the map links {}, which is missing",
            shown(page)
        );
    }
    let unmapped: Vec<String> = pages()
        .into_iter()
        .skip(1)
        .filter(|p| !mapped.contains(p))
        .map(|p| shown(&p))
        .collect();
    assert!(unmapped.is_empty(), "not on the README's map: {unmapped:?}");
}

#[test]
fn anchors_are_githubs() {
    let a = anchors(concat!(
        "# A/B: is B faster than A here?\n",
        "## Synthetic models: a model's shape\n",
        "## Commands\n",
        "## Commands\n",
        "```sh\n# not a heading\n```\n",
        "## `run --resume` DIR\n",
    ));
    for want in [
        "ab-is-b-faster-than-a-here",
        "synthetic-models-a-models-shape",
        "commands",
        "commands-1",
        "run---resume-dir",
    ] {
        assert!(a.contains(want), "{want} not in {a:?}");
    }
    assert!(!a.contains("not-a-heading"));
}
