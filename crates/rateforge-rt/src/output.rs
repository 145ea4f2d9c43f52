//! Writing results: `.npz` (numpy's zip of `.npy` arrays, with a JSON metadata string) and `.csv`.

use crate::error::RuntimeError;
use ndarray::{ArrayD, ArrayViewD, IxDyn};
use ndarray_npy::WriteNpyExt;
use num_complex::Complex64;
use std::io::{BufWriter, Write};
use std::path::Path;

/// One array of an `.npz` file.
#[derive(Clone, Debug)]
pub struct NpzArray {
    /// The key numpy shows (`f[name]`).
    pub name: String,
    /// The shape (row-major).
    pub shape: Vec<usize>,
    /// The values, row-major (the real parts of a complex array).
    pub data: Vec<f64>,
    /// For a complex array (numpy's `complex128`), the imaginary parts, row-major.
    pub imag: Option<Vec<f64>>,
}

/// One array to write into an `.npz` file: built for the file, or a view of values held
/// elsewhere, written from where they are without a copy (a recorded value's samples, strided
/// through a run's trace).
#[derive(Clone, Debug)]
pub enum NpzEntry<'a> {
    /// An array built for the file.
    Array(NpzArray),
    /// A view, of any layout, written as a row-major `float64` array named `name`.
    View {
        /// The key numpy shows (`f[name]`).
        name: String,
        /// The values and the shape.
        view: ArrayViewD<'a, f64>,
    },
}

impl NpzEntry<'_> {
    /// The array, its values copied out of a view (row-major).
    pub fn into_array(self) -> NpzArray {
        match self {
            NpzEntry::Array(a) => a,
            NpzEntry::View { name, view } => {
                let mut data = crate::exec::empty_for(view.len())
                    .unwrap_or_else(|_| Vec::with_capacity(view.len()));
                for_each_run(&view, |run| {
                    data.extend_from_slice(run);
                    Ok::<_, ()>(())
                })
                .expect("extending a vector does not fail");
                NpzArray {
                    name,
                    shape: view.shape().to_vec(),
                    data,
                    imag: None,
                }
            }
        }
    }
}

impl From<NpzArray> for NpzEntry<'_> {
    fn from(a: NpzArray) -> Self {
        NpzEntry::Array(a)
    }
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Write {
        path: path.to_path_buf(),
        reason: e.to_string(),
    }
}

/// Writes the file at `path` through `write`, atomically: into a temporary file beside it, renamed
/// over `path` only when everything was written, so a failed write (a full disk, an error in the
/// middle) leaves no half-written file and any earlier file at `path` intact. A path that exists
/// and is not a regular file (`/dev/null`, a named pipe) is written directly.
fn atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<std::fs::File>) -> Result<(), RuntimeError>,
) -> Result<(), RuntimeError> {
    let special = std::fs::metadata(path).is_ok_and(|m| !m.is_file());
    if special {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(|e| write_err(path, e))?;
        let mut w = BufWriter::new(file);
        return write(&mut w)
            .and_then(|()| w.flush().map_err(|e| write_err(path, e)))
            .map_err(failed_writing);
    }
    let name = path
        .file_name()
        .ok_or_else(|| write_err(path, "the path names no file"))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.partial", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let mut created = false;
    let result = (|| {
        let file = std::fs::File::create(&temp).map_err(|e| write_err(path, e))?;
        created = true;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| write_err(path, e.into_error()))?;
        file.sync_all().map_err(|e| write_err(path, e))?;
        std::fs::rename(&temp, path).map_err(|e| write_err(path, e))
    })();
    match result {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            // The file could be created, so the path was fine: the machine failed (exit 1).
            Err(if created { failed_writing(e) } else { e })
        }
    }
}

/// A write error on a file that could be opened: the machine's failure, not the path's.
fn failed_writing(e: RuntimeError) -> RuntimeError {
    match e {
        RuntimeError::Write { path, reason } => RuntimeError::WriteFailed { path, reason },
        other => other,
    }
}

/// An error's message followed by its causes' (`i/o error: No space left on device`).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
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

