//! # rateforge-build
//!
//! Compiles rateforge models into your crate from its build script. Each model becomes a Rust
//! module with a typed API (`Params`, `State`, `Var`, `Simulation`) whose kernel is compiled with
//! the rest of your crate: no Rust compiler, no shared library and no model file at run time.
//!
//! ```no_run
//! // build.rs (with `rateforge-build` in [build-dependencies], `rateforge-rt` in [dependencies])
//! fn main() -> Result<(), rateforge_build::Error> {
//!     rateforge_build::Build::new()
//!         .model("models/jansen_rit.yaml/JRC") // every MODEL form the command line takes
//!         .model("models/mpr68.xml")
//!         .compile() // writes $OUT_DIR/rateforge_models.rs
//! }
//! ```
//!
//! ```ignore
//! // src/main.rs or lib.rs: one `pub mod` per model (`jrc`, `mpr68`, ...)
//! include!(concat!(env!("OUT_DIR"), "/rateforge_models.rs"));
//!
//! let result = jrc::Simulation::new().time(2.0).dt(1e-4).run(&jrc::Params::default())?;
//! ```
//!
//! [`Build::compile`] prints `cargo:rerun-if-changed` for every file a model reads (the model
//! file, every file reached through `base:`, its connectivity), so editing any of them rebuilds
//! and nothing else does. A mistake in a model fails the build with the diagnostics the command
//! line prints (file:line:col, the text underlined, a help line); [`Error`]'s `Debug` and
//! `Display` both render them, so `fn main() -> Result<(), rateforge_build::Error>` reads well.

use rateforge::crates::codegen::rust::{
    EmbeddedFile, TypedCuda, is_module_name, module_name, symbol_suffix,
};
use rateforge::{EmitOptions, LoadOptions, Model, Precision};
use std::fmt;
use std::path::{Path, PathBuf};

/// A failed build: the rendered diagnostics.
pub struct Error {
    text: String,
    /// Files the failing models were read from (a build script reruns when they change).
    files: Vec<PathBuf>,
}

impl Error {
    fn new(text: impl Into<String>) -> Error {
        Error {
            text: text.into(),
            files: Vec::new(),
        }
    }

    /// The rendered report (plain text).
    pub fn report(&self) -> &str {
        &self.text
    }
}

impl From<rateforge::Error> for Error {
    fn from(e: rateforge::Error) -> Self {
        Error {
            text: e.render(),
            files: e.files(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text.trim_end())
    }
}

/// The same text as `Display`: what a build script returning `Result<(), Error>` prints.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f)?;
        f.write_str(self.text.trim_end())
    }
}

impl std::error::Error for Error {}

#[derive(Clone, Debug)]
struct Entry {
    reference: String,
    module: Option<String>,
    sets: Vec<(String, f64)>,
    constants: Vec<String>,
    inputs: Vec<(String, String)>,
    connectivity: Option<PathBuf>,
}

/// The models to compile and how (see the crate docs).
#[derive(Clone, Debug)]
pub struct Build {
    models: Vec<Entry>,
    options: EmitOptions,
    load: LoadOptions,
    out_file: String,
    cuda: Option<String>,
}

impl Default for Build {
    fn default() -> Self {
        Build::new()
    }
}

/// What [`Build::generate`] produced.
#[derive(Clone, Debug)]
pub struct Generated {
    /// The Rust source: one `pub mod` per model.
    pub source: String,
    /// Files to write beside it: (name relative to the directory the modules embed from, bytes).
    pub files: Vec<(String, Vec<u8>)>,
    /// C++ sources to compile and link (the CPU emulation of CUDA kernels): (library name, file
    /// name among [`Generated::files`]).
    pub cpp: Vec<(String, String)>,
    /// Every file the models were read from.
    pub dependencies: Vec<PathBuf>,
    /// The module names, in order.
    pub modules: Vec<String>,
}

/// Where the generated modules find the files they embed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EmbedFrom {
    /// The build script's `OUT_DIR`.
    OutDir,
    /// A directory relative to the file the modules are written to (e.g. `"../data"`).
    Relative(String),
}

impl Build {
    /// No models yet; float64 kernels with the default lanes, exact arithmetic, parameters not
    /// compiled in (any values at run time).
    pub fn new() -> Build {
        Build {
            models: Vec::new(),
            options: EmitOptions::default(),
            load: LoadOptions::default(),
            out_file: "rateforge_models.rs".to_string(),
            cuda: None,
        }
    }

