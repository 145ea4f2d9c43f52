//! `rateforge plot` and the `--plot` option of `run` and `sweep`, end to end: the figures
//! decode, have the requested size and show the data; bad inputs exit with status 2 and a
//! help line, without a panic. The runs use the reference evaluator (`--backend interp`): they
//! are a few thousand steps, and the figures do not depend on the backend.

mod common;

use common::{rateforge, text, tmp, user_error};
use std::collections::HashSet;
use std::path::Path;
use std::process::Output;

/// Asserts success and returns stderr.
fn ok(out: &Output) -> String {
    let err = text(&out.stderr);
    assert!(out.status.success(), "failed ({}):\n{err}", out.status);
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Width, height and RGB pixels of a PNG file.
fn png(path: &Path) -> (u32, u32, Vec<[u8; 3]>) {
    let bytes = std::fs::read(path).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut buf).expect("a frame");
    let step = match info.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("colour type {other:?}"),
    };
    let pixels = buf[..info.buffer_size()]
        .chunks_exact(step)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width, info.height, pixels)
}

/// Pixels of a clear colour (data), not white, grey or black (background, grid, text).
fn colourful(pixels: &[[u8; 3]]) -> usize {
    pixels
        .iter()
        .filter(|p| p.iter().max().unwrap() - p.iter().min().unwrap() > 60)
        .count()
}

fn distinct(pixels: &[[u8; 3]]) -> usize {
    pixels.iter().collect::<HashSet<_>>().len()
}

const QIF: &[&str] = &[
    "examples/models/montbrio.yaml/qif",
    "--time",
    "4",
    "--dt",
    "1e-3",
    "--solver",
    "rk4",
    "--input",
    "p/qif_op/I_ext=30*(t>=1)*(t<2)",
    "--record",
    "p/qif_op/r,p/qif_op/v",
    "--every",
    "0.01",
    "--backend",
    "interp",
];

fn run_with(extra: &[&str]) -> Output {
    let mut args = vec!["run"];
    args.extend_from_slice(QIF);
    args.extend_from_slice(extra);
    rateforge(&args)
}

#[test]
fn run_plot_draws_the_traces_and_plot_redraws_them_from_the_file() {
    let npz = tmp("plot-qif.npz");
    let fig = tmp("plot-qif-run.png");
    let _ = std::fs::remove_file(&fig);
    let err = ok(&run_with(&[
        "-o",
        npz.to_str().unwrap(),
        "--plot",
        fig.to_str().unwrap(),
    ]));
    assert!(
        err.contains("drew traces: p/qif_op/r: 1 line; p/qif_op/v: 1 line"),
        "{err}"
    );
    let (w, h, pixels) = png(&fig);
    assert_eq!((w, h), (1200, 800));
    assert!(distinct(&pixels) > 10);
    assert!(colourful(&pixels) > 1000, "{}", colourful(&pixels));
    assert_eq!(pixels[0], [255, 255, 255]);
    // The same traces from the file, as an SVG of another size.
    let svg = tmp("plot-qif.svg");
    let err = ok(&rateforge(&[
        "plot",
        npz.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
        "--width",
        "800",
        "--height",
        "600",
    ]));
    assert!(err.contains("drew traces"), "{err}");
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg") && text.contains("width=\"800\""));
    for want in ["qif", "p/qif_op/r", "p/qif_op/v", "time"] {
        assert!(
            text.contains(&format!("\n{want}\n")),
            "no text `{want}` in the SVG"
        );
    }
    // One variable, as a PNG of the requested size; `-q` prints nothing.
    let one = tmp("plot-qif-v.png");
    let out = rateforge(&[
        "plot",
        npz.to_str().unwrap(),
        "-o",
        one.to_str().unwrap(),
        "--var",
        "p/qif_op/v",
        "--width",
        "500",
        "--height",
        "400",
        "-q",
    ]);
    assert_eq!(ok(&out), "");
    let (w, h, pixels) = png(&one);
    assert_eq!((w, h), (500, 400));
    assert!(colourful(&pixels) > 300);
}

