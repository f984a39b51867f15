//! report.html of a real run, and `compare --html` of that run against itself,
//! rendered by headless Chromium: the screenshots must show the charts (pixels of
//! the first series' colour; the forest plots' shaded band and squares) on pages
//! that are not blank, with no script and nothing fetched from the network.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{repo, run_plan_at};

fn chromium() -> std::path::PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|b| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(b))
                    .find(|p| p.is_file())
            })
        })
        .expect("chromium is needed to render report.html (scripts/test.sh installs it)")
}

/// Renders `page` in headless Chromium into `png` and returns its pixels as RGB.
fn screenshot(page: &std::path::Path, png: &std::path::Path) -> Vec<[u8; 3]> {
    let status = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,1400",
            &format!("--screenshot={}", png.display()),
            &format!("file://{}", page.display()),
        ])
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    // Kept for a look: RIGBENCH_KEEP_SCREENSHOT=dir copies it there.
    if let Some(keep) = std::env::var_os("RIGBENCH_KEEP_SCREENSHOT") {
        let name = png.file_name().unwrap();
        std::fs::copy(png, std::path::Path::new(&keep).join(name)).unwrap();
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected colour type {other:?}"),
    };
    buf[..info.buffer_size()]
        .chunks(px)
        .map(|p| [p[0], p[1], p[2]])
        .collect()
}

fn near(p: &[u8; 3], rgb: [u8; 3]) -> bool {
    (0..3).all(|i| p[i].abs_diff(rgb[i]) < 16)
}

#[test]
#[ignore = "needs Podman, the model and Chromium: scripts/test.sh runs it"]
fn the_html_report_renders_its_charts_in_chromium() {
    let work = tempfile::tempdir().unwrap();
    // The e2e plan with a bandwidth, so generation carries its ceiling share.
    let plan = std::fs::read_to_string(repo().join("tests/plans/e2e.toml"))
        .unwrap()
        .replace("[bench]\n", "[bench]\nmemory_bandwidth_gbs = 20\n");
    let plan_path = work.path().join("plan.toml");
    std::fs::write(&plan_path, plan).unwrap();
    let out = work.path().join("run");
    run_plan_at(&plan_path, &out, work.path());
    let html_path = out.join("report.html");
    let html = std::fs::read_to_string(&html_path).unwrap();
    assert_eq!(
        html.matches("<svg ").count(),
        3,
        "three charts for one model"
    );
    assert!(!html.contains("<script"));
    let external =
        html.matches("http").count() - html.matches("http://www.w3.org/2000/svg").count();
    assert_eq!(external, 0, "the report refers to the network");
    // 20 GB/s over the model's 246.6 MB of weights: a ceiling of 81.1 t/s; the
    // share is printed beside each generation figure.
    assert!(html.contains("20 GB/s (the plan"), "no ceiling note");
    assert!(html.contains("81.1 tokens/s for this model"), "ceiling");
    assert!(
        html.contains(" %)</td>"),
        "no share in the generation table"
    );

    let pixels = screenshot(&html_path, &work.path().join("shot.png"));
    // The first series' colour, #0072B2, drawn by the charts' lines and points.
    let blue = pixels.iter().filter(|p| near(p, [0, 114, 178])).count();
    let ink = pixels
        .iter()
        .filter(|p| p[0] < 200 || p[1] < 200 || p[2] < 200)
        .count();
    assert!(blue > 200, "{blue} pixels of the series colour");
    assert!(
        ink * 50 > pixels.len(),
        "the page is nearly blank: {ink} of {}",
        pixels.len()
    );

    // The run against itself as a comparison page: a forest plot per metric
    // with the noise band shaded (#e8f5ee) and the ratio's squares.
    let cmp = work.path().join("compare.html");
    let out_s = out.to_str().unwrap();
    common::rigbench_ok(
        &["compare", out_s, out_s, "--html", cmp.to_str().unwrap()],
        work.path(),
    );
    let page = std::fs::read_to_string(&cmp).unwrap();
    assert_eq!(page.matches("<svg ").count(), 3, "a forest plot per metric");
    assert!(!page.contains("<script"));
    let pixels = screenshot(&cmp, &work.path().join("compare.png"));
    let band = pixels.iter().filter(|p| near(p, [232, 245, 238])).count();
    assert!(band > 2000, "{band} pixels of the shaded band");
    // Squares: same (#009E73) or inconclusive (#777777), never another verdict
    // for a run against itself.
    let squares = pixels
        .iter()
        .filter(|p| near(p, [0, 158, 115]) || near(p, [119, 119, 119]))
        .count();
    assert!(squares > 50, "{squares} pixels of the squares and lines");
    assert!(!page.contains("#D55E00\"><title>") && !page.contains("#0072B2\"><title>"));
    assert!(page.contains("B/A with its 95 % interval"));
}
