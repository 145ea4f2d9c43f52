//! Figures from `.npz` files written the way `rateforge run` and `rateforge sweep` write them:
//! the PNG decodes, has the requested size and shows data; the SVG names the axes and the
//! title; sweeps give heat maps, lines or scatter plots; networks give images; damaged or
//! unexpected inputs give errors with a help line, never a panic.

use rateforge_plot::{
    Dataset, ErrorKind, Format, PlotError, PlotKind, PlotOptions, Stat, plot, plot_npz, render,
};
use rateforge_rt::RunResult;
use rateforge_rt::output::{NpzArray, write_npz};
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A scratch directory for this test binary.
fn dir() -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("rateforge-plot-tests");
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn array(name: &str, shape: &[usize], data: Vec<f64>) -> NpzArray {
    assert_eq!(shape.iter().product::<usize>(), data.len(), "{name}");
    NpzArray {
        name: name.into(),
        shape: shape.to_vec(),
        data,
        imag: None,
    }
}

/// Writes an `.npz` file with these arrays and metadata.
fn npz(name: &str, arrays: &[NpzArray], metadata: serde_json::Value) -> PathBuf {
    let path = dir().join(name);
    write_npz(&path, arrays.iter().cloned(), &metadata.to_string()).unwrap();
    path
}

fn metadata(model: &str, recorded: &[&str], network: bool) -> serde_json::Value {
    json!({
        "model_name": model,
        "model": format!("examples/models/{model}.yaml/{model}"),
        "recorded": recorded,
        "network": if network { json!({"nodes": 68, "edges": 1244, "connectivity": "c"}) } else { json!(null) },
        "solver": "rk4",
        "dt": 0.01,
        "partial": false,
    })
}

/// The Montbrió run of the README in miniature: r and v of one instance, a step input.
fn qif_file(name: &str) -> PathBuf {
    let n = 2001;
    let time: Vec<f64> = (0..n).map(|k| k as f64 * 0.05).collect();
    let r: Vec<f64> = time
        .iter()
        .map(|t| 0.3 + if (30.0..60.0).contains(t) { 1.5 } else { 0.0 } + 0.2 * (t * 0.7).sin())
        .collect();
    let v: Vec<f64> = time.iter().map(|t| -2.0 + (t * 0.3).cos()).collect();
    npz(
        name,
        &[
            array("time", &[n], time),
            array("p/qif_op/r", &[n], r),
            array("p/qif_op/v", &[n], v),
        ],
        metadata("qif", &["p/qif_op/r", "p/qif_op/v"], false),
    )
}

/// A sweep over eta (8 values) × weight (6 values), every combination, statistics only.
fn sweep_arrays(eta_n: usize, w_n: usize) -> Vec<NpzArray> {
    let n = eta_n * w_n;
    let mut eta = Vec::new();
    let mut w = Vec::new();
    for i in 0..eta_n {
        for j in 0..w_n {
            eta.push(-10.0 + 7.0 * i as f64 / (eta_n.max(2) - 1) as f64);
            w.push(5.0 + 15.0 * j as f64 / (w_n.max(2) - 1) as f64);
        }
    }
    let mut arrays = Vec::new();
    for stat in ["last", "mean", "var", "min", "max", "above"] {
        let scale = if stat == "var" { 0.1 } else { 1.0 };
        let values = eta
            .iter()
            .zip(&w)
            .map(|(e, w)| scale * (e + 10.0) * w / 10.0)
            .collect();
        arrays.push(array(&format!("{stat}/p/qif_op/r"), &[n], values));
    }
    arrays.push(array("grid/p/qif_op/eta", &[n], eta));
    arrays.push(array("grid/p/qif_op/r->p/qif_op/r_in/weight", &[n], w));
    arrays
}

fn sweep_metadata() -> serde_json::Value {
    let mut m = metadata("qif", &["p/qif_op/r"], false);
    m["varied"] = json!(["p/qif_op/eta", "p/qif_op/r->p/qif_op/r_in/weight"]);
    m
}

