//! Reading `.npz` files (numpy's zip of `.npy` arrays) and single `.npy` arrays into a
//! [`Dataset`], without trusting anything in them: every size is checked before it is used, an
//! array is read only as far as its header says, and a damaged file gives an error, never a panic.

use crate::{Dataset, PlotError};
use rateforge_rt::output::NpzArray;
use std::io::Read;
use std::path::Path;

/// The most bytes one array may claim (larger headers are taken as damage, not as data).
const MAX_ARRAY_BYTES: u64 = 1 << 40;

/// What the help line of a file that cannot be read says.
const NPZ_HELP: &str = "give the `.npz` file that `rateforge run -o` or `rateforge sweep -o` wrote (or an `.npy` array)";

/// Reads every numeric array and the `metadata` string of an `.npz` file (or the one array of an
/// `.npy` file, named after the file).
///
/// Arrays of a type that cannot be plotted (strings other than the metadata, objects, records)
/// are left out, and said so in [`Dataset::notes`].
pub fn read_npz(path: &Path) -> Result<Dataset, PlotError> {
    let cannot_read = |reason: String| {
        PlotError::input(
            format!("cannot read `{}`: {reason}", path.display()),
            NPZ_HELP,
        )
    };
    let meta = std::fs::metadata(path).map_err(|e| cannot_read(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(cannot_read("it is a directory".into()));
    }
    let mut file = std::fs::File::open(path).map_err(|e| cannot_read(io_reason(&e)))?;
    let mut magic = [0u8; 6];
    let got = read_up_to(&mut file, &mut magic).map_err(|e| cannot_read(io_reason(&e)))?;
    let source = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    if got == 6 && &magic == b"\x93NUMPY" {
        let file = std::fs::File::open(path).map_err(|e| cannot_read(io_reason(&e)))?;
        let mut dataset = Dataset {
            source: source.clone(),
            ..Dataset::default()
        };
        match read_npy(file, meta.len(), &source)
            .map_err(|reason| damaged(path, &source, &reason))?
        {
            Entry::Array(a) => dataset.arrays.push(a),
            Entry::Text(_) | Entry::Unsupported(_) => {
                return Err(PlotError::input(
                    format!("`{}` holds no numbers", path.display()),
                    "an `.npy` file to plot holds a numeric array (float, integer, bool or complex)",
                ));
            }
        }
        return Ok(dataset);
    }
    if got < 4 || &magic[..4] != b"PK\x03\x04" && &magic[..4] != b"PK\x05\x06" {
        return Err(PlotError::input(
            format!(
                "`{}` is not an `.npz` file (numpy's zip of `.npy` arrays)",
                path.display()
            ),
            NPZ_HELP,
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| cannot_read(io_reason(&e)))?;
    let mut zip = zip::ZipArchive::new(std::io::BufReader::new(file)).map_err(|e| {
        PlotError::input(
            format!("`{}` is not a readable `.npz` file: {e}", path.display()),
            "the file may be truncated or damaged; write it again",
        )
    })?;
    let mut dataset = Dataset {
        source,
        ..Dataset::default()
    };
    for k in 0..zip.len() {
        let entry = zip.by_index(k).map_err(|e| {
            PlotError::input(
                format!("cannot read entry {k} of `{}`: {e}", path.display()),
                "the file may be truncated or damaged; write it again",
            )
        })?;
        if entry.is_dir() {
            continue;
        }
        let entry_name = entry.name().to_string();
        let Some(name) = entry_name.strip_suffix(".npy").map(str::to_string) else {
            dataset
                .notes
                .push(format!("left out `{entry_name}` (not an .npy array)"));
            continue;
        };
        let size = entry.size();
        match read_npy(entry, size, &name).map_err(|reason| damaged(path, &name, &reason))? {
            Entry::Array(a) => dataset.arrays.push(a),
            Entry::Text(text) if name == "metadata" => match serde_json::from_str(&text) {
                Ok(value) => dataset.metadata = Some(value),
                Err(_) => dataset
                    .notes
                    .push("the metadata is not JSON; titles come from the file name".into()),
            },
            Entry::Text(_) => dataset
                .notes
                .push(format!("left out `{name}` (text, not numbers)")),
            Entry::Unsupported(kind) => dataset
                .notes
                .push(format!("left out `{name}` (numpy type `{kind}`)")),
        }
    }
    Ok(dataset)
}

fn damaged(path: &Path, name: &str, reason: &str) -> PlotError {
    PlotError::input(
        format!(
            "array `{name}` of `{}` is not a valid `.npy` array: {reason}",
            path.display()
        ),
        "the file may be truncated or damaged; write it again",
    )
}

/// An I/O error in words, without Rust's `(os error 2)`.
fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => {
            let text = e.to_string();
            match text.find(" (os error") {
                Some(at) => text[..at].to_string(),
                None => text,
            }
        }
    }
}

/// Reads into `buf` until it is full or the reader ends; returns the bytes read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// One `.npy` entry.
enum Entry {
    Array(NpzArray),
    /// A unicode string (numpy's `<U`), such as the metadata.
    Text(String),
    /// A type that is not numbers: its numpy `descr`.
    Unsupported(String),
}

/// The element type of an array.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Float,
    Int,
    Uint,
    Bool,
    Complex,
    Unicode,
}

