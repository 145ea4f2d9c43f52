//! The CUDA backend's host side: running generated CUDA kernels (one thread per instance) on a
//! [`Device`], a GPU or the CPU emulation of one.
//!
//! A run is split in two ways. **Chunks** of instances: every instance at once when they fit in
//! 80% of the device's free memory; else chunks of which two fit, so the results of one are copied
//! back while the next runs, on the other stream. **Windows** of steps: each launch integrates a window of steps, so the host can report
//! progress and stop between launches, and no launch runs for minutes. The state of a chunk (its
//! instances' states, delay history and running statistics) stays on the device between windows.
//!
//! The arguments, layouts and the kernel's semantics are those of the CPU kernels
//! ([`crate::exec`]), so a CUDA run returns the same [`Outcome`]: the same numbers, bit for bit in
//! float64 without fast arithmetic, as the CPU kernels and the reference evaluator.

pub mod device;
#[cfg(feature = "cuda")]
pub mod gpu;

use crate::error::RuntimeError;
use crate::exec::{Launch, Outcome, Shape};
use crate::observe::{ObserveRequest, Observed};
use device::{Device, DevicePtr};
use rateforge_kernel::abi::N_STATS;
pub use rateforge_kernel::abi::RfCudaArgs;
use rateforge_kernel::observe::{FcStream, ObserveShape};
use rateforge_kernel::runner::{delay_cap, delay_steps};
use std::sync::Mutex;
use std::sync::atomic::Ordering;

/// The delays in steps of a network's edges for one instance: `(parameters, nodes, dt, edge
/// distances) -> steps` (the model's delay rule, in float64).
pub type EdgeDelays = Box<dyn Fn(&[f64], usize, f64, &[f64]) -> Vec<usize> + Send + Sync>;

/// What the host needs to know about a model to run its CUDA kernel.
pub struct CudaModel {
    /// Its sizes (what a launch is checked against).
    pub shape: Shape,
    /// History buffers (states and derived values that delays and couplings read).
    pub n_buffered: usize,
    /// The parameter holding each delay's time.
    pub delay_params: Vec<usize>,
    /// The delays of the network's edges.
    pub edge_delays: EdgeDelays,
}

impl std::fmt::Debug for CudaModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaModel")
            .field("shape", &self.shape)
            .field("n_buffered", &self.n_buffered)
            .field("delay_params", &self.delay_params)
            .finish()
    }
}

/// What a CUDA kernel was generated for.
#[derive(Clone, Debug)]
pub struct CudaKernelInfo {
    /// Bits of the arithmetic (64 or 32).
    pub float_bits: u32,
    /// Bits of the delay history (64 or 32).
    pub history_bits: u32,
    /// Parameters compiled in, with their values.
    pub inline: Vec<(usize, f64)>,
    /// Record ids of the derived values the kernel does not compute (the kernel plan's).
    pub uncomputed: Vec<usize>,
}

/// A generated CUDA kernel, loaded on a device.
pub struct CudaKernel {
    model: CudaModel,
    info: CudaKernelInfo,
    device: Mutex<Box<dyn Device + Send>>,
    device_name: String,
    /// Chunks of instances of the last run.
    last_chunks: std::sync::atomic::AtomicUsize,
}

impl std::fmt::Debug for CudaKernel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CudaKernel")
            .field("device", &self.device_name)
            .field("info", &self.info)
            .finish()
    }
}

/// Steps per launch: long enough to keep the GPU busy, short enough for progress and Ctrl-C.
fn window(nn: usize, n_edges: usize) -> u64 {
    let work_per_step = (nn + n_edges).max(1) as u64;
    (2_000_000 / work_per_step).clamp(16, 20_000)
}

fn as_bytes<T: Copy>(v: &[T]) -> &[u8] {
    // SAFETY: plain numeric slices (f64, u64, u32) have no padding.
    unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

fn as_bytes_mut<T: Copy>(v: &mut [T]) -> &mut [u8] {
    // SAFETY: as above; every byte pattern is a valid f64/u64.
    unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast::<u8>(), std::mem::size_of_val(v)) }
}

