//! The Rust backend: a kernel module implementing `rateforge_kernel::Model` for the lane-block
//! runner, included into a crate (`include!`, one `pub mod` per model) or compiled alone to a
//! shared library with the C ABI.
//!
//! The module (`kernel-templates/rust/kernel.rs.tera`) holds only what depends on the model: the
//! sizes of its lane arrays, its tables, and the model's functions (derived values, right-hand
//! sides inlined into each solver stage, noise amplitudes, coupling terms, edge delays). The
//! runner, the history ring, statistics, progress and the ABI are ordinary code in
//! `rateforge-kernel`. What the kernel computes comes from the [`KernelPlan`], and this module
//! only says how Rust writes it (`RustSyntax`): every value of a lane block is
//! `array[index][l]`, platform functions are methods. Every operation is printed as the same
//! IEEE operation the reference evaluator performs, in the same order, so the kernel's results
//! equal the evaluator's.

use crate::back::{Common, Platform, Syntax};
use crate::namer::{Names, RUST_RESERVED};
use crate::plan::KernelPlan;
use crate::{EmitError, EmitOptions, Precision, render};
use rateforge_ir::{BinOp, ValidModel};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// Version of the C ABI between generated Rust kernels and the runtime.
pub const ABI_VERSION: u32 = rateforge_kernel::abi::ABI_VERSION;

const KERNEL_TEMPLATE: &str = include_str!("../../../../kernel-templates/rust/kernel.rs.tera");

mod api;
pub use api::{EmbeddedFile, TypedApi, TypedCuda};

/// How a kernel module is named and what it offers.
#[derive(Clone, Debug)]
pub struct Module {
    /// The module's name: a Rust identifier ([`module_name`] makes one from a model's name).
    pub name: String,
    /// `None`: the kernel and its C ABI only, against `::rateforge_kernel` (what the command
    /// line compiles to a shared library). `Some`: also the typed API, against `::rateforge_rt`
    /// (a crate that depends on `rateforge-rt`).
    pub typed: Option<TypedApi>,
}

impl Module {
    /// The module a model's kernel gets by default: named after the model, the C ABI only.
    pub fn standalone(model: &ValidModel) -> Module {
        Module {
            name: module_name(&model.model().name),
            typed: None,
        }
    }
}

/// A model name as a Rust module name: lower case, `[a-z0-9_]`, not a keyword, not starting
/// with a digit (`JRC_delay` gives `jrc_delay`, `2d` gives `m_2d`).
pub fn module_name(model_name: &str) -> String {
    let mut s: String = model_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty()
        || s.starts_with(|c: char| c.is_ascii_digit())
        || RUST_RESERVED.contains(&s.as_str())
        || s.chars().all(|c| c == '_')
    {
        s.insert_str(0, "m_");
    }
    s
}

/// Whether `name` can name a kernel module: a Rust identifier that is not a keyword.
pub fn is_module_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != "_"
        && !RUST_RESERVED[..RUST_KEYWORDS].contains(&name)
}

/// How many entries of [`RUST_RESERVED`] are Rust keywords (the rest are names kernels use).
const RUST_KEYWORDS: usize = 56;

/// The suffix of a kernel's exported symbols (`rf_info_<suffix>`, `rf_run_<suffix>`): the
/// module's name and a hash of the model and every option that changes the kernel, so kernels of
/// different models, or of one model with different options, link into one binary.
pub fn symbol_suffix(model: &ValidModel, options: &EmitOptions, module: &str) -> String {
    let mut h = Sha256::new();
    h.update(model.hash().as_bytes());
    h.update([0]);
    h.update(module.as_bytes());
    h.update([0]);
    for word in [
        options.lanes as u64,
        u64::from(options.precision.bits()),
        u64::from(options.history.bits()),
        u64::from(options.fast),
    ] {
        h.update(word.to_le_bytes());
    }
    let mut inline = options.inline.clone();
    inline.sort_by_key(|(k, _)| *k);
    inline.dedup_by_key(|(k, _)| *k);
    for (k, v) in inline {
        h.update((k as u64).to_le_bytes());
        h.update(v.to_bits().to_le_bytes());
    }
    let hex: String = h.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("{module}_{hex}")
}

/// A Rust `f64` literal that reads back to exactly `v` (infinities allowed for bounds).
pub fn float_literal(v: f64) -> String {
    if v == f64::INFINITY {
        return "f64::INFINITY".to_string();
    }
    if v == f64::NEG_INFINITY {
        return "f64::NEG_INFINITY".to_string();
    }
    let text = format!("{v:?}");
    if v < 0.0 || text.starts_with('-') {
        format!("({text}_f64)")
    } else {
        format!("{text}_f64")
    }
}

/// A Rust `f32` literal that reads back to `v` rounded once to float32.
fn f32_literal(v: f64) -> String {
    let x = v as f32;
    if x == f32::INFINITY {
        "f32::INFINITY".to_string()
    } else if x == f32::NEG_INFINITY {
        "f32::NEG_INFINITY".to_string()
    } else if x < 0.0 || x.is_sign_negative() {
        format!("({x:?}_f32)")
    } else {
        format!("{x:?}_f32")
    }
}

