//! NVIDIA's Vulkan driver on a host, found under a root (`/`, or a fixture): its
//! ICD file (where drivers put it, the driver's own folder, or the host's CDI
//! spec), the library that file names, the driver's libraries that library
//! loads beside itself, and the driver's EGL part (glvnd's vendor file, the
//! library it names and the EGL core), without which the driver creates no
//! instance where there is no X display. What the vulkan backend's container
//! gets on an NVIDIA host (`host::devices`), and what `doctor` says is missing.

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

/// Folders glvnd's libEGL reads vendor files from, under a root, in its
/// order, then the driver's own folder.
pub const EGL_VENDOR_DIRS: &[&str] = &[
    "etc/glvnd/egl_vendor.d",
    "usr/local/share/glvnd/egl_vendor.d",
    "usr/share/glvnd/egl_vendor.d",
    "usr/local/nvidia/share/glvnd/egl_vendor.d",
];

/// Where the container finds the ICD file (`VK_DRIVER_FILES` names it).
pub const CONTAINER_ICD: &str = "/etc/rigbench/vulkan/nvidia_icd.json";

/// Where the container finds the EGL vendor file
/// (`__EGL_VENDOR_LIBRARY_FILENAMES` names it, so no other vendor is tried).
pub const CONTAINER_EGL_VENDOR: &str = "/etc/rigbench/vulkan/10_nvidia.json";

/// A driver library loaded beside another, by file-name prefix (each is
/// `<prefix><driver version>`): whether the driver is unusable without it,
/// and what it is for.
pub type BesideLib = (&'static str, bool, &'static str);

/// The driver's libraries that its Vulkan library (`libGLX_nvidia.so.0`)
/// loads. Only these go into the container beside the ICD's own library; the
/// rest of the driver does not.
pub const DRIVER_LIBS: &[BesideLib] = &[
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

/// The driver's libraries that its EGL library (`libEGL_nvidia.so.0`) loads.
pub const EGL_DRIVER_LIBS: &[BesideLib] = &[("libnvidia-eglcore.so.", true, "its EGL core")];

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
    /// The driver's EGL part.
    pub egl: NvidiaEgl,
}

/// The EGL part of NVIDIA's driver: measured on an H100 (driver 580.159.04,
/// no X display), its Vulkan library creates no instance without glvnd's
/// libEGL finding NVIDIA's EGL vendor (the loader: "Could not get
/// 'vkCreateInstance' via 'vk_icdGetInstanceProcAddr'"; llama.cpp: no device).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvidiaEgl {
    /// glvnd's vendor file (`10_nvidia.json`), as a host path.
    pub vendor_file: String,
    /// The library it names, as written there (`libEGL_nvidia.so.0`).
    pub library_path: String,
    /// Host paths: that library first, then the driver's (`EGL_DRIVER_LIBS`).
    pub libraries: Vec<String>,
}

impl NvidiaVulkan {
    /// Every library the container gets, Vulkan's then EGL's.
    pub fn all_libraries(&self) -> Vec<String> {
        self.libraries
            .iter()
            .chain(&self.egl.libraries)
            .cloned()
            .collect()
    }
}

