//! A fuzzer for the front ends, on stable Rust: random equations (grammar-aware, then mutated
//! byte by byte) inside YAML and RateML XML models, and mutations of whole model files, each
//! loaded, validated and listed; a model that validates also has its Rust and CUDA kernels
//! generated (not compiled) and runs 20 steps of the reference evaluator. Every input must end in
//! a result or a diagnostic: a panic is a crash, saved to `target/fuzz-crashes/` with its input,
//! and an input still running after [`TIME_LIMIT`] is a hang (saved, and the fuzzer stops with
//! exit status 2).
//!
//! `scripts/fuzz [INPUTS] [SEED]` runs it (release build); the default is 10^6 inputs.

use rateforge::{Backend, Controls, EmitOptions, Format, Model, RunSpec};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest one input may take (load, validate, list, generate, 20 evaluator steps).
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// Everything a model that validates goes through besides loading: its listing, both backends'
/// generated code, and a few evaluator steps (a network without a connectivity is refused).
fn exercise(valid: &rateforge::Validated) -> usize {
    let mut n = valid.listing().len();
    let options = EmitOptions::default();
    n += valid.generate_rust(&options).map_or(0, |s| s.len());
    n += valid.generate_cuda(&options).map_or(0, |s| s.len());
    let spec = RunSpec {
        time: 0.2,
        dt: 0.01,
        ..Default::default()
    };
    if let Ok(r) = valid.run(Backend::Interp, &spec, Controls::default()) {
        n += r.trace.len();
    }
    n
}

/// xorshift64*: enough for choosing, reproducible from the seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NAMES: &[&str] = &[
    "x",
    "y",
    "a",
    "tau",
    "t",
    "pi",
    "E",
    "v",
    "undefined",
    "x_j",
    "gx",
    "z",
    "w",
];
const NUMBERS: &[&str] = &[
    "0",
    "1",
    "2.5",
    ".5",
    "1e-3",
    "3.",
    "1e400",
    "1.0f",
    "-0",
    "1e-320",
    "99999999999999999999",
    "1j",
    "2.5J",
    "1e400j",
];
const FUNCTIONS: &[&str] = &[
    "exp",
    "log",
    "sqrt",
    "sin",
    "tanh",
    "sigmoid",
    "abs",
    "max",
    "min",
    "pow",
    "heaviside",
    "floor",
    "sum",
    "mean",
    "past",
    "nope",
    "real",
    "conj",
    "imag",
    "angle",
];
const BINARY: &[&str] = &[
    "+", "-", "*", "/", "^", "**", "<", "<=", "==", "!=", "&&", "||", ".gt.", ".and.",
];
const NOISE: &[&str] = &[
    "(", ")", "[", "]", "{", "}", "?", ":", ",", "=", "'", "\"", "\\", "d/dt", "*", "é", "\u{0}",
    " ", "\n", "#", "&", "<", ">", "&amp;", "---", "- ", "!!", "*a", "&a",
];

fn expr(r: &mut Rng, depth: usize) -> String {
    if depth == 0 {
        return if r.below(2) == 0 {
            r.pick(NAMES).to_string()
        } else {
            r.pick(NUMBERS).to_string()
        };
    }
    match r.below(9) {
        0 | 1 => format!(
            "{} {} {}",
            expr(r, depth - 1),
            r.pick(BINARY),
            expr(r, depth - 1)
        ),
        2 => format!("-{}", expr(r, depth - 1)),
        3 => format!("({})", expr(r, depth - 1)),
        4 => {
            let n = r.below(4);
            let args: Vec<String> = (0..n).map(|_| expr(r, depth - 1)).collect();
            format!("{}({})", r.pick(FUNCTIONS), args.join(", "))
        }
        5 => format!(
            "{} ? {} : {}",
            expr(r, depth - 1),
            expr(r, depth - 1),
            expr(r, depth - 1)
        ),
        6 => format!(
            "{}[{}]",
            r.pick(NAMES),
            r.pick(&["0", "1:2", "-1", ":", "x"])
        ),
        7 => format!("{{{}}}", expr(r, depth - 1)),
        _ => expr(r, 0),
    }
}

