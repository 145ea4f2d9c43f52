//! The CUDA backend: a model-specific CUDA C kernel (one thread per instance), compiled with
//! NVRTC at run time or by `nvcc` with the stand-alone driver, and as plain C++ with the CPU shim
//! for testing without a GPU.
//!
//! The model-dependent part lives in `kernel-templates/cuda/kernel.cu.tera` (the rest in
//! `prelude.cuh` and `runner.cuh`); what it computes comes from the kernel plan, and this module
//! says how C writes it (`CudaSyntax`), names coming from the [`crate::namer`]. Every
//! operation is the reference evaluator's IEEE operation in the same order (no contraction into
//! FMA unless [`EmitOptions::fast`]), and `exp`, `log`, `sin`, `cos`, `tanh`, `sigmoid` are
//! rateforge's own functions (`kernel-templates/cuda/vmath.cuh`, the port of `rateforge_kernel::vmath`), so CUDA results equal the CPU's.
//!
//! [`emit_driver`] prints the stand-alone sweep driver (`kernel-templates/cuda/driver.cu.tera`):
//! a CUDA C++ host program that includes the kernel and runs RateML-style sweeps. Model names
//! reach it only as [`c_name`] string literals and [`file_stem`] identifiers.

use crate::back::{Common, Platform, Syntax};
use crate::namer::{CUDA_RESERVED, Names, comment};
use crate::plan::KernelPlan;
use crate::{EmitError, EmitOptions, Precision, render};
use rateforge_ir::{BinOp, Handle, ValidModel};
use rateforge_kernel::abi::{AbiStruct, RfCudaArgs};
use serde::Serialize;

/// Version of the argument block between generated CUDA kernels and their drivers.
pub const CUDA_ABI_VERSION: u32 = rateforge_kernel::abi::CUDA_ABI_VERSION;

const KERNEL_TEMPLATE: &str = include_str!("../../../../kernel-templates/cuda/kernel.cu.tera");
/// rateforge's elementary functions in C (pasted into every kernel).
pub const VMATH: &str = include_str!("../../../../kernel-templates/cuda/vmath.cuh");
/// Philox4x32-10 and the normal numbers in C (pasted into every kernel).
pub const RANDOM: &str = include_str!("../../../../kernel-templates/cuda/random.cuh");
/// The helpers a model's functions call, and a node's inputs (pasted into every kernel).
pub const PRELUDE: &str = include_str!("../../../../kernel-templates/cuda/prelude.cuh");
/// The integrator: `rf_run`, `rf_prepare` and what they call (pasted into every kernel).
pub const RUNNER: &str = include_str!("../../../../kernel-templates/cuda/runner.cuh");
/// The observers (BOLD, FC, FCD) of the CUDA kernels.
pub const OBSERVE: &str = include_str!("../../../../kernel-templates/cuda/observe.cuh");
/// The header that compiles a kernel (and the stand-alone driver) as C++ on the CPU.
pub const SHIM: &str = include_str!("../../../../kernel-templates/cuda/shim.h");
/// The launcher that follows the kernel in a CPU build (`rf_emulate`).
pub const SHIM_LAUNCH: &str = include_str!("../../../../kernel-templates/cuda/shim_launch.h");
const DRIVER_TEMPLATE: &str = include_str!("../../../../kernel-templates/cuda/driver.cu.tera");

/// A C `double` literal that reads back to exactly `v`.
pub fn double_literal(v: f64) -> String {
    if v == f64::INFINITY {
        return "RF_FROM_U64(0x7ff0000000000000ULL)".to_string();
    }
    if v == f64::NEG_INFINITY {
        return "(-RF_FROM_U64(0x7ff0000000000000ULL))".to_string();
    }
    let text = format!("{v:?}");
    // Rust's shortest round-trip form is valid C (`1e-5`, `0.1`, `3.0`); C reads it correctly
    // rounded.
    if text.starts_with('-') {
        format!("({text})")
    } else {
        text
    }
}

/// A C `float` literal that reads back to `v` rounded to float32.
pub fn float_literal(v: f64) -> String {
    let x = v as f32;
    if x == f32::INFINITY {
        return "RF_FROM_U32(0x7f800000U)".to_string();
    }
    if x == f32::NEG_INFINITY {
        return "(-RF_FROM_U32(0x7f800000U))".to_string();
    }
    let mut text = format!("{x:?}");
    if !text.contains(['.', 'e', 'E']) {
        text.push_str(".0");
    }
    if text.starts_with('-') {
        format!("({text}f)")
    } else {
        format!("{text}f")
    }
}

