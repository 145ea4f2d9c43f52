//! Drawing a [`Figure`] with plotters on a PNG or SVG backend.

use crate::colour::{self, number, tick, viridis};
use crate::figure::{Content, Figure, MAX_LEGEND, Series, SweepLayout, TracePanel};
use crate::raster::{self, CellGrid, Patch};
use crate::{Format, PlotError};
use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::prelude::*;
use std::sync::OnceLock;

/// DejaVu Sans, built into the library (licence: `fonts/LICENSE-DejaVu.txt`).
static FONT: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");

/// The font family every text is drawn in.
const FAMILY: &str = "sans-serif";

/// Registers the built-in font once.
fn register_font() -> Result<(), PlotError> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED
        .get_or_init(|| plotters::style::register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(PlotError::failed(
            "the built-in font could not be loaded",
            "this is a bug in rateforge; please report it",
        ))
    }
}

/// What was drawn, for the summary.
pub struct Drawn {
    /// One line per panel.
    pub panels: Vec<String>,
    /// Notes.
    pub notes: Vec<String>,
}

/// Sizes, in pixels, scaled with the figure.
struct Style {
    font: f64,
    title: f64,
    gap: i32,
    line: u32,
    marker: i32,
    x_labels: i32,
    y_labels: i32,
    bar: i32,
    bar_labels: i32,
}

impl Style {
    fn new(width: u32, height: u32) -> Self {
        // 1 at 1200 × 800.
        let s = ((width as f64 * height as f64).sqrt() / 980.0).clamp(0.5, 4.0);
        let font = (16.0 * s).max(12.0);
        Style {
            font,
            title: font * 1.4,
            gap: (font * 0.6) as i32,
            line: (1.5 * s).round().max(1.0) as u32,
            marker: (3.0 * s).round().max(2.0) as i32,
            x_labels: (font * 2.8) as i32,
            y_labels: (font * 5.0) as i32,
            bar: (font * 8.0) as i32,
            bar_labels: (font * 5.5) as i32,
        }
    }

    fn labels(&self) -> FontDesc<'static> {
        (FAMILY, self.font * 0.85).into_font()
    }

    fn desc(&self) -> FontDesc<'static> {
        (FAMILY, self.font).into_font()
    }
}

/// A linear axis with ticks at given places (cell centres of images).
struct Ticked {
    lo: f64,
    hi: f64,
    ticks: Vec<f64>,
}

/// An axis over cells `0..n` (from -0.5 to n - 0.5) with ticks at `ticks`.
fn ticked(n: usize, ticks: Vec<f64>) -> Ticked {
    Ticked {
        lo: -0.5,
        hi: n.max(1) as f64 - 0.5,
        ticks,
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let f = (v - self.lo) / (self.hi - self.lo);
        let length = (limit.1 - limit.0) as f64;
        if !f.is_finite() {
            return limit.0;
        }
        limit.0 + (length * f).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.lo..self.hi
    }
}

/// A drawing error: the machinery's failure.
fn failed<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> PlotError {
    PlotError::failed(
        format!("drawing the figure failed: {e}"),
        "this is a bug in rateforge; please report it",
    )
}