/// Inserts, deletes or replaces a few pieces of `text`.
fn mutate(r: &mut Rng, text: &str) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for _ in 0..=r.below(4) {
        let at = r.below(chars.len() + 1);
        match r.below(3) {
            0 => {
                let piece: Vec<char> = r.pick(NOISE).chars().collect();
                chars.splice(at..at, piece);
            }
            1 if at < chars.len() => {
                let end = (at + 1 + r.below(4)).min(chars.len());
                chars.drain(at..end);
            }
            _ if at < chars.len() => chars[at] = r.pick(NOISE).chars().next().unwrap_or(' '),
            _ => {}
        }
    }
    chars.into_iter().collect()
}

fn yaml_model(equation: &str) -> String {
    let quoted = equation.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "op:\n  base: OperatorTemplate\n  equations: \"{quoted}\"\n  variables:\n    x: output(0.1)\n    y: variable(0.0)\n    a: variable(0.5, 3)\n    tau: 2.0\n    v: input(0.0)\n    z: variable(0.5+0.1j)\n    w: input(complex)\n\
         pop:\n  base: NodeTemplate\n  operators: [op]\n\
         net:\n  base: CircuitTemplate\n  nodes:\n    p: pop\n    q: pop\n  edges:\n    - [p/op/x, q/op/v, null, {{weight: 2.0, delay: 0.5}}]\n    - [p/op/z, q/op/w, null, {{weight: 2.0}}]\n"
    )
}

fn xml_model(value: &str) -> String {
    let escaped = value
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    format!(
        "<Lems>\n<ComponentType name=\"derivatives\">\n<Parameter name=\"global_coupling\" dimension=\"0.1, 1.0\"/>\n\
         <Constant name=\"tau\" dimension=\"\" value=\"2.0\"/>\n<Dynamics>\n\
         <StateVariable name=\"x\" dimension=\"0, 1\" exposure=\"0, 1\"/>\n<StateVariable name=\"y\" dimension=\"0, 1\"/>\n\
         <DerivedVariable name=\"a\" value=\"{escaped}\"/>\n<TimeDerivative variable=\"dx\" value=\"-x/tau + a\"/>\n\
         <TimeDerivative variable=\"dy\" value=\"x - y\"/>\n</Dynamics>\n</ComponentType>\n\
         <ComponentType name=\"coupling_function_pop1\">\n<Parameter name=\"x_j\" dimension=\"0\"/>\n\
         <DerivedParameter name=\"c_pop1\" value=\"global_coupling\"/>\n<Dynamics>\n\
         <DerivedVariable name=\"pre\" value=\"x_j\"/>\n<DerivedVariable name=\"post\" value=\"c_pop1\"/>\n\
         </Dynamics>\n</ComponentType>\n</Lems>\n"
    )
}