/// A 68-node network: (samples, nodes).
fn network_file(name: &str) -> PathBuf {
    let (n, nodes) = (401, 68);
    let time: Vec<f64> = (0..n).map(|k| k as f64 * 0.1).collect();
    let mut r = Vec::new();
    for t in &time {
        for node in 0..nodes {
            r.push(1.0 + (t * 0.2 + node as f64 * 0.1).sin());
        }
    }
    npz(
        name,
        &[array("time", &[n], time), array("mpr_op/r", &[n, nodes], r)],
        metadata("mpr68", &["mpr_op/r"], true),
    )
}

struct Png {
    width: u32,
    height: u32,
    /// RGB triples.
    pixels: Vec<[u8; 3]>,
}

fn decode(bytes: &[u8]) -> Png {
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG header");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a PNG frame");
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    Png {
        width: info.width,
        height: info.height,
        pixels,
    }
}

impl Png {
    fn distinct_colours(&self) -> usize {
        self.pixels.iter().collect::<HashSet<_>>().len()
    }

    /// Pixels of a clear colour (data: lines, images), not white, grey or black (background,
    /// grid, text).
    fn colourful(&self) -> usize {
        self.pixels
            .iter()
            .filter(|p| {
                let (lo, hi) = (p.iter().min().unwrap(), p.iter().max().unwrap());
                hi - lo > 60
            })
            .count()
    }
}

fn render_png(data: &Dataset, options: &PlotOptions) -> (Png, rateforge_plot::PlotSummary) {
    let (bytes, summary) = render(data, Format::Png, options).unwrap();
    (decode(&bytes), summary)
}

/// Draws an SVG, also kept in the scratch directory as `name` to look at.
fn render_svg(name: &str, data: &Dataset, options: &PlotOptions) -> String {
    let (bytes, _) = render(data, Format::Svg, options).unwrap();
    std::fs::write(dir().join(name), &bytes).unwrap();
    String::from_utf8(bytes).unwrap()
}

/// The texts of an SVG (`<text ...>TEXT</text>`), trimmed and unescaped.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let start = t.find('>')? + 1;
            let end = t.find("</text>")?;
            let text = t.get(start..end)?.trim();
            Some(
                text.replace("&gt;", ">")
                    .replace("&lt;", "<")
                    .replace("&amp;", "&"),
            )
        })
        .collect()
}

/// Asserts that the SVG has each text.
fn has_texts(svg: &str, wanted: &[&str]) {
    let all = texts(svg);
    for w in wanted {
        assert!(
            all.iter().any(|t| t == w),
            "no text `{w}` in the SVG: {all:?}"
        );
    }
}

fn read(path: &Path) -> Dataset {
    rateforge_plot::read_npz(path).unwrap()
}

fn small() -> PlotOptions {
    PlotOptions {
        width: 640,
        height: 480,
        ..PlotOptions::default()
    }
}

#[test]
fn traces_make_a_png_of_the_requested_size_that_shows_them() {
    let input = qif_file("qif.npz");
    let output = dir().join("qif.png");
    let options = PlotOptions {
        width: 900,
        height: 500,
        ..PlotOptions::default()
    };
    let summary = plot_npz(&input, &output, &options).unwrap();
    assert_eq!(summary.kind, PlotKind::Traces);
    assert_eq!(summary.panels.len(), 2, "{summary:?}");
    assert_eq!(summary.title, "qif");
    assert_eq!(summary.non_finite, 0);
    let png = decode(&std::fs::read(&output).unwrap());
    assert_eq!((png.width, png.height), (900, 500));
    assert!(png.distinct_colours() > 10, "{}", png.distinct_colours());
    // The first line colour (tab10 blue) draws both traces.
    let blue = png
        .pixels
        .iter()
        .filter(|p| **p == [0x1f, 0x77, 0xb4])
        .count();
    assert!(blue > 500, "{blue} pixels of the line colour");
    // The corner is background.
    assert_eq!(png.pixels[0], [255, 255, 255]);
}