/// How CUDA C writes a kernel: one thread's arrays, C functions (`sinhf` in float32), and a
/// `(void)` after every local so that unused ones do not warn.
pub(crate) struct CudaSyntax;

impl Syntax for CudaSyntax {
    fn lit(&self, v: f64, p: Precision) -> String {
        match p {
            Precision::F64 => double_literal(v),
            Precision::F32 => float_literal(v),
        }
    }

    fn zero(&self) -> &'static str {
        "(F)0"
    }

    fn logic(&self, op: BinOp) -> &'static str {
        if op == BinOp::And { "&&" } else { "||" }
    }

    fn pow(&self, a: &str, b: &str, p: Precision) -> String {
        let f = if p == Precision::F32 { "powf" } else { "pow" };
        format!("{f}({a}, {b})")
    }

    fn powi(&self, a: &str, n: i32, _: Precision) -> String {
        format!("rf_powi({a}, {n})")
    }

    fn platform_call(&self, f: Platform, args: &[String], p: Precision) -> String {
        let suffix = if f.c_float_suffix && p == Precision::F32 {
            "f"
        } else {
            ""
        };
        format!("{}{suffix}({})", f.c, args.join(", "))
    }

    fn select(&self, c: &str, a: &str, b: &str) -> String {
        format!("({c} != (F)0 ? {a} : {b})")
    }

    fn bind(&self, name: &str, value: &str) -> String {
        format!("F {name} = {value}; (void){name};")
    }

    fn bind_const(&self, name: &str, value: &str) -> String {
        format!("const F {name} = {value}; (void){name};")
    }

    fn temporary(&self, name: &str, value: &str, p: Precision) -> String {
        format!("const {} {name} = {value};", self.float_type(p))
    }

    fn block(&self, lines: &[String], value: &str, p: Precision) -> String {
        // A lambda called in place: an expression that holds statements, in CUDA and host C++.
        format!(
            "([&]() -> {} {{\n{}\nreturn {value};\n}}())",
            self.float_type(p),
            lines.join("\n")
        )
    }

    fn element(&self, array: &str, index: usize) -> String {
        format!("{array}[{index}]")
    }

    fn input(&self, input: &str, index: usize) -> String {
        format!("x->{input}[{index}]")
    }

    fn input_field(&self, field: &str) -> String {
        format!("x->{field}")
    }

    fn comment(&self, text: &str) -> String {
        format!("/* {text} */")
    }

    fn rhs(&self, index: usize, value: &str) -> String {
        format!("k[{index}] = {value};")
    }

    fn float_type(&self, p: Precision) -> &'static str {
        match p {
            Precision::F64 => "double",
            Precision::F32 => "float",
        }
    }
}

#[derive(Serialize)]
struct RangedCtx {
    index: usize,
    lo: String,
    hi: String,
    bounded: bool,
    blo: String,
    bhi: String,
}

#[derive(Serialize)]
struct Context {
    #[serde(flatten)]
    common: Common,
    abi_version: u32,
    fma_fn: &'static str,
    /// States whose initial values are drawn from a range.
    ranged: Vec<RangedCtx>,
    /// `struct RfCudaArgs`, from `rateforge_kernel::abi`.
    args_struct: String,
    /// The kernel `rf_layout`, which reports the compiler's layout of `RfCudaArgs`.
    args_probe: String,
    vmath: &'static str,
    random: &'static str,
    prelude: &'static str,
    observe: &'static str,
    runner: &'static str,
}

/// Emits the CUDA C source of a validated model.
pub fn emit(model: &ValidModel, options: &EmitOptions) -> Result<String, EmitError> {
    let plan = KernelPlan::new(model, options);
    let names = Names::new(model, CUDA_RESERVED);
    let context = Context {
        common: Common::new(&plan, &names, &CudaSyntax),
        abi_version: CUDA_ABI_VERSION,
        fma_fn: match options.precision {
            Precision::F64 => "__fma_rn",
            Precision::F32 => "__fmaf_rn",
        },
        ranged: plan
            .ranged
            .iter()
            .map(|r| {
                let (blo, bhi) = r.bounds.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
                RangedCtx {
                    index: r.state,
                    lo: double_literal(r.lo),
                    hi: double_literal(r.hi),
                    bounded: r.bounds.is_some(),
                    blo: double_literal(blo),
                    bhi: double_literal(bhi),
                }
            })
            .collect(),
        args_struct: RfCudaArgs::LAYOUT.c_definition(),
        args_probe: RfCudaArgs::LAYOUT.c_probe("RF_KERNEL", "rf_layout"),
        vmath: VMATH,
        random: RANDOM,
        prelude: PRELUDE,
        observe: OBSERVE,
        runner: RUNNER,
    };
    render("cuda/kernel.cu.tera", KERNEL_TEMPLATE, &context, options)
}

