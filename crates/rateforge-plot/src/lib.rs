//! # rateforge-plot
//!
//! Figures of rateforge results, as PNG or SVG files, drawn with `plotters` and a font built into
//! the library (DejaVu Sans, `fonts/`), so they need no system fonts.
//!
//! What is drawn is chosen from the content (see [`render`]):
//! * **traces**: one panel per recorded variable against time, instances and nodes overlaid as
//!   lines, or, beyond 16 of them, an image (node × time, colour = value) with a colour bar;
//! * **sweeps** (a file with `grid/<path>` arrays): a statistic (`mean` unless
//!   [`PlotOptions::stat`] says otherwise) as a heat map over two swept axes, as a line over one,
//!   or, when the instances are not a full grid (random samples), as a scatter coloured by value;
//! * **matrices** (a 2-D array such as a connectivity's weights, [`PlotOptions::matrix`]): an
//!   image with a colour bar.
//!
//! [`plot_npz`] reads an `.npz` file; [`plot`] and [`render`] take the arrays in memory (a
//! [`Dataset`], e.g. [`Dataset::from_result`] of a run). Non-finite values are left out and
//! counted in the [`PlotSummary`]; no input, however damaged, makes the library panic.

mod colour;
mod draw;
mod figure;
mod npz;
mod raster;

pub use npz::read_npz;
use rateforge_rt::RunResult;
use rateforge_rt::output::NpzArray;
use std::fmt;
use std::path::Path;

/// The smallest figure side, in pixels.
pub const MIN_SIZE: u32 = 320;
/// The largest figure side, in pixels.
pub const MAX_SIZE: u32 = 8000;

/// The arrays of a result and its metadata: what a figure is drawn from.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// The arrays, by name (`time`, recorded paths, `<stat>/<path>`, `grid/<path>`, ...).
    pub arrays: Vec<NpzArray>,
    /// The run's metadata (model name, recorded paths, ...), when there is one.
    pub metadata: Option<serde_json::Value>,
    /// A name for titles when there is no metadata (the file's stem).
    pub source: String,
    /// What reading left out (arrays of other types, metadata that is not JSON).
    pub notes: Vec<String>,
}

impl Dataset {
    /// The arrays and metadata of a run, as its `.npz` file would hold them.
    pub fn from_result(result: &RunResult) -> Self {
        Dataset {
            arrays: result
                .array_names()
                .iter()
                .filter_map(|name| result.npz_array(name))
                .collect(),
            metadata: Some(result.metadata.clone()),
            source: String::new(),
            notes: Vec::new(),
        }
    }

    /// The array called `name`.
    pub fn get(&self, name: &str) -> Option<&NpzArray> {
        self.arrays.iter().find(|a| a.name == name)
    }
}

/// The format of a figure file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A PNG image.
    Png,
    /// An SVG drawing (text as text; images embedded as PNG).
    Svg,
}

impl Format {
    /// The format a file name asks for: `.png` or `.svg` (any case).
    pub fn from_path(path: &Path) -> Result<Format, PlotError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("png") => Ok(Format::Png),
            Some("svg") => Ok(Format::Svg),
            _ => Err(PlotError::input(
                format!("cannot tell the figure format of `{}`", path.display()),
                "name the figure `.png` or `.svg`, e.g. `-o figure.png`",
            )),
        }
    }
}

/// A statistic of a sweep (the `<stat>/<path>` arrays).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Stat {
    /// The last sample.
    Last,
    /// The mean over the samples after the transient.
    #[default]
    Mean,
    /// The (population) variance.
    Var,
    /// The smallest sample.
    Min,
    /// The largest sample.
    Max,
    /// The time above the threshold.
    Above,
}

impl Stat {
    /// Every statistic, in the order the files hold them.
    pub const ALL: [Stat; 6] = [
        Stat::Last,
        Stat::Mean,
        Stat::Var,
        Stat::Min,
        Stat::Max,
        Stat::Above,
    ];

