//! The plans built into the binary, by name (`--plan strix-halo-2026-05`), so
//! that an installed rigbench needs no checkout: the default, the published
//! study's matrix and the H200 run's plan, each as the file in `plans/`.

/// Name, file in the repository, text.
pub const PLANS: &[(&str, &str, &str)] = &[
    ("default", "plans/default.toml", super::DEFAULT_PLAN_TOML),
    (
        "strix-halo-2026-05",
        "plans/strix-halo-2026-05.toml",
        include_str!("../../plans/strix-halo-2026-05.toml"),
    ),
    (
        "h200-cuda",
        "plans/h200-cuda.toml",
        include_str!("../../plans/h200-cuda.toml"),
    ),
];

/// The built-in plan called `name`: its text and its origin as the manifest
/// records it ("built-in strix-halo-2026-05 (plans/strix-halo-2026-05.toml)").
pub fn find(name: &str) -> Option<(&'static str, String)> {
    PLANS
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, file, text)| (*text, format!("built-in {n} ({file})")))
}

/// The names, for messages.
pub fn names() -> String {
    PLANS
        .iter()
        .map(|(n, _, _)| *n)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether a `--plan` value is meant as a name rather than a path: no
/// directory part and no `.toml`.
pub fn is_name(arg: &str) -> bool {
    !arg.contains('/') && !arg.ends_with(".toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_built_in_plan_is_its_file_and_parses() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (name, file, text) in PLANS {
            assert_eq!(std::fs::read_to_string(root.join(file)).unwrap(), *text);
            let (_, origin) = find(name).unwrap();
            crate::plan::parse(text, &origin, 2).unwrap();
        }
        assert_eq!(find("default").unwrap().1, super::super::BUILTIN_ORIGIN);
        assert!(find("nope").is_none());
        assert!(is_name("strix-halo-2026-05") && !is_name("./x") && !is_name("x.toml"));
    }
}