#[test]
fn sweep_plot_draws_a_heat_map() {
    let npz = tmp("plot-sweep.npz");
    let fig = tmp("plot-sweep.png");
    let err = ok(&rateforge(&[
        "sweep",
        "examples/models/montbrio.yaml/qif",
        "--range",
        "p/qif_op/eta=-6:-4:5",
        "--range",
        "p/qif_op/I_ext=0:3:4",
        "--time",
        "2",
        "--dt",
        "1e-3",
        "--record",
        "p/qif_op/r",
        "--backend",
        "interp",
        "-o",
        npz.to_str().unwrap(),
        "--plot",
        fig.to_str().unwrap(),
    ]));
    assert!(
        err.contains(
            "drew a heat map: mean of p/qif_op/r over p/qif_op/eta (5) × p/qif_op/I_ext (4)"
        ),
        "{err}"
    );
    let (w, h, pixels) = png(&fig);
    assert_eq!((w, h), (1200, 800));
    // The 20 cells and the colour bar fill much of the figure.
    assert!(
        colourful(&pixels) > 1200 * 800 / 4,
        "{}",
        colourful(&pixels)
    );
    assert!(distinct(&pixels) > 20);
    // Another statistic, from the file, as SVG.
    let svg = tmp("plot-sweep-max.svg");
    let err = ok(&rateforge(&[
        "plot",
        npz.to_str().unwrap(),
        "-o",
        svg.to_str().unwrap(),
        "--stat",
        "max",
    ]));
    assert!(
        err.contains("drew a heat map: maximum of p/qif_op/r"),
        "{err}"
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    for want in [
        "sweep of qif: 20 instances",
        "p/qif_op/eta",
        "p/qif_op/I_ext",
    ] {
        assert!(text.contains(want), "no `{want}` in the SVG");
    }
    assert!(text.contains("<image"));
}

#[test]
fn a_network_run_is_drawn_as_an_image_and_a_connectivity_as_a_matrix() {
    let fig = tmp("plot-mpr68.png");
    let err = ok(&rateforge(&[
        "run",
        "examples/models/networks/mpr68.yaml/mpr68",
        "--time",
        "2",
        "--dt",
        "0.01",
        "--solver",
        "heun",
        "--record",
        "mpr_op/r",
        "--backend",
        "interp",
        "--plot",
        fig.to_str().unwrap(),
        "-q",
    ]));
    assert_eq!(err, "");
    let (w, h, pixels) = png(&fig);
    assert_eq!((w, h), (1200, 800));
    assert!(
        colourful(&pixels) > 1200 * 800 / 3,
        "{}",
        colourful(&pixels)
    );
    let matrix = tmp("plot-weights.png");
    let err = ok(&rateforge(&[
        "plot",
        "examples/data/connectivity_68/weights.npy",
        "-o",
        matrix.to_str().unwrap(),
    ]));
    assert!(err.contains("drew a matrix: `weights` (68 × 68)"), "{err}");
    let (_, _, pixels) = png(&matrix);
    assert!(colourful(&pixels) > 1200 * 800 / 3);
}

#[test]
fn bad_inputs_and_options_exit_with_status_2() {
    let fig = tmp("plot-bad.png");
    let fig = fig.to_str().unwrap();
    // No such file.
    user_error(
        &rateforge(&["plot", "no/such.npz", "-o", fig]),
        &["cannot read `no/such.npz`: no such file", "= help:"],
    );
    // Not an npz.
    user_error(
        &rateforge(&["plot", "examples/models/montbrio.yaml", "-o", fig]),
        &["is not an `.npz` file", "= help:"],
    );
    // A figure format that is not PNG or SVG: refused before anything runs.
    let npz = tmp("plot-bad.npz");
    let out = run_with(&["-o", npz.to_str().unwrap()]);
    ok(&out);
    user_error(
        &rateforge(&["plot", npz.to_str().unwrap(), "-o", "fig.pdf"]),
        &[
            "cannot tell the figure format of `fig.pdf`",
            "`.png` or `.svg`",
        ],
    );
    user_error(
        &run_with(&["--plot", "fig.jpg"]),
        &["cannot tell the figure format of `fig.jpg`"],
    );
    user_error(
        &run_with(&["--plot", fig, "--no-trace"]),
        &["`--no-trace` keeps none"],
    );
    // Options that do not fit the file.
    user_error(
        &rateforge(&["plot", npz.to_str().unwrap(), "-o", fig, "--stat", "mean"]),
        &["`--stat mean` draws a statistic of a sweep"],
    );
    user_error(
        &rateforge(&["plot", npz.to_str().unwrap(), "-o", fig, "--var", "p/x"]),
        &[
            "`p/x` is not a recorded variable",
            "`p/qif_op/r`, `p/qif_op/v`",
        ],
    );
    user_error(
        &rateforge(&["plot", npz.to_str().unwrap(), "-o", fig, "--matrix", "time"]),
        &["`time` is not a matrix"],
    );
    user_error(
        &rateforge(&["plot", npz.to_str().unwrap(), "-o", fig, "--width", "5"]),
        &["a figure width of 5 pixels is out of range"],
    );
    user_error(
        &rateforge(&["plot", npz.to_str().unwrap(), "-o", "no/such/dir/fig.png"]),
        &["cannot write `no/such/dir/fig.png`"],
    );
    // clap's own errors are status 2 as well.
    user_error(
        &rateforge(&["plot", npz.to_str().unwrap(), "-o", fig, "--stat", "median"]),
        &["median"],
    );
    user_error(&rateforge(&["plot", npz.to_str().unwrap()]), &["--output"]);
    // A truncated file.
    let whole = std::fs::read(&npz).unwrap();
    let cut = tmp("plot-cut.npz");
    std::fs::write(&cut, &whole[..whole.len() / 2]).unwrap();
    user_error(
        &rateforge(&["plot", cut.to_str().unwrap(), "-o", fig]),
        &["= help:"],
    );
}
