//! Choosing and building what runs a simulation: the command line's `--backend`, `--precision`,
//! `--lanes`, `--fast` and `--generic` options, decided once for every way of running a model
//! (the CLI, Python).

use crate::error::Error;
use crate::model::{CudaTarget, Validated};
use crate::run::{Backend, RunSpec};
use rateforge_codegen::{EmitOptions, Precision};
use rateforge_ir::Diagnostic;
use rateforge_runtime::cuda::CudaKernel;
use rateforge_runtime::{BuildOptions, Kernel};

/// Where a simulation runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BackendKind {
    /// A Rust kernel compiled for this CPU (cached), on all cores.
    #[default]
    Native,
    /// The reference evaluator: slow, obviously correct.
    Interp,
    /// A CUDA kernel on the GPU with this ordinal.
    Cuda(usize),
    /// The CUDA kernel compiled as C++ and run on the CPU (for testing without a GPU).
    CudaEmulated,
}

impl std::str::FromStr for BackendKind {
    type Err = String;

    /// `native`, `interp`, `cuda` (GPU 0), `cuda:N`, `cuda-emulated`.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "native" => Ok(BackendKind::Native),
            "interp" => Ok(BackendKind::Interp),
            "cuda" => Ok(BackendKind::Cuda(0)),
            "cuda-emulated" => Ok(BackendKind::CudaEmulated),
            _ => s
                .strip_prefix("cuda:")
                .and_then(|n| n.parse().ok())
                .map(BackendKind::Cuda)
                .ok_or_else(|| {
                    format!(
                        "unknown backend `{s}`: use native, interp, cuda, cuda:N or cuda-emulated"
                    )
                }),
        }
    }
}

/// How a simulation is compiled and where it runs.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Where it runs.
    pub backend: BackendKind,
    /// The arithmetic of the states.
    pub precision: Precision,
    /// The arithmetic of the delay history.
    pub history: Precision,
    /// Faster, less exact arithmetic (fused multiply-adds, approximate functions).
    pub fast: bool,
    /// SIMD lanes of the CPU kernel (`None`: chosen from the run's sizes and this machine).
    pub lanes: Option<usize>,
    /// A kernel for any parameter values, instead of one with the run's constant parameters
    /// compiled in.
    pub generic: bool,
    /// Where compiled kernels are cached.
    pub build: BuildOptions,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            backend: BackendKind::Native,
            precision: Precision::F64,
            history: Precision::F64,
            fast: false,
            lanes: None,
            generic: false,
            build: BuildOptions::default(),
        }
    }
}

/// A built kernel (or the evaluator), ready to run simulations of one model.
#[derive(Debug)]
pub enum Engine {
    /// A compiled CPU kernel.
    Native(Kernel),
    /// A CUDA kernel, on a GPU or emulated.
    Cuda(CudaKernel),
    /// The reference evaluator.
    Interp,
}

impl Engine {
    /// The backend to pass to [`Validated::run`].
    pub fn backend(&self) -> Backend<'_> {
        match self {
            Engine::Native(k) => Backend::Native(k),
            Engine::Cuda(k) => Backend::Cuda(k),
            Engine::Interp => Backend::Interp,
        }
    }

    /// The GPU's name, for a CUDA engine.
    pub fn device_name(&self) -> Option<String> {
        match self {
            Engine::Cuda(k) => Some(k.device_name().to_string()),
            _ => None,
        }
    }
}

impl Validated {
    /// The emit options of a run of `spec`: the lane width chosen from the instances, the
    /// history's size and this machine's cores and cache (unless given), the run's constant
    /// parameters compiled in (unless `generic`).
    pub fn emit_options(
        &self,
        spec: &RunSpec,
        options: &EngineOptions,
    ) -> Result<EmitOptions, Error> {
        // What the run reads from the kernel: its records and the BOLD driver.
        let mut records: Vec<usize> = self
            .record_ids(&spec.record)?
            .into_iter()
            .chain(match &spec.bold {
                Some(b) => self.record_ids(std::slice::from_ref(&b.driver))?,
                None => Vec::new(),
            })
            .map(|id| id as usize)
            .collect();
        records.sort_unstable();
        records.dedup();
        let mut emit = EmitOptions {
            lanes: 1,
            records: Some(records),
            fast: options.fast,
            precision: options.precision,
            history: options.history,
            inline: if options.generic {
                Vec::new()
            } else {
                self.constant_parameters(spec)
            },
            ..Default::default()
        };
        let threads = spec.threads.unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1)
        });
        // The history the kernel keeps (a coupling gated off keeps none).
        let buffers = rateforge_codegen::plan::KernelPlan::new(&self.valid, &emit)
            .buffered
            .len();
        let history_bytes = self
            .history_values(spec, buffers)
            .saturating_mul(options.history.bits() as usize / 8);
        emit.lanes = options.lanes.unwrap_or_else(|| {
            EmitOptions::lanes_for_run(
                options.precision,
                spec.instances,
                history_bytes,
                threads,
                rateforge_runtime::peak::last_level_cache(),
            )
        });
        if emit.lanes == 0 || emit.lanes > 1024 {
            return Err(Error::usage(
                Diagnostic::error(format!("{} SIMD lanes are out of range", emit.lanes))
                    .with_help("give 1 to 1024 lanes, e.g. 32"),
            ));
        }
        Ok(emit)
    }

    /// Builds (or finds in the cache) what runs `spec` as `options` say. The recorded paths are
    /// checked first, so a typo costs no compilation.
    pub fn engine(&self, spec: &RunSpec, options: &EngineOptions) -> Result<Engine, Error> {
        self.record_ids(&spec.record)?;
        let emit = self.emit_options(spec, options)?;
        Ok(match options.backend {
            BackendKind::Native => Engine::Native(self.build(&emit, &options.build)?),
            BackendKind::Interp => Engine::Interp,
            BackendKind::Cuda(device) => {
                Engine::Cuda(self.build_cuda(&emit, &options.build, CudaTarget::Gpu(device))?)
            }
            BackendKind::CudaEmulated => {
                Engine::Cuda(self.build_cuda(&emit, &options.build, CudaTarget::Emulated)?)
            }
        })
    }
}