/// Reads one `.npy` array of at most `limit` bytes (the entry's or file's size) from `r`.
fn read_npy(mut r: impl Read, limit: u64, name: &str) -> Result<Entry, String> {
    let mut start = [0u8; 10];
    if read_up_to(&mut r, &mut start).map_err(|e| e.to_string())? < 10
        || &start[..6] != b"\x93NUMPY"
    {
        return Err("it does not start with numpy's `\\x93NUMPY` header".into());
    }
    let header_len = match start[6] {
        1 => u16::from_le_bytes([start[8], start[9]]) as usize,
        2 | 3 => {
            let mut more = [0u8; 2];
            if read_up_to(&mut r, &mut more).map_err(|e| e.to_string())? < 2 {
                return Err("the header is truncated".into());
            }
            u32::from_le_bytes([start[8], start[9], more[0], more[1]]) as usize
        }
        v => return Err(format!("unknown .npy format version {v}")),
    };
    if header_len as u64 > limit.min(1 << 20) {
        return Err("the header is longer than the file".into());
    }
    let mut header = vec![0u8; header_len];
    if read_up_to(&mut r, &mut header).map_err(|e| e.to_string())? < header_len {
        return Err("the header is truncated".into());
    }
    let header = String::from_utf8_lossy(&header);
    let descr = dict_value(&header, "descr").ok_or("the header has no `descr`")?;
    let descr = quoted(descr).ok_or_else(|| {
        // A list of fields: a record array.
        "records".to_string()
    });
    let descr = match descr {
        Ok(d) => d,
        Err(kind) => return Ok(Entry::Unsupported(kind)),
    };
    let fortran = match dict_value(&header, "fortran_order").map(str::trim_start) {
        Some(v) if v.starts_with("True") => true,
        Some(v) if v.starts_with("False") => false,
        _ => return Err("the header has no `fortran_order`".into()),
    };
    let shape = dict_value(&header, "shape")
        .and_then(parse_shape)
        .ok_or("the header has no readable `shape`")?;
    let bytes = descr.as_bytes();
    if bytes.len() < 3 {
        return Ok(Entry::Unsupported(descr));
    }
    let big_endian = match bytes[0] {
        b'<' | b'|' | b'=' => false,
        b'>' => true,
        _ => return Ok(Entry::Unsupported(descr)),
    };
    let kind = match bytes[1] {
        b'f' => Kind::Float,
        b'i' => Kind::Int,
        b'u' => Kind::Uint,
        b'b' => Kind::Bool,
        b'c' => Kind::Complex,
        b'U' => Kind::Unicode,
        _ => return Ok(Entry::Unsupported(descr)),
    };
    let Ok(width) = descr[2..].parse::<usize>() else {
        return Ok(Entry::Unsupported(descr));
    };
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or("its shape is too large")?;
    let item = match (kind, width) {
        (Kind::Float, 4 | 8) | (Kind::Complex, 8 | 16) => width,
        (Kind::Int | Kind::Uint, 1 | 2 | 4 | 8) => width,
        (Kind::Bool, 1) => 1,
        (Kind::Unicode, w) if w > 0 => w.checked_mul(4).ok_or("its shape is too large")?,
        _ => return Ok(Entry::Unsupported(descr)),
    };
    let total = count.checked_mul(item).ok_or("its shape is too large")? as u64;
    if total > MAX_ARRAY_BYTES {
        return Err(format!("its header claims {total} bytes"));
    }
    // Read no more than the header says; the buffer grows only as bytes arrive, so a header
    // that claims more than the file holds costs nothing.
    let mut data: Vec<u8> = Vec::new();
    let mut r = r.take(total);
    while (data.len() as u64) < total {
        let want = (total - data.len() as u64).min(1 << 24);
        data.try_reserve(want as usize)
            .map_err(|_| format!("not enough memory for its {total} bytes"))?;
        let got = r
            .by_ref()
            .take(want)
            .read_to_end(&mut data)
            .map_err(|e| e.to_string())?;
        if got == 0 {
            break;
        }
    }
    if (data.len() as u64) < total {
        return Err(format!(
            "it holds {} of the {total} bytes its shape {shape:?} needs",
            data.len()
        ));
    }
    if kind == Kind::Unicode {
        let text: String = data
            .chunks_exact(4)
            .map(|c| {
                let b = [c[0], c[1], c[2], c[3]];
                if big_endian {
                    u32::from_be_bytes(b)
                } else {
                    u32::from_le_bytes(b)
                }
            })
            .filter_map(char::from_u32)
            .filter(|&c| c != '\0')
            .collect();
        return Ok(Entry::Text(text));
    }
    let part = |chunk: &[u8], k: Kind| -> f64 {
        let mut b = [0u8; 8];
        let n = chunk.len();
        if big_endian {
            b[..n].copy_from_slice(chunk);
            b[..n].reverse();
        } else {
            b[..n].copy_from_slice(chunk);
        }
        match (k, n) {
            (Kind::Float | Kind::Complex, 4) => f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
            (Kind::Float | Kind::Complex, _) => f64::from_le_bytes(b),
            (Kind::Int, 1) => b[0] as i8 as f64,
            (Kind::Int, 2) => i16::from_le_bytes([b[0], b[1]]) as f64,
            (Kind::Int, 4) => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
            (Kind::Int, _) => i64::from_le_bytes(b) as f64,
            (Kind::Uint | Kind::Bool, _) => u64::from_le_bytes(b) as f64,
            (Kind::Unicode, _) => f64::NAN,
        }
    };
    let (mut re, mut im) = (Vec::new(), None);
    if kind == Kind::Complex {
        let half = item / 2;
        let mut imag = Vec::new();
        re.try_reserve_exact(count).map_err(|e| e.to_string())?;
        imag.try_reserve_exact(count).map_err(|e| e.to_string())?;
        for c in data.chunks_exact(item) {
            re.push(part(&c[..half], kind));
            imag.push(part(&c[half..], kind));
        }
        im = Some(imag);
    } else {
        re.try_reserve_exact(count).map_err(|e| e.to_string())?;
        re.extend(data.chunks_exact(item).map(|c| part(c, kind)));
    }
    drop(data);
    if fortran && shape.len() > 1 {
        re = to_c_order(&re, &shape);
        im = im.map(|v| to_c_order(&v, &shape));
    }
    Ok(Entry::Array(NpzArray {
        name: name.to_string(),
        shape,
        data: re,
        imag: im,
    }))
}