    /// Adds a model: any MODEL form the command line takes (`dir/file.yaml/Template`,
    /// `dir/file/Template`, `package.file.Template`, `dir/file.yaml`, `dir/model.xml`), relative
    /// to the crate's directory. Its module is named after the model (`JRC` gives `jrc`) unless
    /// [`Build::module_name`] says otherwise.
    pub fn model(mut self, reference: impl Into<String>) -> Build {
        self.models.push(Entry {
            reference: reference.into(),
            module: None,
            sets: Vec::new(),
            constants: Vec::new(),
            inputs: Vec::new(),
            connectivity: None,
        });
        self
    }

    fn last(&mut self, what: &str) -> Option<&mut Entry> {
        if self.models.is_empty() {
            // Reported by `generate`: a setting before any model.
            self.models.push(Entry {
                reference: format!("\u{0}{what}"),
                module: None,
                sets: Vec::new(),
                constants: Vec::new(),
                inputs: Vec::new(),
                connectivity: None,
            });
            return None;
        }
        self.models.last_mut()
    }

    /// Names the module of the model added last (a Rust identifier).
    pub fn module_name(mut self, name: impl Into<String>) -> Build {
        if let Some(e) = self.last("module_name") {
            e.module = Some(name.into());
        }
        self
    }

    /// Sets a parameter's value or a state's initial value of the model added last (its default
    /// in the typed API), as `rateforge run --set` does.
    pub fn set(mut self, path: impl Into<String>, value: f64) -> Build {
        if let Some(e) = self.last("set") {
            e.sets.push((path.into(), value));
        }
        self
    }

    /// Compiles a parameter of the model added last into its kernel as a constant (its value, or
    /// the one [`Build::set`] gives), as `rateforge run` does with the parameters that do not
    /// vary: the compiler folds it (a division by `tau = 1` disappears), and a run with another
    /// value is refused.
    pub fn constant(mut self, path: impl Into<String>) -> Build {
        if let Some(e) = self.last("constant") {
            e.constants.push(path.into());
        }
        self
    }

    /// Drives an input of the model added last with an expression of time `t`, as
    /// `rateforge run --input PATH=EXPR` does.
    pub fn input(mut self, path: impl Into<String>, expression: impl Into<String>) -> Build {
        if let Some(e) = self.last("input") {
            e.inputs.push((path.into(), expression.into()));
        }
        self
    }

    /// Gives the model added last (a network model) a connectivity, embedded in the binary: a
    /// TVB zip, a directory with weights and tract lengths, or a weights file.
    pub fn connectivity(mut self, path: impl Into<PathBuf>) -> Build {
        if let Some(e) = self.last("connectivity") {
            e.connectivity = Some(path.into());
        }
        self
    }

    /// Adds a directory to search for dotted references (`package.file.Template`).
    pub fn model_path(mut self, dir: impl Into<PathBuf>) -> Build {
        self.load.model_paths.push(dir.into());
        self
    }

    /// Couples copies of every model through a connectivity, as `rateforge run --coupling` does:
    /// `SOURCE->TARGET[:FUNCTION][:NAME=VALUE]...`.
    pub fn coupling(mut self, spec: impl Into<String>) -> Build {
        self.load.couplings.push(spec.into());
        self
    }

    /// Kernel options for every model: precision, history precision, lanes, fast arithmetic.
    /// `records` is ignored: a compiled-in model records any of its values.
    pub fn emit_options(mut self, options: EmitOptions) -> Build {
        self.options = EmitOptions {
            records: None,
            ..options
        };
        self
    }

    /// The kernels' arithmetic (and its default lane count).
    pub fn precision(mut self, precision: Precision) -> Build {
        self.options.precision = precision;
        self.options.lanes = EmitOptions::default_lanes(precision);
        self
    }

    /// Instances per lane block.
    pub fn lanes(mut self, lanes: usize) -> Build {
        self.options.lanes = lanes;
        self
    }

    /// Fused multiply-adds where the CPU has them (results differ from the reference in the
    /// last bits).
    pub fn fast(mut self, fast: bool) -> Build {
        self.options.fast = fast;
        self
    }

    /// Compiles every model's CUDA kernel in too, so its `Simulation` can run on a GPU
    /// (`Target::Gpu`, with PTX for a virtual architecture, `compute_70` unless
    /// [`Build::cuda_arch`] says otherwise, compiled by NVRTC at build time when this crate's
    /// `cuda` feature is on and NVRTC is found) or on the CPU emulation (`Target::CudaEmulated`:
    /// the kernel compiled as C++ with the shim by the `cc` crate, in build scripts).
    pub fn cuda(mut self) -> Build {
        self.cuda.get_or_insert_with(|| "compute_70".to_string());
        self
    }

