//! Colours: viridis for values, a categorical palette for lines, and number formatting for
//! ticks.

use plotters::style::RGBColor;

/// matplotlib's viridis at 0, 0.1, ..., 1.
const VIRIDIS: [(u8, u8, u8); 11] = [
    (0x44, 0x01, 0x54),
    (0x48, 0x24, 0x75),
    (0x41, 0x44, 0x87),
    (0x35, 0x5f, 0x8d),
    (0x2a, 0x78, 0x8e),
    (0x21, 0x91, 0x8c),
    (0x22, 0xa8, 0x84),
    (0x44, 0xbf, 0x70),
    (0x7a, 0xd1, 0x51),
    (0xbd, 0xdf, 0x26),
    (0xfd, 0xe7, 0x25),
];

/// The colour of cells with no finite value.
pub const MISSING: RGBColor = RGBColor(0xd9, 0xd9, 0xd9);

/// The colour of `v` on a viridis scale from `lo` to `hi` (clamped; [`MISSING`] for NaN).
pub fn viridis(v: f64, lo: f64, hi: f64) -> RGBColor {
    if !v.is_finite() {
        return MISSING;
    }
    let width = hi - lo;
    let x = if width > 0.0 && width.is_finite() {
        ((v - lo) / width).clamp(0.0, 1.0)
    } else {
        0.5
    };
    let pos = x * 10.0;
    let k = (pos.floor() as usize).min(9);
    let f = pos - k as f64;
    let (a, b) = (VIRIDIS[k], VIRIDIS[k + 1]);
    let mix = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round() as u8;
    RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
}

/// tab10 and six of tab20's lighter colours: 16 distinct line colours.
const PALETTE: [(u8, u8, u8); 16] = [
    (0x1f, 0x77, 0xb4),
    (0xff, 0x7f, 0x0e),
    (0x2c, 0xa0, 0x2c),
    (0xd6, 0x27, 0x28),
    (0x94, 0x67, 0xbd),
    (0x8c, 0x56, 0x4b),
    (0xe3, 0x77, 0xc2),
    (0x7f, 0x7f, 0x7f),
    (0xbc, 0xbd, 0x22),
    (0x17, 0xbe, 0xcf),
    (0xae, 0xc7, 0xe8),
    (0xff, 0xbb, 0x78),
    (0x98, 0xdf, 0x8a),
    (0xff, 0x98, 0x96),
    (0xc5, 0xb0, 0xd5),
    (0xc4, 0x9c, 0x94),
];

/// The colour of line `k`.
pub fn line(k: usize) -> RGBColor {
    let (r, g, b) = PALETTE[k % PALETTE.len()];
    RGBColor(r, g, b)
}

/// A number for a tick or a legend: four significant digits, scientific notation for very large
/// or small magnitudes, no trailing zeros.
pub fn number(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        let text = format!("{v:.3e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim(mantissa));
    }
    let decimals = (3 - a.log10().floor() as i32).clamp(0, 7) as usize;
    trim(&format!("{v:.decimals$}"))
}

/// A tick label on an axis from `lo` to `hi`: as many digits as ticks a tenth of the range
/// apart need and one more (ticks at 0.25; `3.0000001` and `3.0000002` differ), trailing zeros
/// trimmed; scientific notation when the axis's magnitude is very large or small.
pub fn tick(v: f64, lo: f64, hi: f64) -> String {
    let step = (hi - lo).abs() / 10.0;
    if !(v.is_finite() && step > 0.0 && step.is_finite()) {
        return number(v);
    }
    if v.abs() < step * 1e-6 {
        return "0".into();
    }
    let step_exp = step.log10().floor() as i32;
    let magnitude = lo.abs().max(hi.abs());
    if !(1e-3..1e5).contains(&magnitude) {
        let exp = v.abs().log10().floor() as i32;
        let digits = (exp - step_exp + 1).clamp(0, 15) as usize;
        let text = format!("{v:.digits$e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        return format!("{}e{exponent}", trim(mantissa));
    }
    let decimals = (1 - step_exp).clamp(0, 15) as usize;
    trim(&format!("{v:.decimals$}"))
}

/// `1.500` → `1.5`, `2.000` → `2`, `-0` → `0`.
fn trim(text: &str) -> String {
    let t = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    };
    if t == "-0" { "0".into() } else { t.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(number(0.30000000000000004), "0.3");
        assert_eq!(number(-1.5e-4), "-1.5e-4");
        assert_eq!(number(123456.0), "1.235e5");
        assert_eq!(number(1234.5678), "1235");
        assert_eq!(number(-0.0001e-300), "-1e-304");
        assert_eq!(number(2.0), "2");
        assert_eq!(number(f64::NAN), "NaN");
    }

    #[test]
    fn ticks_have_the_digits_their_axis_needs() {
        assert_eq!(tick(3.0000001, 3.0, 3.000001), "3.0000001");
        assert_eq!(tick(20.0, 0.0, 100.0), "20");
        assert_eq!(tick(0.25, 0.0, 1.0), "0.25");
        assert_eq!(tick(1e-17, -1.0, 1.0), "0");
        assert_eq!(tick(5e299, -1e300, 1e300), "5e299");
        assert_eq!(tick(1.5e-5, 0.0, 2e-5), "1.5e-5");
        assert_eq!(tick(2.0, 2.0, 2.0), "2");
    }

    #[test]
    fn viridis_ends_and_clamps() {
        assert_eq!(viridis(0.0, 0.0, 1.0), RGBColor(0x44, 0x01, 0x54));
        assert_eq!(viridis(2.0, 0.0, 1.0), RGBColor(0xfd, 0xe7, 0x25));
        assert_eq!(viridis(f64::NAN, 0.0, 1.0), MISSING);
        let _ = viridis(1.0, 1.0, 1.0);
        let _ = viridis(1.0, -f64::MAX, f64::MAX);
    }
}
