//! The manifest's integrity hash: SHA-256 of its canonical JSON without the
//! `integrity` member, under the rule its `schema_version` names.
//!
//! - `rigbench.manifest/2` (written now): RFC 8785, the JSON Canonicalization
//!   Scheme (keys sorted by UTF-16 code units, numbers as ECMAScript prints
//!   them, minimal string escapes), through serde_json_canonicalizer. Anyone can
//!   check it with a JCS implementation of their own; docs/bundles-and-rerun.md
//!   shows it in four lines of Python with the `rfc8785` package.
//! - `rigbench.manifest/1` (manifests written before): keys sorted by their
//!   UTF-8 bytes at every depth, no insignificant white space, numbers as
//!   serde_json writes them (`canonical`, which also keys the image inputs
//!   hash, so that every image keeps its tag). Still verified under that rule.
use serde_json::Value;

use super::Manifest;
use crate::hash::sha256_hex;

/// Canonical JSON text of `v` (sorted keys at every depth, compact).
pub fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                if let Some(child) = map.get(k) {
                    write(child, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// How a manifest's canonical text is made, by its schema version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// `rigbench.manifest/1`: sorted keys, serde_json's numbers.
    SortedKeys,
    /// `rigbench.manifest/2` on: RFC 8785.
    Jcs,
}

impl Rule {
    /// The rule of `schema_version`, or why there is none.
    pub fn of(schema_version: &str) -> Result<Rule, String> {
        match schema_version {
            "rigbench.manifest/1" => Ok(Rule::SortedKeys),
            "rigbench.manifest/2" => Ok(Rule::Jcs),
            other => Err(format!(
                "schema_version {other:?} is not one this rigbench knows (rigbench.manifest/1 or /2): a newer rigbench wrote it?"
            )),
        }
    }

    /// The canonical text of `v` under this rule.
    pub fn canonical(self, v: &Value) -> Result<String, String> {
        match self {
            Rule::SortedKeys => Ok(canonical(v)),
            Rule::Jcs => serde_json_canonicalizer::to_string(v)
                .map_err(|e| format!("cannot canonicalize the manifest (RFC 8785): {e}")),
        }
    }
}

/// The integrity hash of a manifest given as JSON (its `integrity` is
/// ignored), under the rule of its `schema_version`.
pub fn hash_value(manifest: &Value) -> Result<String, String> {
    let version = manifest
        .get("schema_version")
        .and_then(Value::as_str)
        .ok_or("the manifest has no schema_version")?;
    let rule = Rule::of(version)?;
    let mut v = manifest.clone();
    if let Value::Object(map) = &mut v {
        map.remove("integrity");
    }
    Ok(sha256_hex(rule.canonical(&v)?.as_bytes()))
}

/// The integrity hash of `m` (its own `integrity` is ignored).
pub fn compute(m: &Manifest) -> Result<String, String> {
    hash_value(&serde_json::to_value(m).map_err(|e| e.to_string())?)
}

/// Checks the `integrity.sha256` recorded in a manifest's JSON.
pub fn verify(manifest: &Value) -> Result<(), String> {
    let recorded = manifest
        .pointer("/integrity/sha256")
        .and_then(Value::as_str)
        .ok_or("the manifest has no integrity.sha256")?;
    let actual = hash_value(manifest)?;
    if recorded == actual {
        Ok(())
    } else {
        Err(format!(
            "integrity.sha256 is {recorded} but the content hashes to {actual}: the manifest was changed"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sorted_at_every_depth_and_compact() {
        let v = json!({"b": 1, "a": {"d": [3, {"z": null, "y": "é\"q"}], "c": 2.5}});
        assert_eq!(
            canonical(&v),
            r#"{"a":{"c":2.5,"d":[3,{"y":"é\"q","z":null}]},"b":1}"#
        );
    }

    #[test]
    fn hash_ignores_integrity_and_catches_any_change() {
        // Canonical text without integrity, schema 1:
        // {"a":1,"schema_version":"rigbench.manifest/1"}.
        let mut v = json!({"a": 1, "schema_version": "rigbench.manifest/1", "integrity": {"sha256": "whatever"}});
        let h = hash_value(&v).unwrap();
        assert_eq!(
            h,
            sha256_hex(br#"{"a":1,"schema_version":"rigbench.manifest/1"}"#)
        );
        v["integrity"]["sha256"] = json!(h);
        assert!(verify(&v).is_ok());
        v["a"] = json!(2);
        let err = verify(&v).unwrap_err();
        assert!(err.contains("was changed"), "{err}");
    }

    /// Where the rules differ: serde_json writes 3.0 as `3.0`, ECMAScript (RFC
    /// 8785) as `3` (Python's json.dumps writes `3.0`, `7e-05` and `1e+21`,
    /// which is why schema 1 could not be checked with a few lines of Python);
    /// RFC 8785 sorts keys by UTF-16 code units, schema 1 by UTF-8 bytes
    /// ("\u{ff61}" comes after "\u{1f600}" in UTF-8 and before it in UTF-16).
    #[test]
    fn schema_2_is_rfc_8785() {
        let v = json!({"schema_version": "rigbench.manifest/2", "x": 7e-5, "big": 1e21, "n": 3.0});
        assert_eq!(
            Rule::Jcs.canonical(&v).unwrap(),
            r#"{"big":1e+21,"n":3,"schema_version":"rigbench.manifest/2","x":0.00007}"#
        );
        assert_eq!(
            canonical(&v),
            r#"{"big":1e+21,"n":3.0,"schema_version":"rigbench.manifest/2","x":0.00007}"#
        );
        let keys = json!({"\u{ff61}": 1, "\u{1f600}": 2});
        assert_eq!(
            Rule::Jcs.canonical(&keys).unwrap(),
            "{\"\u{1f600}\":2,\"\u{ff61}\":1}"
        );
        assert_eq!(canonical(&keys), "{\"\u{ff61}\":1,\"\u{1f600}\":2}");
        // The hash follows the version, and an unknown one is refused.
        let h2 = hash_value(&v).unwrap();
        assert_eq!(h2, sha256_hex(Rule::Jcs.canonical(&v).unwrap().as_bytes()));
        let err = hash_value(&json!({"schema_version": "rigbench.manifest/9"})).unwrap_err();
        assert!(err.contains("not one this rigbench knows"), "{err}");
    }

    /// A manifest written under schema 1 (the committed H200 run) still verifies.
    #[test]
    fn an_old_manifest_verifies_under_its_own_rule() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("results/h200-2026-12/a/manifest.json");
        let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        assert_eq!(v["schema_version"], "rigbench.manifest/1");
        verify(&v).unwrap();
    }
}
