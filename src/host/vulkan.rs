//! NVIDIA's Vulkan driver on a host, found under a root (`/`, or a fixture): its
//! ICD file (where drivers put it, the driver's own folder, or the host's CDI
//! spec), the library that file names, and the driver's libraries that library
//! loads beside itself. What the vulkan backend's container gets on an NVIDIA
//! host (`host::devices`), and what `doctor` says is missing.

use std::path::Path;

use super::gpu::names;
use super::nvidia::{LIB_DIRS, NvidiaHost};

/// Folders the Vulkan loader reads ICD files from, under a root, in the
/// loader's order, then the driver's own folder where it lives apart
/// (`/usr/local/nvidia`, as on the lent H200 machine and in NVIDIA's images).
pub const ICD_DIRS: &[&str] = &[
    "etc/vulkan/icd.d",
    "usr/local/share/vulkan/icd.d",
    "usr/share/vulkan/icd.d",
    "usr/local/nvidia/share/vulkan/icd.d",
];

/// Where the container finds the ICD file (`VK_DRIVER_FILES` names it).
pub const CONTAINER_ICD: &str = "/etc/rigbench/vulkan/nvidia_icd.json";

/// The driver's libraries that its Vulkan library (`libGLX_nvidia.so.0`)
/// loads, by file-name prefix (each is `<prefix><driver version>`): whether the
/// driver is unusable without it, and what it is for. Only these go into the
/// container beside the ICD's own library; the rest of the driver does not.
pub const DRIVER_LIBS: &[(&str, bool, &str)] = &[
    (
        "libnvidia-glcore.so.",
        true,
        "the driver's OpenGL/Vulkan core",
    ),
    (
        "libnvidia-glvkspirv.so.",
        true,
        "its SPIR-V compiler (every compute pipeline goes through it)",
    ),
    (
        "libnvidia-gpucomp.so.",
        false,
        "its shader compiler's back end (drivers 550 and later)",
    ),
    (
        "libnvidia-glsi.so.",
        false,
        "its window-system layer, loaded by the core",
    ),
    (
        "libnvidia-tls.so.",
        false,
        "thread-local storage of the core (older drivers)",
    ),
];

/// NVIDIA's Vulkan driver as found on a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvidiaVulkan {
    /// The ICD file, as a host path.
    pub icd: String,
    /// The library it names, as written there (`libGLX_nvidia.so.0`).
    pub library_path: String,
    /// The Vulkan version it declares.
    pub api_version: Option<String>,
    /// Host paths: the ICD's library first, then the driver's (`DRIVER_LIBS`).
    pub libraries: Vec<String>,
}

/// What keeps NVIDIA's Vulkan driver from being used, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error(
        "no ICD file of NVIDIA's Vulkan driver (nvidia_icd.json) in {searched}: install the driver's Vulkan part (Debian/Ubuntu: the driver's libnvidia-gl package; NVIDIA's .run installer installs it unless --no-opengl-files), or write a CDI spec that mounts it (nvidia-ctk cdi generate)"
    )]
    NoIcd { searched: String },
    #[error("{file} is not a Vulkan ICD file ({why}): reinstall the driver's Vulkan part")]
    BadIcd { file: String, why: String },
    #[error(
        "{icd} names {library}, which is not in {searched}: install the driver's libGLX_nvidia (Debian/Ubuntu: libnvidia-gl-<version>), or point the ICD file at it"
    )]
    NoLibrary {
        icd: String,
        library: String,
        searched: String,
    },
    #[error(
        "{library} (NVIDIA's Vulkan driver) needs {prefix}<version>, {why}, which is not beside it in {dir}: install the driver's libnvidia-gl package whole"
    )]
    NoDriverLibrary {
        library: String,
        prefix: String,
        why: String,
        dir: String,
    },
}

/// The ICD file's contents, as the loader reads them.
#[derive(serde::Deserialize)]
struct IcdFile {
    #[serde(rename = "ICD")]
    icd: IcdEntry,
}

#[derive(serde::Deserialize)]
struct IcdEntry {
    library_path: String,
    #[serde(default)]
    api_version: Option<String>,
}

