//! Disk hygiene after a build: the image a build replaced under the same tag
//! (a no-cache rebuild, a rerun) is left untagged by the engine and would stay
//! on disk for good. It is removed when it carries rigbench's label and nothing
//! tags it any more, with the dangling rigbench images (unused build stages)
//! that its build and this one left. What cannot be removed (a container still
//! uses it) is said with the command that removes it.

use crate::engine::{Engine, ImageFacts, LABEL_MANAGED};

/// What `tidy` did, for the note and the tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Tidied {
    /// The replaced image, when it was removed.
    pub removed: Option<String>,
    /// The replaced image, when it could not be removed, and why.
    pub left: Option<(String, String)>,
    /// Dangling rigbench images removed, and the bytes freed.
    pub pruned: usize,
    pub freed_bytes: u64,
}

impl Tidied {
    /// One line for the user, or `None` when there was nothing to do.
    pub fn note(&self, tag: &str) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(id) = &self.removed {
            parts.push(format!("removed the image {tag} replaced ({})", short(id)));
        }
        if let Some((id, why)) = &self.left {
            parts.push(format!(
                "kept the image {tag} replaced ({}): {why}; remove it with `podman rmi {id}`",
                short(id)
            ));
        }
        if self.pruned > 0 {
            parts.push(format!(
                "removed {} dangling build stage(s), {:.2} GB freed",
                self.pruned,
                self.freed_bytes as f64 / 1e9
            ));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

fn short(id: &str) -> &str {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.get(..12).unwrap_or(hex)
}

/// After a build gave `tag` the image `new_id`: removes the image `before`
/// (what `tag` named before the build) if the build replaced it, it is
/// rigbench's and untagged now, then prunes rigbench's dangling images.
/// Nothing happens when the build replaced nothing.
pub async fn tidy<E: Engine>(engine: &E, before: Option<&ImageFacts>, new_id: &str) -> Tidied {
    let mut out = Tidied::default();
    let Some(old) = before.filter(|old| old.id != new_id) else {
        return out;
    };
    let now = match engine.image(&old.id).await {
        Ok(now) => now,
        Err(e) => {
            out.left = Some((old.id.clone(), e.to_string()));
            return out;
        }
    };
    if let Some(now) = now {
        let ours = now.labels.get(LABEL_MANAGED).is_some_and(|v| v == "true");
        if ours && now.tags.is_empty() {
            match engine.remove_image(&now.id).await {
                Ok(()) => out.removed = Some(now.id.clone()),
                Err(e) => out.left = Some((now.id.clone(), e.to_string())),
            }
        }
    }
    if let Ok((ids, bytes)) = engine
        .prune_images(&[format!("{LABEL_MANAGED}=true")])
        .await
    {
        out.pruned = ids.len();
        out.freed_bytes = bytes;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_note_says_what_was_removed_and_what_was_kept() {
        let t = Tidied {
            removed: Some(format!("sha256:{}", "ab".repeat(32))),
            left: None,
            pruned: 2,
            freed_bytes: 1_500_000_000,
        };
        assert_eq!(
            t.note("localhost/rigbench/llama-cpu:x").unwrap(),
            "removed the image localhost/rigbench/llama-cpu:x replaced (abababababab); \
             removed 2 dangling build stage(s), 1.50 GB freed"
        );
        let kept = Tidied {
            left: Some(("sha256:0123456789abcdef".into(), "in use".into())),
            ..Tidied::default()
        };
        assert_eq!(
            kept.note("t").unwrap(),
            "kept the image t replaced (0123456789ab): in use; remove it with \
             `podman rmi sha256:0123456789abcdef`"
        );
        assert_eq!(Tidied::default().note("t"), None);
    }
}
