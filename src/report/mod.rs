//! Reports rendered from a manifest. Renderers are pure functions returning text;
//! this module alone writes them into the run directory.

pub mod ab;
pub mod failures;
pub mod html;
pub mod llama_bench;
pub mod markdown;
pub mod precision;
pub mod roofline;
pub mod synthetic;
pub mod system;
pub mod telemetry;

use std::path::PathBuf;

use crate::hash::write_atomic;
use crate::manifest::Manifest;
use crate::manifest::store::RunDir;

/// Writes `report.md` and `report.html` into the run directory; returns the
/// Markdown report's path.
pub fn write(dir: &RunDir, m: &Manifest) -> std::io::Result<PathBuf> {
    let path = dir.root().join("report.md");
    write_atomic(&path, markdown::render(m).as_bytes())?;
    write_atomic(
        &dir.root().join("report.html"),
        html::render_html(m).as_bytes(),
    )?;
    Ok(path)
}