/// One input: (name as the command line would give it, text, format).
fn input(r: &mut Rng, seeds: &[(String, String, Format)]) -> (String, String, Format) {
    match r.below(5) {
        0 | 1 => {
            let lhs = r.pick(&["d/dt * x", "x'", "y", "d/dt * y", "a[1]", "t"]);
            let depth = 1 + r.below(5);
            let mut eq = format!("{lhs} = {}", expr(r, depth));
            if r.below(2) == 0 {
                eq = mutate(r, &eq);
            }
            ("fuzz.yaml/net".into(), yaml_model(&eq), Format::Yaml)
        }
        2 => {
            let depth = 1 + r.below(5);
            let mut e = expr(r, depth);
            if r.below(2) == 0 {
                e = mutate(r, &e);
            }
            ("fuzz.xml".into(), xml_model(&e), Format::Xml)
        }
        _ => {
            let (name, text, format) = &seeds[r.below(seeds.len())];
            let mut t = text.clone();
            for _ in 0..=r.below(3) {
                t = mutate(r, &t);
            }
            (name.clone(), t, *format)
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let inputs: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    // Whole example files to mutate (single-file models only: references resolve from the
    // current directory).
    let mut seeds = Vec::new();
    for (file, reference, format) in [
        (
            "examples/models/montbrio.yaml",
            "montbrio.yaml/qif",
            Format::Yaml,
        ),
        (
            "examples/models/wilson_cowan.yaml",
            "wilson_cowan.yaml/WC",
            Format::Yaml,
        ),
        (
            "examples/models/jansen_rit.yaml",
            "jansen_rit.yaml/JRC",
            Format::Yaml,
        ),
        ("examples/models/networks/rww4.xml", "rww4.xml", Format::Xml),
        (
            "examples/models/networks/mpr68.xml",
            "mpr68.xml",
            Format::Xml,
        ),
    ] {
        if let Ok(text) = std::fs::read_to_string(root.join(file)) {
            seeds.push((reference.to_string(), text, format));
        }
    }
    assert!(!seeds.is_empty(), "run from the repository");
    let crashes = root.join("target/fuzz-crashes");
    std::panic::set_hook(Box::new(|_| {}));
    let mut r = Rng(seed.max(1).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let (mut ok, mut refused, mut panics) = (0u64, 0u64, 0u64);
    let start = Instant::now();
    // The watchdog: the input being tried and since when (ms after `start`, u64::MAX between
    // inputs); one running past TIME_LIMIT is saved and ends the fuzzer.
    let current: Arc<Mutex<(u64, String)>> = Arc::new(Mutex::new((0, String::new())));
    let since = Arc::new(AtomicU64::new(u64::MAX));
    {
        let (current, since, crashes) = (current.clone(), since.clone(), crashes.clone());
        std::thread::spawn(move || {
            loop {
                std::thread::sleep(Duration::from_millis(200));
                let t = since.load(Ordering::Acquire);
                let now = start.elapsed().as_millis() as u64;
                if t != u64::MAX && now.saturating_sub(t) > TIME_LIMIT.as_millis() as u64 {
                    let (i, text) = current.lock().map(|c| c.clone()).unwrap_or_default();
                    let _ = std::fs::create_dir_all(&crashes);
                    let path = crashes.join(format!("hang-{seed}-{i}.txt"));
                    let _ = std::fs::write(&path, text);
                    eprintln!(
                        "HANG: input {i} ran over {} s: saved to {}",
                        TIME_LIMIT.as_secs(),
                        path.display()
                    );
                    std::process::exit(2);
                }
            }
        });
    }
    let mut slowest = (0.0f64, 0u64);
    for i in 0..inputs {
        let (name, text, format) = input(&mut r, &seeds);
        if let Ok(mut c) = current.lock() {
            *c = (i, format!("{name}\n{text}"));
        }
        let t0 = start.elapsed();
        since.store(t0.as_millis() as u64, Ordering::Release);
        let result = catch_unwind(AssertUnwindSafe(|| {
            Model::from_source(&name, &text, format)
                .and_then(|m| m.validate())
                .map(|v| exercise(&v))
        }));
        since.store(u64::MAX, Ordering::Release);
        let took = (start.elapsed() - t0).as_secs_f64();
        if took > slowest.0 {
            slowest = (took, i);
        }
        match result {
            Ok(Ok(_)) => ok += 1,
            Ok(Err(e)) => {
                // Rendering is part of the path a user sees.
                let _ = e.render();
                refused += 1;
            }
            Err(_) => {
                panics += 1;
                let _ = std::fs::create_dir_all(&crashes);
                let path = crashes.join(format!("crash-{seed}-{i}.txt"));
                let _ = std::fs::write(&path, format!("{name}\n{text}"));
                eprintln!("PANIC on input {i}: saved to {}", path.display());
            }
        }
        if (i + 1) % 100_000 == 0 {
            eprintln!(
                "{} inputs, {ok} models, {refused} diagnostics, {panics} panics ({:.0} s)",
                i + 1,
                start.elapsed().as_secs_f64()
            );
        }
    }
    println!(
        "fuzz: {inputs} inputs (seed {seed}): {ok} loaded, {refused} refused with a diagnostic, {panics} panics, {:.1} s (slowest input: {:.3} s, number {})",
        start.elapsed().as_secs_f64(),
        slowest.0,
        slowest.1
    );
    if panics > 0 {
        std::process::exit(1);
    }
}
