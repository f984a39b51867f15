//! Disk hygiene after a build: the image a build replaced under the same tag
//! (a no-cache rebuild, a rerun) is left untagged by the engine and would stay
//! on disk for good. It is removed when it carries rigbench's label and nothing
//! tags it any more, with the dangling rigbench images (unused build stages)
//! that its build and this one left. What cannot be removed (a container still
//! uses it) is said with the command that removes it. An interrupted build
//! leaves Buildah's working containers behind, outside Podman's own list, and
//! Podman's prune then fails as a whole ("image is in use by a container",
//! containers/podman#11472): the dangling images are then removed one by one,
//! and those still held are said, with how to find what holds them.

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
    /// Dangling rigbench images that could not be removed (held by a
    /// container outside Podman's list), and the engine's reason for the first.
    pub held: Option<(usize, String)>,
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
        if let Some((n, why)) = &self.held {
            parts.push(format!(
                "kept {n} dangling build stage(s) a container holds ({why}): an interrupted \
                 build's, which `podman ps --external` lists and `podman rm` removes"
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
    let ours = [format!("{LABEL_MANAGED}=true")];
    match engine.prune_images(&ours).await {
        Ok((ids, bytes)) => {
            out.pruned = ids.len();
            out.freed_bytes = bytes;
        }
        Err(_) => one_by_one(engine, &ours, &mut out).await,
    }
    out
}

/// The dangling images labelled `ours`, removed one at a time (never forced)
/// where a prune of them all failed; those still held counted in `out.held`.
async fn one_by_one<E: Engine>(engine: &E, ours: &[String], out: &mut Tidied) {
    let Ok(images) = engine.list_labelled_images(ours).await else {
        return;
    };
    let untagged = |i: &&ImageFacts| i.tags.iter().all(|t| t == "<none>:<none>");
    for image in images.iter().filter(untagged) {
        match engine.remove_image(&image.id).await {
            Ok(()) => {
                out.pruned += 1;
                out.freed_bytes += image.size_bytes.unwrap_or(0).max(0) as u64;
            }
            Err(e) => {
                let held = out.held.get_or_insert_with(|| (0, e.to_string()));
                held.0 += 1;
            }
        }
    }
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
            held: None,
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
        let held = Tidied {
            pruned: 1,
            freed_bytes: 250_000_000,
            held: Some((2, "image is in use by a container".into())),
            ..Tidied::default()
        };
        assert_eq!(
            held.note("t").unwrap(),
            "removed 1 dangling build stage(s), 0.25 GB freed; kept 2 dangling build \
             stage(s) a container holds (image is in use by a container): an interrupted \
             build's, which `podman ps --external` lists and `podman rm` removes"
        );
    }

    /// Podman's prune fails as a whole when an interrupted build's container
    /// holds one dangling image: the others are removed one by one, the held
    /// one is counted, tagged images are left alone.
    #[tokio::test]
    async fn a_failed_prune_removes_the_dangling_images_one_by_one() {
        use crate::fake::engine::FakeEngine;
        let image = |id: &str, tags: &[&str], size: i64| ImageFacts {
            id: id.to_string(),
            repo_digests: Vec::new(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            labels: [(LABEL_MANAGED.to_string(), "true".to_string())].into(),
            created: None,
            size_bytes: Some(size),
        };
        let e = FakeEngine::default();
        *e.images.lock().unwrap() = vec![
            image("sha256:old", &[], 100),
            image("sha256:stage1", &[], 1000),
            image("sha256:stage2", &[], 2000),
            image("sha256:new", &["localhost/rigbench/llama-cpu:x"], 5000),
        ];
        e.held_images
            .lock()
            .unwrap()
            .insert("sha256:stage2".to_string());
        let before = image("sha256:old", &["localhost/rigbench/llama-cpu:x"], 100);
        let t = tidy(&e, Some(&before), "sha256:new").await;
        assert_eq!(t.removed.as_deref(), Some("sha256:old"));
        assert_eq!((t.pruned, t.freed_bytes), (1, 1000));
        let (n, why) = t.held.unwrap();
        assert_eq!(n, 1);
        assert!(why.contains("in use by a container"), "{why}");
        let left: Vec<String> = e
            .images
            .lock()
            .unwrap()
            .iter()
            .map(|i| i.id.clone())
            .collect();
        assert_eq!(left, ["sha256:stage2", "sha256:new"]);
    }
}
