//! The typed API of a kernel module compiled into a crate (`rateforge-build`, generated crates):
//! `Model` (rateforge-rt's `StaticModel`), `Params` and `State` (one named field per parameter or
//! state), `Var` (the recordable values) and `Simulation`. Rendered from
//! `kernel-templates/rust/api.rs.tera` and appended inside the kernel module.

use super::float_literal;
use crate::namer::{Namer, RUST_RESERVED, comment, rust_str};
use crate::{EmitError, EmitOptions, render};
use rateforge_ir::ValidModel;
use serde::Serialize;

const API_TEMPLATE: &str = include_str!("../../../../kernel-templates/rust/api.rs.tera");

/// What the typed API records about a model beyond its IR (how it was loaded and driven).
#[derive(Clone, Debug, Default)]
pub struct TypedApi {
    /// The reference the model was loaded from.
    pub reference: String,
    /// The files it was read from.
    pub files: Vec<String>,
    /// What a run records when it names nothing.
    pub record: Vec<String>,
    /// Inputs driven by expressions of time: (path, expression).
    pub inputs: Vec<(String, String)>,
    /// The parameters the model declares as swept: (path, lo, hi).
    pub sweep: Vec<(String, f64, f64)>,
    /// The embedded connectivity: its file (`rateforge_rt::Connectivity::to_le_bytes`), and a
    /// description of where it came from.
    pub connectivity: Option<(EmbeddedFile, String)>,
    /// The model's CUDA kernel, compiled into the binary too.
    pub cuda: Option<TypedCuda>,
}

/// How a typed module reaches its model's CUDA kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypedCuda {
    /// PTX for a virtual architecture, embedded with `include_str!`.
    pub ptx: Option<EmbeddedFile>,
    /// The kernel compiled as C++ with the CPU shim is linked in, its entry points named
    /// `rf_emulate_<symbol>` and `rf_emulate_layout_<symbol>` (see [`super::symbol_suffix`]).
    pub emulation: bool,
}

/// A file a generated module embeds with `include_bytes!`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbeddedFile {
    /// A file in the build script's `OUT_DIR`, by name.
    OutDir(String),
    /// A path relative to the file the module is in.
    Relative(String),
}

impl EmbeddedFile {
    /// The argument of `include_bytes!`.
    fn expression(&self) -> String {
        match self {
            EmbeddedFile::OutDir(name) => {
                format!(
                    "concat!(env!(\"OUT_DIR\"), {})",
                    rust_str(&format!("/{name}"))
                )
            }
            EmbeddedFile::Relative(path) => rust_str(path),
        }
    }
}

#[derive(Serialize)]
struct Value {
    field: String,
    path: String,
    value: String,
    range: String,
    bounds: String,
    comment: String,
}

#[derive(Serialize)]
struct Var {
    field: String,
    path: String,
    comment: String,
}

#[derive(Serialize)]
struct Input {
    path: String,
    expression: String,
}

#[derive(Serialize)]
struct SweepAxis {
    path: String,
    lo: String,
    hi: String,
}

#[derive(Serialize)]
struct Connectivity {
    bytes: String,
    source: String,
}

#[derive(Serialize)]
struct Cuda {
    ptx: String,
    emulation: bool,
    delay_params: Vec<usize>,
}

#[derive(Serialize)]
struct Context {
    cuda: Option<Cuda>,
    model_name: String,
    symbol: String,
    name: String,
    reference: String,
    hash: String,
    version: String,
    files: Vec<String>,
    params: Vec<Value>,
    states: Vec<Value>,
    vars: Vec<Var>,
    derived: Vec<String>,
    record: Vec<String>,
    inputs: Vec<Input>,
    sweep: Vec<SweepAxis>,
    network: bool,
    noise: bool,
    connectivity: Option<Connectivity>,
}

fn pair(p: Option<(f64, f64)>) -> String {
    match p {
        Some((a, b)) => format!("Some(({}, {}))", float_literal(a), float_literal(b)),
        None => "None".to_string(),
    }
}

/// The typed API text of `model`, whose kernel module exports `rf_run_<symbol>`.
pub(crate) fn emit(
    model: &ValidModel,
    options: &EmitOptions,
    symbol: &str,
    api: &TypedApi,
) -> Result<String, EmitError> {
    let m = model.model();
    // Public names: `p/qif_op/eta` is the field `p__qif_op__eta`.
    let mut params_namer = Namer::new(RUST_RESERVED);
    let mut states_namer = Namer::new(RUST_RESERVED);
    let mut vars_namer = Namer::new(RUST_RESERVED);
    let value = |namer: &mut Namer, path: &str, v: f64, range, bounds| Value {
        field: namer.name("", path),
        path: rust_str(path),
        value: float_literal(v),
        range: pair(range),
        bounds: pair(bounds),
        comment: comment(path),
    };
    let params = m
        .params
        .values()
        .map(|p| value(&mut params_namer, &p.name, p.value, None, None))
        .collect();
    let states = m
        .states
        .values()
        .map(|s| value(&mut states_namer, &s.name, s.init, s.init_range, s.bounds))
        .collect();
    let vars = m
        .states
        .values()
        .map(|s| &s.name)
        .chain(m.derived.values().map(|d| &d.name))
        .map(|name| Var {
            field: vars_namer.name("", name),
            path: rust_str(name),
            comment: comment(name),
        })
        .collect();
    let context = Context {
        cuda: api.cuda.as_ref().map(|c| Cuda {
            ptx: c
                .ptx
                .as_ref()
                .map_or_else(String::new, EmbeddedFile::expression),
            emulation: c.emulation,
            delay_params: m.delays.values().map(|d| d.time.index()).collect(),
        }),
        model_name: comment(&m.name),
        symbol: symbol.to_string(),
        name: rust_str(&m.name),
        reference: rust_str(&api.reference),
        hash: rust_str(&model.hash()),
        version: rust_str(env!("CARGO_PKG_VERSION")),
        files: api.files.iter().map(|f| rust_str(f)).collect(),
        params,
        states,
        vars,
        derived: m.derived.values().map(|d| rust_str(&d.name)).collect(),
        record: api.record.iter().map(|r| rust_str(r)).collect(),
        inputs: api
            .inputs
            .iter()
            .map(|(p, e)| Input {
                path: rust_str(p),
                expression: rust_str(e),
            })
            .collect(),
        sweep: api
            .sweep
            .iter()
            .map(|(p, lo, hi)| SweepAxis {
                path: rust_str(p),
                lo: float_literal(*lo),
                hi: float_literal(*hi),
            })
            .collect(),
        network: m.network.is_some(),
        noise: model.info().has_noise,
        connectivity: api
            .connectivity
            .as_ref()
            .filter(|_| m.network.is_some())
            .map(|(file, source)| Connectivity {
                bytes: file.expression(),
                source: rust_str(source),
            }),
    };
    render("rust/api.rs.tera", API_TEMPLATE, &context, options)
}
