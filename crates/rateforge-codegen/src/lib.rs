//! rateforge backends: kernels generated from a validated model.
//!
//! Templates (`kernel-templates/`) own the skeleton of each kernel; the emitters here print
//! expressions and names. Templates are compiled into the crate and can be overridden from a
//! directory ([`EmitOptions::template_dir`]) to tweak generated code without rebuilding.
//! Output is deterministic: the same model and options give byte-identical text.

pub mod namer;
pub mod rust;

use serde::Serialize;
use std::path::PathBuf;

/// Options shared by the emitters.
#[derive(Clone, Debug)]
pub struct EmitOptions {
    /// Instances per lane block (the SIMD width the kernel's inner loops are written for).
    pub lanes: usize,
    /// A directory whose `rust/kernel.rs.tera` (etc.) replaces the built-in template.
    pub template_dir: Option<PathBuf>,
    /// Fuse `a*b + c` into one rounding where the CPU has FMA (faster; results then differ from
    /// the reference evaluator in the last bits).
    pub fma: bool,
}

impl Default for EmitOptions {
    fn default() -> Self {
        EmitOptions {
            lanes: 8,
            template_dir: None,
            fma: false,
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
    let mut tera = tera::Tera::default();
    tera.autoescape_on(vec![]);
    tera.add_raw_template(name, &text)
        .map_err(|e| EmitError(format!("template `{name}`: {}", chain(&e))))?;
    let ctx = tera::Context::from_serialize(context)
        .map_err(|e| EmitError(format!("template context: {e}")))?;
    tera.render(name, &ctx)
        .map_err(|e| EmitError(format!("rendering `{name}`: {}", chain(&e))))
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
