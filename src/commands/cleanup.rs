//! `rigbench cleanup`: remove what rigbench labelled and left behind, but never
//! the containers of a run that is still going (their owner process is alive).

use std::process::ExitCode;

use super::Globals;
use crate::engine::{Engine, LABEL_MANAGED, LABEL_OWNER, LABEL_RUN, owner};

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

pub async fn cleanup(g: &Globals, images: bool, dangling: bool) -> anyhow::Result<ExitCode> {
    let connected = g.connect().await?;
    let engine = &connected.client;
    let label = [format!("{LABEL_MANAGED}=true")];
    let containers = engine.list_labelled(&label).await?;
    let mut removed = 0;
    let mut left = 0;
    for c in &containers {
        if let Some(token) = c.labels.get(LABEL_OWNER).filter(|t| owner::is_alive(t)) {
            let run = c.labels.get(LABEL_RUN).map_or("?", String::as_str);
            println!(
                "left container {} ({}): its run {run} is still going (rigbench pid {})",
                c.name,
                c.state,
                owner::pid_of(token).map_or("?".to_string(), |p| p.to_string())
            );
            left += 1;
            continue;
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
    println!(
        "{removed} container(s){} removed{}",
        if images || dangling {
            format!(", {removed_images} image(s)")
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
