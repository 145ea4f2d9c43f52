//! Choosing what to draw from a [`Dataset`]: traces, a sweep's statistic or a matrix, with the
//! data arranged for drawing, labels and a title.

use crate::{Dataset, PlotError, PlotKind, PlotOptions, Stat};
use rateforge_rt::output::NpzArray;

/// Series of one panel beyond which it is drawn as an image instead of lines.
pub const MAX_LINES: usize = 16;
/// Panels of traces drawn at most (the rest are named in a note).
const MAX_PANELS: usize = 8;
/// Series that get a legend at most.
pub const MAX_LEGEND: usize = 8;

/// A figure, ready to draw.
pub struct Figure {
    /// The kind.
    pub kind: PlotKind,
    /// The title.
    pub title: String,
    /// The data.
    pub content: Content,
    /// Values left out as NaN or infinite.
    pub non_finite: usize,
    /// Notes for the summary.
    pub notes: Vec<String>,
}

/// What a figure shows.
pub enum Content {
    /// Panels of recorded variables against time.
    Traces {
        /// Sample times.
        time: Vec<f64>,
        /// One panel per variable.
        panels: Vec<TracePanel>,
    },
    /// A statistic over swept values.
    Sweep {
        /// The colour bar or y-axis label (`mean of p/qif_op/r`).
        value_label: String,
        /// How it is laid out.
        layout: SweepLayout,
    },
    /// A 2-D array.
    Matrix {
        /// The array's name.
        name: String,
        /// Rows.
        rows: usize,
        /// Columns.
        cols: usize,
        /// Row-major values.
        data: Vec<f64>,
    },
}

/// One recorded variable.
pub struct TracePanel {
    /// The recorded path.
    pub path: String,
    /// One series per node and instance, each as long as the time axis.
    pub series: Vec<Series>,
    /// Drawn as an image (rows = series) rather than lines.
    pub image: bool,
    /// What an image's rows are (`node`, `instance`, `node, instance`).
    pub rows_label: String,
    /// The unit the model gives the variable, if any.
    pub unit: Option<String>,
}

impl TracePanel {
    /// The axis (or colour bar) label: the path, with its unit in brackets.
    pub fn axis_label(&self) -> String {
        match &self.unit {
            Some(u) => format!("{} [{u}]", self.path),
            None => self.path.clone(),
        }
    }
}

/// One line.
pub struct Series {
    /// Its legend (`node 3`, `p/qif_op/eta = -5`).
    pub label: String,
    /// Its values.
    pub values: Vec<f64>,
}

/// A statistic over the swept values.
pub enum SweepLayout {
    /// Over one axis (sorted by x).
    Line {
        /// The swept path.
        x_label: String,
        /// Swept values.
        x: Vec<f64>,
        /// The statistic.
        y: Vec<f64>,
        /// Whether x is evenly spaced in its logarithm.
        log_x: bool,
    },
    /// Over a full grid of two axes.
    HeatMap {
        /// The first swept path (x).
        x_label: String,
        /// The second (y).
        y_label: String,
        /// The distinct values of x, sorted.
        xs: Vec<f64>,
        /// The distinct values of y, sorted.
        ys: Vec<f64>,
        /// `values[iy * xs.len() + ix]`, NaN where no finite value fell.
        values: Vec<f64>,
    },
    /// Instances that are not a grid.
    Scatter {
        /// The first swept path (x).
        x_label: String,
        /// The second (y).
        y_label: String,
        /// Points: x, y and the value.
        points: Vec<(f64, f64, f64)>,
    },
}

/// Names the statistics take in array names.
fn stat_of(name: &str) -> Option<(Stat, &str)> {
    let (stat, path) = name.split_once('/')?;
    Stat::ALL
        .into_iter()
        .find(|s| s.name() == stat)
        .map(|s| (s, path))
}

