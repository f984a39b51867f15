//! `rigbench cleanup`: remove what rigbench labelled and left behind.

use std::process::ExitCode;

use super::Globals;
use crate::engine::{Engine, LABEL_MANAGED, connect};

pub async fn cleanup(g: &Globals, images: bool, dangling: bool) -> anyhow::Result<ExitCode> {
    let connected = connect(g.socket.as_deref()).await?;
    let engine = &connected.client;
    let label = [format!("{LABEL_MANAGED}=true")];
    let containers = engine.list_labelled(&label).await?;
    for c in &containers {
        engine.remove(&c.id).await?;
        println!("removed container {} ({})", c.name, c.state);
    }
    let mut removed_images = 0;
    if images {
        for img in engine.list_labelled_images(&label).await? {
            engine.remove_image(&img.id).await?;
            println!("removed image {} {}", img.id, img.tags.join(" "));
            removed_images += 1;
        }
    }
    if dangling && !images {
        let (ids, bytes) = engine.prune_images(&label).await?;
        removed_images = ids.len();
        println!(
            "removed {} dangling image(s), {:.1} GB freed",
            ids.len(),
            bytes as f64 / 1e9
        );
    }
    println!(
        "{} container(s){} removed",
        containers.len(),
        if images || dangling {
            format!(", {removed_images} image(s)")
        } else {
            String::new()
        }
    );
    Ok(ExitCode::SUCCESS)
}