    /// The virtual architecture of the PTX [`Build::cuda`] embeds (`compute_80`, ...).
    pub fn cuda_arch(mut self, arch: impl Into<String>) -> Build {
        self.cuda = Some(arch.into());
        self
    }

    /// The name of the file [`Build::compile`] writes in `OUT_DIR` (default
    /// `rateforge_models.rs`).
    pub fn out_file(mut self, name: impl Into<String>) -> Build {
        self.out_file = name.into();
        self
    }

    /// Loads, validates and generates every model: the modules' source, the files they embed,
    /// and the files the models were read from. Every model's diagnostics are collected before
    /// failing.
    pub fn generate(&self, embed: &EmbedFrom) -> Result<Generated, Error> {
        if self.models.is_empty() {
            return Err(Error::new(
                "error: no models to compile\n  = help: add one with `Build::new().model(\"models/file.yaml/Template\")`",
            ));
        }
        let mut out = Generated {
            source: format!(
                "// @generated by rateforge-build {}. Do not edit: it is written by the build script.\n",
                rateforge::VERSION
            ),
            files: Vec::new(),
            cpp: Vec::new(),
            dependencies: Vec::new(),
            modules: Vec::new(),
        };
        let mut failed = Error::new("");
        for entry in &self.models {
            if let Err(e) = self.one(entry, embed, &mut out) {
                failed.text.push_str(&e.text);
                failed.files = merge(failed.files, e.files);
            }
        }
        if !failed.text.is_empty() {
            failed.files = merge(failed.files, out.dependencies);
            return Err(failed);
        }
        Ok(out)
    }

    fn one(&self, entry: &Entry, embed: &EmbedFrom, out: &mut Generated) -> Result<(), Error> {
        if let Some(setting) = entry.reference.strip_prefix('\u{0}') {
            return Err(Error::new(format!(
                "error: `{setting}` was called before any model\n  = help: call `.model(...)` first; settings apply to the model added last\n"
            )));
        }
        let mut model = Model::load(&entry.reference, &self.load)?;
        for (path, value) in &entry.sets {
            model.set(path, *value)?;
        }
        for (path, expression) in &entry.inputs {
            model.drive(path, expression)?;
        }
        if let Some(path) = &entry.connectivity {
            out.dependencies.push(path.clone());
            let loaded =
                rateforge::crates::runtime::connectivity::load(path, None, None).map_err(|e| {
                    Error::new(format!(
                        "error: cannot load the connectivity of `{}`: {e}\n",
                        entry.reference
                    ))
                })?;
            model.set_connectivity(loaded)?;
        }
        let valid = model.validate()?;
        out.dependencies = merge(std::mem::take(&mut out.dependencies), valid.dependencies());
        let name = match &entry.module {
            Some(m) if !is_module_name(m) => {
                return Err(Error::new(format!(
                    "error: `{m}` cannot name the module of `{}`\n  = help: a module name is a Rust identifier (letters, digits, `_`; not a keyword), e.g. `{}`\n",
                    entry.reference,
                    module_name(m)
                )));
            }
            Some(m) => m.clone(),
            None => module_name(&valid.ir().model().name),
        };
        if out.modules.contains(&name) {
            return Err(Error::new(format!(
                "error: two models would both be the module `{name}`\n  = help: name one with `.module_name(\"...\")` after its `.model(...)`\n"
            )));
        }
        let embedded = match valid.connectivity() {
            Some((c, _)) => {
                let file = format!("{name}.connectivity");
                out.files.push((file.clone(), c.to_le_bytes()));
                Some(match embed {
                    EmbedFrom::OutDir => EmbeddedFile::OutDir(file),
                    EmbedFrom::Relative(dir) => EmbeddedFile::Relative(format!("{dir}/{file}")),
                })
            }
            None => None,
        };
        let mut options = self.options.clone();
        for path in &entry.constants {
            match valid.ir().model().lookup(path) {
                Some(rateforge::crates::ir::VarRef::Param(h)) => options
                    .inline
                    .push((h.index(), valid.ir().model().params[h].value)),
                _ => {
                    return Err(Error::new(format!(
                        "error: `{path}` is not a parameter of `{}`, so it cannot be a constant\n  = help: `rateforge check {}` lists the parameters\n",
                        entry.reference, entry.reference
                    )));
                }
            }
        }
        let cuda = match &self.cuda {
            None => None,
            Some(arch) => Some(self.cuda_kernel(&valid, &options, &name, arch, embed, out)?),
        };
        out.source.push('\n');
        out.source
            .push_str(&valid.generate_rust_module(&options, &name, embedded, cuda)?);
        out.modules.push(name);
        Ok(())
    }