/// Column-major values of `shape` in row-major order.
fn to_c_order(values: &[f64], shape: &[usize]) -> Vec<f64> {
    let n = values.len();
    let mut out = vec![0.0; n];
    let mut index = vec![0usize; shape.len()];
    for v in out.iter_mut() {
        // The column-major offset of `index`.
        let mut offset = 0;
        let mut stride = 1;
        for (i, d) in index.iter().zip(shape) {
            offset += i * stride;
            stride *= d;
        }
        *v = values.get(offset).copied().unwrap_or(f64::NAN);
        // The next row-major index.
        for (i, d) in index.iter_mut().zip(shape).rev() {
            *i += 1;
            if *i < *d {
                break;
            }
            *i = 0;
        }
    }
    out
}

/// The text after `'key':` in a numpy header dictionary.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pattern = format!("'{key}'");
    let at = header.find(&pattern)? + pattern.len();
    let rest = header[at..].trim_start().strip_prefix(':')?;
    Some(rest.trim_start())
}

/// The contents of a leading `'...'` (or `"..."`) string.
fn quoted(text: &str) -> Option<String> {
    let quote = text.chars().next().filter(|c| *c == '\'' || *c == '"')?;
    let rest = &text[1..];
    let end = rest.find(quote)?;
    Some(rest[..end].to_string())
}