/// Draws the figure: the file's bytes and what was drawn.
pub fn render(
    figure: &Figure,
    format: Format,
    width: u32,
    height: u32,
) -> Result<(Vec<u8>, Drawn), PlotError> {
    register_font()?;
    let style = Style::new(width, height);
    match format {
        Format::Png => {
            let size = width as usize * height as usize * 3;
            let mut buffer = Vec::new();
            buffer.try_reserve_exact(size).map_err(|_| {
                PlotError::input(
                    format!("not enough memory for a {width} × {height} image"),
                    "draw a smaller figure (`--width`, `--height`)",
                )
            })?;
            buffer.resize(size, 255);
            let (patches, drawn) = {
                let root =
                    BitMapBackend::with_buffer(&mut buffer, (width, height)).into_drawing_area();
                let out = draw(&root, figure, &style)?;
                root.present().map_err(failed)?;
                out
            };
            raster::paint(&mut buffer, width, height, &patches);
            Ok((raster::encode_png(&buffer, width, height)?, drawn))
        }
        Format::Svg => {
            let mut svg = String::new();
            let (patches, drawn) = {
                let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
                let out = draw(&root, figure, &style)?;
                root.present().map_err(failed)?;
                out
            };
            raster::embed_in_svg(&mut svg, &patches)?;
            Ok((svg.into_bytes(), drawn))
        }
    }
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    figure: &Figure,
    st: &Style,
) -> Result<(Vec<Patch>, Drawn), PlotError>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(failed)?;
    let area = root
        .titled(&figure.title, (FAMILY, st.title))
        .map_err(failed)?;
    let mut patches = Vec::new();
    let mut drawn = Drawn {
        panels: Vec::new(),
        notes: Vec::new(),
    };
    match &figure.content {
        Content::Traces { time, panels } => {
            let areas = area.split_evenly((panels.len().max(1), 1));
            for (k, (panel, a)) in panels.iter().zip(&areas).enumerate() {
                let last = k + 1 == panels.len();
                let line = if panel.image {
                    trace_image(a, time, panel, last, st, &mut patches)?
                } else {
                    trace_lines(a, time, panel, last, st)?
                };
                drawn.panels.push(line);
            }
        }
        Content::Sweep {
            value_label,
            layout,
        } => {
            let line = match layout {
                SweepLayout::Line {
                    x_label,
                    x,
                    y,
                    log_x,
                } => sweep_line(&area, x_label, x, y, *log_x, value_label, st)?,
                SweepLayout::HeatMap {
                    x_label,
                    y_label,
                    xs,
                    ys,
                    values,
                } => heat_map(
                    &area,
                    (x_label, xs),
                    (y_label, ys),
                    values,
                    value_label,
                    st,
                    &mut patches,
                )?,
                SweepLayout::Scatter {
                    x_label,
                    y_label,
                    points,
                } => scatter(&area, x_label, y_label, points, value_label, st)?,
            };
            drawn.panels.push(line);
        }
        Content::Matrix {
            name,
            rows,
            cols,
            data,
        } => {
            drawn
                .panels
                .push(matrix(&area, name, *rows, *cols, data, st, &mut patches)?);
        }
    }
    Ok((patches, drawn))
}

/// The finite range of some values.
fn finite_range(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold(None, |r, v| match r {
            None => Some((v, v)),
            Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
        })
}

/// An axis range that plotters can draw: finite, wider than rounding, padded by `pad` of its
/// width on each side.
fn axis_range(range: Option<(f64, f64)>, pad: f64) -> (f64, f64) {
    let (lo, hi) = range.unwrap_or((0.0, 1.0));
    // Within ±1e300 the width stays finite.
    let (mut lo, mut hi) = (lo.clamp(-1e300, 1e300), hi.clamp(-1e300, 1e300));
    if hi < lo {
        std::mem::swap(&mut lo, &mut hi);
    }
    let mid = 0.5 * lo + 0.5 * hi;
    // A constant (or, below 1e-250, zero): 1 % either side, or ±1 around zero.
    if hi - lo <= (mid.abs() * 1e-12).max(1e-250) {
        let half = if mid.abs() > 1e-250 {
            mid.abs() * 0.01
        } else {
            1.0
        };
        return (mid - half, mid + half);
    }
    let p = (hi - lo) * pad;
    (lo - p, hi + p)
}

/// Tick positions at whole indices `0..n`, at most about `most` of them, at 1, 2 or 5 × 10^k
/// apart.
fn index_ticks(n: usize, most: usize) -> Vec<usize> {
    let most = most.max(1);
    let mut step = 1;
    let mut decade = 1usize;
    'search: while decade <= n {
        for m in [1, 2, 5] {
            step = m * decade;
            if n.div_ceil(step) <= most {
                break 'search;
            }
        }
        decade = decade.saturating_mul(10);
        step = decade;
    }
    (0..n).step_by(step.max(1)).collect()
}

