//! Building one image: the context rigbench assembles (Containerfile, helper
//! scripts, source archive) in a temporary file under the cache, the labels
//! that name its inputs, and the build with its log and a progress line.

use std::collections::BTreeMap;

use super::inputs::Inputs;
use super::{BuildPlace, ImageError, context, request_build_args};
use crate::backend::Backend;
use crate::engine::{Engine, LABEL_INPUTS, LABEL_MANAGED};
use crate::fetch::FetchedSource;
use crate::plan::Source;

/// Builds `backend`'s image of `source` as `inputs` say, tagged `inputs.tag`.
pub async fn build<E: Engine>(
    engine: &E,
    backend: Backend,
    plan_source: &Source,
    source: &FetchedSource,
    place: &BuildPlace<'_>,
    inputs: &Inputs,
) -> Result<(), ImageError> {
    let other = |message: String| ImageError::Other { backend, message };
    let cache = place.cache;
    log::info!("building {} from {}", inputs.tag, backend.containerfile());
    std::fs::create_dir_all(cache.contexts())
        .map_err(|e| other(format!("cannot create {}: {e}", cache.contexts().display())))?;
    let ctx = tempfile::Builder::new()
        .suffix(".tar")
        .tempfile_in(cache.contexts())
        .map_err(|e| other(format!("cannot create a build context: {e}")))?;
    let ctx_path = ctx.path().to_path_buf();
    let cf_name = backend.containerfile();
    let cf_text = backend.containerfile_text();
    let archive = source.path.clone();
    tokio::task::spawn_blocking(move || context::write(&ctx_path, cf_name, cf_text, &archive))
        .await
        .map_err(|e| other(format!("assembling the build context: {e}")))?
        .map_err(|e| other(format!("assembling the build context: {e}")))?;
    let labels = BTreeMap::from([
        (LABEL_MANAGED.to_string(), "true".to_string()),
        (LABEL_INPUTS.to_string(), inputs.inputs_sha256.clone()),
        (
            "io.rigbench.backend".to_string(),
            backend.name().to_string(),
        ),
        (
            "io.rigbench.llama-commit".to_string(),
            plan_source.commit.clone(),
        ),
    ]);
    let req = crate::engine::BuildRequest {
        context_tar: ctx.path().to_path_buf(),
        containerfile: cf_name.to_string(),
        tag: inputs.tag.clone(),
        build_args: request_build_args(&inputs.build_args, place.rebuild),
        labels,
        target: None,
        log: place
            .logs
            .join(format!("build-{}-{}.log", backend.name(), plan_source.name)),
        no_cache: place.rebuild.no_cache(),
    };
    let bar = crate::progress::line(&format!("build {}", backend.name()));
    let shown = bar.clone();
    let result = engine
        .build(&req, &move |line: &str| shown.set_message(line.to_string()))
        .await;
    bar.finish_and_clear();
    result?;
    Ok(())
}
