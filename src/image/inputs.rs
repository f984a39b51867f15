//! An image's build inputs: the `plan::images::ImagePlan`'s build arguments
//! (the host's `auto` values made explicit there) with rigbench's own (base,
//! archive, source directory, commit, build number), hashed with the Containerfile,
//! the helper scripts, the source archive and the base image's id. The hash
//! names the image's tag and its `io.rigbench.inputs` label, so an image with
//! the same inputs is reused.

use std::collections::BTreeMap;

use serde_json::json;

use super::context;
use crate::fetch::FetchedSource;
use crate::hash::sha256_hex;
use crate::manifest::BaseImage;
use crate::plan::Source;
use crate::plan::images::ImagePlan;

/// What an image is built from, as the manifest records it.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// Every build argument passed (less the compiler-cache switch).
    pub build_args: BTreeMap<String, String>,
    pub containerfile_sha256: String,
    /// SHA-256 over every input.
    pub inputs_sha256: String,
    /// `localhost/rigbench/llama-<backend>:<first 16 hex of the hash>`.
    pub tag: String,
}

/// The inputs of `image`'s build from `source` on `base`.
pub fn of(
    image: &ImagePlan,
    plan_source: &Source,
    source: &FetchedSource,
    base: &BaseImage,
) -> Inputs {
    let backend = image.backend;
    for (arg, r) in &image.from_auto {
        log::info!("{backend}: {}=auto → {}", arg.name(), r.value);
    }
    let mut build_args = image.build_args.clone();
    build_args.insert("BASE_IMAGE".into(), base.reference.clone());
    build_args.insert("LLAMA_ARCHIVE".into(), context::ARCHIVE_NAME.into());
    build_args.insert("LLAMA_SRC_DIR".into(), source.dir.clone());
    build_args.insert("LLAMA_COMMIT".into(), plan_source.commit.clone());
    build_args.insert(
        "LLAMA_BUILD_NUMBER".into(),
        plan_source.build_number.unwrap_or(0).to_string(),
    );
    let containerfile_sha256 = sha256_hex(backend.containerfile_text().as_bytes());
    let inputs = json!({
        "containerfile": backend.containerfile(),
        "containerfile_sha256": containerfile_sha256,
        "images": context::image_files_sha256(),
        "source_sha256": source.sha256,
        "build_args": build_args,
        "base_image_id": base.image_id,
    });
    let inputs_sha256 = sha256_hex(crate::manifest::integrity::canonical(&inputs).as_bytes());
    let tag = format!(
        "localhost/rigbench/llama-{}:{}",
        backend.name(),
        &inputs_sha256[..16]
    );
    Inputs {
        build_args,
        containerfile_sha256,
        inputs_sha256,
        tag,
    }
}
