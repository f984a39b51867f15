//! The manifest's JSON Schema, generated from the types (their doc comments become
//! the descriptions) and published as `schema/manifest.schema.json`. A test keeps
//! the published file equal to what the types generate.

use serde_json::Value;

use super::{Manifest, SCHEMA_VERSION};

/// The JSON Schema of the manifest (`SCHEMA_VERSION`).
pub fn manifest_schema() -> Value {
    let mut v = serde_json::to_value(schemars::schema_for!(Manifest)).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut v {
        map.insert(
            "$id".to_string(),
            Value::String(format!("urn:rigbench:schema:{SCHEMA_VERSION}")),
        );
        map.insert(
            "title".to_string(),
            Value::String(format!("rigbench run manifest ({SCHEMA_VERSION})")),
        );
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/manifest.schema.json")
    }

    /// Set RIGBENCH_BLESS=1 to rewrite the published schema after changing the types.
    #[test]
    fn published_schema_matches_the_types() {
        let generated = serde_json::to_string_pretty(&manifest_schema()).unwrap() + "\n";
        if std::env::var_os("RIGBENCH_BLESS").is_some() {
            std::fs::write(published(), &generated).unwrap();
        }
        let on_disk = std::fs::read_to_string(published()).unwrap_or_default();
        assert!(
            on_disk == generated,
            "schema/manifest.schema.json is stale: run RIGBENCH_BLESS=1 cargo test --lib published_schema"
        );
    }

    #[test]
    fn a_manifest_validates_and_a_broken_one_does_not() {
        let schema = manifest_schema();
        let validator = jsonschema::validator_for(&schema).unwrap();
        let plan = crate::plan::builtin(2).unwrap();
        let host = crate::host::probe(std::path::Path::new("/"));
        let mut m = Manifest::new("r1", plan.clone(), host, None);
        m.cells = crate::runner::pending_cells(&plan, &crate::plan::matrix::expand(&plan));
        let v = serde_json::to_value(&m).unwrap();
        let errors: Vec<String> = validator.iter_errors(&v).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?}");

        let mut broken = v.clone();
        broken["cells"][0]["prompt_tokens"] = Value::String("many".into());
        broken.as_object_mut().unwrap().remove("run_id");
        assert!(!validator.is_valid(&broken));
    }
}
