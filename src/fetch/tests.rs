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

/// What the Hugging Face-like server saw: requests per route and the Range
/// headers it was sent.
#[derive(Default)]
struct HubLog {
    resolves: AtomicUsize,
    ranges: std::sync::Mutex<Vec<Option<String>>>,
}

/// A server that speaks the Hugging Face download routes as far as a client
/// sees them: `/{owner}/{repo}/resolve/{revision}/{file}` answers 302 to a
/// blob URL with `X-Linked-Etag`; the blob route has an ETag, honours
/// `Range: bytes=N-` (206 with `Content-Range`) when `If-Range` names its
/// ETag, and the first whole-file request is cut off halfway.
async fn serve_hub(body: &'static [u8]) -> (String, Arc<HubLog>) {
    use axum::http::{HeaderMap, StatusCode, header};
    use axum::response::IntoResponse;
    let log = Arc::new(HubLog::default());
    let cut_next = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let (l1, l2) = (log.clone(), log.clone());
    let app = axum::Router::new()
        .route(
            "/{owner}/{repo}/resolve/{rev}/{file}",
            axum::routing::get(move || {
                let log = l1.clone();
                async move {
                    log.resolves.fetch_add(1, Ordering::SeqCst);
                    (
                        StatusCode::FOUND,
                        [
                            (header::LOCATION, "/blobs/e1"),
                            (header::HeaderName::from_static("x-linked-etag"), "\"e1\""),
                        ],
                    )
                }
            }),
        )
        .route(
            "/blobs/e1",
            axum::routing::get(move |headers: HeaderMap| {
                let log = l2.clone();
                let cut_next = cut_next.clone();
                async move {
                    let range = headers
                        .get(header::RANGE)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    log.ranges.lock().unwrap().push(range.clone());
                    let if_range_ok = headers
                        .get(header::IF_RANGE)
                        .is_some_and(|v| v.as_bytes() == b"\"e1\"");
                    let from = range
                        .as_deref()
                        .and_then(|r| r.strip_prefix("bytes="))
                        .and_then(|r| r.strip_suffix('-'))
                        .and_then(|n| n.parse::<usize>().ok())
                        .filter(|_| if_range_ok);
                    match from {
                        Some(from) => (
                            StatusCode::PARTIAL_CONTENT,
                            [
                                (header::ETAG, "\"e1\"".to_string()),
                                (
                                    header::CONTENT_RANGE,
                                    format!("bytes {from}-{}/{}", body.len() - 1, body.len()),
                                ),
                            ],
                            &body[from..],
                        )
                            .into_response(),
                        None if cut_next.swap(false, Ordering::SeqCst) => {
                            // Half the file, then the connection drops.
                            // (The drop waits a moment, so that what was sent
                            // reaches the client first, as on a real network.)
                            use futures_util::StreamExt;
                            let half = futures_util::stream::iter(vec![Ok::<_, std::io::Error>(
                                axum::body::Bytes::from_static(&body[..body.len() / 2]),
                            )])
                            .chain(futures_util::stream::once(async {
                                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                                Err(std::io::Error::other("connection reset"))
                            }));
                            (
                                [
                                    (header::ETAG, "\"e1\"".to_string()),
                                    (header::CONTENT_LENGTH, body.len().to_string()),
                                ],
                                axum::body::Body::from_stream(half),
                            )
                                .into_response()
                        }
                        None => ([(header::ETAG, "\"e1\"")], body).into_response(),
                    }
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}"), log)
}

fn hf_source() -> ModelSourceFile {
    ModelSourceFile::Huggingface {
        repo: "owner/tiny-GGUF".into(),
        file: "tiny.gguf".into(),
        revision: "main".into(),
    }
}

#[tokio::test]
async fn a_download_cut_off_halfway_resumes_from_where_it_stopped_and_verifies() {
    static BODY: [u8; 200_000] = {
        let mut b = [0u8; 200_000];
        let mut i = 0;
        while i < b.len() {
            b[i] = (i % 251) as u8;
            i += 1;
        }
        b
    };
    let sha = crate::hash::sha256_hex(&BODY);
    let (base, log) = serve_hub(&BODY).await;
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path().to_path_buf());
    let mut f = Fetcher::new(&cache).unwrap().with_hugging_face(&base, None);
    let m = model(Some(&sha), vec![hf_source()]);

    // The first attempt is cut off: an error that says the part is kept, and
    // nothing in the cache that could be taken for the model.
    let err = f.model(&m).await.unwrap_err().to_string();
    assert!(
        err.contains("cut off after 100000 of 200000 bytes"),
        "{err}"
    );
    assert!(err.contains("the next attempt resumes it"), "{err}");
    let parts = files_under(&cache.tmp().join("partial"));
    let part = parts
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "part"))
        .unwrap();
    assert_eq!(std::fs::metadata(part).unwrap().len(), 100_000);
    assert!(
        !files_under(&cache.models())
            .iter()
            .any(|p| p.ends_with("tiny.gguf"))
    );

    // The second resumes at byte 100000 of the same ETag and verifies.
    let got = f.model(&m).await.unwrap();
    assert_eq!(got.sha256, sha);
    assert!(got.verification.pinned);
    assert_eq!(std::fs::read(&got.path).unwrap(), BODY);
    assert_eq!(
        *log.ranges.lock().unwrap(),
        [None, Some("bytes=100000-".to_string())]
    );
    assert_eq!(
        log.resolves.load(Ordering::SeqCst),
        2,
        "through the resolve route"
    );
    assert!(
        files_under(&cache.tmp().join("partial")).is_empty(),
        "the part is gone"
    );
}