/// The cell grid of a `rows` × `cols` array read through `get`, averaged down to at most
/// `max_rows` × `max_cols` cells (finite values only), and its colours over `lo..hi`.
fn cells(
    rows: usize,
    cols: usize,
    max_rows: usize,
    max_cols: usize,
    lo: f64,
    hi: f64,
    get: impl Fn(usize, usize) -> f64,
) -> CellGrid {
    let gr = rows.min(max_rows.max(1));
    let gc = cols.min(max_cols.max(1));
    let span = |k: usize, n: usize, g: usize| {
        let a = k * n / g;
        let b = ((k + 1) * n / g).max(a + 1).min(n);
        a..b
    };
    CellGrid::new(gr, gc, |r, c| {
        let (mut sum, mut count) = (0.0, 0usize);
        for i in span(r, rows, gr) {
            for j in span(c, cols, gc) {
                let v = get(i, j);
                if v.is_finite() {
                    sum += v;
                    count += 1;
                }
            }
        }
        if count == 0 {
            colour::MISSING
        } else {
            viridis(sum / count as f64, lo, hi)
        }
    })
}

/// Paints the `rows` × `cols` image of `value(r, c)` (row 0 at the top) over the plotting area,
/// coloured over the finite range of its values, and that range's colour bar beside it.
#[allow(clippy::too_many_arguments)]
fn image<DB: DrawingBackend, CT: CoordTranslate>(
    plotting: &DrawingArea<DB, CT>,
    bar: &DrawingArea<DB, Shift>,
    (rows, cols): (usize, usize),
    value: impl Fn(usize, usize) -> f64,
    label: &str,
    bottom: i32,
    st: &Style,
    patches: &mut Vec<Patch>,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let (x, y, pw, ph) = pixel_rect(plotting);
    let all = (0..rows).flat_map(|r| (0..cols).map(move |c| (r, c)));
    let (lo, hi) = finite_range(all.map(|(r, c)| value(r, c))).unwrap_or((0.0, 1.0));
    let grid = cells(
        rows,
        cols,
        ph.max(1) as usize,
        pw.max(1) as usize,
        lo,
        hi,
        value,
    );
    patches.push(Patch {
        x,
        y,
        w: pw,
        h: ph,
        grid,
    });
    colour_bar(bar, lo, hi, label, bottom, st)
}

/// The area split into the panel and, on its right, room for a colour bar.
fn beside_colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    st: &Style,
) -> (DrawingArea<DB, Shift>, DrawingArea<DB, Shift>) {
    let (w, _) = area.dim_in_pixel();
    area.split_horizontally((w as i32 - st.bar).max(1))
}

/// Tick positions of an image's rows, row 0 at the top (at most `most` of them).
fn row_ticks(rows: usize, most: usize) -> Vec<f64> {
    index_ticks(rows, most)
        .into_iter()
        .map(|i| (rows - 1 - i) as f64)
        .collect()
}

/// The plotting area's pixel rectangle (left, top, width, height).
fn pixel_rect<DB: DrawingBackend, CT: CoordTranslate>(
    area: &DrawingArea<DB, CT>,
) -> (i32, i32, i32, i32) {
    let (x, y) = area.get_pixel_range();
    (x.start, y.start, x.end - x.start, y.end - y.start)
}

/// A colour bar from `lo` to `hi`, named `label`, with `bottom` pixels left below it (to line
/// up with the panel beside it).
fn colour_bar<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lo: f64,
    hi: f64,
    label: &str,
    bottom: i32,
    st: &Style,
) -> Result<(), PlotError>
where
    DB::ErrorType: 'static,
{
    let (lo, hi) = axis_range(Some((lo, hi)), 0.0);
    let mut chart = ChartBuilder::on(area)
        .margin_top(st.gap)
        .margin_bottom(bottom)
        .margin_left(st.gap)
        .margin_right(st.gap)
        .right_y_label_area_size(st.bar_labels)
        .build_cartesian_2d(0f64..1f64, lo..hi)
        .map_err(failed)?;
    let fmt = |v: &f64| tick(*v, lo, hi);
    chart
        .configure_mesh()
        .disable_mesh()
        .disable_x_axis()
        .set_all_tick_mark_size((st.font * 0.35).max(3.0) as u32)
        .y_labels(6)
        .y_label_formatter(&fmt)
        .label_style(st.labels())
        .axis_desc_style(st.desc())
        .y_desc(label)
        .draw()
        .map_err(failed)?;
    const STEPS: usize = 64;
    chart
        .draw_series((0..STEPS).map(|k| {
            let a = lo + (hi - lo) * k as f64 / STEPS as f64;
            let b = lo + (hi - lo) * (k + 1) as f64 / STEPS as f64;
            Rectangle::new(
                [(0.0, a), (1.0, b)],
                viridis(0.5 * a + 0.5 * b, lo, hi).filled(),
            )
        }))
        .map_err(failed)?;
    chart
        .plotting_area()
        .draw(&Rectangle::new([(0.0, lo), (1.0, hi)], BLACK.mix(0.6)))
        .map_err(failed)?;
    Ok(())
}

