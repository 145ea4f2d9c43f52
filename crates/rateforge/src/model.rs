//! Loading, editing and validating models.

use crate::error::Error;
use rateforge_front::equation::{Origin, parse_expression};
use rateforge_front::lower_expr::{Binding, Lowerer, Scope, constant};
use rateforge_front::pyrates::{self, LoadOptions};
use rateforge_front::{SweepAxis, rateml};
use rateforge_ir::{
    Diagnostic, Diagnostics, EdgeDelays, Expr, History, SourceMap, Span, ValidModel, VarRef,
};
use rateforge_runtime::Connectivity;
use rateforge_runtime::connectivity::{self, Distances};
use std::path::PathBuf;

/// How an input variable is driven, recorded in the run metadata.
#[derive(Clone, Debug, PartialEq)]
pub enum Drive {
    /// An expression of time, as written.
    Expression(String),
    /// A time series (one value per step) from the named source.
    Series(String),
}

/// A loaded model that can still be edited (values set, inputs driven) before validation.
#[derive(Clone, Debug)]
pub struct Model {
    reference: String,
    model: rateforge_ir::Model,
    sources: SourceMap,
    warnings: Diagnostics,
    files: Vec<PathBuf>,
    drives: Vec<(String, Drive)>,
    connectivity: Option<Connectivity>,
    connectivity_source: Option<String>,
    connectivity_files: Vec<PathBuf>,
    sweep: Vec<SweepAxis>,
    record: Vec<String>,
    bold: Option<rateforge_front::BoldDecl>,
}

/// The format of a model given as text ([`Model::from_source`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// PyRates-style YAML templates.
    Yaml,
    /// TVB RateML / LEMS XML.
    Xml,
}

impl Model {
    /// Loads a PyRates-style model: `dir/file.yaml/Template`, `dir/file/Template`,
    /// `package.file.Template` (searched in `options.model_paths` and the current directory), or a
    /// file with a single circuit.
    pub fn load(reference: &str, options: &LoadOptions) -> Result<Model, Error> {
        Model::load_from(reference, None, options)
    }

    /// Loads a model given as text, without reading it from a file: `reference` names it as the
    /// command line would (`file.yaml/Template`, `file.yaml`, `model.xml`), its file part being the
    /// file `text` stands for (shown in diagnostics). Files it refers to (`base:` templates in
    /// other files, a connectivity) are read relative to the current directory.
    pub fn from_source(reference: &str, text: &str, format: Format) -> Result<Model, Error> {
        Model::from_source_with(reference, text, format, &LoadOptions::default())
    }

    /// [`Model::from_source`] with load options (model paths, couplings).
    pub fn from_source_with(
        reference: &str,
        text: &str,
        format: Format,
        options: &LoadOptions,
    ) -> Result<Model, Error> {
        Model::load_from(reference, Some((text, format)), options)
    }

    fn load_from(
        reference: &str,
        text: Option<(&str, Format)>,
        options: &LoadOptions,
    ) -> Result<Model, Error> {
        let xml = match text {
            Some((_, format)) => format == Format::Xml,
            None => rateml::is_xml(reference),
        };
        if xml && !options.couplings.is_empty() {
            return Err(Error::usage(
                Diagnostic::error("`--coupling` applies to YAML models; a RateML model declares its couplings in coupling components")
                    .with_help("edit the model's `<ComponentType name=\"coupling_...\">`, or use a YAML model"),
            ));
        }
        let l = match text {
            None if xml => rateml::load(std::path::Path::new(reference)),
            None => pyrates::load(reference, options),
            Some((text, Format::Xml)) => rateml::load_source(reference, text),
            Some((text, Format::Yaml)) => {
                // The file part of the reference is the file the text stands for.
                let is_file = |r: &str| r.ends_with(".yaml") || r.ends_with(".yml");
                let file = if is_file(reference) {
                    reference.to_string()
                } else {
                    match reference.rsplit_once('/') {
                        Some((f, _)) if is_file(f) => f.to_string(),
                        Some((f, _)) => format!("{f}.yaml"),
                        None => format!("{reference}.yaml"),
                    }
                };
                pyrates::load_with_sources(
                    reference,
                    &[(std::path::Path::new(&file), text)],
                    options,
                )
            }
        }
        .map_err(|f| Error::model(&f.sources, f.diagnostics))?;
        let mut model = Model {
            reference: reference.to_string(),
            model: l.model,
            sources: l.sources,
            warnings: l.warnings,
            files: l.files,
            drives: Vec::new(),
            connectivity: None,
            connectivity_source: None,
            connectivity_files: Vec::new(),
            sweep: l.sweep,
            record: l.record,
            bold: l.bold,
        };
        if let Some(src) = l.connectivity {
            let loaded = connectivity::load(&src.weights, src.tract_lengths.as_deref(), src.delays.as_deref()).map_err(|e| {
                let d = Diagnostic::error(format!("cannot load the connectivity: {e}"))
                    .with_primary(src.span, "named here")
                    .with_help("a TVB connectivity zip, a directory with weights and tract lengths, or `{weights: FILE, tract_lengths: FILE}`; paths are relative to the model file");
                Error::model(&model.sources, d.into())
            })?;
            model.set_connectivity_at(loaded, src.span)?;
        }
        Ok(model)
    }