/// What keeps NVIDIA's Vulkan driver from being used, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Missing {
    #[error(
        "no ICD file of NVIDIA's Vulkan driver (nvidia_icd.json) in {searched}: install the driver's Vulkan part (Debian/Ubuntu: the driver's libnvidia-gl package; NVIDIA's .run installer installs it unless --no-opengl-files), or write a CDI spec that mounts it (nvidia-ctk cdi generate)"
    )]
    NoIcd { searched: String },
    #[error(
        "no EGL vendor file of NVIDIA's driver (10_nvidia.json) in {searched}: without the driver's EGL part its Vulkan driver creates no instance where there is no X display (llama.cpp then sees no device); install it (Debian/Ubuntu: the driver's libnvidia-gl package, which ships libEGL_nvidia and 10_nvidia.json), or write a CDI spec that mounts it (nvidia-ctk cdi generate)"
    )]
    NoEglVendor { searched: String },
    #[error("{file} is not a {kind} file ({why}): reinstall the driver's Vulkan part")]
    BadFile {
        file: String,
        kind: &'static str,
        why: String,
    },
    #[error(
        "{file} names {library}, which is not in {searched}: install the driver's libnvidia-gl package (it ships libGLX_nvidia and libEGL_nvidia), or point the file at it"
    )]
    NoLibrary {
        file: String,
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

/// An ICD or EGL vendor file's contents, as the loader (or glvnd) reads them.
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

/// Where NVIDIA's files of one kind may be, as host paths: those the CDI spec
/// mounts, then those in `dirs` (JSON files naming nvidia); and the folders
/// searched, for the error.
fn candidates(root: &Path, from_cdi: Vec<String>, dirs: &[&str]) -> (Vec<String>, Vec<String>) {
    let dirs: Vec<String> = dirs.iter().map(|d| format!("/{d}")).collect();
    let mut files = from_cdi;
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

/// One driver file (`kind`: "Vulkan ICD", "EGL vendor") read: the library it
/// names, found, then the driver's libraries `beside` it. Returns the entry
/// and the host paths, the named library first.
fn resolve(
    root: &Path,
    file: &str,
    kind: &'static str,
    lib_dirs: &[String],
    beside: &[BesideLib],
) -> Result<(IcdEntry, Vec<String>), Missing> {
    let bad = |why: String| Missing::BadFile {
        file: file.to_string(),
        kind,
        why,
    };
    let text = std::fs::read_to_string(root.join(file.trim_start_matches('/')))
        .map_err(|e| bad(e.to_string()))?;
    let entry = serde_json::from_str::<IcdFile>(&text)
        .map_err(|e| bad(e.to_string()))?
        .icd;
    let absolute = entry.library_path.starts_with('/');
    let library = if absolute {
        exists(root, &entry.library_path).then(|| entry.library_path.clone())
    } else {
        lib_dirs
            .iter()
            .map(|d| format!("{d}/{}", entry.library_path))
            .find(|p| exists(root, p))
    }
    .ok_or_else(|| Missing::NoLibrary {
        file: file.to_string(),
        library: entry.library_path.clone(),
        searched: if absolute {
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
    for (prefix, required, why) in beside {
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
    Ok((entry, libraries))
}

/// NVIDIA's Vulkan driver on the host under `root`, or what is missing.
pub fn nvidia(root: &Path, host: &NvidiaHost) -> Result<NvidiaVulkan, Missing> {
    let from_cdi = |f: fn(&super::nvidia::CdiSpec) -> &Vec<String>| {
        host.cdi.iter().flat_map(|c| f(c).iter().cloned()).collect()
    };
    let lib_dirs = library_dirs(host);
    let (files, dirs) = candidates(root, from_cdi(|c| &c.icd_files), ICD_DIRS);
    let Some(icd) = files.first() else {
        return Err(Missing::NoIcd {
            searched: dirs.join(", "),
        });
    };
    let (entry, libraries) = resolve(root, icd, "Vulkan ICD", &lib_dirs, DRIVER_LIBS)?;
    let (files, dirs) = candidates(root, from_cdi(|c| &c.egl_vendor_files), EGL_VENDOR_DIRS);
    let Some(vendor) = files.first() else {
        return Err(Missing::NoEglVendor {
            searched: dirs.join(", "),
        });
    };
    let (egl, egl_libraries) = resolve(root, vendor, "EGL vendor", &lib_dirs, EGL_DRIVER_LIBS)?;
    Ok(NvidiaVulkan {
        icd: icd.clone(),
        library_path: entry.library_path,
        api_version: entry.api_version,
        libraries,
        egl: NvidiaEgl {
            vendor_file: vendor.clone(),
            library_path: egl.library_path,
            libraries: egl_libraries,
        },
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
        // The EGL part, from the driver's own folder too.
        assert_eq!(
            v.egl,
            NvidiaEgl {
                vendor_file: "/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json".into(),
                library_path: "libEGL_nvidia.so.0".into(),
                libraries: vec![
                    format!("{d}/libEGL_nvidia.so.0"),
                    format!("{d}/libnvidia-eglcore.so.580.159.04"),
                ],
            }
        );
        assert_eq!(v.all_libraries().len(), 8);
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
        assert_eq!(
            v.egl.vendor_file,
            "/usr/share/glvnd/egl_vendor.d/10_nvidia.json"
        );
        assert_eq!(
            v.egl.libraries,
            [
                format!("{d}/libEGL_nvidia.so.0"),
                format!("{d}/libnvidia-eglcore.so.570.133.20"),
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
        assert!(matches!(e, Missing::BadFile { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("nvidia_icd.json is not a Vulkan ICD file"),
            "{e}"
        );
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
        // Both, but no EGL part: named, with why it matters.
        std::fs::write(lib.join("libnvidia-glvkspirv.so.580.1"), "").unwrap();
        let e = nvidia(root, &host).unwrap_err();
        assert!(matches!(e, Missing::NoEglVendor { .. }), "{e:?}");
        let text = e.to_string();
        assert!(text.contains("10_nvidia.json"), "{text}");
        assert!(text.contains("/usr/share/glvnd/egl_vendor.d"), "{text}");
        assert!(text.contains("no X display"), "{text}");
        // The vendor file names a library that is absent.
        let egl_dir = root.join("usr/share/glvnd/egl_vendor.d");
        std::fs::create_dir_all(&egl_dir).unwrap();
        std::fs::write(
            egl_dir.join("10_nvidia.json"),
            r#"{"file_format_version":"1.0.0","ICD":{"library_path":"libEGL_nvidia.so.0"}}"#,
        )
        .unwrap();
        let e = nvidia(root, &host).unwrap_err();
        assert!(
            e.to_string()
                .contains("10_nvidia.json names libEGL_nvidia.so.0, which is not in"),
            "{e}"
        );
        // The library, but not its core.
        std::fs::write(lib.join("libEGL_nvidia.so.0"), "").unwrap();
        let e = nvidia(root, &host).unwrap_err();
        assert!(
            matches!(&e, Missing::NoDriverLibrary { prefix, .. } if prefix == "libnvidia-eglcore.so."),
            "{e:?}"
        );
        // All: usable; the optional ones are left out where absent.
        std::fs::write(lib.join("libnvidia-eglcore.so.580.1"), "").unwrap();
        let v = nvidia(root, &host).unwrap();
        assert_eq!(v.libraries.len(), 3, "{:?}", v.libraries);
        assert_eq!(v.egl.libraries.len(), 2, "{:?}", v.egl.libraries);
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