/// Where an ICD file may be, as host paths: the CDI spec's, then those in
/// `ICD_DIRS`.
fn icd_candidates(root: &Path, host: &NvidiaHost) -> (Vec<String>, Vec<String>) {
    let dirs: Vec<String> = ICD_DIRS.iter().map(|d| format!("/{d}")).collect();
    let mut files: Vec<String> = host
        .cdi
        .iter()
        .flat_map(|c| c.icd_files.iter().cloned())
        .collect();
    for d in &dirs {
        for name in names(&root.join(d.trim_start_matches('/'))) {
            if name.ends_with(".json") && name.contains("nvidia") {
                files.push(format!("{d}/{name}"));
            }
        }
    }
    (files, dirs)
}

/// Folders a relative library name is looked up in: the one the driver's
/// libcuda is in, the CDI spec's library folders, then the usual ones.
fn library_dirs(host: &NvidiaHost) -> Vec<String> {
    let mut dirs: Vec<String> = Vec::new();
    let parents = host
        .libraries
        .iter()
        .chain(host.cdi.iter().flat_map(|c| c.all_libraries.iter()))
        .filter_map(|l| Path::new(l).parent().map(|p| p.display().to_string()));
    for d in parents.chain(LIB_DIRS.iter().map(|d| format!("/{d}"))) {
        if !dirs.contains(&d) {
            dirs.push(d);
        }
    }
    dirs
}

/// Whether `host_path` exists under `root` (a link counts when it resolves).
fn exists(root: &Path, host_path: &str) -> bool {
    root.join(host_path.trim_start_matches('/')).exists()
}

