//! `rigbench summary RUN…`: several runs side by side, typically one plan run on
//! several hosts: one row per run (its host: name, GPU or CPU, engine), one
//! column per cell (cells matched as `compare` matches them), each entry the
//! metric's mean with its 95 % interval, a failed cell's mode, or "—" where
//! that run has no such cell. Pure functions of manifests; `table` gives the
//! neutral table that Markdown and HTML write, and the summary itself is the JSON.

use serde::Serialize;

use super::CellKey;
use crate::manifest::Manifest;
use crate::metric::Metric;
use crate::render::{Table, Text};
use crate::stats::Summary;
use crate::status::CellStatus;

/// One run's entry for one cell.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Entry {
    Measured {
        summary: Summary,
    },
    /// The cell failed (or has no value of the metric): its mode, or why.
    Failed {
        why: String,
    },
    /// The run has no such cell.
    Absent,
}

/// One run: where it ran and its entries, in the columns' order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostRow {
    /// The run as the command line named it.
    pub run: String,
    /// Its host: name, GPU (or CPU), engine.
    pub host: String,
    pub entries: Vec<Entry>,
}

/// The runs side by side for one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostSummary {
    pub metric: Metric,
    /// Each cell's label (`CellKey::label`), sorted as the keys sort.
    pub columns: Vec<String>,
    pub rows: Vec<HostRow>,
}

/// How a run's host is named: its hostname, its NVIDIA GPUs' names (else its
/// CPU), and its engine (with the remote connection, where there was one).
pub fn host_label(m: &Manifest) -> String {
    let name = m.host.hostname.as_deref().unwrap_or("?");
    let gpus: Vec<&str> = m
        .host
        .nvidia
        .iter()
        .flat_map(|n| n.gpus.iter().map(|g| g.name.as_str()))
        .collect();
    let device = if gpus.is_empty() {
        m.host.cpu.model.clone().unwrap_or_else(|| "CPU ?".into())
    } else {
        gpus.join(" + ")
    };
    let engine = m.engine.as_ref().map(|e| {
        let via = e
            .remote
            .as_ref()
            .and_then(|r| r.connection.as_deref())
            .map(|c| format!(" via {c}"))
            .unwrap_or_default();
        format!(", {}{via}", e.named())
    });
    format!("{name}: {device}{}", engine.unwrap_or_default())
}

/// The runs (named as given) side by side for `metric`.
pub fn summarize(runs: &[(String, &Manifest)], metric: Metric) -> HostSummary {
    let keyed: Vec<Vec<(CellKey, &crate::manifest::Cell)>> = runs
        .iter()
        .map(|(_, m)| m.cells.iter().map(|c| (CellKey::of(m, c), c)).collect())
        .collect();
    let mut keys: Vec<CellKey> = keyed.iter().flatten().map(|(k, _)| k.clone()).collect();
    keys.sort();
    keys.dedup();
    let rows = runs
        .iter()
        .zip(&keyed)
        .map(|((run, m), cells)| HostRow {
            run: run.clone(),
            host: host_label(m),
            entries: keys
                .iter()
                .map(|k| match cells.iter().find(|(ck, _)| ck == k) {
                    None => Entry::Absent,
                    Some((_, c)) => entry(c, metric),
                })
                .collect(),
        })
        .collect();
    HostSummary {
        metric,
        columns: keys.iter().map(CellKey::label).collect(),
        rows,
    }
}

fn entry(c: &crate::manifest::Cell, metric: Metric) -> Entry {
    if c.status != CellStatus::Ok {
        let why = c
            .failure
            .as_ref()
            .map(|f| f.mode.to_string())
            .unwrap_or_else(|| c.status.to_string());
        return Entry::Failed { why };
    }
    match c.stats.get(&metric) {
        Some(s) => Entry::Measured { summary: s.clone() },
        None => Entry::Failed {
            why: format!("no {}", metric.name()),
        },
    }
}

/// A figure as the summary shows it: mean and, from two runs on, its 95 %
/// interval (`64.0 (63.7–64.3)`).
fn figure(s: &Summary, decimals: usize) -> String {
    match (s.ci95_low, s.ci95_high) {
        (Some(lo), Some(hi)) => format!("{:.d$} ({:.d$}–{:.d$})", s.mean, lo, hi, d = decimals),
        _ => format!("{:.d$} (n=1)", s.mean, d = decimals),
    }
}

/// The summary as a table: host and run first, then a column per cell.
pub fn table(s: &HostSummary) -> Table {
    let mut header = vec![Text::plain("host"), Text::plain("run")];
    header.extend(s.columns.iter().map(|c| Text::plain(c.clone())));
    let mut t = Table::new(header);
    for r in &s.rows {
        let mut row = vec![Text::plain(r.host.clone()), Text::code(r.run.clone())];
        row.extend(r.entries.iter().map(|e| match e {
            Entry::Measured { summary } => Text::plain(figure(summary, s.metric.decimals())),
            Entry::Failed { why } => Text::strong(why.clone()),
            Entry::Absent => Text::plain("—"),
        }));
        t.rows.push(row);
    }
    t
}