    /// The name in array names (`mean` in `mean/p/qif_op/r`).
    pub fn name(self) -> &'static str {
        match self {
            Stat::Last => "last",
            Stat::Mean => "mean",
            Stat::Var => "var",
            Stat::Min => "min",
            Stat::Max => "max",
            Stat::Above => "above",
        }
    }

    /// How an axis names it: `mean of p/qif_op/r`, `time above threshold of ...`.
    fn describe(self) -> &'static str {
        match self {
            Stat::Last => "last value",
            Stat::Mean => "mean",
            Stat::Var => "variance",
            Stat::Min => "minimum",
            Stat::Max => "maximum",
            Stat::Above => "time above threshold",
        }
    }
}

impl std::str::FromStr for Stat {
    type Err = PlotError;

    fn from_str(s: &str) -> Result<Self, PlotError> {
        Stat::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                PlotError::input(
                    format!("`{s}` is not a statistic"),
                    "use last, mean, var, min, max or above",
                )
            })
    }
}

/// What to draw and how large.
#[derive(Clone, Debug)]
pub struct PlotOptions {
    /// The statistic of a sweep (default: `mean`); an error for a file that is not a sweep.
    pub stat: Option<Stat>,
    /// The one variable to draw (a recorded path); default: every recorded variable (traces) or
    /// the first (sweeps).
    pub var: Option<String>,
    /// Draw this 2-D array as a matrix image instead.
    pub matrix: Option<String>,
    /// Width in pixels ([`MIN_SIZE`] to [`MAX_SIZE`]).
    pub width: u32,
    /// Height in pixels ([`MIN_SIZE`] to [`MAX_SIZE`]).
    pub height: u32,
}

impl Default for PlotOptions {
    fn default() -> Self {
        PlotOptions {
            stat: None,
            var: None,
            matrix: None,
            width: 1200,
            height: 800,
        }
    }
}

/// The kind of figure drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlotKind {
    /// Recorded variables against time (lines, or images for many nodes or instances).
    Traces,
    /// A statistic of a sweep over two swept axes, a full grid.
    HeatMap,
    /// A statistic of a sweep over one swept axis.
    Line,
    /// A statistic of a sweep whose instances are not a full grid.
    Scatter,
    /// A 2-D array as an image.
    Matrix,
}

/// What a figure shows.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotSummary {
    /// The file format.
    pub format: Format,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// The kind of figure.
    pub kind: PlotKind,
    /// The title.
    pub title: String,
    /// One line per panel: what it shows (`p/qif_op/r: 1 line`, `mean of p/qif_op/r over ...`).
    pub panels: Vec<String>,
    /// Values left out because they are NaN or infinite.
    pub non_finite: usize,
    /// Anything else worth knowing (arrays left out, averages taken, variables not drawn).
    pub notes: Vec<String>,
}

impl PlotSummary {
    /// One line: `drew a heat map of mean of p/qif_op/r over p/qif_op/eta and ...`.
    pub fn describe(&self) -> String {
        let what = match self.kind {
            PlotKind::Traces => "traces",
            PlotKind::HeatMap => "a heat map",
            PlotKind::Line => "a line",
            PlotKind::Scatter => "a scatter plot",
            PlotKind::Matrix => "a matrix",
        };
        format!("{what}: {}", self.panels.join("; "))
    }
}

/// Whose fault an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The input or an option is wrong (a missing or damaged file, an unknown variable, a bad
    /// output path): the command line exits with status 2.
    Usage,
    /// The machinery failed (a full disk, a drawing error): status 1.
    Failed,
}

/// Why a figure could not be drawn: a message and a help line.
#[derive(Clone, Debug, PartialEq)]
pub struct PlotError {
    /// Whose fault it is.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub help: String,
}

impl PlotError {
    /// A mistake in the input or the options.
    pub fn input(message: impl Into<String>, help: impl Into<String>) -> Self {
        PlotError {
            kind: ErrorKind::Usage,
            message: message.into(),
            help: help.into(),
        }
    }