/// The finite runs of (x, y) points, each thinned to the smallest and largest value per pixel
/// column when it has many more points than `pixels`.
fn segments(x: &[f64], y: &[f64], pixels: usize) -> Vec<Vec<(f64, f64)>> {
    let n = x.len().min(y.len());
    let mut runs: Vec<Vec<usize>> = Vec::new();
    let mut run = Vec::new();
    for i in 0..n {
        if x[i].is_finite() && y[i].is_finite() {
            run.push(i);
        } else if !run.is_empty() {
            runs.push(std::mem::take(&mut run));
        }
    }
    if !run.is_empty() {
        runs.push(run);
    }
    let bins = pixels.max(1);
    runs.into_iter()
        .map(|run| {
            if run.len() <= 4 * bins {
                return run.iter().map(|&i| (x[i], y[i])).collect();
            }
            let mut out = Vec::with_capacity(2 * bins);
            for b in 0..bins {
                let part = &run[b * run.len() / bins..((b + 1) * run.len() / bins).max(1)];
                let (mut lo, mut hi) = (part[0], part[0]);
                for &i in part {
                    if y[i] < y[lo] {
                        lo = i;
                    }
                    if y[i] > y[hi] {
                        hi = i;
                    }
                }
                let (first, second) = if lo <= hi { (lo, hi) } else { (hi, lo) };
                out.push((x[first], y[first]));
                if second != first {
                    out.push((x[second], y[second]));
                }
            }
            out
        })
        .collect()
}

/// One variable's series as lines against time.
fn trace_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    time: &[f64],
    panel: &TracePanel,
    last: bool,
    st: &Style,
) -> Result<String, PlotError>
where
    DB::ErrorType: 'static,
{
    let (t0, t1) = axis_range(finite_range(time.iter().copied()), 0.0);
    let (y0, y1) = axis_range(
        finite_range(panel.series.iter().flat_map(|s| s.values.iter().copied())),
        0.05,
    );
    let mut chart = ChartBuilder::on(area)
        .margin_top(st.gap)
        .margin_right(st.gap * 2)
        .margin_left(st.gap)
        .x_label_area_size(if last {
            st.x_labels
        } else {
            st.x_labels * 3 / 5
        })
        .y_label_area_size(st.y_labels)
        .build_cartesian_2d(t0..t1, y0..y1)
        .map_err(failed)?;
    let fmt_x = |v: &f64| tick(*v, t0, t1);
    let fmt_y = |v: &f64| tick(*v, y0, y1);
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(8)
        .y_labels(5)
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .label_style(st.labels())
        .axis_desc_style(st.desc())
        .bold_line_style(RGBColor(220, 220, 220))
        .max_light_lines(0)
        .y_desc(panel.axis_label());
    if last {
        mesh.x_desc("time");
    }
    mesh.draw().map_err(failed)?;
    let pixels = pixel_rect(chart.plotting_area()).2.max(1) as usize;
    let legend = (2..=MAX_LEGEND).contains(&panel.series.len());
    for (k, Series { label, values }) in panel.series.iter().enumerate() {
        let colour = colour::line(k);
        let style = colour.stroke_width(st.line);
        let mut labelled = false;
        for seg in segments(time, values, pixels) {
            let seg: Vec<(f64, f64)> = seg.into_iter().map(|(x, y)| (x, y.clamp(y0, y1))).collect();
            let anno = chart
                .draw_series(LineSeries::new(seg, style))
                .map_err(failed)?;
            if legend && !labelled {
                anno.label(label.as_str()).legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(2))
                });
                labelled = true;
            }
        }
    }
    if legend {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.3))
            .label_font(st.labels())
            .draw()
            .map_err(failed)?;
    }
    let n = panel.series.len();
    if !panel
        .series
        .iter()
        .any(|s| s.values.iter().any(|v| v.is_finite()))
    {
        return Ok(format!("{}: no finite values", panel.path));
    }
    Ok(format!(
        "{}: {n} line{}",
        panel.path,
        if n == 1 { "" } else { "s" }
    ))
}