/// What the page's tables show, said above them in each format.
const INTRO: &str = "One row per run, one column per cell; each entry the mean with its 95 % interval (Student's t over the cell's measured runs), a failed cell's mode, or — where the run has no such cell.";

/// The Markdown page: a table per metric.
pub fn markdown(summaries: &[HostSummary]) -> String {
    let mut out = format!("# rigbench summary\n\n{INTRO}\n");
    for s in summaries {
        out.push_str(&format!("\n## {}\n\n", s.metric.title()));
        out.push_str(&crate::render::markdown::table(&table(s)));
    }
    out
}

/// The same as one self-contained HTML page (inline CSS, no script).
pub fn html(summaries: &[HostSummary]) -> String {
    use crate::render::html::{esc, table as html_table};
    let mut out = crate::render::html::page_start("rigbench summary");
    out.push_str(&format!(
        "<h1>rigbench summary</h1>\n<p class=\"note\">{}</p>\n",
        esc(INTRO)
    ));
    for s in summaries {
        out.push_str(&format!("<h2>{}</h2>\n", esc(s.metric.title())));
        html_table(&mut out, &table(s));
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Failure;
    use crate::manifest::fixtures::{cell, run};
    use crate::status::FailureMode;

    fn manifest(host: &str, cells: Vec<crate::manifest::Cell>) -> Manifest {
        let plan = crate::plan::builtin(2).unwrap();
        let mut facts = crate::host::probe(std::path::Path::new("/nonexistent"));
        facts.hostname = Some(host.to_string());
        facts.cpu.model = Some("Ryzen AI MAX+ 395".to_string());
        let mut m = Manifest::new("r", plan, facts, None);
        m.cells = cells;
        m
    }

    fn measured(tps: &[f64]) -> Vec<crate::manifest::Run> {
        let mut v = vec![run(1.0, 1.0, 9999.0, true)];
        v.extend(tps.iter().map(|g| run(*g, 800.0, 40.0, false)));
        v
    }

    #[test]
    fn one_row_per_host_one_column_per_cell_with_intervals_failures_and_gaps() {
        let a = manifest(
            "strix",
            vec![cell(31, "default", measured(&[79.0, 80.0, 81.0]), None)],
        );
        let crash = Failure {
            mode: FailureMode::Crash,
            message: "SIGSEGV".into(),
            evidence: vec![],
        };
        let b = manifest(
            "rtx",
            vec![
                cell(31, "default", measured(&[]), Some(crash)),
                cell(461, "default", measured(&[50.0, 50.0, 50.0]), None),
            ],
        );
        let s = summarize(&[("a".into(), &a), ("b".into(), &b)], Metric::GenTps);
        assert_eq!(
            s.columns,
            [
                "cpu gemma-3-270m-q4_k_m default p31",
                "cpu gemma-3-270m-q4_k_m default p461"
            ]
        );
        assert_eq!(s.rows[0].host, "strix: Ryzen AI MAX+ 395");
        let t = table(&s);
        let words = |r: usize| t.rows[r].iter().map(Text::words).collect::<Vec<_>>();
        // By hand: mean 80, sd 1, t(0.975, 2) = 4.303, half-width 4.303/√3 = 2.484.
        assert_eq!(
            words(0),
            ["strix: Ryzen AI MAX+ 395", "a", "80.0 (77.5–82.5)", "—"]
        );
        assert_eq!(
            words(1),
            ["rtx: Ryzen AI MAX+ 395", "b", "crash", "50.0 (50.0–50.0)"]
        );
        let md = markdown(std::slice::from_ref(&s));
        assert!(md.contains("## Generation, tokens/s"), "{md}");
        assert!(md.contains("**crash**"), "{md}");
        assert_eq!(
            s.rows[1].entries[1],
            Entry::Measured {
                summary: crate::stats::summarize(&[50.0; 3]).unwrap()
            }
        );
    }

    #[test]
    fn the_engine_and_its_connection_name_the_host() {
        let mut m = manifest("gpu1", vec![]);
        m.engine = Some(crate::engine::EngineInfo {
            kind: crate::engine::EngineKind::Podman,
            version: "5.4.2".into(),
            api_version: "1.41".into(),
            runtime: Some("crun".into()),
            cgroup_version: Some("2".into()),
            socket: "ssh://core@gpu1:22/run/user/1000/podman/podman.sock".into(),
            service_started_by_rigbench: false,
            service_pid: None,
            rootless: Some(true),
            remote: Some(crate::engine::RemoteEngine {
                connection: Some("gpu1".into()),
                socket_uid: 1000,
            }),
        });
        assert_eq!(
            host_label(&m),
            "gpu1: Ryzen AI MAX+ 395, Podman 5.4.2 rootless via gpu1"
        );
        let html = html(&[summarize(&[("r".into(), &m)], Metric::PpTps)]);
        assert!(
            html.contains("<h2>Prompt processing, tokens/s</h2>"),
            "{html}"
        );
        assert!(html.ends_with("</body></html>\n"));
    }
}
