//! `rigbench completions SHELL` and `rigbench man`: shell completions (bash,
//! zsh, fish) and man pages (one for rigbench, one per subcommand), generated
//! from the clap definitions in `cli`, so they cannot drift from the options.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, Shell};

/// The completion script for `shell`.
pub fn completion_script(shell: Shell) -> Vec<u8> {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(generator, &mut cmd, "rigbench", &mut out);
    out
}

pub fn completions(shell: Shell) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    std::io::stdout().write_all(&completion_script(shell))?;
    Ok(ExitCode::SUCCESS)
}

/// The man pages: `rigbench.1`, `rigbench-run.1`, … as (file name, roff).
pub fn man_pages() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let cmd = Cli::command();
    let mut pages = Vec::new();
    let mut page = |name: String, c: clap::Command| -> anyhow::Result<()> {
        let mut out = Vec::new();
        clap_mangen::Man::new(c).render(&mut out)?;
        pages.push((format!("{name}.1"), out));
        Ok(())
    };
    page("rigbench".to_string(), cmd.clone())?;
    for sub in cmd.get_subcommands() {
        let name = format!("rigbench-{}", sub.get_name());
        let bin = format!("rigbench {}", sub.get_name());
        page(name.clone(), sub.clone().name(name).bin_name(bin))?;
    }
    Ok(pages)
}

/// Prints rigbench(1), or writes every page into `out`.
pub fn man(out: Option<&Path>) -> anyhow::Result<ExitCode> {
    let pages = man_pages()?;
    match out {
        None => {
            use std::io::Write as _;
            if let Some((_, roff)) = pages.first() {
                std::io::stdout().write_all(roff)?;
            }
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| anyhow::anyhow!("--out {}: {e}", dir.display()))?;
            for (name, roff) in &pages {
                let path = dir.join(name);
                crate::hash::write_atomic(&path, roff)
                    .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
            }
            eprintln!("{} man pages in {}", pages.len(), dir.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shell_gets_every_subcommand() {
        for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
            let text = String::from_utf8(completion_script(shell)).unwrap();
            for sub in ["run", "compare", "export", "list", "show", "completions"] {
                assert!(text.contains(sub), "{shell:?} lacks {sub}");
            }
            assert!(text.contains("fail-on"), "{shell:?} lacks --fail-on");
        }
    }

    #[test]
    fn there_is_a_page_per_subcommand_and_it_names_its_options() {
        let pages = man_pages().unwrap();
        let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names[0], "rigbench.1");
        assert!(names.contains(&"rigbench-run.1") && names.contains(&"rigbench-compare.1"));
        let compare = &pages
            .iter()
            .find(|(n, _)| n == "rigbench-compare.1")
            .unwrap()
            .1;
        let text = String::from_utf8_lossy(compare);
        assert!(text.contains(".TH rigbench-compare 1"), "{text}");
        assert!(text.contains("fail\\-on"), "{text}");
        let top = String::from_utf8_lossy(&pages[0].1);
        assert!(
            top.contains("Exit codes"),
            "the exit codes are in rigbench(1)"
        );
    }
}