/// One variable's series as an image: a row per series, a column per sample (or per pixel).
fn trace_image<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    time: &[f64],
    panel: &TracePanel,
    last: bool,
    st: &Style,
    patches: &mut Vec<Patch>,
) -> Result<String, PlotError>
where
    DB::ErrorType: 'static,
{
    let (main, bar) = beside_colour_bar(area, st);
    let rows = panel.series.len();
    let samples = time.len();
    let (t0, t1) = axis_range(finite_range(time.iter().copied()), 0.0);
    let x_area = if last {
        st.x_labels
    } else {
        st.x_labels * 3 / 5
    };
    let ticks = row_ticks(rows, 8);
    let mut chart = ChartBuilder::on(&main)
        .margin_top(st.gap)
        .margin_left(st.gap)
        .x_label_area_size(x_area)
        .y_label_area_size(st.y_labels)
        .build_cartesian_2d(t0..t1, ticked(rows, ticks))
        .map_err(failed)?;
    let fmt = |v: &f64| tick(*v, t0, t1);
    let row_of = |v: &f64| format!("{}", (rows as f64 - 1.0 - v.round()).max(0.0));
    let mut mesh = chart.configure_mesh();
    mesh.disable_mesh()
        .x_labels(8)
        .x_label_formatter(&fmt)
        .y_label_formatter(&row_of)
        .label_style(st.labels())
        .axis_desc_style(st.desc())
        .y_desc(panel.rows_label.as_str());
    if last {
        mesh.x_desc("time");
    }
    mesh.draw().map_err(failed)?;
    image(
        chart.plotting_area(),
        &bar,
        (rows, samples),
        |r, c| panel.series[r].values.get(c).copied().unwrap_or(f64::NAN),
        &panel.axis_label(),
        x_area,
        st,
        patches,
    )?;
    Ok(format!(
        "{}: an image of {rows} rows ({}) × {samples} samples",
        panel.path, panel.rows_label
    ))
}

/// A statistic over one swept axis.
fn sweep_line<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x_label: &str,
    x: &[f64],
    y: &[f64],
    log_x: bool,
    value_label: &str,
    st: &Style,
) -> Result<String, PlotError>
where
    DB::ErrorType: 'static,
{
    let xt: Vec<f64> = if log_x {
        x.iter().map(|v| v.log10()).collect()
    } else {
        x.to_vec()
    };
    let (x0, x1) = axis_range(finite_range(xt.iter().copied()), 0.03);
    let (y0, y1) = axis_range(finite_range(y.iter().copied()), 0.05);
    let mut chart = ChartBuilder::on(area)
        .margin(st.gap * 2)
        .x_label_area_size(st.x_labels)
        .y_label_area_size(st.y_labels)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(failed)?;
    let fmt_x = |v: &f64| tick(*v, x0, x1);
    let fmt_y = |v: &f64| tick(*v, y0, y1);
    let fmt_log = |v: &f64| number(10f64.powf(*v));
    let x_desc = if log_x {
        format!("{x_label} (log scale)")
    } else {
        x_label.to_string()
    };
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(if log_x { &fmt_log } else { &fmt_x })
        .y_label_formatter(&fmt_y)
        .label_style(st.labels())
        .axis_desc_style(st.desc())
        .bold_line_style(RGBColor(220, 220, 220))
        .max_light_lines(0)
        .x_desc(x_desc)
        .y_desc(value_label)
        .draw()
        .map_err(failed)?;
    let colour = colour::line(0);
    for seg in segments(&xt, y, usize::MAX / 8) {
        chart
            .draw_series(LineSeries::new(seg.clone(), colour.stroke_width(st.line)))
            .map_err(failed)?;
        chart
            .draw_series(
                seg.into_iter()
                    .map(|p| Circle::new(p, st.marker, colour.filled())),
            )
            .map_err(failed)?;
    }
    Ok(format!("{value_label} over {x_label} ({} points)", x.len()))
}