    /// Uses a connectivity (replacing the one the model file names).
    pub fn set_connectivity(&mut self, loaded: connectivity::Loaded) -> Result<(), Error> {
        self.set_connectivity_at(loaded, Span::UNDEFINED)
    }

    fn set_connectivity_at(
        &mut self,
        loaded: connectivity::Loaded,
        span: Span,
    ) -> Result<(), Error> {
        let Some(net) = &self.model.network else {
            return Err(Error::usage(
                Diagnostic::error(format!(
                    "`{}` is not a network model, so it takes no connectivity",
                    self.model.name
                ))
                .with_help("declare a `network:` section with a `node:` template to replicate"),
            ));
        };
        let misfit = match net.delays {
            EdgeDelays::Speed(speed) => {
                loaded.distances == Distances::Delays && self.model.params[speed].value != 1.0
            }
            EdgeDelays::StepsPerDistance(_) => loaded.distances == Distances::Delays,
            EdgeDelays::Zero => false,
        };
        if misfit && matches!(net.delays, EdgeDelays::StepsPerDistance(_)) {
            return Err(Error::model(
                &self.sources,
                Diagnostic::error(
                    "the connectivity gives delays in time units, but this model turns tract lengths into delays (`rec_speed_dt`)",
                )
                .with_primary(span, "delays")
                .with_help("give tract lengths (e.g. a TVB connectivity zip or `tract_lengths.npy`)")
                .into(),
            ));
        }
        if misfit {
            return Err(Error::model(
                &self.sources,
                Diagnostic::error(
                    "the connectivity gives delays in time units, but the network speed is not 1",
                )
                .with_primary(span, "delays")
                .with_help("give tract lengths with a speed, or delays with `speed: 1`")
                .into(),
            ));
        }
        self.connectivity_source = Some(loaded.description);
        self.connectivity_files = loaded.files;
        self.connectivity = Some(loaded.connectivity);
        Ok(())
    }

    /// What delayed values read before the start (overrides the model file's `history:`).
    pub fn set_history(&mut self, history: History) {
        self.model.history = history;
    }

    /// Adds noise `sigma dW` to a state (replacing any noise it has).
    pub fn set_noise(&mut self, path: &str, sigma: f64) -> Result<(), Error> {
        if !sigma.is_finite() {
            return Err(Error::usage(
                Diagnostic::error(format!(
                    "the noise of `{path}` must be a finite number, found {sigma}"
                ))
                .with_help(
                    "the noise amplitude is the standard deviation per unit time, e.g. 0.01",
                ),
            ));
        }
        match self.model.lookup(path) {
            Some(VarRef::State(h)) => {
                let e = self.model.add_expr(Expr::Lit(sigma), Span::UNDEFINED);
                self.model.states[h].noise = Some(e);
                Ok(())
            }
            Some(v) => Err(Error::usage(
                Diagnostic::error(format!(
                    "cannot add noise to `{path}`: it is {}",
                    v.kind_name()
                ))
                .with_help("noise applies to state variables (those with `d/dt`)"),
            )),
            None => Err(self.unknown(path, "state")),
        }
    }