/// A leading Python tuple of integers: `()`, `(3,)`, `(10001, 68)`.
fn parse_shape(text: &str) -> Option<Vec<usize>> {
    let inner = text.strip_prefix('(')?;
    let inner = &inner[..inner.find(')')?];
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse::<usize>().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, fortran: bool, data: &[u8]) -> Vec<u8> {
        let mut header = format!(
            "{{'descr': '{descr}', 'fortran_order': {}, 'shape': {shape}, }}",
            if fortran { "True" } else { "False" }
        );
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        out.extend_from_slice(&(header.len() as u16).to_le_bytes());
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        out
    }

    fn array(bytes: &[u8]) -> NpzArray {
        match read_npy(bytes, bytes.len() as u64, "x").unwrap() {
            Entry::Array(a) => a,
            _ => panic!("not an array"),
        }
    }

    #[test]
    fn numeric_types_and_orders_are_read() {
        let f8: Vec<u8> = [1.5f64, -2.0, 3.0, 4.0, 5.0, 6.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let a = array(&npy("<f8", "(2, 3)", false, &f8));
        assert_eq!(a.shape, vec![2, 3]);
        assert_eq!(a.data, vec![1.5, -2.0, 3.0, 4.0, 5.0, 6.0]);
        // Fortran order: columns first.
        let a = array(&npy("<f8", "(2, 3)", true, &f8));
        assert_eq!(a.data, vec![1.5, 3.0, 5.0, -2.0, 4.0, 6.0]);
        let i4: Vec<u8> = [-3i32, 7].iter().flat_map(|v| v.to_be_bytes()).collect();
        assert_eq!(array(&npy(">i4", "(2,)", false, &i4)).data, vec![-3.0, 7.0]);
        assert_eq!(
            array(&npy("|b1", "(3,)", false, &[1, 0, 1])).data,
            vec![1.0, 0.0, 1.0]
        );
        let c16: Vec<u8> = [1.0f64, 2.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let a = array(&npy("<c16", "()", false, &c16));
        assert_eq!((a.data, a.imag), (vec![1.0], Some(vec![2.0])));
    }

    #[test]
    fn damaged_arrays_are_errors_not_panics() {
        let f8 = 1.0f64.to_le_bytes();
        for bad in [
            npy("<f8", "(2,)", false, &f8),                       // truncated
            npy("<f8", "(99999999999, 99999999999)", false, &f8), // huge
            npy("<f8", "(3", false, &f8),                         // no shape
            b"\x93NUMPY\x01\x00\xff\xff".to_vec(),                // header longer than the file
            b"\x93NUM".to_vec(),
            Vec::new(),
        ] {
            assert!(read_npy(&bad[..], bad.len() as u64, "x").is_err());
        }
        let object = npy("|O", "(2,)", false, &[0; 16]);
        assert!(matches!(
            read_npy(&object[..], object.len() as u64, "x"),
            Ok(Entry::Unsupported(_))
        ));
    }
}