/// Writes arrays and a metadata string (JSON) to an `.npz` file that `numpy.load` reads. The
/// arrays are taken one at a time, as they are written: an iterator that builds each on demand
/// holds one array at a time, besides what the file's buffer holds.
pub fn write_npz<'a, E: Into<NpzEntry<'a>>>(
    path: &Path,
    arrays: impl IntoIterator<Item = E>,
    metadata: &str,
) -> Result<(), RuntimeError> {
    try_write_npz(path, arrays.into_iter().map(Ok), metadata)
}

/// [`write_npz`] for arrays that may fail to be built: the first error stops the writing, and
/// the file is left as it was.
pub fn try_write_npz<'a, E: Into<NpzEntry<'a>>>(
    path: &Path,
    arrays: impl IntoIterator<Item = Result<E, RuntimeError>>,
    metadata: &str,
) -> Result<(), RuntimeError> {
    atomically(path, |w| {
        let entries = arrays.into_iter().map(|a| a.map(Into::into));
        write_npz_to(path, w, entries, metadata)
    })
}

fn write_npz_to<'a>(
    path: &Path,
    w: &mut BufWriter<std::fs::File>,
    arrays: impl Iterator<Item = Result<NpzEntry<'a>, RuntimeError>>,
    metadata: &str,
) -> Result<(), RuntimeError> {
    let mut zip = zip::ZipWriter::new(w);
    match write_entries(path, &mut zip, arrays, metadata) {
        Ok(()) => {
            zip.finish().map_err(|e| write_err(path, with_causes(&e)))?;
            Ok(())
        }
        Err(e) => {
            // Dropped, the writer would try to finish the archive and print its own error; the
            // temporary file is removed instead.
            std::mem::forget(zip);
            Err(e)
        }
    }
}

fn write_entries<'a, W: Write + std::io::Seek>(
    path: &Path,
    zip: &mut zip::ZipWriter<W>,
    arrays: impl Iterator<Item = Result<NpzEntry<'a>, RuntimeError>>,
    metadata: &str,
) -> Result<(), RuntimeError> {
    let start = |zip: &mut zip::ZipWriter<W>, name: &str, bytes: usize| {
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(bytes > (u32::MAX as usize) / 2);
        zip.start_file(format!("{name}.npy"), options)
            .map_err(|e| write_err(path, with_causes(&e)))
    };
    let real = |zip: &mut zip::ZipWriter<W>, name: &str, view: &ArrayViewD<'_, f64>| {
        start(zip, name, view.len() * 8)?;
        write_view(view, zip).map_err(|e| write_err(path, e))
    };
    for a in arrays {
        match a? {
            NpzEntry::View { name, view } => real(zip, &name, &view)?,
            NpzEntry::Array(a) => match &a.imag {
                None => {
                    let view = ArrayViewD::from_shape(IxDyn(&a.shape), &a.data)
                        .map_err(|e| write_err(path, with_causes(&e)))?;
                    real(zip, &a.name, &view)?;
                }
                Some(imag) => {
                    start(zip, &a.name, a.data.len() * 16)?;
                    let values = a
                        .data
                        .iter()
                        .zip(imag)
                        .map(|(&re, &im)| Complex64::new(re, im));
                    ArrayD::from_shape_vec(IxDyn(&a.shape), values.collect())
                        .map_err(|e| write_err(path, with_causes(&e)))?
                        .write_npy(&mut *zip)
                        .map_err(|e| write_err(path, with_causes(&e)))?;
                }
            },
        }
    }
    let options =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("metadata.npy", options)
        .map_err(|e| write_err(path, with_causes(&e)))?;
    zip.write_all(&npy_string(metadata))
        .map_err(|e| write_err(path, with_causes(&e)))
}

/// A view as a row-major `float64` `.npy` array: the header, then its rows along the last
/// axis, each written whole where it is contiguous (a view of a trace is: its instances).
fn write_view(view: &ArrayViewD<'_, f64>, w: &mut impl Write) -> Result<(), String> {
    use ndarray_npy::WritableElement;
    use ndarray_npy::npy::header::{Header, Layout};
    let header = Header {
        type_descriptor: f64::type_descriptor(),
        layout: Layout::Standard,
        shape: view.shape().to_vec(),
    };
    header.write(&mut *w).map_err(|e| with_causes(&e))?;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
    for_each_run(view, |run| {
        f64::write_slice(run, &mut w).map_err(|e| with_causes(&e))
    })?;
    w.flush().map_err(|e| with_causes(&e))
}

