//! What changed between two runs' setups: each manifest's setup facts (host,
//! kernel command line, module parameters, engine, per image its inputs and the
//! versions read inside it, models, plan settings) flattened to `path = value`
//! pairs, and the paths whose values differ. Timings, ids of containers and other
//! facts that change on every run are left out. A pure function.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::within::{Field, Split};
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
    diff(&facts(a), &facts(b))
}

/// The facts that differ between the two sides of one run split by
/// `within::split`, each side's compared backend, source, model or variant
/// under one name, the split's label (`plan.variant[f16→q8k].server_args`),
/// so that a field of A sits beside the same field of B instead of each
/// showing as absent on the other side.
pub fn differences_within(s: &Split) -> Vec<Difference> {
    let under_label = |m: &Manifest, value: &str| {
        facts(m)
            .into_iter()
            .map(|(k, v)| (renamed(&k, s.field, value, &s.label), v))
            .collect::<BTreeMap<_, _>>()
    };
    diff(
        &under_label(&s.a, &s.a_value),
        &under_label(&s.b, &s.b_value),
    )
}

/// Fact path `key` with the compared `field`'s `value` in its brackets
/// (`image[BACKEND@SOURCE]`, `model[NAME]`, `plan.variant[NAME]`) replaced
/// by `label`; any other path as it is.
pub(crate) fn renamed(key: &str, field: Field, value: &str, label: &str) -> String {
    let Some((head, rest)) = key.split_once('[') else {
        return key.to_string();
    };
    let Some((inside, tail)) = rest.split_once(']') else {
        return key.to_string();
    };
    let inside = match (field, head, inside.split_once('@')) {
        (Field::Backend, "image", Some((backend, source))) if backend == value => {
            format!("{label}@{source}")
        }
        (Field::Source, "image", Some((backend, source))) if source == value => {
            format!("{backend}@{label}")
        }
        (Field::Model, "model", _) | (Field::Variant, "plan.variant", _) if inside == value => {
            label.to_string()
        }
        _ => return key.to_string(),
    };
    format!("{head}[{inside}]{tail}")
}

fn diff(fa: &BTreeMap<String, String>, fb: &BTreeMap<String, String>) -> Vec<Difference> {
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