#[test]
fn the_svg_names_the_axes_and_the_title() {
    let data = read(&qif_file("qif-svg.npz"));
    let svg = render_svg("qif-mem.svg", &data, &small());
    assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
    assert!(svg.trim_end().ends_with("</svg>"));
    has_texts(&svg, &["qif", "p/qif_op/r", "p/qif_op/v", "time"]);
    assert!(svg.contains("<polyline") || svg.contains("<path"));
    // Written to a file by its extension.
    let out = dir().join("qif.svg");
    plot(&data, &out, &small()).unwrap();
    assert_eq!(std::fs::read_to_string(&out).unwrap(), svg);
}

#[test]
fn a_sweep_over_two_axes_gives_a_heat_map() {
    let input = npz("sweep.npz", &sweep_arrays(8, 6), sweep_metadata());
    let data = read(&input);
    let (png, summary) = render_png(&data, &small());
    assert_eq!(summary.kind, PlotKind::HeatMap);
    assert_eq!(summary.title, "sweep of qif: 48 instances");
    assert!(
        summary.panels[0].contains("mean of p/qif_op/r"),
        "{summary:?}"
    );
    assert!(summary.panels[0].contains("(8)") && summary.panels[0].contains("(6)"));
    // The heat map fills a good part of the figure with viridis colours (48 cells and a bar).
    assert!(png.colourful() > 640 * 480 / 5, "{}", png.colourful());
    assert!(png.distinct_colours() > 48);
    let svg = render_svg("sweep.svg", &data, &small());
    has_texts(
        &svg,
        &[
            "sweep of qif: 48 instances",
            "p/qif_op/eta",
            "p/qif_op/r->p/qif_op/r_in/weight",
            "mean of p/qif_op/r",
        ],
    );
    // `>` is escaped in SVG text.
    assert!(svg.contains("p/qif_op/r-&gt;p/qif_op/r_in/weight"));
    assert!(svg.contains("<image") && svg.contains("data:image/png;base64,"));
    // Another statistic and variable.
    let options = PlotOptions {
        stat: Some(Stat::Var),
        var: Some("p/qif_op/r".into()),
        ..small()
    };
    let (_, summary) = render_png(&data, &options);
    assert!(summary.panels[0].starts_with("variance of p/qif_op/r"));
}

#[test]
fn one_axis_gives_a_line_random_samples_a_scatter_and_three_axes_a_mean() {
    // One axis.
    let data = read(&npz("sweep1.npz", &sweep_arrays(12, 1), sweep_metadata()));
    let (png, summary) = render_png(&data, &small());
    assert_eq!(summary.kind, PlotKind::Line);
    assert!(png.colourful() > 200);
    // Random samples over two axes: not a grid.
    let n = 200;
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let a: Vec<f64> = (0..n).map(|_| -6.0 + 2.0 * next()).collect();
    let b: Vec<f64> = (0..n).map(|_| 0.5 + 1.5 * next()).collect();
    let v: Vec<f64> = a.iter().zip(&b).map(|(a, b)| a * b).collect();
    let data = read(&npz(
        "lhs.npz",
        &[
            array("mean/p/qif_op/r", &[n], v),
            array("grid/p/qif_op/eta", &[n], a),
            array("grid/p/qif_op/Delta", &[n], b),
        ],
        sweep_metadata(),
    ));
    let (png, summary) = render_png(&data, &small());
    assert_eq!(summary.kind, PlotKind::Scatter);
    assert!(summary.panels[0].contains("200 points"), "{summary:?}");
    assert!(png.colourful() > 2000);
    // Three axes, a full grid: a heat map over the first two, averaged over the third.
    let mut arrays = Vec::new();
    let (mut x, mut y, mut z, mut v) = (vec![], vec![], vec![], vec![]);
    for i in 0..4 {
        for j in 0..3 {
            for k in 0..2 {
                x.push(i as f64);
                y.push(j as f64);
                z.push(k as f64);
                v.push((i + j + k) as f64);
            }
        }
    }
    arrays.push(array("mean/x", &[24], v));
    arrays.push(array("grid/a", &[24], x));
    arrays.push(array("grid/b", &[24], y));
    arrays.push(array("grid/c", &[24], z));
    let data = read(&npz("three.npz", &arrays, json!({"model_name": "m"})));
    let (_, summary) = render_png(&data, &small());
    assert_eq!(summary.kind, PlotKind::HeatMap);
    assert!(
        summary.notes.iter().any(|n| n.contains("mean over c")),
        "{summary:?}"
    );
}

