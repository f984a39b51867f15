//! Which rigbench this is: the crate's version and the git commit it was built
//! from (`build.rs`), for `--version` and the manifest's `tool`.

/// The crate's version, `0.1.0`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The commit built from: a full hash, `-dirty` when the checkout had changes,
/// or `unknown` when built outside git.
pub const COMMIT: &str = env!("RIGBENCH_GIT_COMMIT");

/// What `rigbench --version` prints after the name.
pub const LONG: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("RIGBENCH_GIT_COMMIT"),
    ")"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_is_a_hash_or_says_it_is_unknown() {
        let hash = COMMIT.strip_suffix("-dirty").unwrap_or(COMMIT);
        assert!(
            hash == "unknown" || (hash.len() == 40 && hash.chars().all(|c| c.is_ascii_hexdigit())),
            "{COMMIT}"
        );
        assert_eq!(LONG, format!("{VERSION} (commit {COMMIT})"));
    }
}