#[tokio::test]
async fn a_file_in_the_hugging_face_cache_is_used_where_it_is() {
    let (base, log) = serve_hub(b"GGUF tiny model").await;
    let sha = crate::hash::sha256_hex(b"GGUF tiny model");
    let hub = tempfile::tempdir().unwrap();
    let repo = hub.path().join("models--owner--tiny-GGUF");
    let commit = "0123456789abcdef0123456789abcdef01234567";
    std::fs::create_dir_all(repo.join("refs")).unwrap();
    std::fs::create_dir_all(repo.join("blobs")).unwrap();
    std::fs::create_dir_all(repo.join("snapshots").join(commit)).unwrap();
    std::fs::write(repo.join("refs/main"), commit).unwrap();
    std::fs::write(repo.join("blobs/e1"), b"GGUF tiny model").unwrap();
    let snap = repo.join("snapshots").join(commit).join("tiny.gguf");
    std::os::unix::fs::symlink("../../blobs/e1", &snap).unwrap();

    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path().to_path_buf());
    let mut f = Fetcher::new(&cache)
        .unwrap()
        .with_hugging_face(&base, Some(hub.path().to_path_buf()));
    let got = f
        .model(&model(Some(&sha), vec![hf_source()]))
        .await
        .unwrap();
    assert_eq!(got.path, snap, "used where it is");
    assert_eq!(got.sha256, sha, "and still checked");
    assert_eq!(log.resolves.load(Ordering::SeqCst), 0, "nothing downloaded");
    assert!(files_under(&cache.models()).is_empty(), "not copied");

    // A cached file that is not the pinned one is not taken: it is downloaded.
    std::fs::write(repo.join("blobs/e1"), b"something else").unwrap();
    let got = f.model(&model(Some(&sha), vec![hf_source()])).await;
    let err = got.unwrap_err().to_string();
    assert!(
        err.contains("cut off"),
        "the server's first answer is cut: {err}"
    );
    let got = f
        .model(&model(Some(&sha), vec![hf_source()]))
        .await
        .unwrap();
    assert_ne!(got.path, snap);
    assert_eq!(std::fs::read(&got.path).unwrap(), b"GGUF tiny model");
}

#[tokio::test]
async fn a_split_model_fetches_every_shard_from_beside_the_first_and_names_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let shard = |i: u32| dir.path().join(format!("m-0000{i}-of-00003.gguf"));
    for i in 1..=3 {
        std::fs::write(shard(i), format!("shard {i}")).unwrap();
    }
    let cache_dir = tempfile::tempdir().unwrap();
    let cache = Cache::new(cache_dir.path().to_path_buf());
    let mut f = Fetcher::new(&cache).unwrap();
    let mut m = model(
        None,
        vec![ModelSourceFile::Path {
            path: shard(1).display().to_string(),
        }],
    );
    m.file = "m-00001-of-00003.gguf".into();
    let got = f.model(&m).await.unwrap();
    let files = got.files();
    assert_eq!(
        files
            .files
            .iter()
            .map(|(p, n)| (p.clone(), n.as_str()))
            .collect::<Vec<_>>(),
        [
            (shard(1), "m-00001-of-00003.gguf"),
            (shard(2), "m-00002-of-00003.gguf"),
            (shard(3), "m-00003-of-00003.gguf"),
        ]
    );
    assert_eq!(got.shards[1].sha256, sha256_hex(b"shard 3"));
    let binds = files.binds();
    assert!(binds.iter().all(|b| b.read_only));
    assert_eq!(binds[2].container, "/models/m-00003-of-00003.gguf");
    // On another host's engine: the volume there holding all three, one
    // mount at /models, where each shard keeps its name.
    let there = ModelFiles {
        volume: Some("rigbench-model-0123456789abcdef".into()),
        ..files
    };
    let binds = there.binds();
    assert_eq!(binds.len(), 1);
    assert_eq!(
        (binds[0].host.to_str(), binds[0].container.as_str()),
        (Some("rigbench-model-0123456789abcdef"), "/models")
    );
    assert!(binds[0].read_only);

    std::fs::remove_file(shard(2)).unwrap();
    let err = f.model(&m).await.unwrap_err().to_string();
    assert!(
        err.starts_with("model tiny shard 2 of 3: no source worked"),
        "{err}"
    );
    assert!(err.contains("m-00002-of-00003.gguf"), "{err}");
}