    /// The reference the model was loaded from.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The IR (not yet validated).
    pub fn ir(&self) -> &rateforge_ir::Model {
        &self.model
    }

    /// Warnings from loading, rendered as text.
    pub fn warnings(&self) -> String {
        self.warnings.render(&self.sources)
    }

    /// Warnings from loading, with the sources to render them.
    pub fn diagnostics(&self) -> (&SourceMap, &Diagnostics) {
        (&self.sources, &self.warnings)
    }

    fn unknown(&self, path: &str, what: &str) -> Error {
        Error::usage(unknown_path(&self.model, path, what))
    }

    /// Sets a parameter's value or a state's initial value.
    pub fn set(&mut self, path: &str, value: f64) -> Result<(), Error> {
        if !value.is_finite() {
            return Err(Error::usage(
                Diagnostic::error(format!(
                    "the value for `{path}` must be a finite number, found {value}"
                ))
                .with_help("values are numbers such as 0.5 or 3.25e-3"),
            ));
        }
        match self.model.lookup(path) {
            Some(VarRef::Param(h)) => self.model.params[h].value = value,
            Some(VarRef::State(h)) => {
                self.model.states[h].init = value;
                self.model.states[h].init_range = None;
            }
            Some(v) => {
                return Err(Error::usage(
                    Diagnostic::error(format!(
                        "cannot set `{path}`: it is {} computed by the model",
                        v.kind_name()
                    ))
                    .with_help("set the parameters or initial states it depends on"),
                ));
            }
            None => return Err(self.unknown(path, "parameter or state")),
        }
        Ok(())
    }

    fn drivable(&self, path: &str) -> Result<rateforge_ir::Handle<rateforge_ir::Param>, Error> {
        match self.model.lookup(path) {
                        Some(VarRef::Param(h))
                if matches!(self.model.params[h].kind, rateforge_ir::ParamKind::Delay | rateforge_ir::ParamKind::Speed) =>
            {
                Err(Error::usage(
                    Diagnostic::error(format!("cannot drive `{path}`: delays and speeds are fixed for a run"))
                        .with_help("set it with `--set` instead"),
                ))
            }
            Some(VarRef::Param(h)) => Ok(h),
            Some(VarRef::Derived(_)) if self.drives.iter().any(|(p, _)| p == path) => Err(Error::usage(
                Diagnostic::error(format!("`{path}` is driven twice")).with_help("give one `--input` per variable"),
            )),
            Some(v) => Err(Error::usage(
                Diagnostic::error(format!("cannot drive `{path}`: it is {}", v.kind_name()))
                    .with_help("inputs drive constants and unconnected `input` variables; states and computed values cannot be driven"),
            )),
            None => Err(self.unknown(path, "input or parameter")),
        }
    }

    /// Drives an input (or any parameter) with an expression of time `t`, e.g.
    /// `30*(t>=30)*(t<60)`. The expression is evaluated at each solver stage's time, with the
    /// left limit at the end of a step (see the IR docs, "Time stepping").
    pub fn drive(&mut self, path: &str, expression: &str) -> Result<(), Error> {
        let param = self.drivable(path)?;
        let file = self.sources.add(format!("<input {path}>"), expression);
        let ast = parse_expression(expression, &Origin::exact(file, 0))
            .map_err(|d| Error::model(&self.sources, d.into()))?;
        struct TimeScope;
        impl Scope for TimeScope {
            fn resolve(&self, name: &str) -> Option<Binding> {
                if name == "t" {
                    Some(Binding::Time)
                } else {
                    constant(name).map(Binding::Constant)
                }
            }
            fn candidates(&self) -> Vec<String> {
                vec!["t".to_string()]
            }
            fn describe(&self) -> String {
                "an input expression".to_string()
            }
            fn declaration_hint(&self) -> String {
                "input expressions may use the time `t`, numbers, `pi`, `E` and functions"
                    .to_string()
            }
        }
        let mut lowerer = Lowerer::new(&mut self.model);
        let value = lowerer.lower_scalar(&ast, &TimeScope);
        let diags = std::mem::take(&mut lowerer.diags);
        let Some(expr) = value.filter(|_| !diags.has_errors()) else {
            return Err(Error::model(&self.sources, diags));
        };
        self.model.drive_param_with_expr(param, expr);
        self.drives
            .push((path.to_string(), Drive::Expression(expression.to_string())));
        Ok(())
    }