/// The model's name, for titles.
fn model_name(data: &Dataset) -> String {
    let meta = data.metadata.as_ref();
    let text = |key: &str| {
        meta.and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    text("model_name")
        .or_else(|| text("model"))
        .or_else(|| Some(data.source.clone()).filter(|s| !s.is_empty()))
        .unwrap_or_else(|| "rateforge result".to_string())
}

/// The unit the metadata gives `path` (`units` of a run's metadata), if any.
fn unit_of(data: &Dataset, path: &str) -> Option<String> {
    data.metadata
        .as_ref()
        .and_then(|m| m.get("units"))
        .and_then(|u| u.get(path))
        .and_then(|u| u.as_str())
        .map(str::to_string)
}

/// The metadata's `recorded` list.
fn recorded(data: &Dataset) -> Vec<String> {
    data.metadata
        .as_ref()
        .and_then(|m| m.get("recorded"))
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether the metadata says the model is a network (`network` is not null).
fn is_network(data: &Dataset) -> Option<bool> {
    data.metadata
        .as_ref()
        .filter(|m| m.is_object())
        .map(|m| m.get("network").is_some_and(|n| !n.is_null()))
}

fn listing(names: &[String]) -> String {
    const SHOWN: usize = 8;
    let mut text: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
    if names.len() > SHOWN {
        text.push(format!("and {} more", names.len() - SHOWN));
    }
    if text.is_empty() {
        "none".to_string()
    } else {
        text.join(", ")
    }
}

/// A text fit to draw: control characters (which SVG cannot hold) replaced, at most 200
/// characters.
fn clean(text: &mut String) {
    if text.chars().any(char::is_control) || text.chars().count() > 200 {
        let mut t: String = text
            .chars()
            .take(200)
            .map(|c| if c.is_control() { '\u{fffd}' } else { c })
            .collect();
        if text.chars().count() > 200 {
            t.push('…');
        }
        *text = t;
    }
}

/// Chooses what to draw, with every text fit to draw.
pub fn choose(data: &Dataset, options: &PlotOptions) -> Result<Figure, PlotError> {
    let mut figure = choose_figure(data, options)?;
    clean(&mut figure.title);
    match &mut figure.content {
        Content::Traces { panels, .. } => {
            for p in panels {
                clean(&mut p.path);
                clean(&mut p.rows_label);
                for s in &mut p.series {
                    clean(&mut s.label);
                }
            }
        }
        Content::Sweep {
            value_label,
            layout,
        } => {
            clean(value_label);
            match layout {
                SweepLayout::Line { x_label, .. } => clean(x_label),
                SweepLayout::HeatMap {
                    x_label, y_label, ..
                }
                | SweepLayout::Scatter {
                    x_label, y_label, ..
                } => {
                    clean(x_label);
                    clean(y_label);
                }
            }
        }
        Content::Matrix { name, .. } => clean(name),
    }
    Ok(figure)
}

fn choose_figure(data: &Dataset, options: &PlotOptions) -> Result<Figure, PlotError> {
    if let Some(name) = &options.matrix {
        return matrix(data, name, options);
    }
    let grids: Vec<&NpzArray> = data
        .arrays
        .iter()
        .filter(|a| a.name.starts_with("grid/") && a.imag.is_none())
        .collect();
    let has_stats = data
        .arrays
        .iter()
        .any(|a| a.imag.is_none() && stat_of(&a.name).is_some());
    let mut notes = Vec::new();
    if !grids.is_empty() {
        if has_stats {
            return sweep(data, &grids, options);
        }
        notes.push("the sweep holds no statistics: its traces are drawn".to_string());
    }
    if let Some(stat) = options.stat {
        return Err(PlotError::input(
            format!(
                "`--stat {}` draws a statistic of a sweep, and this file is not one",
                stat.name()
            ),
            "leave out `--stat` to draw the traces, or plot the `.npz` file of `rateforge sweep`",
        ));
    }
    if let Some(mut figure) = traces(data, options)? {
        notes.append(&mut figure.notes);
        figure.notes = notes;
        return Ok(figure);
    }
    // A file of matrices (a connectivity saved with numpy): the first 2-D array.
    let square: Vec<String> = data
        .arrays
        .iter()
        .filter(|a| a.imag.is_none() && a.shape.len() == 2)
        .map(|a| a.name.clone())
        .collect();
    if let Some(first) = square.first() {
        let mut figure = matrix(data, first, options)?;
        if square.len() > 1 {
            figure.notes.push(format!(
                "drew `{first}`; `--matrix NAME` draws another of {}",
                listing(&square[1..])
            ));
        }
        return Ok(figure);
    }
    let names: Vec<String> = data.arrays.iter().map(|a| a.name.clone()).collect();
    let stats_only = data.arrays.iter().any(|a| stat_of(&a.name).is_some());
    Err(PlotError::input(
        format!(
            "nothing to plot in `{}`: no traces (`time` and recorded paths), no sweep (`grid/` arrays) and no 2-D array; it holds {}",
            if data.source.is_empty() {
                "the result"
            } else {
                &data.source
            },
            listing(&names)
        ),
        if stats_only {
            "a run with `--no-trace` keeps statistics only: run it without `--no-trace`, or sweep to plot statistics"
        } else {
            "plot the `.npz` file that `rateforge run -o` or `rateforge sweep -o` wrote"
        },
    ))
}

/// Traces: `None` when the file holds none.
fn traces(data: &Dataset, options: &PlotOptions) -> Result<Option<Figure>, PlotError> {
    let Some(time) = data.get("time").filter(|t| t.imag.is_none()) else {
        if let Some(var) = &options.var {
            return Err(PlotError::input(
                format!("`--var {var}`: the file holds no traces (no `time` array)"),
                "record a trace: leave out `--no-trace`",
            ));
        }
        return Ok(None);
    };
    let samples = time.data.len();
    let is_trace = |a: &NpzArray| {
        a.name != "time"
            && !a.name.starts_with("grid/")
            && a.name != "steps_done"
            && stat_of(&a.name).is_none()
            && a.shape.first() == Some(&samples)
            && samples > 0
    };
    // The recorded order when the metadata gives it, else the file's.
    let order = recorded(data);
    let mut candidates: Vec<&NpzArray> = order
        .iter()
        .filter_map(|p| data.get(p))
        .filter(|a| is_trace(a))
        .collect();
    for a in data.arrays.iter().filter(|a| is_trace(a)) {
        if !candidates.iter().any(|c| c.name == a.name) {
            candidates.push(a);
        }
    }
    let mut notes = Vec::new();
    let complex: Vec<String> = candidates
        .iter()
        .filter(|a| a.imag.is_some())
        .map(|a| a.name.clone())
        .collect();
    candidates.retain(|a| a.imag.is_none());
    let real_names: Vec<String> = candidates.iter().map(|a| a.name.clone()).collect();
    if let Some(var) = &options.var {
        if complex.contains(var) {
            return Err(PlotError::input(
                format!("`{var}` is complex"),
                format!("plot its parts: `--var {var}.re` or `--var {var}.im`"),
            ));
        }
        candidates.retain(|a| &a.name == var);
        if candidates.is_empty() {
            return Err(PlotError::input(
                format!("`{var}` is not a recorded variable of the file"),
                format!("the file records {}", listing(&real_names)),
            ));
        }
    } else {
        for c in &complex {
            let parts = [format!("{c}.re"), format!("{c}.im")];
            if parts.iter().all(|p| real_names.contains(p)) {
                notes.push(format!(
                    "`{c}` is complex: its parts `{c}.re` and `{c}.im` are drawn"
                ));
            } else {
                notes.push(format!(
                    "left out `{c}` (complex; record `{c}` to get `{c}.re` and `{c}.im`)"
                ));
            }
        }
    }
    if candidates.is_empty() {
        return Ok(None);
    }
    if candidates.len() > MAX_PANELS {
        let rest: Vec<String> = candidates[MAX_PANELS..]
            .iter()
            .map(|a| a.name.clone())
            .collect();
        notes.push(format!(
            "drew the first {MAX_PANELS} of {} variables; `--var PATH` draws one of the others: {}",
            candidates.len(),
            listing(&rest)
        ));
        candidates.truncate(MAX_PANELS);
    }
    let network = is_network(data);
    let grids: Vec<&NpzArray> = data
        .arrays
        .iter()
        .filter(|a| a.name.starts_with("grid/") && a.imag.is_none())
        .collect();
    let mut non_finite = 0;
    let mut panels = Vec::new();
    let mut nodes_seen = 0;
    for a in candidates {
        let rest = &a.shape[1..];
        let stride = rest
            .iter()
            .try_fold(1usize, |n, &d| n.checked_mul(d))
            .unwrap_or(0);
        if stride == 0 || Some(a.data.len()) != samples.checked_mul(stride) {
            notes.push(format!(
                "left out `{}` (its shape {:?} is empty)",
                a.name, a.shape
            ));
            continue;
        }
        // What the axes after the samples are.
        let axes: Vec<&str> = match (network, rest.len()) {
            (_, 0) => vec![],
            (Some(true), 1) => vec!["node"],
            (Some(true), 2) => vec!["node", "instance"],
            (Some(false), 1) => vec!["instance"],
            (None, 2) => vec!["node", "instance"],
            _ => vec!["column"; rest.len()],
        };
        if let Some(k) = axes.iter().position(|a| *a == "node") {
            nodes_seen = rest[k];
        }
        let label = |j: usize| -> String {
            if rest.is_empty() {
                return a.name.clone();
            }
            // The index along each axis.
            let mut index = vec![0; rest.len()];
            let mut r = j;
            for (i, d) in index.iter_mut().zip(rest).rev() {
                *i = r % d;
                r /= d;
            }
            let parts: Vec<String> = axes
                .iter()
                .zip(&index)
                .map(|(axis, &i)| {
                    if *axis == "instance" && !grids.is_empty() {
                        let values: Vec<String> = grids
                            .iter()
                            .filter(|g| g.data.len() == *rest.last().unwrap_or(&0))
                            .map(|g| {
                                let path = &g.name["grid/".len()..];
                                format!("{path} = {}", crate::colour::number(g.data[i]))
                            })
                            .collect();
                        if !values.is_empty() {
                            return values.join(", ");
                        }
                    }
                    format!("{axis} {i}")
                })
                .collect();
            parts.join(", ")
        };
        let mut series: Vec<Series> = (0..stride)
            .map(|j| Series {
                label: label(j),
                values: Vec::with_capacity(samples),
            })
            .collect();
        for s in 0..samples {
            for (j, out) in series.iter_mut().enumerate() {
                out.values.push(a.data[s * stride + j]);
            }
        }
        non_finite += a.data.iter().filter(|v| !v.is_finite()).count();
        let mut unique_axes = axes.clone();
        unique_axes.dedup();
        panels.push(TracePanel {
            path: a.name.clone(),
            unit: unit_of(data, &a.name),
            image: stride > MAX_LINES,
            rows_label: if unique_axes.is_empty() {
                "series".into()
            } else {
                unique_axes.join(", ")
            },
            series,
        });
    }
    if panels.is_empty() {
        return Ok(None);
    }
    let mut title = model_name(data);
    if nodes_seen > 1 {
        title = format!("{title} ({nodes_seen} nodes)");
    }
    if data
        .metadata
        .as_ref()
        .and_then(|m| m.get("partial"))
        .and_then(|p| p.as_bool())
        == Some(true)
    {
        title.push_str(", interrupted");
        notes.push("the run was interrupted: samples it did not reach are NaN".into());
    }
    Ok(Some(Figure {
        kind: PlotKind::Traces,
        title,
        content: Content::Traces {
            time: time.data.clone(),
            panels,
        },
        non_finite,
        notes,
    }))
}

/// A 2-D array.
fn matrix(data: &Dataset, name: &str, _options: &PlotOptions) -> Result<Figure, PlotError> {
    let two_d: Vec<String> = data
        .arrays
        .iter()
        .filter(|a| a.shape.len() == 2 && a.imag.is_none())
        .map(|a| a.name.clone())
        .collect();
    let Some(a) = data.get(name) else {
        return Err(PlotError::input(
            format!("the file has no array `{name}`"),
            format!("its 2-D arrays: {}", listing(&two_d)),
        ));
    };
    if a.imag.is_some() {
        return Err(PlotError::input(
            format!("`{name}` is complex"),
            "a matrix to draw is real: plot its real or imaginary part saved as its own array",
        ));
    }
    if a.shape.len() != 2
        || a.shape.contains(&0)
        || a.shape[0].checked_mul(a.shape[1]) != Some(a.data.len())
    {
        return Err(PlotError::input(
            format!(
                "`{name}` is not a matrix: its shape is ({})",
                a.shape
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            format!(
                "`--matrix` draws a non-empty 2-D array, such as a connectivity's weights; the file's 2-D arrays: {}",
                listing(&two_d)
            ),
        ));
    }
    let model = data
        .metadata
        .as_ref()
        .map(|_| model_name(data))
        .filter(|m| m != name);
    let title = match model {
        Some(m) => format!("{m}: {name}"),
        None => name.to_string(),
    };
    Ok(Figure {
        kind: PlotKind::Matrix,
        title,
        content: Content::Matrix {
            name: name.to_string(),
            rows: a.shape[0],
            cols: a.shape[1],
            data: a.data.clone(),
        },
        non_finite: a.data.iter().filter(|v| !v.is_finite()).count(),
        notes: Vec::new(),
    })
}

/// Distinct values, sorted (NaN and infinities left out).
fn distinct(values: &[f64]) -> Vec<f64> {
    let mut u: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    u.sort_by(f64::total_cmp);
    u.dedup();
    u
}

/// Whether sorted distinct values are evenly spaced in their logarithm and not linearly.
pub fn log_spaced(u: &[f64]) -> bool {
    if u.len() < 3 || u[0] <= 0.0 {
        return false;
    }
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs());
    let ratio = u[1] / u[0];
    let step = u[1] - u[0];
    ratio > 1.0 + 1e-9
        && u.windows(2).all(|w| close(w[1] / w[0], ratio))
        && !u.windows(2).all(|w| close(w[1] - w[0], step))
}

/// A sweep's statistic.
fn sweep(data: &Dataset, grids: &[&NpzArray], options: &PlotOptions) -> Result<Figure, PlotError> {
    let stat = options.stat.unwrap_or_default();
    let n = grids[0].data.len();
    if n == 0 || grids.iter().any(|g| g.data.len() != n) {
        return Err(PlotError::input(
            "the `grid/` arrays of the file differ in length (or are empty)",
            "each holds one value per instance; the file may be damaged: write it again",
        ));
    }
    // The variables with statistics, in the recorded order.
    let mut vars: Vec<String> = recorded(data)
        .into_iter()
        .filter(|p| {
            data.arrays
                .iter()
                .any(|a| stat_of(&a.name).is_some_and(|(_, q)| q == p))
        })
        .collect();
    for a in &data.arrays {
        if let Some((_, p)) = stat_of(&a.name)
            && !vars.iter().any(|v| v == p)
        {
            vars.push(p.to_string());
        }
    }
    let var = match &options.var {
        Some(v) if vars.contains(v) => v.clone(),
        Some(v) => {
            return Err(PlotError::input(
                format!("the sweep has no statistics of `{v}`"),
                format!("it has statistics of {}", listing(&vars)),
            ));
        }
        None => vars.first().cloned().unwrap_or_default(),
    };
    let name = format!("{}/{var}", stat.name());
    let Some(array) = data.get(&name).filter(|a| a.imag.is_none()) else {
        let have: Vec<String> = Stat::ALL
            .into_iter()
            .filter(|s| data.get(&format!("{}/{var}", s.name())).is_some())
            .map(|s| s.name().to_string())
            .collect();
        return Err(PlotError::input(
            format!("the sweep has no `{name}`"),
            format!("its statistics of `{var}`: {}", listing(&have)),
        ));
    };
    let mut notes = Vec::new();
    let total = array.data.len();
    if total == 0 || total % n != 0 {
        return Err(PlotError::input(
            format!(
                "`{name}` holds {total} values, which is not a whole number per instance ({n} instances)"
            ),
            "the file may be damaged: write it again",
        ));
    }
    // One value per instance: the mean over the nodes of a network.
    let groups = total / n;
    let values: Vec<f64> = (0..n)
        .map(|i| {
            let finite: Vec<f64> = (0..groups)
                .map(|g| array.data[g * n + i])
                .filter(|v| v.is_finite())
                .collect();
            if finite.is_empty() {
                f64::NAN
            } else {
                finite.iter().sum::<f64>() / finite.len() as f64
            }
        })
        .collect();
    let mut value_label = format!("{} of {var}", stat.describe());
    match (unit_of(data, &var), stat) {
        (Some(u), Stat::Var) => value_label = format!("{value_label} [({u})²]"),
        (Some(u), Stat::Last | Stat::Mean | Stat::Min | Stat::Max) => {
            value_label = format!("{value_label} [{u}]");
        }
        _ => {}
    }
    if groups > 1 {
        value_label = format!("{value_label} (mean over {groups} nodes)");
        notes.push(format!(
            "each instance's value is the mean over its {groups} nodes"
        ));
    }
    let non_finite = array.data.iter().filter(|v| !v.is_finite()).count();
    let varying: Vec<&NpzArray> = grids
        .iter()
        .copied()
        .filter(|g| distinct(&g.data).len() > 1)
        .collect();
    let path = |g: &NpzArray| g.name["grid/".len()..].to_string();
    let title = format!("sweep of {}: {n} instances", model_name(data));
    let (kind, layout) = match varying.len() {
        0 => (
            PlotKind::Line,
            SweepLayout::Line {
                x_label: "instance".into(),
                x: (0..n).map(|i| i as f64).collect(),
                y: values,
                log_x: false,
            },
        ),
        1 => {
            let g = varying[0];
            let mut pairs: Vec<(f64, f64)> = g
                .data
                .iter()
                .copied()
                .zip(values.iter().copied())
                .filter(|(x, _)| x.is_finite())
                .collect();
            pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
            (
                PlotKind::Line,
                SweepLayout::Line {
                    x_label: path(g),
                    log_x: log_spaced(&distinct(&g.data)),
                    x: pairs.iter().map(|p| p.0).collect(),
                    y: pairs.iter().map(|p| p.1).collect(),
                },
            )
        }
        m => {
            let (a, b) = (varying[0], varying[1]);
            if m > 2 {
                let others: Vec<String> = varying[2..].iter().map(|g| path(g)).collect();
                notes.push(format!(
                    "the sweep has {m} axes; drawn over the first two, each cell the mean over {}",
                    others.join(", ")
                ));
            }
            match heat_map(&a.data, &b.data, &values) {
                Some((xs, ys, cells)) => (
                    PlotKind::HeatMap,
                    SweepLayout::HeatMap {
                        x_label: path(a),
                        y_label: path(b),
                        xs,
                        ys,
                        values: cells,
                    },
                ),
                None => (
                    PlotKind::Scatter,
                    SweepLayout::Scatter {
                        x_label: path(a),
                        y_label: path(b),
                        points: (0..n)
                            .map(|i| (a.data[i], b.data[i], values[i]))
                            .filter(|(x, y, _)| x.is_finite() && y.is_finite())
                            .collect(),
                    },
                ),
            }
        }
    };
    Ok(Figure {
        kind,
        title,
        content: Content::Sweep {
            value_label,
            layout,
        },
        non_finite,
        notes,
    })
}

/// The cells of a full grid over `a` × `b` (each combination equally often), each the mean of
/// its finite values: `None` when the instances are not such a grid (random samples, zipped
/// axes).
fn heat_map(a: &[f64], b: &[f64], values: &[f64]) -> Option<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let (xs, ys) = (distinct(a), distinct(b));
    let cells = xs.len().checked_mul(ys.len())?;
    if cells == 0 || cells > values.len() || !values.len().is_multiple_of(cells) {
        return None;
    }
    let mut count = vec![0usize; cells];
    let mut sum = vec![0.0; cells];
    let mut finite = vec![0usize; cells];
    for ((x, y), v) in a.iter().zip(b).zip(values) {
        let ix = xs.binary_search_by(|p| p.total_cmp(x)).ok()?;
        let iy = ys.binary_search_by(|p| p.total_cmp(y)).ok()?;
        let c = iy * xs.len() + ix;
        count[c] += 1;
        if v.is_finite() {
            sum[c] += v;
            finite[c] += 1;
        }
    }
    let per_cell = values.len() / cells;
    if count.iter().any(|&c| c != per_cell) {
        return None;
    }
    let cells = sum
        .iter()
        .zip(&finite)
        .map(|(s, &k)| if k > 0 { s / k as f64 } else { f64::NAN })
        .collect();
    Some((xs, ys, cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_are_told_from_samples() {
        // 2 x 3, first axis slowest.
        let a = [1.0, 1.0, 1.0, 2.0, 2.0, 2.0];
        let b = [5.0, 6.0, 7.0, 5.0, 6.0, 7.0];
        let v = [0.0, 1.0, 2.0, 3.0, f64::NAN, 5.0];
        let (xs, ys, cells) = heat_map(&a, &b, &v).unwrap();
        assert_eq!((xs.len(), ys.len()), (2, 3));
        assert_eq!(cells[0], 0.0);
        assert_eq!(cells[1], 3.0);
        assert!(cells[3].is_nan());
        // Zipped axes are not a grid.
        assert!(heat_map(&[1.0, 2.0, 3.0], &[4.0, 5.0, 6.0], &[0.0; 3]).is_none());
        assert!(heat_map(&[], &[], &[]).is_none());
    }

    #[test]
    fn log_spacing_is_recognised() {
        assert!(log_spaced(&[0.1, 1.0, 10.0, 100.0]));
        assert!(!log_spaced(&[1.0, 2.0, 3.0]));
        assert!(!log_spaced(&[-1.0, 2.0, 3.0]));
        assert!(!log_spaced(&[1.0, 2.0]));
    }
}
