//! report.html of a real run, rendered by headless Chromium: the screenshot must
//! show the charts (pixels of the first series' colour) on a page that is not
//! blank, with no script and nothing fetched from the network.

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

#[test]
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

    let png = work.path().join("shot.png");
    let status = std::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1200,1400",
            &format!("--screenshot={}", png.display()),
            &format!("file://{}", html_path.display()),
        ])
        .output()
        .unwrap();
    assert!(
        png.is_file(),
        "no screenshot: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    // Kept for a look: RIGBENCH_KEEP_SCREENSHOT=path copies it there.
    if let Some(keep) = std::env::var_os("RIGBENCH_KEEP_SCREENSHOT") {
        std::fs::copy(&png, keep).unwrap();
    }
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let px = match info.color_type {
        png::ColorType::Rgba => 4,
        png::ColorType::Rgb => 3,
        other => panic!("unexpected colour type {other:?}"),
    };
    let pixels: Vec<&[u8]> = buf[..info.buffer_size()].chunks(px).collect();
    // The first series' colour, #0072B2, drawn by the charts' lines and points.
    let blue = pixels
        .iter()
        .filter(|p| p[0].abs_diff(0) < 16 && p[1].abs_diff(114) < 16 && p[2].abs_diff(178) < 16)
        .count();
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
}
