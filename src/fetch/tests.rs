//! Fetching against a local HTTP server and local files.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;

/// Serves `body` at every path on 127.0.0.1; counts the requests.
async fn serve(body: &'static [u8]) -> (String, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let app = axum::Router::new().fallback(move || {
        let counter = counter.clone();
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            body
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), hits)
}

fn model(sha256: Option<&str>, sources: Vec<ModelSourceFile>) -> Model {
    Model {
        name: "tiny".to_string(),
        file: "tiny.gguf".to_string(),
        sha256: sha256.map(str::to_string),
        size_bytes: None,
        sources,
    }
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn checksum_mismatch_names_source_and_hashes_and_keeps_nothing() {
    let (base, _) = serve(b"not the model").await;
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path().to_path_buf());
    let mut f = Fetcher::new(&cache).unwrap();
    let expected = "0".repeat(64);
    let url = format!("{base}/tiny.gguf");
    let err = f
        .model(&model(
            Some(&expected),
            vec![ModelSourceFile::Url { url: url.clone() }],
        ))
        .await
        .unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&url), "{msg}");
    assert!(msg.contains(&expected), "{msg}");
    assert!(msg.contains(&sha256_hex(b"not the model")), "{msg}");
    assert!(files_under(&cache.models()).is_empty());
    assert!(files_under(&cache.tmp()).is_empty());
}

#[tokio::test]
async fn verified_download_is_cached_and_not_fetched_or_hashed_again() {
    let body: &'static [u8] = b"GGUF pretend model";
    let (base, hits) = serve(body).await;
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path().to_path_buf());
    let sha = sha256_hex(body);
    let m = model(
        Some(&sha),
        vec![ModelSourceFile::Url {
            url: format!("{base}/m"),
        }],
    );
    let first = Fetcher::new(&cache).unwrap().model(&m).await.unwrap();
    assert_eq!(first.sha256, sha);
    assert!(first.verification.pinned);
    assert_eq!(first.verification.hash_origin, HashOrigin::Computed);
    assert_eq!(first.path, cache.models().join(&sha).join("tiny.gguf"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    let second = Fetcher::new(&cache).unwrap().model(&m).await.unwrap();
    assert_eq!(second.path, first.path);
    assert_eq!(second.verification.hash_origin, HashOrigin::Cached);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_failing_source_falls_through_to_the_next() {
    let body: &'static [u8] = b"second source";
    let (base, _) = serve(body).await;
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path().to_path_buf());
    let m = model(
        None,
        vec![
            ModelSourceFile::Path {
                path: "/nonexistent/tiny.gguf".to_string(),
            },
            ModelSourceFile::Url {
                url: format!("{base}/m"),
            },
        ],
    );
    let got = Fetcher::new(&cache).unwrap().model(&m).await.unwrap();
    assert_eq!(got.sha256, sha256_hex(body));
    assert!(!got.verification.pinned);
    assert!(matches!(got.source, ModelSourceFile::Url { .. }));
}

#[tokio::test]
async fn local_path_with_wrong_hash_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("m.gguf");
    std::fs::write(&file, b"abc").unwrap();
    let cache = Cache::new(dir.path().join("cache"));
    let m = model(
        Some(&"1".repeat(64)),
        vec![ModelSourceFile::Path {
            path: file.display().to_string(),
        }],
    );
    let err = Fetcher::new(&cache).unwrap().model(&m).await.unwrap_err();
    assert!(matches!(err, FetchError::Checksum { .. }), "{err}");
    assert!(err.to_string().contains(&file.display().to_string()));
    // The user's own file is left alone.
    assert!(file.exists());
}

#[tokio::test]
async fn all_sources_failing_lists_each_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(dir.path().to_path_buf());
    let m = model(
        None,
        vec![
            ModelSourceFile::Path {
                path: "/nonexistent/a.gguf".to_string(),
            },
            ModelSourceFile::Url {
                url: "http://127.0.0.1:9/nothing-listens-here".to_string(),
            },
        ],
    );
    let err = Fetcher::new(&cache).unwrap().model(&m).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent/a.gguf"), "{msg}");
    assert!(msg.contains("127.0.0.1:9"), "{msg}");
}

/// A `.tar.gz` like GitHub's archive of a commit: a pax global header (the
/// commit id), then everything under one directory; `extra` adds a second one.
fn github_like_archive(path: &std::path::Path, extra: bool) {
    let gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    let mut b = tar::Builder::new(gz);
    let mut pax = tar::Header::new_ustar();
    let comment = b"52 comment=846262d78aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n";
    pax.set_entry_type(tar::EntryType::XGlobalHeader);
    pax.set_size(comment.len() as u64);
    pax.set_cksum();
    b.append_data(&mut pax, "pax_global_header", &comment[..])
        .unwrap();
    let mut add = |name: &str| {
        let mut h = tar::Header::new_gnu();
        h.set_size(2);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, &b"x\n"[..]).unwrap();
    };
    add("llama.cpp-846262d78aaaa/CMakeLists.txt");
    add("llama.cpp-846262d78aaaa/src/llama.cpp");
    if extra {
        add("other/README");
    }
    b.into_inner().unwrap().finish().unwrap();
}

#[test]
fn a_star_dir_is_the_archives_one_top_directory() {
    let d = tempfile::tempdir().unwrap();
    let one = d.path().join("one.tar.gz");
    github_like_archive(&one, false);
    assert_eq!(top_dir(&one).unwrap(), "llama.cpp-846262d78aaaa");
    let two = d.path().join("two.tar.gz");
    github_like_archive(&two, true);
    let err = top_dir(&two).unwrap_err();
    assert!(
        err.ends_with("dir = \"*\" needs one top-level directory, found llama.cpp-846262d78aaaa and other; name the directory"),
        "{err}"
    );
}