    /// A failure of the machinery.
    pub fn failed(message: impl Into<String>, help: impl Into<String>) -> Self {
        PlotError {
            kind: ErrorKind::Failed,
            message: message.into(),
            help: help.into(),
        }
    }

    /// The command line's exit status: 2 for a mistake in the input, 1 for a failure.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            ErrorKind::Usage => 2,
            ErrorKind::Failed => 1,
        }
    }
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}\n  = help: {}", self.message, self.help)
    }
}

impl std::error::Error for PlotError {}

/// Checks the figure size of the options.
fn check_size(options: &PlotOptions) -> Result<(), PlotError> {
    for (what, v) in [("width", options.width), ("height", options.height)] {
        if !(MIN_SIZE..=MAX_SIZE).contains(&v) {
            return Err(PlotError::input(
                format!("a figure {what} of {v} pixels is out of range"),
                format!("give {MIN_SIZE} to {MAX_SIZE} pixels, e.g. `--{what} 800`"),
            ));
        }
    }
    Ok(())
}

/// Draws `data` as a figure in `format`: the file's bytes, and what they show.
pub fn render(
    data: &Dataset,
    format: Format,
    options: &PlotOptions,
) -> Result<(Vec<u8>, PlotSummary), PlotError> {
    check_size(options)?;
    let figure = figure::choose(data, options)?;
    let (bytes, drawn) = draw::render(&figure, format, options.width, options.height)?;
    let mut notes = data.notes.clone();
    notes.extend(figure.notes.iter().cloned());
    notes.extend(drawn.notes);
    Ok((
        bytes,
        PlotSummary {
            format,
            width: options.width,
            height: options.height,
            kind: figure.kind,
            title: figure.title.clone(),
            panels: drawn.panels,
            non_finite: figure.non_finite,
            notes,
        },
    ))
}

/// Draws `data` into the file `output` (`.png` or `.svg`, by its extension), written
/// atomically: a failure leaves no half-written file.
pub fn plot(
    data: &Dataset,
    output: &Path,
    options: &PlotOptions,
) -> Result<PlotSummary, PlotError> {
    let format = Format::from_path(output)?;
    let (bytes, summary) = render(data, format, options)?;
    write_atomically(output, &bytes)?;
    Ok(summary)
}

/// Reads the `.npz` file `input` (or an `.npy` array) and draws it into `output` (`.png` or
/// `.svg`): [`read_npz`] and [`plot`].
pub fn plot_npz(
    input: &Path,
    output: &Path,
    options: &PlotOptions,
) -> Result<PlotSummary, PlotError> {
    // The cheap checks before reading a large file.
    Format::from_path(output)?;
    check_size(options)?;
    let data = read_npz(input)?;
    plot(&data, output, options)
}

/// Writes `bytes` to a temporary file beside `path` and renames it over `path`.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PlotError> {
    use std::io::Write;
    let cannot = |e: std::io::Error| {
        PlotError::input(
            format!("cannot write `{}`: {e}", path.display()),
            "choose a writable path in a directory that exists",
        )
    };
    let failed = |e: std::io::Error| {
        PlotError::failed(
            format!("writing `{}` failed: {e}", path.display()),
            "check the free space of the disk",
        )
    };
    let Some(name) = path.file_name() else {
        return Err(PlotError::input(
            format!("`{}` names no file", path.display()),
            "give a file name, e.g. `-o figure.png`",
        ));
    };
    if path.is_dir() {
        return Err(PlotError::input(
            format!("cannot write `{}`: it is a directory", path.display()),
            "give a file name, e.g. `-o figure.png`",
        ));
    }
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.partial", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let mut file = std::fs::File::create(&temp).map_err(cannot)?;
    let written = file
        .write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(failed)
        .and_then(|()| std::fs::rename(&temp, path).map_err(cannot));
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}