#[test]
fn a_network_of_many_nodes_gives_an_image() {
    let data = read(&network_file("net.npz"));
    let (png, summary) = render_png(&data, &small());
    assert_eq!(summary.kind, PlotKind::Traces);
    assert_eq!(summary.title, "mpr68 (68 nodes)");
    assert!(
        summary.panels[0].contains("image of 68 rows (node)"),
        "{summary:?}"
    );
    assert!(png.colourful() > 640 * 480 / 4, "{}", png.colourful());
    let svg = render_svg("net.svg", &data, &small());
    has_texts(&svg, &["mpr_op/r", "node", "time", "mpr68 (68 nodes)"]);
    assert!(svg.contains("<image"));
    // A few nodes are lines with a legend.
    let (n, nodes) = (50, 3);
    let data = read(&npz(
        "net3.npz",
        &[
            array("time", &[n], (0..n).map(|k| k as f64).collect()),
            array(
                "mpr_op/r",
                &[n, nodes],
                (0..n * nodes).map(|k| (k % 7) as f64).collect(),
            ),
        ],
        metadata("g2do4", &["mpr_op/r"], true),
    ));
    let svg = render_svg("net3.svg", &data, &small());
    has_texts(&svg, &["node 0", "node 2"]);
}

#[test]
fn a_matrix_is_drawn_as_an_image() {
    let n = 20;
    let w: Vec<f64> = (0..n * n)
        .map(|k| ((k / n) as f64 - (k % n) as f64).abs())
        .collect();
    let input = npz(
        "weights.npz",
        &[
            array("weights", &[n, n], w),
            array("tract_lengths", &[n, n], vec![1.0; n * n]),
        ],
        json!({}),
    );
    let data = read(&input);
    // Without --matrix: the first 2-D array, and a note naming the other.
    let (png, summary) = render_png(&data, &small());
    assert_eq!(summary.kind, PlotKind::Matrix);
    assert!(summary.notes.iter().any(|n| n.contains("tract_lengths")));
    assert!(png.colourful() > 640 * 480 / 5);
    let options = PlotOptions {
        matrix: Some("tract_lengths".into()),
        ..small()
    };
    let (png, summary) = render_png(&data, &options);
    assert_eq!(summary.panels, vec!["`tract_lengths` (20 × 20)"]);
    // A constant matrix still draws.
    assert!(png.colourful() > 1000);
    // Also from the arrays of a run's file.
    let data = read(&qif_file("qif-matrix.npz"));
    let options = PlotOptions {
        matrix: Some("p/qif_op/r".into()),
        ..small()
    };
    let e = render(&data, Format::Png, &options).unwrap_err();
    assert_usage(&e, &["`p/qif_op/r` is not a matrix: its shape is (2001)"]);
}