/// Device buffers of one chunk slot, and the host staging arrays its results come back to.
#[derive(Default)]
struct Slot {
    params: DevicePtr,
    init: DevicePtr,
    state: DevicePtr,
    trace: DevicePtr,
    stats: DevicePtr,
    history: DevicePtr,
    edge_delay: DevicePtr,
    observe: DevicePtr,
    bold: DevicePtr,
    host_state: Vec<f64>,
    host_trace: Vec<f64>,
    host_stats: Vec<f64>,
    host_observe: Vec<f64>,
    host_bold: Vec<f64>,
    /// The chunk it holds: (first instance, instances, steps done), once its results are queued.
    pending: Option<(usize, usize, u64)>,
}

impl CudaKernel {
    /// A kernel on `device` for `model` (its source generated with `info`'s options), after
    /// checking that the kernel's compiler laid out the argument block as this runtime does
    /// (the kernel's `rf_layout` probe, run on the device).
    pub fn new(
        model: CudaModel,
        info: CudaKernelInfo,
        mut device: Box<dyn Device + Send>,
    ) -> Result<Self, RuntimeError> {
        use rateforge_kernel::abi::AbiStruct;
        let layout = RfCudaArgs::LAYOUT;
        let reported = device.layout(layout.words().len())?;
        layout.check(&reported).map_err(|e| {
            RuntimeError::Cuda(format!(
                "the kernel's argument block does not match this runtime's: {e}"
            ))
        })?;
        let device_name = device.name();
        Ok(CudaKernel {
            model,
            info,
            device: Mutex::new(device),
            device_name,
            last_chunks: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// What the kernel was generated for.
    pub fn info(&self) -> &CudaKernelInfo {
        &self.info
    }

    /// The device's name.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// How many chunks of instances the last run took (1: every instance at once).
    pub fn last_run_chunks(&self) -> usize {
        self.last_chunks.load(Ordering::Relaxed)
    }

    /// Runs every instance of `launch`, in chunks and windows (see the module docs).
    pub fn run(&self, launch: &Launch<'_>) -> Result<Outcome, RuntimeError> {
        let shape = self.model.shape;
        let (ns, np) = (shape.n_state, shape.n_param);
        crate::exec::check(launch, &shape)?;
        let mut dev = self
            .device
            .lock()
            .map_err(|_| RuntimeError::Invalid("the CUDA device is poisoned".into()))?;
        let n = launch.n_instances;
        let nn = launch.n_nodes();
        let nr = launch.record.len();
        let n_samples = launch.n_samples();
        // The observers: their outputs, and the state each instance keeps on the device.
        let mut observed = match &launch.observe {
            Some(o) => {
                Some(o.allocate(launch.n_steps, shape.n_state + shape.n_derived, nn, n, 1, 1)?)
            }
            None => None,
        };
        let observe = match &launch.observe {
            Some(o) => {
                let layout = o.shape(nn).raw_layout().ok_or_else(|| {
                    RuntimeError::OutOfMemory("the observers' state is too large to address".into())
                })?;
                Some(ChunkObserve {
                    request: o,
                    shape: o.shape(nn),
                    raw: layout.total,
                    bold: if o.keep_bold { o.n_tr as usize * nn } else { 0 },
                })
            }
            None => None,
        };
        let driver = launch.observe.as_ref().map(|o| o.driver);
        if launch
            .record
            .iter()
            .chain(driver.as_ref())
            .any(|&id| self.info.uncomputed.contains(&(id as usize)))
        {
            return Err(RuntimeError::Invalid(crate::exec::UNCOMPUTED.into()));
        }
        for &(k, v) in &self.info.inline {
            if (0..n).any(|i| launch.params[k * n + i] != v) {
                return Err(RuntimeError::Invalid(
                    "the parameter values differ from those compiled into the kernel; build it again for these values".into(),
                ));
            }
        }
        // Delays: of the model's delay parameters, and of the edges, per instance.
        let params_of =
            |i: usize| -> Vec<f64> { (0..np).map(|k| launch.params[k * n + i]).collect() };
        let mut max_delay = 0usize;
        let cap = delay_cap(launch.n_steps);
        for &k in &self.model.delay_params {
            for i in 0..n {
                max_delay =
                    max_delay.max(delay_steps(launch.params[k * n + i], launch.dt).min(cap));
            }
        }
        // The connectivity in the kernel's edge order: compressed rows, or dense above 50%.
        let (dense, row_start, source, weight, distance) = match launch.connectivity {
            Some(c) if c.density() > crate::exec::DENSE_ABOVE => {
                let (w, d) = c.to_dense();
                (true, Vec::new(), Vec::new(), w, d)
            }
            Some(c) => (
                false,
                c.row_start.iter().map(|&x| x as u64).collect::<Vec<u64>>(),
                c.source.iter().map(|&x| x as u32).collect::<Vec<u32>>(),
                c.weight.clone(),
                c.distance.clone(),
            ),
            None => (false, Vec::new(), Vec::new(), Vec::new(), Vec::new()),
        };
        let n_edges = weight.len();
        let mut uniform: Option<Vec<u32>> = None;
        let mut per_instance: Vec<u32> = Vec::new();
        if shape.network && n_edges > 0 {
            let edge_delays = |p: &[f64]| -> Vec<usize> {
                let d = (self.model.edge_delays)(p, nn, launch.dt, &distance);
                d.into_iter().map(|d| d.min(cap)).collect()
            };
            let first = edge_delays(&params_of(0));
            let mut all: Vec<Vec<usize>> = vec![first.clone()];
            let mut same = true;
            for i in 1..n {
                let d = edge_delays(&params_of(i));
                same &= d == first;
                all.push(d);
            }
            max_delay = max_delay.max(all.iter().flatten().copied().max().unwrap_or(0));
            if max_delay > u32::MAX as usize {
                return Err(RuntimeError::Invalid(format!(
                    "a delay of {max_delay} steps is too long"
                )));
            }
            if same {
                uniform = Some(first.iter().map(|&d| d as u32).collect());
            } else {
                per_instance = vec![0u32; n_edges * n];
                for (i, d) in all.iter().enumerate() {
                    for (e, &v) in d.iter().enumerate() {
                        per_instance[e * n + i] = v as u32;
                    }
                }
            }
        }
        let horizon = max_delay + 1;
        let nb = self.model.n_buffered;
        // Bytes per instance on the device, and the chunk size.
        let hbytes = (self.info.history_bits / 8) as usize;
        let per_instance_bytes = np * 8
            + 2 * ns * nn * 8
            + nb * nn * horizon * hbytes
            + if launch.stats.is_some() {
                N_STATS * nr * nn * 8
            } else {
                0
            }
            + if launch.trace {
                n_samples * nr * nn * 8
            } else {
                0
            }
            + if uniform.is_none() { n_edges * 4 } else { 0 }
            + observe.as_ref().map_or(0, |o| (o.raw + o.bold) * 8);
        let block = dev.block_size().max(1) as usize;
        let budget = (dev.free_memory() as f64 * 0.8) as usize;
        // Every instance at once when they fit; else chunks in two slots, one computing while the
        // other's results are copied back.
        let per = per_instance_bytes.max(1);
        let n_slots = if n.saturating_mul(per) <= budget {
            1
        } else {
            2
        };
        let fit = budget / (n_slots * per);
        if fit == 0 {
            return Err(RuntimeError::OutOfMemory(format!(
                "one instance needs {:.2} GiB on the device; record less, keep no trace, or use a float32 history",
                per_instance_bytes as f64 / (1u64 << 30) as f64
            )));
        }
        let chunk = n.min(if fit >= block {
            fit / block * block
        } else {
            fit
        });
        // Shared inputs.
        let mut shared: Vec<DevicePtr> = Vec::new();
        let mut put =
            |dev: &mut Box<dyn Device + Send>, bytes: &[u8]| -> Result<DevicePtr, RuntimeError> {
                let p = dev.alloc(bytes.len().max(8))?;
                dev.upload(p, bytes)?;
                shared.push(p);
                Ok(p)
            };
        let record: Vec<u32> = launch.record.to_vec();
        let thresholds: Vec<f64> = (0..nr)
            .map(|r| {
                launch
                    .stats
                    .as_ref()
                    .and_then(|s| s.thresholds.get(r).copied())
                    .unwrap_or(f64::NAN)
            })
            .collect();
        let mut series_data: Vec<f64> = Vec::new();
        let mut series_meta: Vec<u64> = Vec::new();
        for s in launch.series {
            series_meta.extend([
                series_data.len() as u64,
                s.n_rows as u64,
                s.n_cols as u64,
                u64::from(s.columns.code()),
            ]);
            series_data.extend_from_slice(s.data);
        }
        let d_record = put(&mut dev, as_bytes(&record))?;
        let d_thresholds = put(&mut dev, as_bytes(&thresholds))?;
        let d_row_start = put(&mut dev, as_bytes(&row_start))?;
        let d_source = put(&mut dev, as_bytes(&source))?;
        let d_weight = put(&mut dev, as_bytes(&weight))?;
        let d_uniform = put(&mut dev, as_bytes(uniform.as_deref().unwrap_or(&[])))?;
        let d_series = put(&mut dev, as_bytes(&series_data))?;
        let d_meta = put(&mut dev, as_bytes(&series_meta))?;
        // Outputs.
        let mut final_state = vec![f64::NAN; ns * nn * n];
        let mut trace = if launch.trace {
            vec![f64::NAN; n_samples * nr * nn * n]
        } else {
            Vec::new()
        };
        let mut stats = if launch.stats.is_some() {
            vec![f64::NAN; N_STATS * nr * nn * n]
        } else {
            Vec::new()
        };
        let mut steps_done = vec![0u64; n];
        let every = launch.record_every.max(1);
        let transient = launch.stats.as_ref().map_or(0, |s| s.transient_samples);
        let win = window(nn, n_edges);
        let mut slots: [Slot; 2] = [Slot::default(), Slot::default()];
        let mut cancelled = false;
        let result = (|| -> Result<(), RuntimeError> {
            // Buffers of both slots, sized for a full chunk.
            for slot in slots.iter_mut().take(n_slots) {
                slot.params = dev.alloc(np * chunk * 8)?;
                slot.init = dev.alloc(ns * nn * chunk * 8)?;
                slot.state = dev.alloc(ns * nn * chunk * 8)?;
                slot.trace = if launch.trace {
                    dev.alloc(n_samples * nr * nn * chunk * 8)?
                } else {
                    0
                };
                slot.stats = if launch.stats.is_some() {
                    dev.alloc(N_STATS * nr * nn * chunk * 8)?
                } else {
                    0
                };
                slot.history = dev.alloc((nb * nn * horizon * chunk * hbytes).max(8))?;
                slot.edge_delay = if uniform.is_none() && n_edges > 0 {
                    dev.alloc(n_edges * chunk * 4)?
                } else {
                    0
                };
                if let Some(o) = &observe {
                    slot.observe = dev.alloc(o.raw * chunk * 8)?;
                    if o.bold > 0 {
                        slot.bold = dev.alloc(o.bold * chunk * 8)?;
                    }
                }
            }
            // Waits for a slot's queued results and puts them in place.
            let mut collect = |dev: &mut Box<dyn Device + Send>, slot: &mut Slot, s: usize| {
                finish(
                    dev,
                    slot,
                    s,
                    n,
                    nn,
                    ns,
                    nr,
                    n_samples,
                    &mut final_state,
                    &mut trace,
                    &mut stats,
                    &mut steps_done,
                    every,
                    transient,
                    launch,
                    observe.as_ref().zip(observed.as_mut()),
                )
            };
            let mut c0 = 0usize;
            let mut k = 0usize;
            while c0 < n && !cancelled {
                let len = chunk.min(n - c0);
                let s = k % n_slots;
                // The slot's previous chunk: wait for its results and put them in place.
                collect(&mut dev, &mut slots[s], s)?;
                let slot = &mut slots[s];
                // This chunk's inputs, with stride `len`.
                let mut p = vec![0.0f64; np * len];
                for kk in 0..np {
                    p[kk * len..(kk + 1) * len]
                        .copy_from_slice(&launch.params[kk * n + c0..kk * n + c0 + len]);
                }
                dev.upload(slot.params, as_bytes(&p))?;
                let mut init = vec![0.0f64; ns * nn * len];
                for row in 0..ns * nn {
                    init[row * len..(row + 1) * len]
                        .copy_from_slice(&launch.init[row * n + c0..row * n + c0 + len]);
                }
                dev.upload(slot.init, as_bytes(&init))?;
                if uniform.is_none() && n_edges > 0 {
                    let mut ed = vec![0u32; n_edges * len];
                    for e in 0..n_edges {
                        ed[e * len..(e + 1) * len]
                            .copy_from_slice(&per_instance[e * n + c0..e * n + c0 + len]);
                    }
                    dev.upload(slot.edge_delay, as_bytes(&ed))?;
                }
                let mut args = RfCudaArgs {
                    n_instances: len as u64,
                    stride: len as u64,
                    first_instance: launch.instance_offset + c0 as u64,
                    n_nodes: nn as u64,
                    n_steps: launch.n_steps,
                    step_begin: 0,
                    step_end: 0,
                    record_every: every,
                    transient_samples: transient,
                    horizon: horizon as u64,
                    edge_delay_stride: if uniform.is_some() { 0 } else { len as u64 },
                    seed: launch.seed,
                    dt: launch.dt,
                    t0: launch.t0,
                    record: d_record,
                    params: slot.params,
                    init: slot.init,
                    state: slot.state,
                    trace: slot.trace,
                    stats: slot.stats,
                    thresholds: d_thresholds,
                    history: slot.history,
                    row_start: d_row_start,
                    source: d_source,
                    weight: d_weight,
                    edge_delay: if uniform.is_some() {
                        d_uniform
                    } else {
                        slot.edge_delay
                    },
                    series_data: d_series,
                    series_meta: d_meta,
                    solver: launch.solver.id(),
                    n_record: nr as u32,
                    dense: u32::from(dense),
                    bold_driver: observe.as_ref().map_or(0, |o| o.request.driver),
                    bold_every: observe.as_ref().map_or(0, |o| o.request.bold_every),
                    tr_every: observe.as_ref().map_or(0, |o| o.request.tr_every),
                    n_tr: observe.as_ref().map_or(0, |o| o.request.n_tr),
                    bold_transient: observe.as_ref().map_or(0, |o| o.request.transient),
                    fcd_window: observe.as_ref().map_or(0, |o| o.request.window),
                    fcd_step: observe.as_ref().map_or(1, |o| o.request.window_step),
                    fcd_windows: observe.as_ref().map_or(0, |o| o.shape.n_windows() as u64),
                    bold_dt: observe.as_ref().map_or(0.0, |o| o.request.bold_dt),
                    hemodynamics: observe
                        .as_ref()
                        .map_or([0.0; 9], |o| o.request.hemodynamics.to_array()),
                    observe_state: slot.observe,
                    bold: slot.bold,
                    shared_noise: u32::from(launch.shared_noise),
                    pad: 0,
                };
                let grid = len.div_ceil(block) as u32;
                let mut step = 0u64;
                while step <= launch.n_steps {
                    let end = (step + win).min(launch.n_steps + 1);
                    args.step_begin = step;
                    args.step_end = end;
                    dev.launch(s, grid, block as u32, &args)?;
                    dev.synchronize(s)?;
                    if let Some(p) = launch.progress {
                        p.fetch_add(
                            (end.min(launch.n_steps) - step.min(launch.n_steps)) * len as u64,
                            Ordering::Relaxed,
                        );
                    }
                    step = end;
                    if step <= launch.n_steps
                        && launch.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
                    {
                        cancelled = true;
                        break;
                    }
                }
                // Queue the copies back; they run while the next chunk computes.
                slot.host_state.resize(ns * nn * len, 0.0);
                dev.download(s, slot.state, ns * nn * len * 8)?;
                if launch.trace {
                    slot.host_trace.resize(n_samples * nr * nn * len, 0.0);
                    dev.download(s, slot.trace, n_samples * nr * nn * len * 8)?;
                }
                if launch.stats.is_some() {
                    slot.host_stats.resize(N_STATS * nr * nn * len, 0.0);
                    dev.download(s, slot.stats, N_STATS * nr * nn * len * 8)?;
                }
                if let Some(o) = &observe {
                    slot.host_observe.resize(o.raw * len, 0.0);
                    dev.download(s, slot.observe, o.raw * len * 8)?;
                    if o.bold > 0 {
                        slot.host_bold.resize(o.bold * len, 0.0);
                        dev.download(s, slot.bold, o.bold * len * 8)?;
                    }
                }
                slot.pending = Some((c0, len, step.min(launch.n_steps)));
                c0 += len;
                k += 1;
            }
            self.last_chunks.store(k, Ordering::Relaxed);
            for (s, slot) in slots.iter_mut().enumerate() {
                collect(&mut dev, slot, s)?;
            }
            Ok(())
        })();
        for slot in &slots {
            for p in [
                slot.params,
                slot.init,
                slot.state,
                slot.trace,
                slot.stats,
                slot.history,
                slot.edge_delay,
                slot.observe,
                slot.bold,
            ] {
                if p != 0 {
                    dev.free(p);
                }
            }
        }
        for p in shared {
            dev.free(p);
        }
        result?;
        Ok(Outcome {
            final_state,
            trace,
            n_samples,
            stats,
            steps_done,
            cancelled,
            observed,
        })
    }
}

/// The observers of a CUDA run: the request, its sizes, and the values each instance keeps on
/// the device (`raw` of state, `bold` BOLD samples when kept).
struct ChunkObserve<'a> {
    request: &'a ObserveRequest,
    shape: ObserveShape,
    raw: usize,
    bold: usize,
}

/// Waits for a slot's queued results and scatters them into the outputs (rows of stride `len`
/// into rows of stride `n`). Statistics of a chunk stopped early are finished here, from the
/// running sums the kernel left.
#[allow(clippy::too_many_arguments)]
fn finish(
    dev: &mut Box<dyn Device + Send>,
    slot: &mut Slot,
    stream: usize,
    n: usize,
    nn: usize,
    ns: usize,
    nr: usize,
    n_samples: usize,
    final_state: &mut [f64],
    trace: &mut [f64],
    stats: &mut [f64],
    steps_done: &mut [u64],
    every: u64,
    transient: u64,
    launch: &Launch<'_>,
    observe: Option<(&ChunkObserve<'_>, &mut Observed)>,
) -> Result<(), RuntimeError> {
    let Some((c0, len, done)) = slot.pending.take() else {
        return Ok(());
    };
    if let Some((o, out)) = observe {
        dev.synchronize(stream)?;
        dev.fetch(slot.observe, as_bytes_mut(&mut slot.host_observe))?;
        if o.bold > 0 {
            dev.fetch(slot.bold, as_bytes_mut(&mut slot.host_bold))?;
            for row in 0..o.bold {
                out.bold[row * n + c0..row * n + c0 + len]
                    .copy_from_slice(&slot.host_bold[row * len..(row + 1) * len]);
            }
        }
        // FC and FCD finished from each instance's running sums, by the CPU's code.
        let mut raw = vec![0.0; o.raw];
        for ii in 0..len {
            for (k, r) in raw.iter_mut().enumerate() {
                *r = slot.host_observe[k * len + ii];
            }
            let fc = FcStream::<1>::from_raw(o.shape, &raw)
                .ok_or_else(|| RuntimeError::Invalid("the observers' state is malformed".into()))?;
            fc.write_fc(0, &mut |k, v| out.fc[k * n + c0 + ii] = v);
            if o.request.window > 0 {
                fc.write_fcd(0, &mut |k, v| out.fcd[k * n + c0 + ii] = v);
            }
        }
    }
    dev.synchronize(stream)?;
    dev.fetch(slot.state, as_bytes_mut(&mut slot.host_state))?;
    if !trace.is_empty() {
        dev.fetch(slot.trace, as_bytes_mut(&mut slot.host_trace))?;
    }
    if !stats.is_empty() {
        dev.fetch(slot.stats, as_bytes_mut(&mut slot.host_stats))?;
    }
    let scatter = |src: &[f64], dst: &mut [f64], rows: usize| {
        for row in 0..rows {
            dst[row * n + c0..row * n + c0 + len].copy_from_slice(&src[row * len..(row + 1) * len]);
        }
    };
    scatter(&slot.host_state, final_state, ns * nn);
    if !trace.is_empty() {
        // Samples not reached stay NaN.
        let reached = if done >= launch.n_steps {
            n_samples
        } else {
            done.div_ceil(every) as usize
        };
        scatter(
            &slot.host_trace[..reached * nr * nn * len],
            &mut trace[..],
            reached * nr * nn,
        );
    }
    if !stats.is_empty() {
        if done >= launch.n_steps {
            scatter(&slot.host_stats, stats, N_STATS * nr * nn);
        } else {
            // Stopped early: mean, m2, min, max and the count above are running sums.
            let taken = done.div_ceil(every);
            let count = taken.saturating_sub(transient) as f64;
            let plane = nr * nn * len;
            let interval = every as f64 * launch.dt;
            for row in 0..nr * nn {
                for ii in 0..len {
                    let at = row * len + ii;
                    let h = &slot.host_stats;
                    let values = if count == 0.0 {
                        [f64::NAN; N_STATS]
                    } else {
                        [
                            h[at],
                            h[plane + at],
                            h[2 * plane + at] / count,
                            h[3 * plane + at],
                            h[4 * plane + at],
                            h[5 * plane + at] * interval,
                        ]
                    };
                    for (k, v) in values.iter().enumerate() {
                        stats[(k * nr * nn + row) * n + c0 + ii] = *v;
                    }
                }
            }
        }
    }
    for d in &mut steps_done[c0..c0 + len] {
        *d = done;
    }
    Ok(())
}