/// NVIDIA's Vulkan driver on the host under `root`, or what is missing.
pub fn nvidia(root: &Path, host: &NvidiaHost) -> Result<NvidiaVulkan, Missing> {
    let (files, dirs) = icd_candidates(root, host);
    let Some(icd) = files.first() else {
        return Err(Missing::NoIcd {
            searched: dirs.join(", "),
        });
    };
    let text = std::fs::read_to_string(root.join(icd.trim_start_matches('/'))).map_err(|e| {
        Missing::BadIcd {
            file: icd.clone(),
            why: e.to_string(),
        }
    })?;
    let entry = serde_json::from_str::<IcdFile>(&text)
        .map_err(|e| Missing::BadIcd {
            file: icd.clone(),
            why: e.to_string(),
        })?
        .icd;
    let lib_dirs = library_dirs(host);
    let library = if entry.library_path.starts_with('/') {
        exists(root, &entry.library_path).then(|| entry.library_path.clone())
    } else {
        lib_dirs
            .iter()
            .map(|d| format!("{d}/{}", entry.library_path))
            .find(|p| exists(root, p))
    }
    .ok_or_else(|| Missing::NoLibrary {
        icd: icd.clone(),
        library: entry.library_path.clone(),
        searched: if entry.library_path.starts_with('/') {
            entry.library_path.clone()
        } else {
            lib_dirs.join(", ")
        },
    })?;
    let dir = Path::new(&library)
        .parent()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    let present = names(&root.join(dir.trim_start_matches('/')));
    let mut libraries = vec![library.clone()];
    for (prefix, required, why) in DRIVER_LIBS {
        let mut found: Vec<&String> = present
            .iter()
            .filter(|n| {
                n.strip_prefix(prefix)
                    .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
            })
            .collect();
        found.sort();
        match found.last() {
            Some(name) => libraries.push(format!("{dir}/{name}")),
            None if *required => {
                return Err(Missing::NoDriverLibrary {
                    library: entry.library_path.clone(),
                    prefix: prefix.to_string(),
                    why: why.to_string(),
                    dir,
                });
            }
            None => {}
        }
    }
    Ok(NvidiaVulkan {
        icd: icd.clone(),
        library_path: entry.library_path,
        api_version: entry.api_version,
        libraries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::nvidia::probe;
    use std::path::PathBuf;

    fn fixture(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/hosts")
            .join(name)
    }

    #[test]
    fn the_h200_driver_has_its_icd_in_its_own_folder_and_the_libraries_beside_libcuda() {
        let root = fixture("nvidia-h200");
        let v = nvidia(&root, &probe(&root)).unwrap();
        assert_eq!(
            v.icd,
            "/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json"
        );
        assert_eq!(v.library_path, "libGLX_nvidia.so.0");
        assert_eq!(v.api_version.as_deref(), Some("1.4.312"));
        let d = "/usr/local/nvidia/lib64";
        assert_eq!(
            v.libraries,
            [
                format!("{d}/libGLX_nvidia.so.0"),
                format!("{d}/libnvidia-glcore.so.580.159.04"),
                format!("{d}/libnvidia-glvkspirv.so.580.159.04"),
                format!("{d}/libnvidia-gpucomp.so.580.159.04"),
                format!("{d}/libnvidia-glsi.so.580.159.04"),
                format!("{d}/libnvidia-tls.so.580.159.04"),
            ]
        );
    }

    #[test]
    fn a_cdi_spec_names_the_icd_file_and_its_libraries() {
        let root = fixture("nvidia-cdi");
        let v = nvidia(&root, &probe(&root)).unwrap();
        assert_eq!(v.icd, "/usr/share/vulkan/icd.d/nvidia_icd.json");
        let d = "/usr/lib/x86_64-linux-gnu";
        assert_eq!(
            v.libraries,
            [
                format!("{d}/libGLX_nvidia.so.0"),
                format!("{d}/libnvidia-glcore.so.570.133.20"),
                format!("{d}/libnvidia-glvkspirv.so.570.133.20"),
                format!("{d}/libnvidia-gpucomp.so.570.133.20"),
                format!("{d}/libnvidia-glsi.so.570.133.20"),
                format!("{d}/libnvidia-tls.so.570.133.20"),
            ]
        );
    }

    #[test]
    fn a_compute_only_driver_has_no_icd_and_says_where_it_looked() {
        let root = fixture("nvidia-no-vulkan");
        let e = nvidia(&root, &probe(&root)).unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Missing::NoIcd { .. }), "{e:?}");
        for d in [
            "/usr/share/vulkan/icd.d",
            "/usr/local/nvidia/share/vulkan/icd.d",
        ] {
            assert!(text.contains(d), "{text}");
        }
    }

    #[test]
    fn what_is_missing_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let icd_dir = root.join("usr/share/vulkan/icd.d");
        std::fs::create_dir_all(&icd_dir).unwrap();
        let lib = root.join("usr/lib/x86_64-linux-gnu");
        std::fs::create_dir_all(&lib).unwrap();
        let host = NvidiaHost::default();
        // Not JSON.
        std::fs::write(icd_dir.join("nvidia_icd.json"), "{").unwrap();
        let e = nvidia(root, &host).unwrap_err();
        assert!(matches!(e, Missing::BadIcd { .. }), "{e:?}");
        assert!(e.to_string().contains("nvidia_icd.json"), "{e}");
        // The library it names is absent.
        std::fs::write(
            icd_dir.join("nvidia_icd.json"),
            r#"{"file_format_version":"1.0.1","ICD":{"library_path":"libGLX_nvidia.so.0","api_version":"1.4.312"}}"#,
        )
        .unwrap();
        let e = nvidia(root, &host).unwrap_err();
        assert!(
            e.to_string()
                .contains("names libGLX_nvidia.so.0, which is not in"),
            "{e}"
        );
        // Present, but the core is not beside it.
        std::fs::write(lib.join("libGLX_nvidia.so.0"), "").unwrap();
        let e = nvidia(root, &host).unwrap_err();
        assert!(
            matches!(&e, Missing::NoDriverLibrary { prefix, .. } if prefix == "libnvidia-glcore.so."),
            "{e:?}"
        );
        // The core, but no SPIR-V compiler.
        std::fs::write(lib.join("libnvidia-glcore.so.580.1"), "").unwrap();
        let e = nvidia(root, &host).unwrap_err();
        assert!(e.to_string().contains("SPIR-V compiler"), "{e}");
        // Both: usable; the optional ones are left out where absent.
        std::fs::write(lib.join("libnvidia-glvkspirv.so.580.1"), "").unwrap();
        let v = nvidia(root, &host).unwrap();
        assert_eq!(v.libraries.len(), 3, "{:?}", v.libraries);
        // An absolute library path is taken as it is.
        std::fs::write(
            icd_dir.join("nvidia_icd.json"),
            r#"{"ICD":{"library_path":"/usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0"}}"#,
        )
        .unwrap();
        let v = nvidia(root, &host).unwrap();
        assert_eq!(
            v.libraries[0],
            "/usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.0"
        );
        assert_eq!(v.api_version, None);
    }
}