    /// The CUDA kernel of a model: its emulation (C++ to compile, in build scripts) and PTX for
    /// `arch` (where NVRTC can be used).
    fn cuda_kernel(
        &self,
        valid: &rateforge::Validated,
        options: &EmitOptions,
        module: &str,
        arch: &str,
        embed: &EmbedFrom,
        out: &mut Generated,
    ) -> Result<TypedCuda, Error> {
        let source = valid.generate_cuda(options)?;
        let symbol = symbol_suffix(valid.ir(), options, module);
        let file = |name: String| match embed {
            EmbedFrom::OutDir => EmbeddedFile::OutDir(name),
            EmbedFrom::Relative(dir) => EmbeddedFile::Relative(format!("{dir}/{name}")),
        };
        let emulation = *embed == EmbedFrom::OutDir;
        if emulation {
            let cpp = format!(
                "// @generated by rateforge-build: the CUDA kernel of `{module}` on the CPU.\n\
                 #define RF_EMULATE rf_emulate_{symbol}\n#define RF_EMULATE_LAYOUT rf_emulate_layout_{symbol}\n{}",
                rateforge::crates::runtime::cuda::emulate::emulation_source(&source)
            );
            let name = format!("{module}_emulation.cpp");
            out.files.push((name.clone(), cpp.into_bytes()));
            out.cpp
                .push((format!("rateforge_{module}_emulation"), name));
        }
        let ptx = ptx(&source, arch, options.fast)?.map(|text| {
            let name = format!("{module}.ptx");
            out.files.push((name.clone(), text.into_bytes()));
            file(name)
        });
        Ok(TypedCuda { ptx, emulation })
    }

    /// Generates every model into `$OUT_DIR/rateforge_models.rs` (or [`Build::out_file`]),
    /// compiles what it must (the CPU emulation of CUDA kernels) and prints
    /// `cargo:rerun-if-changed` for every file the models read. For build scripts.
    pub fn compile(self) -> Result<(), Error> {
        let out_dir = std::env::var_os("OUT_DIR").map(PathBuf::from).ok_or_else(|| {
            Error::new("error: OUT_DIR is not set\n  = help: call `Build::compile` from a build script (build.rs), which Cargo runs with OUT_DIR set; elsewhere use `Build::generate`\n")
        })?;
        // Rerun when a model file changes, even when it has an error.
        let generated = self.generate(&EmbedFrom::OutDir);
        let deps = match &generated {
            Ok(g) => g.dependencies.clone(),
            Err(e) => merge(e.files.clone(), self.references_as_files()),
        };
        for d in &deps {
            println!("cargo:rerun-if-changed={}", d.display());
        }
        let g = generated?;
        for (name, bytes) in &g.files {
            write(&out_dir.join(name), bytes)?;
        }
        for (lib, file) in &g.cpp {
            cc::Build::new()
                .cpp(true)
                .file(out_dir.join(file))
                .flag("-std=c++17")
                .flag("-ffp-contract=off")
                .flag_if_supported("-fno-fast-math")
                .warnings(false)
                .try_compile(lib)
                .map_err(|e| {
                    Error::new(format!(
                        "error: cannot compile the CPU emulation of a CUDA kernel ({file}): {e}\n  = help: it needs a C++17 compiler (set CXX); or leave out `.cuda()`\n"
                    ))
                })?;
        }
        write(&out_dir.join(&self.out_file), g.source.as_bytes())
    }

    /// The files the references name, for rerunning a build whose models did not load.
    fn references_as_files(&self) -> Vec<PathBuf> {
        self.models
            .iter()
            .filter_map(|e| {
                let r = Path::new(&e.reference);
                if r.is_file() {
                    return Some(r.to_path_buf());
                }
                let (file, _) = e.reference.rsplit_once('/')?;
                ["", ".yaml", ".yml"]
                    .iter()
                    .map(|ext| PathBuf::from(format!("{file}{ext}")))
                    .find(|p| p.is_file())
            })
            .collect()
    }
}

