//! Host probes against fixture trees: a Strix Halo and a machine with no GPU.

use std::fs;
use std::path::Path;

use super::*;

fn put(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, text).unwrap();
}

/// A Strix Halo (Ryzen AI MAX+ 395, gfx1151) with a 512 MB carve-out and large GTT.
fn strix_halo(root: &Path) {
    put(
        root,
        "proc/sys/kernel/osrelease",
        "6.18.4-200.fc43.x86_64\n",
    );
    put(
        root,
        "proc/cmdline",
        "BOOT_IMAGE=(hd0,gpt2)/vmlinuz root=UUID=1 ro amd_iommu=off ttm.pages_limit=25165824\n",
    );
    put(
        root,
        "etc/os-release",
        "NAME=\"Fedora Linux\"\nPRETTY_NAME=\"Fedora Linux 43 (Server Edition)\"\n",
    );
    let mut cpuinfo = String::new();
    for i in 0..32 {
        cpuinfo.push_str(&format!(
            "processor\t: {i}\nmodel name\t: AMD RYZEN AI MAX+ 395 w/ Radeon 8060S\nflags\t\t: fpu avx avx2 fma avx512f avx512_bf16 sha_ni\n\n"
        ));
    }
    put(root, "proc/cpuinfo", &cpuinfo);
    put(
        root,
        "proc/meminfo",
        "MemTotal:       131072000 kB\nMemFree: 1 kB\n",
    );
    let dev = "sys/class/drm/card1/device";
    put(root, &format!("{dev}/vendor"), "0x1002\n");
    put(root, &format!("{dev}/device"), "0x1586\n");
    put(
        root,
        &format!("{dev}/uevent"),
        "DRIVER=amdgpu\nPCI_CLASS=38000\nPCI_SLOT_NAME=0000:c5:00.0\n",
    );
    put(root, &format!("{dev}/mem_info_vram_total"), "536870912\n");
    put(root, &format!("{dev}/mem_info_gtt_total"), "103079215104\n");
    put(root, &format!("{dev}/vbios_version"), "113-STRXLGEN-001\n");
    // A connector directory must not count as a card.
    fs::create_dir_all(root.join("sys/class/drm/card1-DP-1")).unwrap();
    fs::create_dir_all(root.join("sys/class/drm/renderD128")).unwrap();
}

#[test]
fn strix_halo_fixture() {
    let dir = tempfile::tempdir().unwrap();
    strix_halo(dir.path());
    let h = probe(dir.path());
    assert_eq!(h.kernel.release.as_deref(), Some("6.18.4-200.fc43.x86_64"));
    assert!(
        h.kernel
            .cmdline
            .as_deref()
            .unwrap()
            .ends_with("ttm.pages_limit=25165824")
    );
    assert_eq!(h.os.as_deref(), Some("Fedora Linux 43 (Server Edition)"));
    assert_eq!(
        h.cpu.model.as_deref(),
        Some("AMD RYZEN AI MAX+ 395 w/ Radeon 8060S")
    );
    assert_eq!(h.cpu.logical_cpus, 32);
    assert_eq!(
        h.cpu.flags,
        ["avx", "avx2", "fma", "avx512f", "avx512_bf16", "sha_ni"]
    );
    assert_eq!(h.memory_bytes, Some(131_072_000 * 1024));
    assert_eq!(h.gpus.len(), 1);
    let g = &h.gpus[0];
    assert_eq!(g.card, "card1");
    assert_eq!(g.pci_id.as_deref(), Some("1002:1586"));
    assert_eq!(g.pci_slot.as_deref(), Some("0000:c5:00.0"));
    assert_eq!(g.driver.as_deref(), Some("amdgpu"));
    assert_eq!(g.vram_total_bytes, Some(536_870_912));
    assert_eq!(g.gtt_total_bytes, Some(103_079_215_104));
    assert_eq!(g.vbios_version.as_deref(), Some("113-STRXLGEN-001"));
}

#[test]
fn machine_without_gpu_or_files_gives_empty_facts_not_errors() {
    let dir = tempfile::tempdir().unwrap();
    let h = probe(dir.path());
    assert!(h.gpus.is_empty());
    assert_eq!(h.kernel.release, None);
    assert_eq!(h.cpu.logical_cpus, 0);
}

#[test]
fn this_machine_has_a_kernel_and_cpus() {
    let h = probe(Path::new("/"));
    assert!(h.kernel.release.is_some());
    assert!(h.kernel.cmdline.is_some());
    assert!(h.cpu.logical_cpus >= 1);
}
