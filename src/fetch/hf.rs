//! The Hugging Face hub as `huggingface_hub` sees it from this machine: its
//! endpoint (`HF_ENDPOINT`), the user's token (`HF_TOKEN`, else the token file
//! `huggingface-cli login` writes), and its cache, where a file already
//! downloaded is used where it is instead of fetched again. The cache layout is
//! `huggingface_hub`'s: `<hub>/models--OWNER--REPO/refs/<branch>` holds the
//! commit a branch points at, `snapshots/<commit>/<file>` the file (a link into
//! `blobs/`). Read only: rigbench never writes into it.
//!
//! Why not the hf-hub crate: 1.0.0 depends on hf-xet (the Xet storage client)
//! unconditionally, a large tree for the cold test build; 0.4.3 on reqwest
//! 0.12, a second HTTP stack beside our 0.13. What rigbench needs of the hub
//! is the lookup below, its address and the token; downloads go through
//! `fetch::http` (resumable).

use std::path::{Path, PathBuf};

/// How the environment is read (the process's own, or a test's).
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn var(env: Env, k: &str) -> Option<String> {
    env(k).filter(|v| !v.is_empty())
}

/// `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`.
fn home(env: Env) -> Option<PathBuf> {
    var(env, "HF_HOME").map(PathBuf::from).or_else(|| {
        var(env, "XDG_CACHE_HOME")
            .map(|x| PathBuf::from(x).join("huggingface"))
            .or_else(|| var(env, "HOME").map(|h| PathBuf::from(h).join(".cache/huggingface")))
    })
}

/// The hub cache: `HF_HUB_CACHE`, `HUGGINGFACE_HUB_CACHE`, else `<home>/hub`.
pub fn hub_cache(env: Env) -> Option<PathBuf> {
    var(env, "HF_HUB_CACHE")
        .or_else(|| var(env, "HUGGINGFACE_HUB_CACHE"))
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join("hub")))
}

/// The hub's address: `HF_ENDPOINT`, else https://huggingface.co.
pub fn endpoint(env: Env) -> String {
    var(env, "HF_ENDPOINT")
        .map(|e| e.trim_end_matches('/').to_string())
        .unwrap_or_else(|| "https://huggingface.co".to_string())
}

/// The user's token: `HF_TOKEN`, else the file at `HF_TOKEN_PATH` or
/// `<home>/token`.
pub fn token(env: Env) -> Option<String> {
    if let Some(t) = var(env, "HF_TOKEN") {
        return Some(t);
    }
    let file = var(env, "HF_TOKEN_PATH")
        .map(PathBuf::from)
        .or_else(|| home(env).map(|h| h.join("token")))?;
    std::fs::read_to_string(file)
        .ok()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The URL of `file` at `revision` of model repository `repo`.
pub fn resolve_url(endpoint: &str, repo: &str, revision: &str, file: &str) -> String {
    format!("{endpoint}/{repo}/resolve/{revision}/{file}")
}

/// `file` of `repo` at `revision` (a branch, a tag or a commit) in the hub
/// cache `hub`, where it is there whole (a snapshot's link whose blob exists;
/// a download `huggingface_hub` left unfinished is `blobs/*.incomplete` and no
/// snapshot links to it).
pub fn cached_file(hub: &Path, repo: &str, revision: &str, file: &str) -> Option<PathBuf> {
    let dir = hub.join(format!("models--{}", repo.replace('/', "--")));
    let commit = std::fs::read_to_string(dir.join("refs").join(revision))
        .map(|c| c.trim().to_string())
        .unwrap_or_else(|_| revision.to_string());
    if commit.is_empty() || commit.contains('/') || commit.contains("..") {
        return None;
    }
    let path = dir.join("snapshots").join(commit).join(file);
    // `is_file` follows the link: a dangling one is not a cached file.
    path.is_file().then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn the_cache_endpoint_and_token_are_found_as_huggingface_hub_finds_them() {
        let e = env_of(&[("HOME", "/home/u")]);
        assert_eq!(
            hub_cache(&e).unwrap(),
            Path::new("/home/u/.cache/huggingface/hub")
        );
        assert_eq!(endpoint(&e), "https://huggingface.co");
        let e = env_of(&[
            ("HOME", "/home/u"),
            ("HF_HOME", "/data/hf"),
            ("HF_ENDPOINT", "http://127.0.0.1:9/"),
        ]);
        assert_eq!(hub_cache(&e).unwrap(), Path::new("/data/hf/hub"));
        assert_eq!(endpoint(&e), "http://127.0.0.1:9");
        let e = env_of(&[("HF_HOME", "/data/hf"), ("HF_HUB_CACHE", "/fast/hub")]);
        assert_eq!(hub_cache(&e).unwrap(), Path::new("/fast/hub"));

        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "hf_abc\n").unwrap();
        let home = dir.path().to_str().unwrap();
        assert_eq!(
            token(&env_of(&[("HF_HOME", home)])).as_deref(),
            Some("hf_abc")
        );
        assert_eq!(
            token(&env_of(&[("HF_HOME", home), ("HF_TOKEN", "hf_env")])).as_deref(),
            Some("hf_env")
        );
        assert_eq!(token(&env_of(&[("HF_HOME", "/nonexistent")])), None);
    }

    #[test]
    fn a_cached_snapshot_file_is_found_by_branch_or_commit_and_a_dangling_one_is_not() {
        let hub = tempfile::tempdir().unwrap();
        let repo = hub.path().join("models--ggml-org--gemma-GGUF");
        let commit = "0123456789abcdef0123456789abcdef01234567";
        std::fs::create_dir_all(repo.join("refs")).unwrap();
        std::fs::create_dir_all(repo.join("blobs")).unwrap();
        std::fs::create_dir_all(repo.join("snapshots").join(commit)).unwrap();
        std::fs::write(repo.join("refs/main"), commit).unwrap();
        std::fs::write(repo.join("blobs/e1"), b"GGUF").unwrap();
        std::os::unix::fs::symlink(
            "../../blobs/e1",
            repo.join("snapshots").join(commit).join("g.gguf"),
        )
        .unwrap();
        std::os::unix::fs::symlink(
            "../../blobs/gone",
            repo.join("snapshots").join(commit).join("h.gguf"),
        )
        .unwrap();
        let found = cached_file(hub.path(), "ggml-org/gemma-GGUF", "main", "g.gguf").unwrap();
        assert_eq!(std::fs::read(&found).unwrap(), b"GGUF");
        assert_eq!(
            cached_file(hub.path(), "ggml-org/gemma-GGUF", commit, "g.gguf"),
            Some(found)
        );
        assert_eq!(
            cached_file(hub.path(), "ggml-org/gemma-GGUF", "main", "h.gguf"),
            None
        );
        assert_eq!(
            cached_file(hub.path(), "ggml-org/gemma-GGUF", "v2", "g.gguf"),
            None
        );
        assert_eq!(
            cached_file(hub.path(), "other/repo", "main", "g.gguf"),
            None
        );
    }
}
