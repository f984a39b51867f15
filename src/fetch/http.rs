//! Downloads over HTTP(S) with reqwest, streamed to a file with a progress bar;
//! model files resumably (HTTP range against the ETag they were started with).

use std::path::Path;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

/// Downloads `url` into `dest` anew (nothing resumed, nothing kept beside it);
/// errors are messages naming the URL.
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    expected_size: Option<u64>,
    dest: &Path,
    what: &str,
) -> Result<(), String> {
    let _ = std::fs::remove_file(etag_file(dest));
    let r = download_resumable(http, url, bearer, expected_size, dest, what).await;
    let _ = std::fs::remove_file(etag_file(dest));
    r
}

/// An error with its causes: reqwest's own message says only "error sending
/// request".
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(&format!(": {c}"));
        cause = c.source();
    }
    s
}

/// The file beside a partial download that holds the ETag it was started
/// with (a resumed download asks for the rest of that version only).
fn etag_file(partial: &Path) -> std::path::PathBuf {
    let mut name = partial.as_os_str().to_owned();
    name.push(".etag");
    name.into()
}

/// The whole length a response stands for: `Content-Range`'s total on a 206,
/// `Content-Length` on a 200.
fn total_of(resp: &reqwest::Response) -> Option<u64> {
    if resp.status() == reqwest::StatusCode::PARTIAL_CONTENT {
        let range = resp
            .headers()
            .get(reqwest::header::CONTENT_RANGE)?
            .to_str()
            .ok()?;
        return range.rsplit('/').next()?.parse().ok();
    }
    resp.content_length()
}

/// Downloads `url` into `partial`, resuming what an earlier attempt left there
/// (HTTP range, only for the same ETag: a changed file starts again). The file
/// is whole when this returns `Ok`: its length is the one the server gave; a
/// cut-off download stays in `partial` for the next attempt.
pub async fn download_resumable(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    expected_size: Option<u64>,
    partial: &Path,
    what: &str,
) -> Result<(), String> {
    let have = std::fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
    let etag = std::fs::read_to_string(etag_file(partial)).ok();
    let mut req = http.get(url);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    if let (true, Some(tag)) = (have > 0, &etag) {
        req = req
            .header(reqwest::header::RANGE, format!("bytes={have}-"))
            .header(reqwest::header::IF_RANGE, tag.trim());
    }
    let resp = req
        .send()
        .await
        .map_err(|e| format!("GET {url}: {}", chain(&e)))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let resumed = status == reqwest::StatusCode::PARTIAL_CONTENT;
    let from = if resumed { have } else { 0 };
    let total = total_of(&resp).or(expected_size);
    if let Some(dir) = partial.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("cannot write {}: {e}", dir.display()))?;
    }
    let tag = resp
        .headers()
        .get("x-linked-etag")
        .or_else(|| resp.headers().get(reqwest::header::ETAG))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    match &tag {
        Some(t) => std::fs::write(etag_file(partial), t),
        None => std::fs::remove_file(etag_file(partial)).or(Ok(())),
    }
    .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    if resumed {
        log::info!("{what}: resuming at byte {have}");
    }
    let bar = crate::progress::bytes(total, what);
    bar.inc(from);
    let mut file = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(partial)
        .await
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    let mut written = from;
    let mut stream = resp.bytes_stream();
    let mut cut = None;
    while let Some(chunk) = stream.next().await {
        match chunk {
            Ok(chunk) => {
                file.write_all(&chunk)
                    .await
                    .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
                written += chunk.len() as u64;
                bar.inc(chunk.len() as u64);
            }
            Err(e) => {
                cut = Some(chain(&e));
                break;
            }
        }
    }
    file.flush()
        .await
        .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
    bar.finish_and_clear();
    let short = total.is_some_and(|t| written < t);
    if cut.is_some() || short {
        return Err(format!(
            "GET {url}: cut off after {written} of {} bytes ({})",
            total.map_or("?".to_string(), |t| t.to_string()),
            cut.unwrap_or_else(|| "the stream ended early".to_string()),
        ));
    }
    let _ = std::fs::remove_file(etag_file(partial));
    Ok(())
}