/// What the stand-alone driver needs beyond the model.
#[derive(Clone, Debug)]
pub struct DriverSpec {
    /// The program's name (a C identifier: letters, digits, `_`), also the stem of its files.
    pub name: String,
    /// The kernel's file name, included by the driver.
    pub kernel_file: String,
    /// The parameters the model declares as swept: (parameter index, lo, hi).
    pub axes: Vec<(usize, f64, f64)>,
    /// What is recorded: ids below the number of states are states, the others derived values.
    pub record: Vec<u32>,
}

#[derive(Serialize)]
struct NamedValue {
    name: String,
    value: String,
}

#[derive(Serialize)]
struct DriverAxis {
    name: String,
    param: usize,
    lo: String,
    hi: String,
}

#[derive(Serialize)]
struct DriverRecord {
    id: u32,
    name: String,
}

#[derive(Serialize)]
struct DriverContext {
    version: &'static str,
    model_name: String,
    model_name_c: String,
    model_hash: String,
    name: String,
    kernel_file: String,
    params: Vec<NamedValue>,
    states: Vec<NamedValue>,
    axes: Vec<DriverAxis>,
    record: Vec<DriverRecord>,
    delay_params: Vec<usize>,
    solver: u32,
    dt: String,
    n_steps: u64,
}

/// A model name as a C string literal that is also valid JSON text: characters outside a
/// conservative set become `_`, so no user text can end the string or form an escape.
pub fn c_name(text: &str) -> String {
    let safe: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || " _./->:+,()=[]".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("\"{safe}\"")
}

/// A file or program name: letters, digits and `_` only.
pub fn file_stem(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if s.is_empty() { "model".to_string() } else { s }
}

/// Emits the stand-alone sweep driver: a CUDA C++ host program (runtime API) that includes the
/// kernel file, takes RateML-style arguments and writes `.npy` files (see the template's header).
pub fn emit_driver(
    model: &ValidModel,
    options: &EmitOptions,
    spec: &DriverSpec,
) -> Result<String, EmitError> {
    let m = model.model();
    let ns = m.states.len();
    let var_name = |id: u32| -> String {
        let id = id as usize;
        if id < ns {
            m.states[Handle::from_index(id)].name.clone()
        } else {
            m.derived[Handle::from_index(id - ns)].name.clone()
        }
    };
    let named = |name: &str, value: f64| NamedValue {
        name: c_name(name),
        value: double_literal(value),
    };
    let context = DriverContext {
        version: env!("CARGO_PKG_VERSION"),
        model_name: comment(&m.name),
        model_name_c: c_name(&m.name),
        model_hash: model.hash(),
        name: file_stem(&spec.name),
        kernel_file: file_stem(spec.kernel_file.trim_end_matches(".cu")) + ".cu",
        params: m.params.values().map(|p| named(&p.name, p.value)).collect(),
        states: m.states.values().map(|s| named(&s.name, s.init)).collect(),
        axes: spec
            .axes
            .iter()
            .filter(|(k, _, _)| *k < m.params.len())
            .map(|&(k, lo, hi)| DriverAxis {
                name: c_name(&m.params[Handle::from_index(k)].name),
                param: k,
                lo: double_literal(lo),
                hi: double_literal(hi),
            })
            .collect(),
        record: spec
            .record
            .iter()
            .filter(|&&id| (id as usize) < ns + m.derived.len())
            .map(|&id| DriverRecord {
                id,
                name: c_name(&var_name(id)),
            })
            .collect(),
        delay_params: m.delays.values().map(|d| d.time.index()).collect(),
        solver: 1,
        dt: double_literal(0.1),
        n_steps: 1000,
    };
    render("cuda/driver.cu.tera", DRIVER_TEMPLATE, &context, options)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_leave_their_string_or_identifier() {
        assert_eq!(c_name("p/qif_op/eta"), "\"p/qif_op/eta\"");
        assert_eq!(
            c_name("mpr_op/r->mpr_op/c_r/a"),
            "\"mpr_op/r->mpr_op/c_r/a\""
        );
        // Quotes, backslashes, newlines, `%` and non-ASCII become `_`.
        assert_eq!(
            c_name("x\"); system(\"rm -rf /\\\n%n\u{e9}"),
            "\"x_)_ system(_rm -rf /___n_\""
        );
        assert_eq!(file_stem("JRC delay.v2"), "JRC_delay_v2");
        assert_eq!(file_stem(""), "model");
        assert_eq!(file_stem("a;b`c"), "a_b_c");
    }
}