    /// Drives an input (or any parameter) with a time series supplied at run time
    /// ([`crate::RunSpec::series`]); `source` describes where the data come from (for metadata).
    pub fn drive_with_series(&mut self, path: &str, source: &str) -> Result<(), Error> {
        let param = self.drivable(path)?;
        self.model.drive_param_with_series(param);
        self.drives
            .push((path.to_string(), Drive::Series(source.to_string())));
        Ok(())
    }

    /// Validates the model: the only way to something that can be generated and run.
    pub fn validate(self) -> Result<Validated, Error> {
        match rateforge_ir::validate(self.model) {
            Ok(valid) => {
                let hash = valid.hash();
                Ok(Validated {
                    reference: self.reference,
                    valid,
                    hash,
                    sources: self.sources,
                    warnings: self.warnings,
                    files: self.files,
                    drives: self.drives,
                    connectivity: self.connectivity,
                    connectivity_source: self.connectivity_source,
                    connectivity_files: self.connectivity_files,
                    sweep: self.sweep,
                    record: self.record,
                    bold: self.bold,
                })
            }
            Err(d) => Err(Error::model(&self.sources, d)),
        }
    }
}

/// Where a CUDA kernel runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CudaTarget {
    /// The GPU with this ordinal.
    Gpu(usize),
    /// The CPU, the kernel compiled as C++ with the CUDA shim (for tests without a GPU).
    Emulated,
}

/// A validated model: generate code, build kernels and run simulations from it.
#[derive(Clone, Debug)]
pub struct Validated {
    pub(crate) reference: String,
    pub(crate) valid: ValidModel,
    pub(crate) hash: String,
    pub(crate) sources: SourceMap,
    pub(crate) warnings: Diagnostics,
    pub(crate) files: Vec<PathBuf>,
    pub(crate) drives: Vec<(String, Drive)>,
    /// The connectivity the model file names, if any.
    pub(crate) connectivity: Option<rateforge_runtime::Connectivity>,
    /// Where it came from (for metadata).
    pub(crate) connectivity_source: Option<String>,
    /// The files it was read from.
    pub(crate) connectivity_files: Vec<PathBuf>,
    /// Swept parameters the model file declares.
    pub(crate) sweep: Vec<SweepAxis>,
    /// What a run records when it names nothing (empty: every state).
    pub(crate) record: Vec<String>,
    /// The BOLD observer the model file declares.
    pub(crate) bold: Option<rateforge_front::BoldDecl>,
}

impl Validated {
    /// The validated IR.
    pub fn ir(&self) -> &ValidModel {
        &self.valid
    }

    /// The model reference it was loaded from.
    pub fn reference(&self) -> &str {
        &self.reference
    }

    /// The model's hash (SHA-256 of its canonical listing).
    pub fn hash(&self) -> &str {
        &self.hash
    }

    /// The files the model was read from.
    pub fn files(&self) -> &[PathBuf] {
        &self.files
    }

    /// Every file the model depends on: the model files ([`Validated::files`]) and the files of
    /// the connectivity it names (what a build script reruns for).
    pub fn dependencies(&self) -> Vec<PathBuf> {
        let mut all = self.files.clone();
        all.extend(self.connectivity_files.iter().cloned());
        all
    }

    /// The connectivity the model file names, and where it came from.
    pub fn connectivity(&self) -> Option<(&Connectivity, &str)> {
        self.connectivity
            .as_ref()
            .map(|c| (c, self.connectivity_source.as_deref().unwrap_or("")))
    }

    /// How inputs are driven.
    pub fn drives(&self) -> &[(String, Drive)] {
        &self.drives
    }

