//! Writing a GGUF file: the header laid out first (keys, tensor infos with
//! their aligned offsets), then the tensors' data streamed in order, each
//! padded to the alignment, so that a 30 GB model never needs 30 GB of
//! memory. The file is written beside its destination under a temporary
//! name, synced and renamed into place: a crash or an error leaves no
//! half-written model under the final name. Its SHA-256 is computed on the
//! way out, so a model just made need not be read again to be hashed.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::header::{TensorInfo, alignment_of};
use super::types::GgmlType;
use super::value::{self, Value};

/// A tensor to be written: its name, dimensions (innermost first) and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub dims: Vec<u64>,
    pub ty: GgmlType,
}

/// A file laid out: the header's bytes and every tensor's offset and size.
#[derive(Debug, Clone)]
pub struct Layout {
    header: Vec<u8>,
    pub tensors: Vec<TensorInfo>,
    /// Each tensor's bytes, in order.
    pub sizes: Vec<u64>,
    pub alignment: u64,
    /// Where the data section begins.
    pub data_start: u64,
    /// The whole file's size.
    pub file_size: u64,
}

/// Lays out a file of these keys and tensors (GGUF version 3).
pub fn layout(kv: &[(String, Value)], tensors: &[TensorSpec]) -> Result<Layout, String> {
    let alignment = alignment_of(kv);
    let mut sizes = Vec::with_capacity(tensors.len());
    let mut infos = Vec::with_capacity(tensors.len());
    let mut offset = 0u64;
    for t in tensors {
        let size = t.ty.bytes(&t.dims).ok_or_else(|| {
            format!(
                "tensor {} {:?}: {} cannot hold it (its first dimension must be a multiple of {})",
                t.name,
                t.dims,
                t.ty,
                t.ty.block_elements().unwrap_or(1)
            )
        })?;
        infos.push(TensorInfo {
            name: t.name.clone(),
            dims: t.dims.clone(),
            ty: t.ty,
            offset,
        });
        sizes.push(size);
        offset = (offset + size).div_ceil(alignment) * alignment;
    }
    let mut header = Vec::new();
    let io = |e: io::Error| e.to_string();
    header.extend(b"GGUF");
    header.extend(3u32.to_le_bytes());
    header.extend((tensors.len() as u64).to_le_bytes());
    header.extend((kv.len() as u64).to_le_bytes());
    for (k, v) in kv {
        value::write_str(&mut header, k.as_bytes()).map_err(io)?;
        header.extend(v.tag().to_le_bytes());
        v.write_payload(&mut header).map_err(io)?;
    }
    for t in &infos {
        value::write_str(&mut header, t.name.as_bytes()).map_err(io)?;
        header.extend((t.dims.len() as u32).to_le_bytes());
        for d in &t.dims {
            header.extend(d.to_le_bytes());
        }
        header.extend(t.ty.id().to_le_bytes());
        header.extend(t.offset.to_le_bytes());
    }
    let data_start = (header.len() as u64).div_ceil(alignment) * alignment;
    // The last tensor is not padded after its data.
    let data_len = match (infos.last(), sizes.last()) {
        (Some(t), Some(s)) => t.offset + s,
        _ => 0,
    };
    Ok(Layout {
        header,
        tensors: infos,
        sizes,
        alignment,
        data_start,
        file_size: data_start + data_len,
    })
}

/// A file being written: tensors' data in order through `write`.
pub struct Writer {
    out: BufWriter<Hashing>,
    dest: PathBuf,
    layout: Layout,
    /// The tensor being written and the bytes of it written so far.
    tensor: usize,
    written: u64,
}

impl Writer {
    /// Starts `dest` (a temporary file beside it until `finish`) and writes
    /// the header.
    pub fn create(dest: &Path, layout: Layout) -> io::Result<Writer> {
        let dir = match dest.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let file = tempfile::Builder::new()
            .prefix(".rigbench-")
            .suffix(".gguf.part")
            .tempfile_in(&dir)?;
        let mut out = BufWriter::with_capacity(
            8 << 20,
            Hashing {
                file,
                hash: Sha256::new(),
            },
        );
        out.write_all(&layout.header)?;
        let pad = layout.data_start - layout.header.len() as u64;
        out.write_all(&vec![0u8; pad as usize])?;
        let mut w = Writer {
            out,
            dest: dest.to_path_buf(),
            layout,
            tensor: 0,
            written: 0,
        };
        w.skip_empty()?;
        Ok(w)
    }