#[test]
fn non_finite_and_extreme_values_are_left_out_not_fatal() {
    let n = 100;
    let mut r: Vec<f64> = (0..n).map(|k| k as f64).collect();
    r[10] = f64::NAN;
    r[11] = f64::INFINITY;
    r[50] = f64::NEG_INFINITY;
    let time: Vec<f64> = (0..n).map(|k| k as f64).collect();
    let data = read(&npz(
        "nan.npz",
        &[
            array("time", &[n], time.clone()),
            array("x", &[n], r),
            array("all_nan", &[n], vec![f64::NAN; n]),
            array(
                "huge",
                &[n],
                (0..n)
                    .map(|k| if k % 2 == 0 { f64::MAX } else { -f64::MAX })
                    .collect(),
            ),
            array("tiny", &[n], (0..n).map(|k| k as f64 * 5e-324).collect()),
            array("constant", &[n], vec![3.0; n]),
        ],
        json!({"model_name": "nan"}),
    ));
    let (png, summary) = render_png(&data, &small());
    assert_eq!(summary.non_finite, 3 + n);
    assert_eq!(summary.panels.len(), 5);
    assert_eq!((png.width, png.height), (640, 480));
    render_svg("nan.svg", &data, &small());
    // Sweeps and matrices with NaN cells.
    let mut arrays = sweep_arrays(4, 4);
    arrays[1].data[3] = f64::NAN;
    arrays[1].data[7] = f64::INFINITY;
    let data = read(&npz("nan-sweep.npz", &arrays, sweep_metadata()));
    let (_, summary) = render_png(&data, &small());
    assert_eq!(summary.non_finite, 2);
    let data = read(&npz(
        "nan-matrix.npz",
        &[array("m", &[2, 2], vec![f64::NAN; 4])],
        json!({}),
    ));
    let (_, summary) = render_png(&data, &small());
    assert_eq!(summary.non_finite, 4);
    // A single sample, the smallest and largest sizes.
    let data = read(&npz(
        "one.npz",
        &[array("time", &[1], vec![0.0]), array("x", &[1], vec![1.0])],
        json!({}),
    ));
    for (w, h) in [(320, 320), (8000, 320), (320, 8000)] {
        let options = PlotOptions {
            width: w,
            height: h,
            ..PlotOptions::default()
        };
        let (png, _) = render_png(&data, &options);
        assert_eq!((png.width, png.height), (w, h));
    }
}

#[test]
fn a_run_in_memory_draws_the_same_figure_as_its_file() {
    let n = 30;
    let result = RunResult {
        time: (0..n).map(|k| k as f64 * 0.1).collect(),
        names: vec!["p/x".into(), "p/z.re".into(), "p/z.im".into()],
        n_instances: 2,
        n_nodes: 1,
        network: false,
        trace: (0..n * 3 * 2).map(|k| (k as f64 * 0.37).sin()).collect(),
        stats: Vec::new(),
        steps_done: vec![n as u64; 2],
        final_state: vec![0.0; 4],
        metadata: json!({"model_name": "m", "recorded": ["p/x", "p/z.re", "p/z.im"], "network": null}),
        varied: vec![("p/a".into(), vec![1.0, 2.0])],
        ..Default::default()
    };
    let path = dir().join("memory.npz");
    result.write_npz(&path).unwrap();
    let from_memory = Dataset::from_result(&result);
    let from_file = read(&path);
    let a = render(&from_memory, Format::Svg, &small()).unwrap();
    let b = render(&from_file, Format::Svg, &small()).unwrap();
    assert_eq!(a.1, b.1);
    assert!(a.0 == b.0, "the SVGs differ");
    // Two instances named by their swept value; the complex `p/z` is drawn as its parts.
    let svg = String::from_utf8(a.0).unwrap();
    has_texts(&svg, &["p/a = 1", "p/a = 2", "p/x", "p/z.re", "p/z.im"]);
    assert!(
        a.1.notes.iter().any(|n| n.contains("`p/z` is complex")),
        "{:?}",
        a.1
    );
    assert_eq!(a.1.panels.len(), 3);
    // A complex variable named alone.
    let options = PlotOptions {
        var: Some("p/z".into()),
        ..small()
    };
    let e = render(&from_file, Format::Png, &options).unwrap_err();
    assert_usage(&e, &["`p/z` is complex", "--var p/z.re"]);
}

fn assert_usage(e: &PlotError, fragments: &[&str]) {
    assert_eq!(e.kind, ErrorKind::Usage, "{e}");
    assert_eq!(e.exit_code(), 2);
    assert!(!e.help.is_empty(), "no help: {e}");
    let text = e.to_string();
    assert!(text.contains("\n  = help: "), "{text}");
    for f in fragments {
        assert!(text.contains(f), "`{f}` not in: {text}");
    }
}