/// How Rust writes a kernel: lane `l` of every array, methods for platform functions.
pub(crate) struct RustSyntax;

impl Syntax for RustSyntax {
    fn lit(&self, v: f64, p: Precision) -> String {
        match p {
            Precision::F64 => float_literal(v),
            Precision::F32 => f32_literal(v),
        }
    }

    fn zero(&self) -> &'static str {
        "0.0"
    }

    fn logic(&self, op: BinOp) -> &'static str {
        // Both operands are computed anyway: no branch, so lane loops vectorise.
        if op == BinOp::And { "&" } else { "|" }
    }

    fn pow(&self, a: &str, b: &str, _: Precision) -> String {
        format!("{a}.powf({b})")
    }

    fn powi(&self, a: &str, n: i32, p: Precision) -> String {
        // rateforge_ir::powi: left-to-right repeated multiplication.
        if n == 0 {
            return self.lit(1.0, p);
        }
        let mut acc = "b".to_string();
        for _ in 1..n.unsigned_abs() {
            acc = format!("({acc} * b)");
        }
        if n < 0 {
            format!("({{ let b = {a}; {} / {acc} }})", self.lit(1.0, p))
        } else {
            format!("({{ let b = {a}; {acc} }})")
        }
    }

    fn platform_call(&self, f: Platform, args: &[String], _: Precision) -> String {
        format!("{}.{}({})", args[0], f.method, args[1..].join(", "))
    }

    fn select(&self, c: &str, a: &str, b: &str) -> String {
        format!("(if {c} != 0.0 {{ {a} }} else {{ {b} }})")
    }

    fn bind(&self, name: &str, value: &str) -> String {
        format!("let {name} = {value};")
    }

    fn bind_const(&self, name: &str, value: &str) -> String {
        format!("let {name}: F = {value};")
    }

    fn temporary(&self, name: &str, value: &str, p: Precision) -> String {
        format!("let {name}: {} = {value};", p.rust())
    }

    fn block(&self, lines: &[String], value: &str, _: Precision) -> String {
        format!("{{\n{}\n{value}\n}}", lines.join("\n"))
    }

    fn element(&self, array: &str, index: usize) -> String {
        format!("{array}[{index}][l]")
    }

    fn input(&self, input: &str, index: usize) -> String {
        format!("x.{input}[{index}][l]")
    }

    fn input_field(&self, field: &str) -> String {
        format!("x.{field}")
    }

    fn comment(&self, text: &str) -> String {
        format!("// {text}")
    }

    fn rhs(&self, index: usize, value: &str) -> String {
        format!("let k_{index} = {value};")
    }

    fn float_type(&self, p: Precision) -> &'static str {
        p.rust()
    }
}

#[derive(Serialize)]
struct Context {
    #[serde(flatten)]
    common: Common,
    lanes: usize,
    module: String,
    symbol: String,
    kernel_crate: String,
    api: String,
}

/// Emits the kernel module of a validated model, named after the model, against
/// `::rateforge_kernel` (what the command-line tool compiles to a shared library).
pub fn emit(model: &ValidModel, options: &EmitOptions) -> Result<String, EmitError> {
    emit_module(model, options, &Module::standalone(model))
}

/// Emits the kernel module of a validated model as `module` says.
pub fn emit_module(
    model: &ValidModel,
    options: &EmitOptions,
    module: &Module,
) -> Result<String, EmitError> {
    if !is_module_name(&module.name) {
        return Err(EmitError(format!(
            "`{}` is not a valid module name (letters, digits and `_`, not a Rust keyword)",
            module.name
        )));
    }
    let plan = KernelPlan::new(model, options);
    let names = Names::new(model, RUST_RESERVED);
    let symbol = symbol_suffix(model, options, &module.name);
    let (kernel_crate, api) = match &module.typed {
        None => ("::rateforge_kernel".to_string(), String::new()),
        Some(typed) => (
            "::rateforge_rt::kernel".to_string(),
            api::emit(model, options, &symbol, typed)?,
        ),
    };
    let context = Context {
        common: Common::new(&plan, &names, &RustSyntax),
        lanes: plan.lanes,
        module: module.name.clone(),
        symbol,
        kernel_crate,
        api,
    };
    render("rust/kernel.rs.tera", KERNEL_TEMPLATE, &context, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_names_are_identifiers() {
        assert_eq!(module_name("JRC_delay"), "jrc_delay");
        assert_eq!(module_name("mpr68"), "mpr68");
        assert_eq!(module_name("2d osc"), "m_2d_osc");
        assert_eq!(module_name("fn"), "m_fn");
        assert_eq!(module_name(""), "m_");
        assert_eq!(module_name("a\"}; evil()"), "a____evil__");
        for ok in ["jrc", "_x", "mpr68", "F"] {
            assert!(is_module_name(ok), "{ok}");
        }
        for bad in ["", "_", "2x", "fn", "self", "a-b", "a b", "é"] {
            assert!(!is_module_name(bad), "{bad}");
        }
        assert_eq!(RUST_RESERVED[RUST_KEYWORDS - 1], "macro_rules");
    }
}