/// A statistic over a full grid of two swept axes.
fn heat_map<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    (x_label, xs): (&str, &[f64]),
    (y_label, ys): (&str, &[f64]),
    values: &[f64],
    value_label: &str,
    st: &Style,
    patches: &mut Vec<Patch>,
) -> Result<String, PlotError>
where
    DB::ErrorType: 'static,
{
    let (nx, ny) = (xs.len(), ys.len());
    let (main, bar) = beside_colour_bar(area, st);
    let x_ticks: Vec<f64> = index_ticks(nx, 8).into_iter().map(|i| i as f64).collect();
    let y_ticks: Vec<f64> = index_ticks(ny, 8).into_iter().map(|i| i as f64).collect();
    let mut chart = ChartBuilder::on(&main)
        .margin_top(st.gap)
        .margin_left(st.gap)
        .x_label_area_size(st.x_labels)
        .y_label_area_size(st.y_labels)
        .build_cartesian_2d(ticked(nx, x_ticks), ticked(ny, y_ticks))
        .map_err(failed)?;
    let value_at = |values: &[f64], v: f64| {
        let i = v.round().max(0.0) as usize;
        let lo = values.first().copied().unwrap_or(0.0);
        let hi = values.last().copied().unwrap_or(1.0);
        // Swept values exactly enough: four significant digits, or more where the axis is
        // finer than that.
        values
            .get(i)
            .map(|x| {
                let (a, b) = (number(*x), tick(*x, lo, hi));
                if b.len() > a.len() { b } else { a }
            })
            .unwrap_or_default()
    };
    let fmt_x = |v: &f64| value_at(xs, *v);
    let fmt_y = |v: &f64| value_at(ys, *v);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .label_style(st.labels())
        .axis_desc_style(st.desc())
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(failed)?;
    // Row 0 at the top: the largest y.
    image(
        chart.plotting_area(),
        &bar,
        (ny, nx),
        |r, c| values[(ny - 1 - r) * nx + c],
        value_label,
        st.x_labels,
        st,
        patches,
    )?;
    Ok(format!(
        "{value_label} over {x_label} ({nx}) × {y_label} ({ny})"
    ))
}

/// A statistic at instances that are not a grid: points coloured by value.
fn scatter<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    x_label: &str,
    y_label: &str,
    points: &[(f64, f64, f64)],
    value_label: &str,
    st: &Style,
) -> Result<String, PlotError>
where
    DB::ErrorType: 'static,
{
    let (main, bar) = beside_colour_bar(area, st);
    let (x0, x1) = axis_range(finite_range(points.iter().map(|p| p.0)), 0.03);
    let (y0, y1) = axis_range(finite_range(points.iter().map(|p| p.1)), 0.03);
    let mut chart = ChartBuilder::on(&main)
        .margin_top(st.gap)
        .margin_left(st.gap)
        .x_label_area_size(st.x_labels)
        .y_label_area_size(st.y_labels)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(failed)?;
    let fmt_x = |v: &f64| tick(*v, x0, x1);
    let fmt_y = |v: &f64| tick(*v, y0, y1);
    chart
        .configure_mesh()
        .x_labels(8)
        .y_labels(6)
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .label_style(st.labels())
        .axis_desc_style(st.desc())
        .bold_line_style(RGBColor(220, 220, 220))
        .max_light_lines(0)
        .x_desc(x_label)
        .y_desc(y_label)
        .draw()
        .map_err(failed)?;
    let (lo, hi) = finite_range(points.iter().map(|p| p.2)).unwrap_or((0.0, 1.0));
    let finite: Vec<&(f64, f64, f64)> = points.iter().filter(|p| p.2.is_finite()).collect();
    chart
        .draw_series(
            finite
                .iter()
                .map(|p| Circle::new((p.0, p.1), st.marker + 1, viridis(p.2, lo, hi).filled())),
        )
        .map_err(failed)?;
    colour_bar(&bar, lo, hi, value_label, st.x_labels, st)?;
    Ok(format!(
        "{value_label} at {} points of {x_label} × {y_label}",
        finite.len()
    ))
}