    /// The swept parameters the model file declares (RateML `<Parameter dimension="lo, hi">`).
    pub fn sweep_axes(&self) -> &[SweepAxis] {
        &self.sweep
    }

    /// The BOLD observer the model file declares (YAML `network: {bold: ...}`, RateML
    /// `<Bold .../>`), with the defaults of [`crate::BoldSpec`] for what it leaves out: what
    /// runs compute unless told otherwise.
    pub fn declared_bold(&self) -> Option<crate::BoldSpec> {
        let d = self.bold.as_ref()?;
        let base = crate::BoldSpec::default();
        Some(crate::BoldSpec {
            driver: d.driver.clone(),
            tr: d.tr.unwrap_or(base.tr),
            bold_dt: d.bold_dt.unwrap_or(base.bold_dt),
            time_unit: d.time_unit.unwrap_or(base.time_unit),
            hemodynamics: d
                .balloon
                .as_deref()
                .and_then(crate::Hemodynamics::named)
                .unwrap_or(base.hemodynamics),
            transient: d.transient.unwrap_or(base.transient),
            fcd_window: d.fcd_window.unwrap_or(base.fcd_window),
            fcd_step: d.fcd_step.unwrap_or(base.fcd_step),
            keep_bold: d.keep_bold.unwrap_or(base.keep_bold),
        })
    }

    /// What a run records when [`crate::RunSpec::record`] is empty: the model's exposures, or
    /// (when it declares none) every state.
    pub fn default_record(&self) -> Vec<String> {
        if self.record.is_empty() {
            self.valid
                .model()
                .states
                .values()
                .map(|s| s.name.clone())
                .collect()
        } else {
            self.record.clone()
        }
    }

    /// The human-readable listing: states, parameters, inputs and equations.
    pub fn listing(&self) -> String {
        rateforge_ir::print::model(&self.valid)
    }

    /// Warnings from loading, rendered as text.
    pub fn warnings(&self) -> String {
        self.warnings.render(&self.sources)
    }

    /// The generated Rust kernel source: one `pub mod` named after the model, with the C ABI
    /// (what the command line compiles to a shared library).
    pub fn generate_rust(&self, options: &rateforge_codegen::EmitOptions) -> Result<String, Error> {
        rateforge_codegen::rust::emit(&self.valid, options).map_err(Error::Codegen)
    }

    /// The generated Rust module `module` with the typed API (`Model`, `Params`, `State`, `Var`,
    /// `Simulation`), for a crate that depends on `rateforge-rt`. The connectivity the model
    /// names is embedded from `connectivity` (a file [`Validated::connectivity`] was written to
    /// with `Connectivity::to_le_bytes`); `cuda` says how the module reaches the model's CUDA
    /// kernel, when the build compiles one in too.
    pub fn generate_rust_module(
        &self,
        options: &rateforge_codegen::EmitOptions,
        module: &str,
        connectivity: Option<rateforge_codegen::rust::EmbeddedFile>,
        cuda: Option<rateforge_codegen::rust::TypedCuda>,
    ) -> Result<String, Error> {
        use rateforge_codegen::rust::{Module, TypedApi};
        let mut inputs = Vec::new();
        for (path, drive) in &self.drives {
            match drive {
                Drive::Expression(e) => inputs.push((path.clone(), e.clone())),
                Drive::Series(_) => {
                    return Err(Error::usage(
                        Diagnostic::error(format!(
                            "`{path}` is driven by a time series, which a compiled-in model cannot read"
                        ))
                        .with_help("drive it with an expression of `t`"),
                    ));
                }
            }
        }
        let typed = TypedApi {
            reference: self.reference.clone(),
            files: self.files.iter().map(|f| f.display().to_string()).collect(),
            record: self.default_record(),
            inputs,
            sweep: self
                .sweep
                .iter()
                .map(|a| (a.name.clone(), a.lo, a.hi))
                .collect(),
            connectivity: connectivity.zip(self.connectivity_source.clone()),
            cuda,
        };
        let module = Module {
            name: module.to_string(),
            typed: Some(typed),
        };
        rateforge_codegen::rust::emit_module(&self.valid, options, &module).map_err(Error::Codegen)
    }

