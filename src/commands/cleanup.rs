//! `rigbench cleanup`: remove what rigbench labelled and left behind, but never
//! the containers of a run that is still going (their owner process is alive)
//! or was started from another machine; with `--model-volumes`, the models
//! copied to the engine's host.

use std::process::ExitCode;

use super::Globals;
use crate::engine::{Engine, LABEL_MANAGED, LABEL_OWNER, LABEL_ROLE, LABEL_RUN, owner};

async fn remove_image_and_tags<E: Engine>(
    engine: &E,
    img: &crate::engine::ImageFacts,
) -> Result<(), crate::engine::EngineError> {
    if img.tags.is_empty() {
        return engine.remove_image(&img.id).await;
    }
    for tag in &img.tags {
        engine.remove_image(tag).await?;
    }
    Ok(())
}

/// What `rigbench cleanup` removes besides the containers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Also {
    pub images: bool,
    pub dangling: bool,
    pub model_volumes: bool,
}

pub async fn cleanup(g: &Globals, also: Also) -> anyhow::Result<ExitCode> {
    let Also {
        images,
        dangling,
        model_volumes,
    } = also;
    let connected = g.connect().await?;
    let engine = &connected.client;
    let label = [format!("{LABEL_MANAGED}=true")];
    let containers = engine.list_labelled(&label).await?;
    let mut removed = 0;
    let mut left = 0;
    for c in &containers {
        if let Some(token) = c.labels.get(LABEL_OWNER) {
            let run = c.labels.get(LABEL_RUN).map_or("?", String::as_str);
            let pid = owner::pid_of(token).map_or("?".to_string(), |p| p.to_string());
            let why = match owner::owner(token) {
                owner::Owner::Gone => None,
                owner::Owner::Alive => {
                    Some(format!("its run {run} is still going (rigbench pid {pid})"))
                }
                owner::Owner::Elsewhere => Some(format!(
                    "its run {run} was started from another machine (rigbench pid {pid} there), which cannot be seen from here; once that run is over, `podman rm -f {}` removes it",
                    c.name
                )),
            };
            if let Some(why) = why {
                println!("left container {} ({}): {why}", c.name, c.state);
                left += 1;
                continue;
            }
        }
        engine.remove(&c.id).await?;
        println!("removed container {} ({})", c.name, c.state);
        removed += 1;
    }
    let mut removed_images = 0;
    if images {
        for img in engine.list_labelled_images(&label).await? {
            // An image a live run's container uses stays (the engine refuses);
            // a tagged one goes tag by tag (by id, several tags would be refused).
            match remove_image_and_tags(engine, &img).await {
                Ok(()) => {
                    println!("removed image {} {}", img.id, img.tags.join(" "));
                    removed_images += 1;
                }
                Err(e) => println!("left image {} {}: {e}", img.id, img.tags.join(" ")),
            }
        }
    }
    // Untagged ones too: what a rebuild left, and unused build stages.
    if dangling || images {
        let (ids, bytes) = engine.prune_images(&label).await?;
        removed_images += ids.len();
        println!(
            "removed {} dangling image(s), {:.1} GB freed",
            ids.len(),
            bytes as f64 / 1e9
        );
    }
    // The models copied to the engine's host (`session::remote_files`): one
    // a container still mounts stays (the engine refuses).
    let mut removed_volumes = 0;
    if model_volumes {
        let models = [
            format!("{LABEL_MANAGED}=true"),
            format!("{LABEL_ROLE}=model"),
        ];
        for v in engine.list_labelled_volumes(&models).await? {
            match engine.remove_volume(&v).await {
                Ok(()) => {
                    println!("removed volume {v}");
                    removed_volumes += 1;
                }
                Err(e) => println!("left volume {v}: {e}"),
            }
        }
    }
    println!(
        "{removed} container(s){}{} removed{}",
        if images || dangling {
            format!(", {removed_images} image(s)")
        } else {
            String::new()
        },
        if model_volumes {
            format!(", {removed_volumes} model volume(s)")
        } else {
            String::new()
        },
        if left > 0 {
            format!("; {left} container(s) of live runs left")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
