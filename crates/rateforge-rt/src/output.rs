//! Writing results: `.npz` (numpy's zip of `.npy` arrays, with a JSON metadata string) and `.csv`.

use crate::error::RuntimeError;
use ndarray::{ArrayD, IxDyn};
use ndarray_npy::WriteNpyExt;
use std::io::{BufWriter, Write};
use std::path::Path;

/// One array of an `.npz` file.
#[derive(Clone, Debug)]
pub struct NpzArray {
    /// The key numpy shows (`f[name]`).
    pub name: String,
    /// The shape (row-major).
    pub shape: Vec<usize>,
    /// The values, row-major.
    pub data: Vec<f64>,
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// The `.npy` bytes of a 0-d unicode string array (numpy dtype `<U{n}`), which `np.load` returns
/// as a string: `str(f["metadata"])`.
fn npy_string(text: &str) -> Vec<u8> {
    let chars: Vec<char> = text.chars().collect();
    let n = chars.len().max(1);
    let mut header = format!("{{'descr': '<U{n}', 'fortran_order': False, 'shape': (), }}");
    // magic (6) + version (2) + header length (2) + header, padded with spaces to a multiple of 64.
    let total = 10 + header.len() + 1;
    header.push_str(&" ".repeat((64 - total % 64) % 64));
    header.push('\n');
    let mut out = Vec::with_capacity(10 + header.len() + 4 * n);
    out.extend_from_slice(b"\x93NUMPY\x01\x00");
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(header.as_bytes());
    for c in &chars {
        out.extend_from_slice(&(*c as u32).to_le_bytes());
    }
    if chars.is_empty() {
        out.extend_from_slice(&0u32.to_le_bytes());
    }
    out
}

/// Writes arrays and a metadata string (JSON) to an `.npz` file that `numpy.load` reads.
pub fn write_npz(path: &Path, arrays: &[NpzArray], metadata: &str) -> Result<(), RuntimeError> {
    let file = std::fs::File::create(path).map_err(|e| write_err(path, e))?;
    let mut zip = zip::ZipWriter::new(BufWriter::new(file));
    for a in arrays {
        let bytes = a.data.len() * 8;
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(bytes > (u32::MAX as usize) / 2);
        zip.start_file(format!("{}.npy", a.name), options)
            .map_err(|e| write_err(path, e))?;
        let array = ArrayD::from_shape_vec(IxDyn(&a.shape), a.data.clone())
            .map_err(|e| write_err(path, e))?;
        array.write_npy(&mut zip).map_err(|e| write_err(path, e))?;
    }
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("metadata.npy", options)
        .map_err(|e| write_err(path, e))?;
    zip.write_all(&npy_string(metadata))
        .map_err(|e| write_err(path, e))?;
    let mut inner = zip.finish().map_err(|e| write_err(path, e))?;
    inner.flush().map_err(|e| write_err(path, e))
}

/// The metadata string (JSON) of an `.npz` file [`write_npz`] wrote.
pub fn read_npz_metadata(path: &Path) -> Result<String, RuntimeError> {
    use std::io::Read;
    let bad = |reason: String| RuntimeError::Data {
        path: path.to_path_buf(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| bad(e.to_string()))?;
    let mut entry = zip
        .by_name("metadata.npy")
        .map_err(|_| bad("the file has no metadata".into()))?;
    let mut bytes = Vec::new();
    entry
        .by_ref()
        .take(1 << 30)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(e.to_string()))?;
    // magic (6) + version (2) + header length (2) + header, then UTF-32LE characters.
    if bytes.len() < 10 || &bytes[..6] != b"\x93NUMPY" {
        return Err(bad("the metadata is not an .npy array".into()));
    }
    let start = 10 + u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let chars = bytes
        .get(start..)
        .ok_or_else(|| bad("the metadata is truncated".into()))?;
    let text: String = chars
        .chunks_exact(4)
        .filter_map(|c| char::from_u32(u32::from_le_bytes([c[0], c[1], c[2], c[3]])))
        .filter(|&c| c != '\0')
        .collect();
    Ok(text)
}

/// Writes columns of equal length as CSV with a header row; numbers in shortest round-trip form.
pub fn write_csv(path: &Path, header: &[String], columns: &[Vec<f64>]) -> Result<(), RuntimeError> {
    let file = std::fs::File::create(path).map_err(|e| write_err(path, e))?;
    let mut w = BufWriter::new(file);
    let rows = columns.first().map_or(0, Vec::len);
    let quote = |s: &String| {
        if s.contains(',') || s.contains('"') {
            format!("\"{}\"", s.replace('"', "\"\""))
        } else {
            s.clone()
        }
    };
    writeln!(
        w,
        "{}",
        header.iter().map(quote).collect::<Vec<_>>().join(",")
    )
    .map_err(|e| write_err(path, e))?;
    let mut line = String::new();
    for r in 0..rows {
        line.clear();
        for (c, col) in columns.iter().enumerate() {
            if c > 0 {
                line.push(',');
            }
            line.push_str(&format!("{:?}", col[r]));
        }
        writeln!(w, "{line}").map_err(|e| write_err(path, e))?;
    }
    w.flush().map_err(|e| write_err(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn npy_string_header_is_aligned() {
        let b = npy_string("{\"a\": 1}");
        let hlen = u16::from_le_bytes([b[8], b[9]]) as usize;
        assert_eq!((10 + hlen) % 64, 0);
        assert_eq!(b.len(), 10 + hlen + 4 * 8);
        assert_eq!(b[10 + hlen - 1], b'\n');
    }

    #[test]
    fn metadata_reads_back() {
        let path = std::env::temp_dir().join(format!("rf-meta-{}.npz", std::process::id()));
        let meta = "{\"model\": \"qif\", \"note\": \"é ✓\"}";
        let a = NpzArray {
            name: "x".into(),
            shape: vec![2],
            data: vec![1.0, 2.0],
        };
        write_npz(&path, &[a], meta).unwrap();
        assert_eq!(read_npz_metadata(&path).unwrap(), meta);
        let _ = std::fs::remove_file(&path);
    }
}