    /// The generated CUDA C kernel source.
    pub fn generate_cuda(&self, options: &rateforge_codegen::EmitOptions) -> Result<String, Error> {
        rateforge_codegen::cuda::emit(&self.valid, options).map_err(Error::Codegen)
    }

    /// Generates the stand-alone CUDA program: the kernel (`NAME.cu`), its sweep driver
    /// (`NAME_driver.cu`, CUDA C++ with the runtime API, RateML-style arguments, `.npy` output),
    /// a `Makefile` (`make` with nvcc, `make cpu` with a C++ compiler and the CPU shim) and the
    /// shim (`shim.h`, `shim_launch.h`); returns (file name, text) pairs. `NAME` is the model's name, made a C
    /// identifier.
    pub fn generate_cuda_program(
        &self,
        options: &rateforge_codegen::EmitOptions,
    ) -> Result<Vec<(String, String)>, Error> {
        use rateforge_codegen::cuda::{DriverSpec, emit_driver, file_stem};
        let m = self.valid.model();
        let name = file_stem(&m.name);
        let kernel = self.generate_cuda(options)?;
        let axes = self
            .sweep
            .iter()
            .filter_map(|a| match m.lookup(&a.name) {
                Some(rateforge_ir::VarRef::Param(h)) => Some((h.index(), a.lo, a.hi)),
                _ => None,
            })
            .collect();
        let spec = DriverSpec {
            name: name.clone(),
            kernel_file: format!("{name}.cu"),
            axes,
            record: self.record_ids(&self.default_record())?,
        };
        let driver = emit_driver(&self.valid, options, &spec).map_err(Error::Codegen)?;
        let makefile = format!(
            "# @generated by rateforge {}: builds the stand-alone sweep driver of `{name}`.\n\
             # `make` builds it with nvcc for this machine's GPU (`make ARCH=-arch=sm_90` for another);\n\
             # `make cpu` builds `{name}_cpu` with a C++ compiler and the CUDA shim (shim.h), which runs\n\
             # the same kernel on the CPU, so the program can be built and checked without nvcc or a GPU.\n\
             # --fmad=false and -ffp-contract=off keep IEEE arithmetic (results equal rateforge's CPU\n\
             # kernels in float64).\n\
             ARCH ?= -arch=native\n\
             NVCCFLAGS ?= -O3 -std=c++17 --fmad=false\n\
             CXX ?= c++\n\
             CXXFLAGS ?= -std=c++17 -O2 -ffp-contract=off -Wall\n\n\
             {name}: {name}_driver.cu {name}.cu\n\
             \tnvcc $(NVCCFLAGS) $(ARCH) -o $@ {name}_driver.cu\n\n\
             cpu: {name}_cpu\n\n\
             {name}_cpu: {name}_driver.cu {name}.cu shim.h shim_launch.h\n\
             \t$(CXX) $(CXXFLAGS) -DRF_SHIM -include shim.h -x c++ -o $@ {name}_driver.cu\n\n\
             .PHONY: cpu\n",
            env!("CARGO_PKG_VERSION")
        );
        Ok(vec![
            (format!("{name}.cu"), kernel),
            (format!("{name}_driver.cu"), driver),
            ("Makefile".to_string(), makefile),
            (
                "shim.h".to_string(),
                rateforge_codegen::cuda::SHIM.to_string(),
            ),
            (
                "shim_launch.h".to_string(),
                rateforge_codegen::cuda::SHIM_LAUNCH.to_string(),
            ),
        ])
    }

