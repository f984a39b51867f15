//! What changed between two runs' setups: each manifest's setup facts (host,
//! kernel command line, module parameters, engine, per image its inputs and the
//! versions read inside it, models, plan settings, the argument lists each
//! server group and llama-bench run was started with) flattened to `path = value`
//! pairs, and the paths whose values differ. Timings, ids of containers and other
//! facts that change on every run are left out. A pure function.

use std::collections::{BTreeMap, BTreeSet};

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
    // What each server group ran: a setting that reaches llama-server only
    // through rigbench's own defaults (`--cache-ram 0`) differs here even
    // where the plan's settings are the same.
    for c in &m.cells {
        let group = format!(
            "cell[{}@{}/{}/{}].server_argv",
            c.backend, c.source, c.model, c.variant.name
        );
        for (flag, value) in argv_flags(&c.variant.server_argv) {
            out.insert(format!("{group}.{flag}"), value);
        }
    }
    for r in &m.llama_bench {
        let group = format!("llama_bench[{}@{}/{}].argv", r.backend, r.source, r.model);
        for (flag, value) in argv_flags(&r.argv) {
            out.insert(format!("{group}.{flag}"), value);
        }
    }
    out
}

/// An argument list as flag → value: the words after a flag up to the next
/// flag (a word starting with `-` that is no number), joined by spaces;
/// `(set)` for a flag with no value; a flag given more than once has each of
/// its values in order, joined by ` ; ` (llama.cpp takes the last of some,
/// such as `--cache-ram`, and every one of others, such as `--override-kv`).
/// Words before any flag are under `args`.
pub(crate) fn argv_flags(argv: &[String]) -> BTreeMap<String, String> {
    let is_flag = |w: &str| w.starts_with('-') && w.len() > 1 && w.parse::<f64>().is_err();
    let mut out = BTreeMap::new();
    let mut flag = "args".to_string();
    let mut words: Vec<&str> = Vec::new();
    let put = |flag: &str, words: &[&str], out: &mut BTreeMap<String, String>| {
        if flag != "args" || !words.is_empty() {
            let v = if words.is_empty() {
                "(set)".to_string()
            } else {
                words.join(" ")
            };
            out.entry(flag.to_string())
                .and_modify(|x: &mut String| {
                    x.push_str(" ; ");
                    x.push_str(&v);
                })
                .or_insert(v);
        }
    };
    for w in argv {
        if is_flag(w) {
            put(&flag, &words, &mut out);
            flag = w.clone();
            words.clear();
        } else {
            words.push(w);
        }
    }
    put(&flag, &words, &mut out);
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
/// (`image[BACKEND@SOURCE]`, `model[NAME]`, `plan.variant[NAME]`,
/// `cell[BACKEND@SOURCE/MODEL/VARIANT]`, `llama_bench[BACKEND@SOURCE/MODEL]`)
/// replaced by `label`; any other path as it is.
pub(crate) fn renamed(key: &str, field: Field, value: &str, label: &str) -> String {
    let Some((head, rest)) = key.split_once('[') else {
        return key.to_string();
    };
    let Some((inside, tail)) = rest.split_once(']') else {
        return key.to_string();
    };
    if GROUP_HEADS.contains(&head) {
        return match group_renamed(head == "cell", inside, field, value, label) {
            Some(inside) => format!("{head}[{inside}]{tail}"),
            None => key.to_string(),
        };
    }
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

/// A `cell[…]` (`with_variant`) or `llama_bench[…]` key's inside,
/// `BACKEND@SOURCE/MODEL[/VARIANT]`, with the compared field's `value`
/// replaced by `label`; `None` where that field is not `value` (or the key is
/// not of that form).
fn group_renamed(
    with_variant: bool,
    inside: &str,
    field: Field,
    value: &str,
    label: &str,
) -> Option<String> {
    let (backend, rest) = inside.split_once('@')?;
    let (source, rest) = rest.split_once('/')?;
    let (model, variant) = if with_variant {
        let (m, v) = rest.rsplit_once('/')?;
        (m, Some(v))
    } else {
        (rest, None)
    };
    let mut parts = [backend, source, model, variant.unwrap_or("")];
    let i = match field {
        Field::Backend => 0,
        Field::Source => 1,
        Field::Model => 2,
        Field::Variant if with_variant => 3,
        Field::Variant => return None,
    };
    if parts[i] != value {
        return None;
    }
    parts[i] = label;
    let [b, s, m, v] = parts;
    Some(match variant {
        Some(_) => format!("{b}@{s}/{m}/{v}"),
        None => format!("{b}@{s}/{m}"),
    })
}

/// The facts of A and B that differ, in path order. The argv facts of a
/// server group (`cell[…]`) or llama-bench run (`llama_bench[…]`) are compared
/// only where both sides have that group (the cells only one side ran are
/// listed as such); a flag that differs alike in every group both sides have
/// is one row, `cell[every group].server_argv.--flag`.
fn diff(fa: &BTreeMap<String, String>, fb: &BTreeMap<String, String>) -> Vec<Difference> {
    let (ga, gb) = (groups(fa), groups(fb));
    let shared: BTreeSet<&str> = ga.intersection(&gb).copied().collect();
    let mut keys: Vec<&String> = fa.keys().chain(fb.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Vec::new();
    let mut alike: BTreeMap<Alike, Vec<&str>> = BTreeMap::new();
    for k in keys {
        let (a, b) = (fa.get(k), fb.get(k));
        if a == b {
            continue;
        }
        match group_of(k) {
            None => out.push(Difference {
                field: k.clone(),
                a: a.cloned(),
                b: b.cloned(),
            }),
            Some((group, head, rest)) if shared.contains(group) => {
                alike.entry((head, rest, a, b)).or_default().push(group);
            }
            Some(_) => {}
        }
    }
    for ((head, rest, a, b), gs) in alike {
        let of_head = shared.iter().filter(|g| group_head(g) == head).count();
        let fields: Vec<String> = if gs.len() > 1 && gs.len() == of_head {
            vec![format!("{head}[every group]{rest}")]
        } else {
            gs.iter().map(|g| format!("{g}{rest}")).collect()
        };
        out.extend(fields.into_iter().map(|field| Difference {
            field,
            a: a.cloned(),
            b: b.cloned(),
        }));
    }
    out.sort_by(|x, y| x.field.cmp(&y.field));
    out
}

/// An argv fact's difference apart from its group: the head, the rest of the
/// path, A's value and B's value.
type Alike<'a> = (&'a str, &'a str, Option<&'a String>, Option<&'a String>);

/// The heads of argv facts, one per server group or llama-bench run.
const GROUP_HEADS: [&str; 2] = ["cell", "llama_bench"];

fn group_head(group: &str) -> &str {
    group.split_once('[').map_or(group, |(h, _)| h)
}

/// An argv fact's group (`cell[cuda@default/m/f16]`), head (`cell`) and the
/// rest of its path (`.server_argv.--flag`); `None` for any other fact.
fn group_of(key: &str) -> Option<(&str, &str, &str)> {
    let (head, _) = key.split_once('[')?;
    if !GROUP_HEADS.contains(&head) {
        return None;
    }
    let end = key.find("].")? + 1;
    Some((&key[..end], head, &key[end..]))
}

/// The argv groups a side's facts have.
fn groups(f: &BTreeMap<String, String>) -> BTreeSet<&str> {
    f.keys()
        .filter_map(|k| group_of(k))
        .map(|(g, _, _)| g)
        .collect()
}