    /// The layout being written.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Appends data of the current tensor; a tensor's last byte moves on to
    /// the next (with the padding between them). More bytes than the
    /// tensors hold is an error.
    pub fn write(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let Some(size) = self.layout.sizes.get(self.tensor).copied() else {
                return Err(io::Error::other("more data than the tensors hold"));
            };
            let take = ((size - self.written) as usize).min(data.len());
            self.out.write_all(&data[..take])?;
            self.written += take as u64;
            data = &data[take..];
            if self.written == size {
                self.next_tensor()?;
            }
        }
        Ok(())
    }

    fn next_tensor(&mut self) -> io::Result<()> {
        let t = &self.layout.tensors[self.tensor];
        let end = t.offset + self.layout.sizes[self.tensor];
        self.tensor += 1;
        self.written = 0;
        if let Some(next) = self.layout.tensors.get(self.tensor) {
            self.out
                .write_all(&vec![0u8; (next.offset - end) as usize])?;
        }
        self.skip_empty()
    }

    /// Moves past tensors of no bytes.
    fn skip_empty(&mut self) -> io::Result<()> {
        if self.layout.sizes.get(self.tensor) == Some(&0) {
            self.next_tensor()?;
        }
        Ok(())
    }

    /// Checks every tensor was written, syncs and renames the file into
    /// place; returns the file's SHA-256 (hex).
    pub fn finish(self) -> io::Result<String> {
        if self.tensor < self.layout.tensors.len() {
            return Err(io::Error::other(format!(
                "tensor {} was not written in full ({} of {} bytes)",
                self.layout.tensors[self.tensor].name, self.written, self.layout.sizes[self.tensor]
            )));
        }
        let Hashing { file, hash } = self.out.into_inner().map_err(|e| e.into_error())?;
        // A model is no secret: readable as a downloaded file would be (a
        // temporary file starts at 0600).
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
        file.as_file().sync_all()?;
        file.persist(&self.dest).map_err(|e| e.error)?;
        if let Some(dir) = self.dest.parent().filter(|p| !p.as_os_str().is_empty()) {
            // The rename itself reaches the disk with the directory.
            std::fs::File::open(dir)?.sync_all()?;
        }
        Ok(hex::encode(hash.finalize()))
    }
}

/// The temporary file, hashing what goes into it.
struct Hashing {
    file: tempfile::NamedTempFile,
    hash: Sha256,
}

impl Write for Hashing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gguf::header;

    fn spec(name: &str, dims: &[u64], ty: GgmlType) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            dims: dims.to_vec(),
            ty,
        }
    }

    #[test]
    fn a_written_file_reads_back_with_aligned_offsets_and_its_data() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("m.gguf");
        let kv = vec![
            ("general.architecture".to_string(), Value::str("llama")),
            ("llama.block_count".to_string(), Value::U32(1)),
        ];
        // 3 F32 (12 bytes, padded to 32), one Q8_0 block (34 bytes).
        let tensors = [
            spec("norm.weight", &[3], GgmlType::F32),
            spec("w.weight", &[32, 1], GgmlType::Q8_0),
        ];
        let l = layout(&kv, &tensors).unwrap();
        assert_eq!(l.sizes, vec![12, 34]);
        assert_eq!(l.tensors[1].offset, 32);
        assert_eq!(l.file_size, l.data_start + 32 + 34);
        let mut w = Writer::create(&dest, l.clone()).unwrap();
        let a: Vec<u8> = (0u8..12).collect();
        let b: Vec<u8> = (100u8..134).collect();
        // Split across calls, and across the tensors' boundary.
        w.write(&a[..5]).unwrap();
        let mut rest = a[5..].to_vec();
        rest.extend(&b[..10]);
        w.write(&rest).unwrap();
        w.write(&b[10..]).unwrap();
        // Nothing under the final name before finish.
        assert!(!dest.exists());
        let sha = w.finish().unwrap();
        let bytes = std::fs::read(&dest).unwrap();
        assert_eq!(sha, crate::hash::sha256_hex(&bytes));
        assert_eq!(bytes.len() as u64, l.file_size);
        let h = header::parse(&mut bytes.as_slice(), "m.gguf").unwrap();
        assert_eq!(h.data_start, l.data_start);
        assert_eq!(h.kv, kv);
        assert_eq!(h.tensors, l.tensors);
        let d = h.data_start as usize;
        assert_eq!(&bytes[d..d + 12], a.as_slice());
        assert_eq!(&bytes[d + 12..d + 32], &[0u8; 20]);
        assert_eq!(&bytes[d + 32..], b.as_slice());
        // The facts reader agrees on the data's size.
        let f = crate::gguf::read_facts(&dest).unwrap();
        assert_eq!(f.data_bytes, Some(32 + 34));
        assert_eq!(f.parameter_count, 35);
    }

    #[test]
    fn too_little_or_too_much_data_is_an_error_and_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("m.gguf");
        let l = layout(&[], &[spec("a", &[4], GgmlType::F32)]).unwrap();
        let mut w = Writer::create(&dest, l.clone()).unwrap();
        w.write(&[0; 8]).unwrap();
        let err = w.finish().unwrap_err();
        assert!(
            err.to_string()
                .contains("a was not written in full (8 of 16"),
            "{err}"
        );
        let mut w = Writer::create(&dest, l).unwrap();
        assert!(w.write(&[0; 17]).is_err());
        drop(w);
        assert!(!dest.exists());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn a_shape_a_type_cannot_hold_is_named() {
        let err = layout(
            &[],
            &[spec("blk.0.attn_q.weight", &[100, 4], GgmlType::Q4_0)],
        )
        .unwrap_err();
        assert!(
            err.contains("blk.0.attn_q.weight [100, 4]: Q4_0 cannot hold it") && err.contains("32"),
            "{err}"
        );
    }
}