    /// Generates the CUDA kernel and loads it where `target` says: compiled with NVRTC for a GPU
    /// (for its own architecture, cached), or compiled as C++ for the CPU emulation.
    pub fn build_cuda(
        &self,
        emit: &rateforge_codegen::EmitOptions,
        build: &rateforge_runtime::BuildOptions,
        target: CudaTarget,
    ) -> Result<rateforge_runtime::cuda::CudaKernel, Error> {
        use rateforge_runtime::cuda::{CudaKernel, CudaKernelInfo, emulate};
        let source = self.generate_cuda(&with_render_cache(emit, build))?;
        let plan = rateforge_codegen::plan::KernelPlan::new(&self.valid, emit);
        let n_buffered = plan.buffered.len();
        let info = CudaKernelInfo {
            float_bits: emit.precision.bits(),
            history_bits: emit.history.bits(),
            inline: emit.inline.clone(),
            uncomputed: plan.uncomputed,
        };
        let device: Box<dyn rateforge_runtime::cuda::device::Device + Send> = match target {
            #[cfg(feature = "cuda")]
            CudaTarget::Gpu(ordinal) => {
                use rateforge_runtime::cuda::gpu;
                let (cc, _) = gpu::Gpu::probe(ordinal).map_err(Error::Runtime)?;
                let cubin = gpu::cubin(&source, cc, emit.fast, build).map_err(Error::Runtime)?;
                Box::new(gpu::Gpu::open(ordinal, cubin).map_err(Error::Runtime)?)
            }
            #[cfg(not(feature = "cuda"))]
            CudaTarget::Gpu(_) => {
                return Err(Error::Runtime(
                    rateforge_runtime::RuntimeError::CudaUnavailable(
                        "this build of rateforge has no GPU support (the `cuda` feature)".into(),
                    ),
                ));
            }
            CudaTarget::Emulated => {
                Box::new(emulate::load(&source, build).map_err(Error::Runtime)?)
            }
        };
        CudaKernel::new(
            rateforge_runtime::cuda::cuda_model(&self.valid, n_buffered),
            info,
            device,
        )
        .map_err(Error::Runtime)
    }

    /// Generates, compiles (or finds in the cache) and loads the native kernel.
    pub fn build(
        &self,
        emit: &rateforge_codegen::EmitOptions,
        build: &rateforge_runtime::BuildOptions,
    ) -> Result<rateforge_runtime::Kernel, Error> {
        let module = rateforge_codegen::rust::Module::standalone(&self.valid);
        let source = self.generate_rust(&with_render_cache(emit, build))?;
        let symbol = rateforge_codegen::rust::symbol_suffix(&self.valid, emit, &module.name);
        let compiled = rateforge_runtime::build_rust(&source, build).map_err(Error::Runtime)?;
        match rateforge_runtime::Kernel::load(&compiled.library, &self.valid, &symbol) {
            // A cached library the loader refuses (damaged, or not what its key says): built
            // again, once.
            Err(_) if compiled.cached => {
                rateforge_runtime::compile::forget_artifact(&compiled.library);
                let compiled =
                    rateforge_runtime::build_rust(&source, build).map_err(Error::Runtime)?;
                rateforge_runtime::Kernel::load(&compiled.library, &self.valid, &symbol)
                    .map_err(Error::Runtime)
            }
            other => other.map_err(Error::Runtime),
        }
    }
}

/// The emit options with the renderings cached beside the compiled kernels (unless the caller
/// chose a place): generating a kernel that was generated before then parses no template.
fn with_render_cache(
    emit: &rateforge_codegen::EmitOptions,
    build: &rateforge_runtime::BuildOptions,
) -> rateforge_codegen::EmitOptions {
    let mut emit = emit.clone();
    if emit.render_cache.is_none() {
        emit.render_cache = Some(build.cache_root().join("rendered"));
    }
    emit
}

/// The error for a path the model does not have (`what`: "variable", "parameter or state"): for
/// a complex variable named whole, its two parts; else a did-you-mean.
pub(crate) fn unknown_path(model: &rateforge_ir::Model, path: &str, what: &str) -> Diagnostic {
    if model.lookup(&format!("{path}.re")).is_some() {
        return Diagnostic::error(format!(
            "`{path}` is complex: its parts are `{path}.re` and `{path}.im`"
        ))
        .with_help(format!("name one part, e.g. `{path}.re`"));
    }
    let names: Vec<&str> = model.names().map(|(n, _)| n).collect();
    Diagnostic::error(format!("the model has no {what} `{path}`")).with_suggestion(
        path,
        names.iter().copied(),
        "paths look like `node/operator/variable`; `rateforge check MODEL` lists them all",
    )
}
