//! What changed between two runs' setups: each manifest's setup facts (host,
//! kernel command line, module parameters, engine, per image its inputs and the
//! versions read inside it, models, plan settings) flattened to `path = value`
//! pairs, and the paths whose values differ. Timings, ids of containers and other
//! facts that change on every run are left out. A pure function.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::manifest::Manifest;

/// One fact that differs (absent on one side: `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    pub field: String,
    pub a: Option<String>,
    pub b: Option<String>,
}

/// Keys that change on every run or say nothing about the setup.
const NOISE: &[&str] = &[
    "built_now",
    "build_seconds",
    "hash_seconds",
    "hash_origin",
    "socket",
    "service_pid",
    "service_started_by_rigbench",
    "device_probe",
    "tag",
    "origin",
];

fn flatten(prefix: &str, v: &Value, out: &mut BTreeMap<String, String>) {
    match v {
        Value::Object(map) => {
            for (k, x) in map {
                if NOISE.contains(&k.as_str()) {
                    continue;
                }
                flatten(&format!("{prefix}.{k}"), x, out);
            }
        }
        Value::Null => {}
        Value::String(s) => {
            out.insert(prefix.to_string(), s.clone());
        }
        other => {
            out.insert(prefix.to_string(), other.to_string());
        }
    }
}

/// The setup facts of a manifest as `path = value`.
pub fn facts(m: &Manifest) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |prefix: &str, v: Result<Value, serde_json::Error>| {
        if let Ok(v) = v {
            flatten(prefix, &v, &mut out);
        }
    };
    put("rigbench", serde_json::to_value(&m.tool.version));
    if let Some(c) = &m.tool.commit {
        put("rigbench_commit", serde_json::to_value(c));
    }
    put("host", serde_json::to_value(&m.host));
    put("engine", serde_json::to_value(&m.engine));
    for i in &m.images {
        put(
            &format!("image[{}@{}]", i.backend, i.source),
            serde_json::to_value(i),
        );
    }
    for md in &m.models {
        put(
            &format!("model[{}]", md.name),
            serde_json::to_value(serde_json::json!({
                "file": md.file, "sha256": md.sha256, "size_bytes": md.size_bytes
            })),
        );
    }
    put("plan.bench", serde_json::to_value(&m.plan.bench));
    for v in &m.plan.variants {
        put(
            &format!("plan.variant[{}]", v.name),
            serde_json::to_value(v),
        );
    }
    out
}

/// The facts that differ between A and B, in path order.
pub fn differences(a: &Manifest, b: &Manifest) -> Vec<Difference> {
    let (fa, fb) = (facts(a), facts(b));
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| fa.get(*k) != fb.get(*k))
        .map(|k| Difference {
            field: k.clone(),
            a: fa.get(k).cloned(),
            b: fb.get(k).cloned(),
        })
        .collect()
}
