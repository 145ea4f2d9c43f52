//! rateforge backends: kernels generated from a validated model.
//!
//! `ValidModel + EmitOptions` → [`plan::KernelPlan`] (every decision that does not depend on the
//! language: evaluation order, fused and folded operations, the tables of the history, delays and
//! couplings, the statistics layout) → an emitter per language, [`rust`] and [`cuda`], each a thin
//! syntax layer (a `Syntax` implementation over the shared printer and template context of the
//! private `back` module, after naga's `back/`). Templates (`kernel-templates/`) hold only what
//! depends on the model; the code that does not (the runner, the ABI, the elementary functions) is
//! ordinary code in `rateforge-kernel` and `kernel-templates/cuda/*.cuh`. Every identifier comes
//! from the [`namer`]. Templates are compiled into the crate and can be overridden from a
//! directory ([`EmitOptions::template_dir`]) to tweak generated code without rebuilding.
//! Output is deterministic: the same model and options give byte-identical text.

mod back;
pub mod cuda;
pub mod namer;
pub mod plan;
pub mod rust;

use serde::Serialize;
use std::path::PathBuf;

/// Floating-point precision of a kernel's arithmetic or of its delay history.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Precision {
    /// IEEE double precision: the reference semantics.
    #[default]
    F64,
    /// IEEE single precision: twice the lanes per vector, about 7 significant digits.
    F32,
}

impl Precision {
    /// The Rust type name.
    pub fn rust(self) -> &'static str {
        match self {
            Precision::F64 => "f64",
            Precision::F32 => "f32",
        }
    }

    /// Bits of the type.
    pub fn bits(self) -> u32 {
        match self {
            Precision::F64 => 64,
            Precision::F32 => 32,
        }
    }
}

/// Options shared by the emitters.
#[derive(Clone, Debug)]
pub struct EmitOptions {
    /// Instances per lane block (the width the kernel's inner loops are written for; LLVM splits
    /// them into SIMD vectors).
    pub lanes: usize,
    /// A directory whose `rust/kernel.rs.tera` (etc.) replaces the built-in template.
    pub template_dir: Option<PathBuf>,
    /// Fuse `a*b + c` into one rounding where the CPU has FMA (faster; results then differ from
    /// the reference evaluator in the last bits).
    pub fast: bool,
    /// The arithmetic (float64 gives the reference semantics).
    pub precision: Precision,
    /// What the delay history stores (float32 halves its memory traffic).
    pub history: Precision,
    /// Parameters compiled into the kernel as constants, `(index, value)`: the compiler can then
    /// fold them (a division by `tau = 1` disappears). The kernel refuses to run with other values.
    pub inline: Vec<(usize, f64)>,
    /// The values the runs of this kernel record or observe (ids as in the ABI: states, then
    /// derived values), when known. A coupling that only a gate compiled in as zero reads is
    /// then not computed, even where a derived value reads it, unless that value is among
    /// these; without them every derived value stays recordable (the IR's "Gated couplings").
    pub records: Option<Vec<usize>>,
    /// A directory where rendered templates are kept, keyed by the SHA-256 of the template and
    /// its context: generating a kernel again then costs no template parsing (a run whose kernel
    /// is cached starts in a few milliseconds).
    pub render_cache: Option<PathBuf>,
}

impl EmitOptions {
    /// The default lane count for a precision: 32 float64 or 64 float32 lanes (four AVX-512
    /// vectors), enough independent work to hide the latency of every operation.
    pub fn default_lanes(precision: Precision) -> usize {
        match precision {
            Precision::F64 => 32,
            Precision::F32 => 64,
        }
    }

    /// The lane count for a run of `instances`: the default, or the smallest power of two that
    /// holds every instance when there are fewer. Lanes beyond the last instance repeat it, so
    /// a single instance in 32 lanes computes 32 times and keeps 32 delay histories (440 MB for
    /// the 68-region Montbrió network at dt 0.01 instead of 14 MB); exact arithmetic gives the
    /// same bits at any lane count.
    pub fn lanes_for(precision: Precision, instances: usize) -> usize {
        Self::default_lanes(precision).min(instances.max(1).next_power_of_two())
    }

