//! `rigbench build`: build (or reuse) a plan's images and print their ids.

use std::process::ExitCode;

use super::Globals;
use crate::cli::BuildArgs;
use crate::fetch::Fetcher;
use crate::host::devices::Passthrough;
use crate::plan::matrix::Matrix;
use crate::session::prepare;

pub async fn build(g: &Globals, args: &BuildArgs) -> anyhow::Result<ExitCode> {
    // The host is the engine's: another host's is read there, so the plan's
    // backends, its `auto` build arguments and the image's device probe are
    // that host's. Building needs no device: an image for a backend the host
    // cannot run is still built (its device probe then shows what is missing).
    let connected = g.connect().await?;
    let seen = super::host_view::of_engine_or_nothing(&connected).await?;
    if let Some(how) = &seen.how {
        log::info!("the host: {how}");
    }
    let plan = super::host_view::plan_for(args.plan.as_deref(), &seen.view)?;
    let mut wanted = Vec::new();
    for &b in &args.backends {
        let Some(bp) = plan.backends.iter().find(|bp| bp.backend == b) else {
            anyhow::bail!(
                "--backend {}: the plan {} has no such backend",
                b.name(),
                plan.origin
            );
        };
        wanted.push(bp);
    }
    if wanted.is_empty() {
        wanted = plan.backends.iter().collect();
    }
    let mut fetcher = Fetcher::new(&g.cache)?;
    let sources = prepare::sources(&mut fetcher, &plan).await?;
    let logs = g.cache.root().join("logs");
    std::fs::create_dir_all(&logs)?;
    let matrix = Matrix::on_view(&plan, &seen.view, &g.cache);
    let none = Passthrough::default();
    // In the order asked for, as before.
    let runnable: Vec<_> = (wanted.iter())
        .filter_map(|bp| matrix.images.iter().find(|i| i.backend == bp.backend))
        .map(|i| (i, matrix.passthroughs.get(&i.backend).unwrap_or(&none)))
        .collect();
    let images = prepare::images(
        &connected.client,
        &plan,
        &runnable,
        &sources,
        &crate::image::BuildPlace {
            cache: &g.cache,
            logs: &logs,
            rebuild: crate::image::Rebuild::No,
        },
    )
    .await?;
    let mut t = crate::render::Table::new([
        "backend",
        "source",
        "tag",
        "image id",
        "base",
        "built",
        "llama-server --version",
    ]);
    for i in &images {
        t.push([
            i.backend.to_string(),
            i.source.clone(),
            i.tag.clone(),
            i.image_id.clone(),
            format!("{} ({})", i.base_image.reference, i.base_image.origin),
            if i.built_now {
                format!("now, {:.0} s", i.build_seconds)
            } else {
                "reused".to_string()
            },
            i.llama_cpp.version_line().to_string(),
        ]);
    }
    println!("{}", crate::render::terminal::table(&t));
    Ok(ExitCode::SUCCESS)
}
