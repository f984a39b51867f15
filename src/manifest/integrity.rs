//! The manifest's integrity hash: SHA-256 of its canonical JSON without the
//! `integrity` member. Canonical means object keys sorted by their UTF-8 bytes at
//! every depth, no insignificant white space, numbers as serde_json writes them.

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

/// The integrity hash of a manifest given as JSON (its `integrity` is ignored).
pub fn hash_value(manifest: &Value) -> String {
    let mut v = manifest.clone();
    if let Value::Object(map) = &mut v {
        map.remove("integrity");
    }
    sha256_hex(canonical(&v).as_bytes())
}

/// The integrity hash of `m` (its own `integrity` is ignored).
pub fn compute(m: &Manifest) -> Result<String, serde_json::Error> {
    Ok(hash_value(&serde_json::to_value(m)?))
}

/// Checks the `integrity.sha256` recorded in a manifest's JSON.
pub fn verify(manifest: &Value) -> Result<(), String> {
    let recorded = manifest
        .pointer("/integrity/sha256")
        .and_then(Value::as_str)
        .ok_or("the manifest has no integrity.sha256")?;
    let actual = hash_value(manifest);
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
        // Canonical text without integrity: {"a":1}; sha256 of those 7 bytes.
        let mut v = json!({"a": 1, "integrity": {"sha256": "whatever"}});
        let h = hash_value(&v);
        assert_eq!(h, sha256_hex(br#"{"a":1}"#));
        v["integrity"]["sha256"] = json!(h);
        assert!(verify(&v).is_ok());
        v["a"] = json!(2);
        let err = verify(&v).unwrap_err();
        assert!(err.contains("was changed"), "{err}");
    }
}