    /// [`EmitOptions::lanes_for`], narrowed for a delayed network so that the histories of the
    /// blocks that `threads` threads run at once (one history per lane of a block, each
    /// `history_bytes` long) stay where they are read fast:
    ///
    /// 1. halved, down to [`MIN_CACHE_LANES`], while they exceed `cache_bytes` (the last-level
    ///    cache; 0 when unknown): each step reads thousands of rows from all over the history,
    ///    and from the cache rather than from memory they come at several times the rate;
    /// 2. halved, down to [`MIN_HISTORY_LANES`], while they exceed [`HISTORY_BUDGET`]: a history
    ///    that fits no cache at least stays small enough for the memory system to hand out
    ///    without contention.
    ///
    /// Measured on the 68-region Montbrió network (1.4 MB per instance at dt 0.1 ms, 13.8 MB at
    /// dt 0.01), 64 instances, on a 2-core AMD EPYC with a 32 MiB L3: at dt 0.1 on one core 8,
    /// 16 and 32 lanes take 0.48, 0.40 and 0.52 s, on two cores 0.32, 0.29 and 0.39 s (fewer
    /// lanes pay more per history row, more lanes leave the cache); at dt 0.01 on two cores 32
    /// lanes took 1.0–1.4 s (faulting in 2 × 441 MB), 8 lanes 0.25 s.
    pub fn lanes_for_run(
        precision: Precision,
        instances: usize,
        history_bytes: usize,
        threads: usize,
        cache_bytes: usize,
    ) -> usize {
        let held = |lanes: usize| {
            lanes
                .saturating_mul(history_bytes)
                .saturating_mul(threads.max(1))
        };
        let mut lanes = Self::lanes_for(precision, instances);
        while cache_bytes > 0 && lanes > MIN_CACHE_LANES && held(lanes) > cache_bytes {
            lanes /= 2;
        }
        while lanes > MIN_HISTORY_LANES && held(lanes) > HISTORY_BUDGET {
            lanes /= 2;
        }
        lanes
    }
}

/// The most delay-history memory the blocks running at once should hold (see
/// [`EmitOptions::lanes_for_run`]).
pub const HISTORY_BUDGET: usize = 128 << 20;
/// The fewest lanes a history budget narrows a kernel to: one 512-bit vector of float64.
pub const MIN_HISTORY_LANES: usize = 8;
/// The fewest lanes the last-level cache narrows a kernel to (below, the cost per history row
/// outweighs the faster reads).
pub const MIN_CACHE_LANES: usize = 16;

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions {
            lanes: EmitOptions::default_lanes(Precision::F64),
            template_dir: None,
            fast: false,
            precision: Precision::F64,
            history: Precision::F64,
            inline: Vec::new(),
            records: None,
            render_cache: None,
        }
    }
}

/// A template could not be read or rendered (a bug, or a broken override template).
#[derive(Debug)]
pub struct EmitError(pub String);

impl std::fmt::Display for EmitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EmitError {}

/// Renders template `name` (built-in text `builtin`, unless overridden) with `context`, in
/// strict mode: an undefined variable is an error, nothing is escaped.
pub(crate) fn render(
    name: &str,
    builtin: &str,
    context: &impl Serialize,
    options: &EmitOptions,
) -> Result<String, EmitError> {
    let text = match &options.template_dir {
        Some(dir) if dir.join(name).is_file() => {
            std::fs::read_to_string(dir.join(name)).map_err(|e| {
                EmitError(format!(
                    "cannot read template override `{}`: {e}",
                    dir.join(name).display()
                ))
            })?
        }
        _ => builtin.to_string(),
    };
    // A rendering is a pure function of the template and its context (and tera's version).
    let cached = options.render_cache.as_ref().and_then(|dir| {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(b"tera 1\0");
        h.update(name.as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.update([0]);
        h.update(serde_json::to_vec(context).ok()?);
        let key: String = h.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Some(dir.join(key))
    });
    if let Some(path) = &cached
        && let Ok(text) = std::fs::read_to_string(path)
    {
        return Ok(text);
    }
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.add_raw_template(name, &text)
        .map_err(|e| EmitError(format!("template `{name}`: {}", chain(&e))))?;
    let ctx = tera::Context::from_serialize(context)
        .map_err(|e| EmitError(format!("template context: {e}")))?;
    let rendered = tera
        .render(name, &ctx)
        .map_err(|e| EmitError(format!("rendering `{name}`: {}", chain(&e))))?;
    if let Some(path) = &cached {
        // Best effort, written whole then renamed: a missing entry only costs a rendering.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if path
            .parent()
            .is_some_and(|d| std::fs::create_dir_all(d).is_ok())
            && std::fs::write(&tmp, &rendered).is_ok()
        {
            let _ = std::fs::rename(&tmp, path);
        }
    }
    Ok(rendered)
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}