#[test]
fn bad_inputs_and_options_are_errors_with_help() {
    let out = dir().join("bad.png");
    let options = PlotOptions::default();
    let err = |input: &Path, options: &PlotOptions| plot_npz(input, &out, options).unwrap_err();
    // Missing, a directory, not a zip, an empty file, a truncated file, a zip of other things.
    assert_usage(
        &err(&dir().join("no-such.npz"), &options),
        &["no such file"],
    );
    assert_usage(&err(&dir(), &options), &["it is a directory"]);
    let text = dir().join("text.npz");
    std::fs::write(&text, "time,x\n0,1\n").unwrap();
    assert_usage(&err(&text, &options), &["is not an `.npz` file"]);
    let empty = dir().join("empty.npz");
    std::fs::write(&empty, "").unwrap();
    assert_usage(&err(&empty, &options), &["is not an `.npz` file"]);
    let whole = std::fs::read(qif_file("whole.npz")).unwrap();
    let cut = dir().join("cut.npz");
    for keep in [whole.len() / 2, 100, 30, whole.len() - 10] {
        std::fs::write(&cut, &whole[..keep]).unwrap();
        let e = err(&cut, &options);
        assert_eq!(e.kind, ErrorKind::Usage, "{e}");
    }
    // A damaged array inside a readable zip.
    let mut damaged = whole.clone();
    let at = whole.windows(6).position(|w| w == b"\x93NUMPY").unwrap();
    damaged[at + 20] = b'X';
    damaged[at + 21] = b'X';
    std::fs::write(&cut, &damaged).unwrap();
    let _ = plot_npz(&cut, &out, &options); // an error or a figure, but no panic
    // An npz without anything to plot.
    let nothing = npz(
        "nothing.npz",
        &[array("steps_done", &[2], vec![1.0, 2.0])],
        json!({}),
    );
    assert_usage(
        &err(&nothing, &options),
        &["nothing to plot", "`steps_done`"],
    );
    let stats_only = npz(
        "stats-only.npz",
        &[array("mean/p/x", &[1], vec![1.0])],
        json!({}),
    );
    assert_usage(
        &err(&stats_only, &options),
        &["nothing to plot", "--no-trace"],
    );
    // Options that do not fit the file.
    let qif = qif_file("qif-bad.npz");
    let with = |f: &dyn Fn(&mut PlotOptions)| {
        let mut o = PlotOptions::default();
        f(&mut o);
        o
    };
    assert_usage(
        &err(&qif, &with(&|o| o.var = Some("p/qif_op/x".into()))),
        &[
            "`p/qif_op/x` is not a recorded variable",
            "`p/qif_op/r`, `p/qif_op/v`",
        ],
    );
    assert_usage(
        &err(&qif, &with(&|o| o.stat = Some(Stat::Max))),
        &["`--stat max`", "not one"],
    );
    assert_usage(
        &err(&qif, &with(&|o| o.matrix = Some("w".into()))),
        &["no array `w`"],
    );
    assert_usage(
        &err(&qif, &with(&|o| o.width = 10)),
        &["width of 10 pixels"],
    );
    assert_usage(&err(&qif, &with(&|o| o.height = 100_000)), &["height"]);
    let sweep = npz("sweep-bad.npz", &sweep_arrays(2, 2), sweep_metadata());
    assert_usage(
        &err(&sweep, &with(&|o| o.var = Some("p/qif_op/v".into()))),
        &["no statistics of `p/qif_op/v`", "`p/qif_op/r`"],
    );
    // Output names.
    for bad in ["fig.pdf", "fig", "no-such-dir/fig.png"] {
        let e = plot_npz(&qif, &dir().join(bad), &options).unwrap_err();
        assert_usage(&e, &[]);
    }
    assert!(!dir().join("no-such-dir").exists());
    assert_usage(
        &plot_npz(&qif, &dir(), &options).unwrap_err(),
        &["cannot tell the figure format"],
    );
    // `.npy` arrays are read too.
    let npy = dir().join("w.npy");
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    let mut header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }".to_string();
    while !(10 + header.len() + 1).is_multiple_of(64) {
        header.push(' ');
    }
    header.push('\n');
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    for v in [0.0f64, 1.0, 2.0, 3.0] {
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(&npy, &bytes).unwrap();
    let summary = plot_npz(&npy, &out, &options).unwrap();
    assert_eq!(summary.kind, PlotKind::Matrix);
    assert_eq!(summary.title, "w");
}

