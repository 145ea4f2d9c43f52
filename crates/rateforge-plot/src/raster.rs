//! Images inside a figure (heat maps, node × time images, matrices): a grid of coloured cells
//! placed over a rectangle of the figure. A PNG gets the cells painted into its pixels; an SVG
//! gets them as one embedded PNG image the viewer scales, so a large image stays small.

use crate::PlotError;
use plotters::style::RGBColor;

/// Cells of one colour each, row 0 at the top.
pub struct CellGrid {
    /// Columns.
    pub cols: usize,
    /// Rows.
    pub rows: usize,
    /// RGB bytes, row-major.
    pub rgb: Vec<u8>,
}

impl CellGrid {
    /// A grid of `rows` × `cols` cells coloured by `colour(row, col)`.
    pub fn new(rows: usize, cols: usize, colour: impl Fn(usize, usize) -> RGBColor) -> Self {
        let mut rgb = Vec::with_capacity(rows * cols * 3);
        for r in 0..rows {
            for c in 0..cols {
                let RGBColor(red, green, blue) = colour(r, c);
                rgb.extend_from_slice(&[red, green, blue]);
            }
        }
        CellGrid { cols, rows, rgb }
    }
}

/// A cell grid stretched over a rectangle of the figure, in pixels.
pub struct Patch {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
    /// The cells.
    pub grid: CellGrid,
}

/// Paints patches into an RGB buffer of `width` × `height` pixels (nearest cell per pixel).
pub fn paint(buffer: &mut [u8], width: u32, height: u32, patches: &[Patch]) {
    let (width, height) = (width as i64, height as i64);
    for p in patches {
        let g = &p.grid;
        if p.w <= 0 || p.h <= 0 || g.cols == 0 || g.rows == 0 {
            continue;
        }
        for py in 0..p.h as i64 {
            let y = p.y as i64 + py;
            if !(0..height).contains(&y) {
                continue;
            }
            let row = (py as usize * g.rows / p.h as usize).min(g.rows - 1);
            for px in 0..p.w as i64 {
                let x = p.x as i64 + px;
                if !(0..width).contains(&x) {
                    continue;
                }
                let col = (px as usize * g.cols / p.w as usize).min(g.cols - 1);
                let from = (row * g.cols + col) * 3;
                let to = ((y * width + x) * 3) as usize;
                if let (Some(src), Some(dst)) =
                    (g.rgb.get(from..from + 3), buffer.get_mut(to..to + 3))
                {
                    dst.copy_from_slice(src);
                }
            }
        }
    }
}

/// PNG bytes of an RGB buffer.
pub fn encode_png(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>, PlotError> {
    let failed = |e: png::EncodingError| {
        PlotError::failed(
            format!("encoding the PNG image failed: {e}"),
            "this is a bug in rateforge; please report it",
        )
    };
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(failed)?;
        writer.write_image_data(rgb).map_err(failed)?;
        writer.finish().map_err(failed)?;
    }
    Ok(out)
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Adds the patches to an SVG document as embedded PNG images, stretched over their rectangles
/// with square pixels (`image-rendering: pixelated`).
pub fn embed_in_svg(svg: &mut String, patches: &[Patch]) -> Result<(), PlotError> {
    let mut images = String::new();
    for p in patches {
        if p.w <= 0 || p.h <= 0 || p.grid.cols == 0 || p.grid.rows == 0 {
            continue;
        }
        let png = encode_png(&p.grid.rgb, p.grid.cols as u32, p.grid.rows as u32)?;
        let data = base64(&png);
        images.push_str(&format!(
            "<image x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated;image-rendering:crisp-edges\" xmlns:xlink=\"http://www.w3.org/1999/xlink\" href=\"data:image/png;base64,{data}\" xlink:href=\"data:image/png;base64,{data}\"/>\n",
            p.x, p.y, p.w, p.h
        ));
    }
    match svg.rfind("</svg>") {
        Some(at) => svg.insert_str(at, &images),
        None => svg.push_str(&images),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_pads() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn patches_are_painted_and_clipped() {
        let grid = CellGrid::new(2, 2, |r, c| RGBColor((r * 100) as u8, (c * 100) as u8, 7));
        let mut buffer = vec![255u8; 4 * 4 * 3];
        let patch = Patch {
            x: 2,
            y: 2,
            w: 4,
            h: 4,
            grid,
        };
        paint(&mut buffer, 4, 4, &[patch]);
        // Pixel (2, 2) is cell (0, 0); pixel (3, 3) is still cell (0, 0) of a 4-pixel patch.
        assert_eq!(&buffer[(2 * 4 + 2) * 3..(2 * 4 + 2) * 3 + 3], &[0, 0, 7]);
        assert_eq!(&buffer[0..3], &[255, 255, 255]);
    }
}