/// A Cargo project of its own for the models of a [`Build`]: their typed modules (`src/lib.rs`), a
/// driver per model taking the options of `rateforge run` and `rateforge sweep` (`src/main.rs`,
/// or `src/bin/<module>.rs` for several models), copies of `rateforge-rt` and `rateforge-kernel`
/// (`vendor/`), the embedded connectivities (`data/`), and a README. `cargo build --release` in
/// the directory builds it, with nothing else than Rust and crates.io.
#[derive(Clone, Debug)]
pub struct CrateOptions {
    /// The package name (default: the first module's name followed by `-model`).
    pub name: Option<String>,
    /// A `Cargo.lock` to start from (the versions rateforge was tested with).
    pub lock: Option<String>,
}

impl Build {
    /// Writes the models as a Cargo project into `dir` (see [`CrateOptions`]); returns the files
    /// written.
    pub fn write_crate(&self, dir: &Path, options: &CrateOptions) -> Result<Vec<PathBuf>, Error> {
        let g = self.generate(&EmbedFrom::Relative("../data".into()))?;
        let first = g.modules.first().cloned().unwrap_or_default();
        let package = options
            .name
            .clone()
            .unwrap_or_else(|| format!("{}-model", first.replace('_', "-")));
        if package.is_empty()
            || !package
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(Error::new(format!(
                "error: `{package}` cannot name a package\n  = help: use letters, digits, `-` and `_`\n"
            )));
        }
        let lib = package.replace('-', "_");
        let version = rateforge::VERSION;
        let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
        let mut put =
            |path: &str, text: String| files.push((PathBuf::from(path), text.into_bytes()));
        put(
            "Cargo.toml",
            format!(
                "# @generated by rateforge {version}: the models {models} with a driver.\n\
                 [package]\nname = \"{package}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nrateforge-rt = {{ path = \"vendor/rateforge-rt\" }}\n\n\
                 # A project of its own, even inside another workspace.\n[workspace]\n\n\
                 [profile.release]\ncodegen-units = 1\n",
                models = g.modules.join(", ")
            ),
        );
        put(
            ".cargo/config.toml",
            "# Kernels for this machine's CPU (SIMD width, FMA), as `rateforge run` builds them.\n\
             # Remove for a binary that runs on any CPU of the architecture.\n\
             [build]\nrustflags = [\"-C\", \"target-cpu=native\"]\n"
                .to_string(),
        );
        put(
            "src/lib.rs",
            format!(
                "//! The rateforge models {}, compiled in: their typed API (`Params`, `State`, `Var`,\n\
                 //! `Simulation`) and kernels.\n\n{}",
                g.modules.join(", "),
                g.source
            ),
        );
        let driver = |module: &str| {
            format!(
                "//! The driver of `{module}`: the options of `rateforge run` and `rateforge sweep`, e.g.\n\
                 //!     {module} run --time 100 --dt 0.01 --solver heun --every 0.1 -o out.npz\n\
                 //!     {module} sweep --range PATH=LO:HI:N --time 100 --dt 0.01 -o sweep.npz\n\
                 //! (see rateforge_rt::cli for every option).\n\n\
                 use {lib}::{module};\n\n\
                 fn main() {{\n    let argv: Vec<String> = std::env::args().collect();\n    \
                 std::process::exit(rateforge_rt::cli::main::<{module}::Model, {module}::Params, {module}::State>(&argv));\n}}\n"
            )
        };
        if g.modules.len() == 1 {
            put("src/main.rs", driver(&first));
        } else {
            for m in &g.modules {
                put(&format!("src/bin/{m}.rs"), driver(m));
            }
        }
        put(
            "README.md",
            format!(
                "# {package}\n\nGenerated by rateforge {version} from {refs}.\n\n\
                 ```sh\ncargo build --release\n./target/release/{bin} run --time 1 --dt 1e-3 -o out.npz\n```\n\n\
                 The driver takes the options of `rateforge run` and `rateforge sweep` and writes the same `.npz`.\n\
                 `src/lib.rs` holds the models' typed API; `vendor/` the runtime (rateforge-rt, rateforge-kernel).\n",
                refs = self
                    .models
                    .iter()
                    .map(|m| format!("`{}`", m.reference))
                    .collect::<Vec<_>>()
                    .join(", "),
                bin = if g.modules.len() == 1 {
                    package.clone()
                } else {
                    first.clone()
                },
            ),
        );
        for (name, text) in rateforge::crates::kernel::SOURCES {
            put(
                &format!("vendor/rateforge-kernel/src/{name}"),
                text.to_string(),
            );
        }
        put(
            "vendor/rateforge-kernel/Cargo.toml",
            format!(
                "[package]\nname = \"rateforge-kernel\"\nversion = \"{version}\"\nedition = \"2024\"\npublish = false\n\n[dependencies]\n"
            ),
        );
        for (name, text) in rateforge::crates::rt::SOURCES {
            put(&format!("vendor/rateforge-rt/src/{name}"), text.to_string());
        }
        put(
            "vendor/rateforge-rt/Cargo.toml",
            format!(
                "[package]\nname = \"rateforge-rt\"\nversion = \"{version}\"\nedition = \"2024\"\npublish = false\n\n\
                 [dependencies]\nrateforge-kernel = {{ path = \"../rateforge-kernel\" }}\n{}",
                rateforge::crates::rt::DEPENDENCIES
            ),
        );
        if let Some(lock) = &options.lock {
            put("Cargo.lock", lock.clone());
        }
        for (name, bytes) in g.files {
            files.push((PathBuf::from("data").join(name), bytes));
        }
        let mut written = Vec::new();
        for (path, bytes) in files {
            let full = dir.join(&path);
            write(&full, &bytes)?;
            written.push(full);
        }
        Ok(written)
    }
}

