//! The peak floating-point rate of one core: a fused multiply-add loop compiled like the kernels
//! (`-C target-cpu=native`) and timed, so benchmarks can report their share of what the CPU can do.

use crate::compile::{BuildOptions, build_rust};
use crate::error::RuntimeError;
use std::time::Instant;

/// Independent accumulators, each a vector of `WIDTH` doubles: enough to keep every FMA unit of
/// a core busy whatever its latency.
const CHAINS: usize = 12;
const WIDTH: usize = 8;

const SOURCE: &str = r#"
// rateforge peak probe: CHAINS x WIDTH independent fused multiply-add chains.
#[unsafe(no_mangle)]
pub extern "C" fn rf_peak(n: u64, a: f64, b: f64) -> f64 {
    let mut acc = [[1.0f64; WIDTH]; CHAINS];
    for k in 0..CHAINS {
        for l in 0..WIDTH {
            acc[k][l] = 1.0 + (k * WIDTH + l) as f64 * 1e-3;
        }
    }
    for _ in 0..n {
        for k in 0..CHAINS {
            for l in 0..WIDTH {
                acc[k][l] = acc[k][l].mul_add(a, b);
            }
        }
    }
    let mut s = 0.0;
    for k in 0..CHAINS {
        for l in 0..WIDTH {
            s += acc[k][l];
        }
    }
    s
}
"#;

/// Double-precision FLOP/s of one core (an FMA counts as two), measured over about `seconds`.
pub fn fp64_peak(options: &BuildOptions, seconds: f64) -> Result<f64, RuntimeError> {
    let source = SOURCE
        .replace("CHAINS", &CHAINS.to_string())
        .replace("WIDTH", &WIDTH.to_string());
    let compiled = build_rust(&source, options)?;
    let err = |reason: String| RuntimeError::Load {
        path: compiled.library.clone(),
        reason,
    };
    // SAFETY: the library is the probe compiled above; `rf_peak` has this signature.
    let library =
        unsafe { libloading::Library::new(&compiled.library) }.map_err(|e| err(e.to_string()))?;
    let peak: libloading::Symbol<'_, unsafe extern "C" fn(u64, f64, f64) -> f64> =
        unsafe { library.get(b"rf_peak") }.map_err(|e| err(e.to_string()))?;
    let flops_per_iter = (CHAINS * WIDTH * 2) as f64;
    // Calibrate, then take the best of three runs.
    let mut n = 1u64 << 16;
    loop {
        let t = Instant::now();
        // SAFETY: plain arithmetic.
        std::hint::black_box(unsafe { peak(n, 0.999_999, 1e-9) });
        if t.elapsed().as_secs_f64() > seconds / 10.0 || n > 1 << 40 {
            break;
        }
        n *= 2;
    }
    let n = ((n as f64) * (seconds / 3.0) / (seconds / 10.0)).max(1.0) as u64;
    let mut best = 0.0f64;
    for _ in 0..3 {
        let t = Instant::now();
        std::hint::black_box(unsafe { peak(n, 0.999_999, 1e-9) });
        let rate = n as f64 * flops_per_iter / t.elapsed().as_secs_f64();
        best = best.max(rate);
    }
    Ok(best)
}

/// The rate at which one core reads memory (bytes/s): the best of three sums over a buffer of
/// `bytes` (make it several times the last-level cache), eight independent accumulators so that
/// the additions never limit it.
pub fn read_bandwidth(bytes: usize) -> f64 {
    let n = (bytes / 8).max(1 << 16).next_multiple_of(8);
    // Written once, so that every page is really there before it is timed.
    let data: Vec<f64> = (0..n).map(|i| (i & 1023) as f64).collect();
    let mut best = 0.0f64;
    for _ in 0..3 {
        let t = Instant::now();
        let mut acc = [0.0f64; 8];
        for chunk in std::hint::black_box(&data).chunks_exact(8) {
            for (a, x) in acc.iter_mut().zip(chunk) {
                *a += x;
            }
        }
        std::hint::black_box(acc);
        best = best.max((n * 8) as f64 / t.elapsed().as_secs_f64());
    }
    best
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_read_bandwidth_is_measured() {
        // Any machine reads a few megabytes at more than 100 MB/s and less than 10 TB/s.
        let b = super::read_bandwidth(4 << 20);
        assert!(b > 1e8 && b < 1e13, "{b}");
    }
}

/// The size in bytes of the largest data cache of CPU 0 (Linux's
/// `/sys/devices/system/cpu/cpu0/cache/index*/size`, e.g. `32768K`), or 0 where it cannot be
/// read.
pub fn last_level_cache() -> usize {
    let Ok(dir) = std::fs::read_dir("/sys/devices/system/cpu/cpu0/cache") else {
        return 0;
    };
    dir.flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("index"))
        .filter(|e| {
            std::fs::read_to_string(e.path().join("type"))
                .is_ok_and(|t| matches!(t.trim(), "Data" | "Unified"))
        })
        .filter_map(|e| cache_size(&std::fs::read_to_string(e.path().join("size")).ok()?))
        .max()
        .unwrap_or(0)
}

/// A cache size as Linux writes it: `512K`, `32M`, or bytes.
fn cache_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let (digits, unit) = match t.strip_suffix(['K', 'M', 'G']) {
        Some(d) => (d, &t[d.len()..]),
        None => (t, ""),
    };
    let n: usize = digits.parse().ok()?;
    n.checked_mul(match unit {
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => 1,
    })
}

#[cfg(test)]
mod cache_tests {
    use super::*;

    #[test]
    fn cache_sizes_read_as_linux_writes_them() {
        assert_eq!(cache_size("32768K\n"), Some(32 << 20));
        assert_eq!(cache_size("512K"), Some(512 << 10));
        assert_eq!(cache_size("2M"), Some(2 << 20));
        assert_eq!(cache_size("1024"), Some(1024));
        assert_eq!(cache_size("K"), None);
        assert_eq!(cache_size("lots"), None);
        assert_eq!(cache_size("99999999999999999999G"), None);
    }

    #[test]
    fn this_machine_has_a_last_level_cache_on_linux() {
        if cfg!(target_os = "linux")
            && std::path::Path::new("/sys/devices/system/cpu/cpu0/cache").exists()
        {
            assert!(last_level_cache() >= 256 << 10, "{}", last_level_cache());
        }
    }
}