#[test]
fn random_bytes_never_panic() {
    let out = dir().join("fuzz.png");
    let whole = std::fs::read(qif_file("fuzz-src.npz")).unwrap();
    let path = dir().join("fuzz.npz");
    let mut state = 99u64;
    for round in 0..60 {
        let mut bytes = whole.clone();
        for _ in 0..(1 + round % 8) {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let at = (state >> 33) as usize % bytes.len();
            bytes[at] = (state >> 20) as u8;
        }
        std::fs::write(&path, &bytes).unwrap();
        let options = PlotOptions {
            width: 320,
            height: 320,
            ..PlotOptions::default()
        };
        match plot_npz(&path, &out, &options) {
            Ok(_) => {}
            Err(e) => assert!(!e.message.is_empty() && !e.help.is_empty()),
        }
    }
}

#[test]
fn inconsistent_arrays_in_memory_and_odd_names_do_not_panic() {
    let bad = |name: &str, shape: &[usize], data: Vec<f64>| NpzArray {
        name: name.into(),
        shape: shape.to_vec(),
        data,
        imag: None,
    };
    let cases = vec![
        // Shapes that do not match their data, or overflow.
        vec![
            bad("time", &[3], vec![0.0, 1.0, 2.0]),
            bad("x", &[3, 4], vec![1.0; 5]),
        ],
        vec![
            bad("time", &[3], vec![0.0, 1.0, 2.0]),
            bad("x", &[3, usize::MAX, 4], vec![1.0; 3]),
        ],
        vec![bad("m", &[usize::MAX, 3], vec![1.0; 3])],
        vec![bad("m", &[0, 3], vec![])],
        vec![bad("time", &[0], vec![])],
        // Grids of unequal length, statistics that do not divide among the instances.
        vec![
            bad("mean/x", &[4], vec![1.0; 4]),
            bad("grid/a", &[4], vec![1.0, 2.0, 3.0, 4.0]),
            bad("grid/b", &[3], vec![1.0, 2.0, 3.0]),
        ],
        vec![
            bad("mean/x", &[5], vec![1.0; 5]),
            bad("grid/a", &[4], vec![1.0, 2.0, 3.0, 4.0]),
        ],
        // Every swept value the same; non-finite swept values.
        vec![
            bad("mean/x", &[3], vec![1.0, 2.0, 3.0]),
            bad("grid/a", &[3], vec![1.0; 3]),
        ],
        vec![
            bad("mean/x", &[3], vec![1.0, 2.0, 3.0]),
            bad("grid/a", &[3], vec![f64::NAN, 1.0, f64::INFINITY]),
            bad("grid/b", &[3], vec![f64::NAN, 1.0, 2.0]),
        ],
        // Control characters and long names.
        vec![
            bad("time", &[2], vec![0.0, 1.0]),
            bad("a\u{0}\u{7}<&>\"'", &[2], vec![0.0, 1.0]),
            bad(&"x".repeat(5000), &[2], vec![0.0, 1.0]),
        ],
        Vec::new(),
    ];
    for (k, arrays) in cases.into_iter().enumerate() {
        let data = Dataset {
            arrays,
            metadata: Some(json!({"model_name": "m\u{1b}[31m", "recorded": 5, "network": "?"})),
            ..Dataset::default()
        };
        for format in [Format::Png, Format::Svg] {
            match render(&data, format, &small()) {
                Ok((bytes, _)) if format == Format::Svg => {
                    let svg = String::from_utf8(bytes).unwrap();
                    assert!(
                        !svg.contains('\u{0}') && !svg.contains('\u{1b}'),
                        "case {k}"
                    );
                }
                Ok(_) => {}
                Err(e) => assert!(!e.help.is_empty(), "case {k}: {e}"),
            }
        }
    }
}