/// A 2-D array as an image, row 0 at the top.
fn matrix<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    name: &str,
    rows: usize,
    cols: usize,
    data: &[f64],
    st: &Style,
    patches: &mut Vec<Patch>,
) -> Result<String, PlotError>
where
    DB::ErrorType: 'static,
{
    let (main, bar) = beside_colour_bar(area, st);
    let x_ticks: Vec<f64> = index_ticks(cols, 10)
        .into_iter()
        .map(|i| i as f64)
        .collect();
    let y_ticks = row_ticks(rows, 10);
    let mut chart = ChartBuilder::on(&main)
        .margin_top(st.gap)
        .margin_left(st.gap)
        .x_label_area_size(st.x_labels)
        .y_label_area_size(st.y_labels)
        .build_cartesian_2d(ticked(cols, x_ticks), ticked(rows, y_ticks))
        .map_err(failed)?;
    let col_of = |v: &f64| format!("{}", v.round().max(0.0));
    let row_of = |v: &f64| format!("{}", (rows as f64 - 1.0 - v.round()).max(0.0));
    chart
        .configure_mesh()
        .disable_mesh()
        .x_label_formatter(&col_of)
        .y_label_formatter(&row_of)
        .label_style(st.labels())
        .axis_desc_style(st.desc())
        .x_desc("column")
        .y_desc("row")
        .draw()
        .map_err(failed)?;
    image(
        chart.plotting_area(),
        &bar,
        (rows, cols),
        |r, c| data.get(r * cols + c).copied().unwrap_or(f64::NAN),
        name,
        st.x_labels,
        st,
        patches,
    )?;
    Ok(format!("`{name}` ({rows} × {cols})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_finite_and_wide() {
        for r in [
            None,
            Some((1.0, 1.0)),
            Some((0.0, 0.0)),
            Some((-f64::MAX, f64::MAX)),
            Some((5e-324, 5e-324)),
            Some((1e300, 1e300)),
        ] {
            let (lo, hi) = axis_range(r, 0.05);
            assert!(lo.is_finite() && hi.is_finite() && hi > lo, "{r:?}");
            assert!((hi - lo).is_finite());
        }
    }

    #[test]
    fn index_ticks_are_few_and_round() {
        assert_eq!(index_ticks(5, 8), vec![0, 1, 2, 3, 4]);
        assert_eq!(index_ticks(68, 8), vec![0, 10, 20, 30, 40, 50, 60]);
        assert_eq!(index_ticks(16, 8), vec![0, 2, 4, 6, 8, 10, 12, 14]);
        assert!(index_ticks(1_000_000, 8).len() <= 8);
        assert_eq!(index_ticks(0, 8), Vec::<usize>::new());
    }

    #[test]
    fn segments_break_at_non_finite_values_and_thin_long_runs() {
        let x: Vec<f64> = (0..10).map(f64::from).collect();
        let mut y = x.clone();
        y[4] = f64::NAN;
        let s = segments(&x, &y, 100);
        assert_eq!(s.len(), 2);
        assert_eq!((s[0].len(), s[1].len()), (4, 5));
        let x: Vec<f64> = (0..10_000).map(f64::from).collect();
        let s = segments(&x, &x, 10);
        assert!(s[0].len() <= 20);
        assert_eq!(s[0].last(), Some(&(9999.0, 9999.0)));
    }
}