/// Calls `f` with the values of `view` in row-major order, in runs: each row along the last axis
/// whole where it is contiguous, else value by value.
fn for_each_run<E>(
    view: &ArrayViewD<'_, f64>,
    mut f: impl FnMut(&[f64]) -> Result<(), E>,
) -> Result<(), E> {
    for row in view.rows() {
        match row.as_slice() {
            Some(values) => f(values)?,
            None => row.iter().try_for_each(|v| f(std::slice::from_ref(v)))?,
        }
    }
    Ok(())
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
    write_csv_with_note(path, None, header, columns)
}

/// [`write_csv`], with `note` (if any) as a first line `# note` (pandas reads past it with
/// `comment="#"`, numpy's `loadtxt`/`genfromtxt` by default).
pub fn write_csv_with_note(
    path: &Path,
    note: Option<&str>,
    header: &[String],
    columns: &[Vec<f64>],
) -> Result<(), RuntimeError> {
    atomically(path, |w| {
        if let Some(note) = note {
            writeln!(w, "# {note}").map_err(|e| write_err(path, e))?;
        }
        write_csv_to(path, w, header, columns)
    })
}

fn write_csv_to(
    path: &Path,
    w: &mut BufWriter<std::fs::File>,
    header: &[String],
    columns: &[Vec<f64>],
) -> Result<(), RuntimeError> {
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
    fn a_failed_write_leaves_no_file_and_keeps_the_old_one() {
        let dir = std::env::temp_dir().join(format!("rf-atomic-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.csv");
        let fail = |w: &mut BufWriter<std::fs::File>| {
            w.write_all(&[b'x'; 100_000]).unwrap();
            Err(write_err(Path::new("out.csv"), "the disk is full"))
        };
        // No earlier file: nothing is left, and the error says the machine failed.
        let e = atomically(&path, fail).unwrap_err();
        assert!(matches!(e, RuntimeError::WriteFailed { .. }), "{e}");
        let left: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
        // An earlier file stays as it was.
        std::fs::write(&path, "old").unwrap();
        atomically(&path, fail).unwrap_err();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        // A successful write replaces it whole.
        write_csv(&path, &["a".to_string()], &[vec![1.5, 2.0]]).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "a\n1.5\n2.0\n");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        // A directory that does not exist is the path's fault.
        let e = write_csv(&dir.join("no/such.csv"), &[], &[]).unwrap_err();
        assert!(matches!(e, RuntimeError::Write { .. }), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn arrays_and_views_are_written_as_ndarray_npy_writes_them() {
        // 0-d, 1-d, 3-d arrays, and a strided view (every other row of a 4 x 3 array).
        let values: Vec<f64> = (0..12).map(|k| k as f64 * 0.5 - 1.0).collect();
        let strided = ndarray::ArrayView2::from_shape((4, 3), &values[..])
            .unwrap()
            .slice_move(ndarray::s![..;2, ..])
            .into_dyn();
        let cases: Vec<ArrayViewD<'_, f64>> = vec![
            ArrayViewD::from_shape(IxDyn(&[]), &values[..1]).unwrap(),
            ArrayViewD::from_shape(IxDyn(&[5]), &values[..5]).unwrap(),
            ArrayViewD::from_shape(IxDyn(&[2, 3, 2]), &values[..]).unwrap(),
            strided,
        ];
        for view in cases {
            let mut ours = Vec::new();
            write_view(&view, &mut ours).unwrap();
            let mut theirs = Vec::new();
            view.write_npy(&mut theirs).unwrap();
            assert_eq!(ours, theirs, "{:?}", view.shape());
        }
    }

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
            imag: None,
        };
        write_npz(&path, [a], meta).unwrap();
        assert_eq!(read_npz_metadata(&path).unwrap(), meta);
        let _ = std::fs::remove_file(&path);
    }
}