/// PTX of a CUDA kernel for the virtual architecture `arch`, when NVRTC can be used.
#[cfg(feature = "cuda")]
fn ptx(source: &str, arch: &str, fast: bool) -> Result<Option<String>, Error> {
    use rateforge::crates::runtime::cuda::gpu;
    if !gpu::nvrtc_available() {
        println!("cargo:warning=NVRTC was not found: the CUDA kernels get no PTX for GPUs");
        return Ok(None);
    }
    gpu::compile(source, arch, fast)
        .map(|c| Some(c.ptx))
        .map_err(|e| Error::new(format!("error: {e}\n")))
}

/// Without the `cuda` feature there is no NVRTC: no PTX.
#[cfg(not(feature = "cuda"))]
fn ptx(_: &str, _: &str, _: bool) -> Result<Option<String>, Error> {
    Ok(None)
}

fn merge(mut a: Vec<PathBuf>, b: Vec<PathBuf>) -> Vec<PathBuf> {
    for p in b {
        if !a.contains(&p) {
            a.push(p);
        }
    }
    a
}

/// Writes a file only when its contents change (so Cargo does not rebuild for nothing).
fn write(path: &Path, bytes: &[u8]) -> Result<(), Error> {
    if std::fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::new(format!("error: cannot create `{}`: {e}\n", dir.display())))?;
    }
    std::fs::write(path, bytes)
        .map_err(|e| Error::new(format!("error: cannot write `{}`: {e}\n", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> String {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/models/montbrio.yaml/qif"
        )
        .to_string()
    }

    #[test]
    fn constants_are_compiled_in_and_mistakes_are_reported() {
        let g = Build::new()
            .model(model())
            .set("p/qif_op/tau", 1.0)
            .constant("p/qif_op/tau")
            .generate(&EmbedFrom::OutDir)
            .unwrap();
        assert_eq!(g.modules, ["qif"]);
        assert!(
            g.source
                .contains("const INLINED: &'static [(usize, f64)] = &[(1, 1.0_f64), ];")
        );
        let e = Build::new()
            .model(model())
            .constant("p/qif_op/r")
            .generate(&EmbedFrom::OutDir)
            .unwrap_err();
        assert!(
            e.to_string().contains("`p/qif_op/r` is not a parameter"),
            "{e}"
        );
        let e = Build::new()
            .module_name("x")
            .generate(&EmbedFrom::OutDir)
            .unwrap_err();
        assert!(e.to_string().contains("before any model"), "{e}");
        let e = Build::new()
            .model(model())
            .module_name("fn")
            .generate(&EmbedFrom::OutDir)
            .unwrap_err();
        assert!(e.to_string().contains("cannot name the module"), "{e}");
        let e = Build::new()
            .model(model())
            .model(model())
            .generate(&EmbedFrom::OutDir)
            .unwrap_err();
        assert!(e.to_string().contains("both be the module `qif`"), "{e}");
        // Debug renders the report too (what a build script returning the error prints).
        assert!(format!("{e:?}").contains("both be the module `qif`"));
    }
}
