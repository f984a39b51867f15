//! Downloads over HTTP(S) with reqwest, streamed to a file with a progress bar.

use std::path::Path;

use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

/// Downloads `url` into `dest`; errors are messages naming the URL.
pub async fn download(
    http: &reqwest::Client,
    url: &str,
    bearer: Option<&str>,
    expected_size: Option<u64>,
    dest: &Path,
    what: &str,
) -> Result<(), String> {
    let mut req = http.get(url);
    if let Some(token) = bearer {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(|e| format!("GET {url}: {e}"))?;
    let status = resp.status();
    if !status.is_success() {
        return Err(format!("GET {url}: HTTP {status}"));
    }
    let total = resp.content_length().or(expected_size);
    let bar = crate::progress::bytes(total, what);
    let mut file = tokio::fs::File::create(dest)
        .await
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("GET {url}: {e}"))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
        bar.inc(chunk.len() as u64);
    }
    file.flush()
        .await
        .map_err(|e| format!("cannot write {}: {e}", dest.display()))?;
    bar.finish_and_clear();
    Ok(())
}
