//! The Rust backend: a model-specific kernel with the fixed C ABI, compiled to a cdylib at run time.
//!
//! The skeleton (ABI structs, lane blocks, node loop, histories, couplings, time loop, solver
//! stages, noise) lives in `kernel-templates/rust/kernel.rs.tera`; what the kernel computes comes
//! from the [`KernelPlan`], and this module only says how Rust writes it ([`RustSyntax`]): every
//! value of a lane block is `array[index][l]`, platform functions are methods. Every operation is
//! printed as the same IEEE operation the reference evaluator performs, in the same order, so the
//! kernel's results equal the evaluator's.

use crate::back::{Common, Platform, Syntax};
use crate::namer::{Names, RUST_RESERVED};
use crate::plan::KernelPlan;
use crate::{EmitError, EmitOptions, Precision, render};
use rateforge_ir::{BinOp, ValidModel};
use serde::Serialize;

/// Version of the C ABI between generated Rust kernels and the runtime.
pub const ABI_VERSION: u32 = 3;

const KERNEL_TEMPLATE: &str = include_str!("../../../../kernel-templates/rust/kernel.rs.tera");
const PRELUDE: &str = include_str!("../../../../kernel-templates/rust/prelude.rs");
const VMATH: &str = include_str!("../../../../kernel-templates/rust/vmath.rs");

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
    abi_version: u32,
    lanes: usize,
    prelude: &'static str,
    vmath: &'static str,
    prefetch_ahead: usize,
}

/// Emits the kernel source for a validated model.
pub fn emit(model: &ValidModel, options: &EmitOptions) -> Result<String, EmitError> {
    let plan = KernelPlan::new(model, options);
    let names = Names::new(model, RUST_RESERVED);
    let context = Context {
        common: Common::new(&plan, &names, &RustSyntax),
        abi_version: ABI_VERSION,
        lanes: plan.lanes,
        prelude: PRELUDE,
        vmath: VMATH,
        prefetch_ahead: std::env::var("RATEFORGE_PREFETCH")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2),
    };
    render("rust/kernel.rs.tera", KERNEL_TEMPLATE, &context, options)
}
