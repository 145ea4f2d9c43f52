//! A run's results: the recorded samples, streaming statistics, final states and metadata, as
//! arrays ([`RunResult::array`]) and as the `.npz` (numpy) or `.csv` files the `rateforge`
//! command line writes, with the same names, shapes and metadata fields whichever way the model
//! was run (the command line, the library, a crate that built its models in, a generated crate).

use crate::error::RuntimeError;
use crate::observe::Observed;
use crate::output::{NpzArray, NpzEntry, write_csv_with_note, write_npz};
use rateforge_kernel::abi::STATS;
use serde_json::{Map, Value, json};
use std::path::Path;

/// The result of a run.
#[derive(Clone, Debug, Default)]
pub struct RunResult {
    /// Sample times.
    pub time: Vec<f64>,
    /// Recorded paths.
    pub names: Vec<String>,
    /// Instances.
    pub n_instances: usize,
    /// Nodes (1 unless the model is a network).
    pub n_nodes: usize,
    /// Whether the model is a network (arrays then have a node axis).
    pub network: bool,
    /// Samples `[((sample * names.len() + r) * n_nodes + node) * n_instances + i]` (empty when
    /// the run kept no trace).
    pub trace: Vec<f64>,
    /// Statistics `[((k * names.len() + r) * n_nodes + node) * n_instances + i]`, `k` in the order
    /// of [`STATS`] (empty unless requested).
    pub stats: Vec<f64>,
    /// Steps integrated per instance (all of them unless the run was interrupted).
    pub steps_done: Vec<u64>,
    /// Final states `[(k * n_nodes + node) * n_instances + i]`.
    pub final_state: Vec<f64>,
    /// Run metadata (model, hash, solver, dt, parameters, version, ...).
    pub metadata: serde_json::Value,
    /// The values varied between instances: one value per instance each, written to `.npz` as
    /// `grid/<path>`.
    pub varied: Vec<(String, Vec<f64>)>,
    /// Whether the run was stopped early.
    pub partial: bool,
    /// BOLD, FC and FCD, when the run observed them.
    pub observed: Option<Observed>,
    /// The TR in seconds (the interval of the BOLD samples), when observed.
    pub tr: f64,
    /// Per-instance values computed after the run (goodness of fit), written as `<name>`.
    pub per_instance: Vec<(String, Vec<f64>)>,
    /// Keep the instance axis even for a single instance (a shard of a sweep, so shards merge
    /// along that axis).
    pub instance_axis: bool,
}

/// An instance whose values stopped being finite (a blow-up, a division by zero, `log(-1)`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NonFinite {
    /// The instance.
    pub instance: usize,
    /// The time of its first recorded sample that is NaN or infinite; `None` when only its final
    /// state shows it (no trace, or it happened after the last sample).
    pub time: Option<f64>,
}

/// Whether every value is finite: 0 * v is (±)0 for a finite v and NaN for an infinite or NaN one,
/// summed in 8 independent lanes (SIMD) without a branch per value.
fn all_finite(values: &[f64]) -> bool {
    let mut acc = [0.0f64; 8];
    let (chunks, rest) = values.as_chunks::<8>();
    for c in chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += 0.0 * v;
        }
    }
    acc.iter().all(|a| *a == 0.0) && rest.iter().all(|v| v.is_finite())
}

impl RunResult {
    /// The instances whose recorded samples (up to the steps each integrated) or final state hold
    /// a NaN or an infinity, in instance order.
    pub fn non_finite(&self) -> Vec<NonFinite> {
        let (nr, nn, n) = (self.names.len(), self.n_nodes, self.n_instances);
        let every = self.metadata["record_every_steps"]
            .as_u64()
            .unwrap_or(1)
            .max(1);
        let per_sample = nr * nn * n;
        // One pass in memory order: the first sample of each instance that is not finite (a
        // sample wholly finite, the usual case, is checked without branches per value).
        let mut first: Vec<Option<usize>> = vec![None; n];
        if per_sample > 0 {
            for (j, sample) in self.trace.chunks(per_sample).enumerate() {
                if j >= self.time.len() {
                    break;
                }
                if all_finite(sample) {
                    continue;
                }
                for (k, v) in sample.iter().enumerate() {
                    let i = k % n;
                    let done = self.steps_done.get(i).copied().unwrap_or(u64::MAX);
                    if !v.is_finite() && first[i].is_none() && j as u64 * every <= done {
                        first[i] = Some(j);
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (i, first) in first.iter().enumerate() {
            let time = first.map(|j| self.time[j]);
            let final_bad = (0..self.final_state.len() / n.max(1))
                .any(|k| !self.final_state[k * n + i].is_finite());
            if time.is_some() || final_bad {
                out.push(NonFinite { instance: i, time });
            }
        }
        out
    }

    /// Adds the list of [`RunResult::non_finite`] instances to the metadata (`non_finite`: one
    /// `{"instance", "time"}` per instance, `time` null when only the final state shows it).
    pub fn with_non_finite(mut self) -> Self {
        let list: Vec<Value> = self
            .non_finite()
            .iter()
            .map(|f| json!({"instance": f.instance, "time": f.time}))
            .collect();
        if let Some(m) = self.metadata.as_object_mut() {
            m.insert("non_finite".into(), Value::Array(list));
        }
        self
    }

    /// The samples of recorded value `r` at node 0 for instance `i`.
    pub fn column(&self, r: usize, i: usize) -> Vec<f64> {
        self.node_column(r, 0, i)
    }

    /// The samples of recorded value `r` at `node` for instance `i`.
    pub fn node_column(&self, r: usize, node: usize, i: usize) -> Vec<f64> {
        let (nr, nn, n) = (self.names.len(), self.n_nodes, self.n_instances);
        (0..self.time.len())
            .map(|j| self.trace[((j * nr + r) * nn + node) * n + i])
            .collect()
    }

    /// Statistic `stat` (a name of [`STATS`]) of recorded value `r` at `node` for instance `i`.
    pub fn stat(&self, stat: &str, r: usize, node: usize, i: usize) -> Option<f64> {
        let k = STATS.iter().position(|s| *s == stat)?;
        let (nr, nn, n) = (self.names.len(), self.n_nodes, self.n_instances);
        self.stats.get(((k * nr + r) * nn + node) * n + i).copied()
    }

    /// The samples of the recorded path `name` at node 0 for instance 0.
    pub fn series(&self, name: &str) -> Option<Vec<f64>> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|r| self.column(r, 0))
    }

    /// Writes `.npz` (any number of instances) or `.csv` (one instance of a single node), chosen by
    /// extension.
    pub fn write(&self, path: &Path) -> Result<(), RuntimeError> {
        match path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            Some("csv") => self.write_csv(path),
            Some("npz") => self.write_npz(path),
            _ => Err(RuntimeError::Invalid(format!(
                "cannot tell the output format of `{}`\n  = help: use a `.npz` (numpy) or `.csv` file name",
                path.display()
            ))),
        }
    }

    /// The names of the arrays [`RunResult::array`] gives (and `.npz` files hold, besides
    /// `metadata`), in the order they are written: `time` and one per recorded path (when the run
    /// kept a trace) and one complex array `<path>` per complex variable whose `<path>.re` and
    /// `<path>.im` are both recorded, `<stat>/<path>` for every statistic (when computed),
    /// `grid/<path>` for every value varied between instances, `steps_done` for an interrupted
    /// run.
    pub fn array_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if !self.trace.is_empty() {
            names.push("time".to_string());
            names.extend(self.names.iter().cloned());
            // A complex variable recorded whole: also as one complex array.
            names.extend(
                self.names
                    .iter()
                    .filter_map(|p| p.strip_suffix(".re"))
                    .filter(|base| self.complex_parts(base).is_some())
                    .map(str::to_string),
            );
        }
        if !self.stats.is_empty() {
            for stat in STATS {
                names.extend(self.names.iter().map(|n| format!("{stat}/{n}")));
            }
        }
        if let Some(o) = &self.observed {
            if !o.bold.is_empty() {
                names.extend(["bold_time".to_string(), "bold".to_string()]);
            }
            names.push("fc".to_string());
            if !o.fcd.is_empty() {
                names.push("fcd".to_string());
            }
        }
        names.extend(self.per_instance.iter().map(|(n, _)| n.clone()));
        names.extend(self.varied.iter().map(|(n, _)| format!("grid/{n}")));
        if self.partial {
            names.push("steps_done".to_string());
        }
        names
    }

    /// The recorded values of the real and imaginary parts of the complex variable `base`
    /// (`base.re` and `base.im`), when both are recorded.
    fn complex_parts(&self, base: &str) -> Option<(usize, usize)> {
        let part = |suffix: &str| {
            self.names
                .iter()
                .position(|p| p.strip_suffix(suffix) == Some(base))
        };
        part(".re").zip(part(".im"))
    }

    /// The shape of a per-node, per-instance block: `([nodes,] [instances])`.
    fn block_shape(&self) -> Vec<usize> {
        let mut shape = Vec::new();
        if self.network {
            shape.push(self.n_nodes);
        }
        if self.n_instances > 1 || self.instance_axis {
            shape.push(self.n_instances);
        }
        shape
    }

    /// One array by name (see [`RunResult::array_names`]): traces have the axes
    /// `(samples, nodes, instances)`, statistics `(nodes, instances)`, without the node axis for
    /// a model that is not a network and without the instance axis for a single instance.
    pub fn npz_array(&self, name: &str) -> Option<NpzArray> {
        self.npz_entry(name).map(NpzEntry::into_array)
    }

    /// [`RunResult::npz_array`], with a recorded value's samples left where they are in the
    /// trace (a view, for writing without a copy).
    pub fn npz_entry(&self, name: &str) -> Option<NpzEntry<'_>> {
        let (n, nn, nr) = (self.n_instances, self.n_nodes, self.names.len());
        let traced = !self.trace.is_empty();
        let array = |shape: Vec<usize>, data: Vec<f64>| {
            NpzEntry::Array(NpzArray {
                name: name.to_string(),
                shape,
                data,
                imag: None,
            })
        };
        if name == "time" && traced {
            return Some(array(vec![self.time.len()], self.time.clone()));
        }
        if name == "steps_done" && self.partial {
            let data = self.steps_done.iter().map(|&s| s as f64).collect();
            return Some(array(vec![n], data));
        }
        if let Some(o) = &self.observed {
            let mut inst = Vec::new();
            if n > 1 || self.instance_axis {
                inst.push(n);
            }
            let with = |mut shape: Vec<usize>| {
                shape.extend(&inst);
                shape
            };
            match name {
                "bold_time" if !o.bold.is_empty() => {
                    let t = (1..=o.n_tr).map(|j| j as f64 * self.tr).collect();
                    return Some(array(vec![o.n_tr], t));
                }
                "bold" if !o.bold.is_empty() => {
                    let mut shape = vec![o.n_tr];
                    if self.network {
                        shape.push(nn);
                    }
                    return Some(array(with(shape), o.bold.clone()));
                }
                "fc" => return Some(array(with(vec![nn, nn]), o.fc.clone())),
                "fcd" if !o.fcd.is_empty() => {
                    return Some(array(with(vec![o.n_windows, o.n_windows]), o.fcd.clone()));
                }
                _ => {}
            }
        }
        if let Some((_, values)) = self.per_instance.iter().find(|(p, _)| p == name) {
            return Some(array(vec![values.len()], values.clone()));
        }
        if let Some(path) = name.strip_prefix("grid/")
            && let Some((_, values)) = self.varied.iter().find(|(p, _)| p == path)
        {
            return Some(array(vec![values.len()], values.clone()));
        }
        let samples = |r: usize| NpzEntry::View {
            name: name.to_string(),
            view: self.samples_view(r),
        };
        if let Some(r) = self.names.iter().position(|p| p == name).filter(|_| traced) {
            return Some(samples(r));
        }
        if let Some((re, im)) = self.complex_parts(name).filter(|_| traced) {
            return Some(NpzEntry::Array(NpzArray {
                imag: Some(samples(im).into_array().data),
                ..samples(re).into_array()
            }));
        }
        if !self.stats.is_empty()
            && let Some((stat, path)) = name.split_once('/')
            && let Some(k) = STATS.iter().position(|s| *s == stat)
            && let Some(r) = self.names.iter().position(|p| p == path)
        {
            let at = (k * nr + r) * nn * n;
            return Some(array(
                self.block_shape(),
                self.stats[at..at + nn * n].to_vec(),
            ));
        }
        None
    }

    /// One real array by name (see [`RunResult::array_names`] and [`RunResult::npz_array`]), with
    /// the shape numpy sees in the `.npz` file; `None` for a complex one (read its `.re` and `.im`).
    pub fn array(&self, name: &str) -> Option<ndarray::ArrayD<f64>> {
        let a = self.npz_array(name).filter(|a| a.imag.is_none())?;
        ndarray::ArrayD::from_shape_vec(ndarray::IxDyn(&a.shape), a.data).ok()
    }

    /// Writes every array of [`RunResult::array_names`] and `metadata` (a JSON string) to an
    /// `.npz` file that `numpy.load` reads.
    pub fn write_npz(&self, path: &Path) -> Result<(), RuntimeError> {
        // One array at a time, built as it is written; a recorded value's samples are written
        // from the trace itself.
        let names = self.array_names();
        let arrays = names.iter().filter_map(|name| self.npz_entry(name));
        write_npz(path, arrays, &self.metadata.to_string())
    }

    /// The samples of recorded value `r` where they lie in the trace, with the axes of
    /// [`RunResult::npz_array`]: `(samples, [nodes,] [instances])`.
    fn samples_view(&self, r: usize) -> ndarray::ArrayViewD<'_, f64> {
        let block = self.block_shape();
        let mut shape = vec![self.time.len()];
        shape.extend(&block);
        // One sample of every recorded value is a (node, instance) block, value after value.
        let mut strides = vec![self.names.len() * self.n_nodes * self.n_instances];
        strides.extend((1..=block.len()).map(|k| block[k..].iter().product::<usize>()));
        let at = r * self.n_nodes * self.n_instances;
        ndarray::ArrayViewD::from_shape(
            ndarray::ShapeBuilder::strides(ndarray::IxDyn(&shape), ndarray::IxDyn(&strides)),
            &self.trace[at..],
        )
        .expect("the trace holds every sample of every recorded value")
    }

    /// Writes a CSV with a `time` column and one column per recorded path (one instance; for a
    /// network, one column per path and node, named `path[node]`).
    pub fn write_csv(&self, path: &Path) -> Result<(), RuntimeError> {
        if self.n_instances != 1 {
            return Err(RuntimeError::Invalid(format!(
                "a CSV file holds one instance, this run has {}\n  = help: write a `.npz` file instead",
                self.n_instances
            )));
        }
        let mut header = vec!["time".to_string()];
        let mut columns = vec![self.time.clone()];
        for (r, name) in self.names.iter().enumerate() {
            for node in 0..self.n_nodes {
                header.push(if self.network {
                    format!("{name}[{node}]")
                } else {
                    name.clone()
                });
                columns.push(self.node_column(r, node, 0));
            }
        }
        let note = self.partial.then(|| {
            format!(
                "partial: the run was interrupted after {} of {} steps; later rows are NaN",
                self.steps_done.first().copied().unwrap_or(0),
                self.metadata["n_steps"].as_u64().unwrap_or(0)
            )
        });
        write_csv_with_note(path, note.as_deref(), &header, &columns)
    }
}

/// How a run computed its statistics.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StatsMetadata {
    /// The transient, in time units.
    pub transient: f64,
    /// The transient, in samples.
    pub transient_samples: u64,
    /// Thresholds of the time-above statistic, by recorded path.
    pub thresholds: Vec<(String, f64)>,
}

/// The description of a run, as every way of running a model records it (the `metadata` of a
/// [`RunResult`] and of its `.npz` file).
#[derive(Clone, Debug, Default)]
pub struct Metadata {
    /// How the model was named when it was loaded (a path, a dotted reference).
    pub model: String,
    /// The model's name.
    pub model_name: String,
    /// The model's hash (hex SHA-256 of its canonical listing).
    pub model_hash: String,
    /// The files the model was read from.
    pub files: Vec<String>,
    /// `native`, `interp`, `cuda`, `static` (linked into the binary).
    pub backend: String,
    /// The solver's name.
    pub solver: String,
    /// Step size.
    pub dt: f64,
    /// Start time.
    pub t0: f64,
    /// Simulated time.
    pub time: f64,
    /// Steps.
    pub n_steps: u64,
    /// Steps between samples.
    pub record_every_steps: u64,
    /// Instances.
    pub n_instances: usize,
    /// For a network: (nodes, edges, where the connectivity came from).
    pub network: Option<(usize, usize, String)>,
    /// The seed of a model with noise.
    pub noise_seed: Option<u64>,
    /// Every parameter's value.
    pub parameters: Vec<(String, f64)>,
    /// Every state's initial value.
    pub initial_state: Vec<(String, f64)>,
    /// Driven inputs: (path, `{"expression": ...}` or `{"series": ...}`).
    pub inputs: Vec<(String, Value)>,
    /// Values varied between instances.
    pub varied: Vec<String>,
    /// Initial values varied between nodes.
    pub varied_per_node: Vec<String>,
    /// Recorded paths.
    pub recorded: Vec<String>,
    /// The units the model gives its recorded values, by path (those it gives).
    pub units: Vec<(String, String)>,
    /// Whether every sample was kept.
    pub trace: bool,
    /// The statistics computed.
    pub stats: Option<StatsMetadata>,
    /// The kernel (lanes, precision, ...), or null.
    pub kernel: Value,
    /// The run stopped early.
    pub partial: bool,
    /// How BOLD, FC and FCD were computed, when they were.
    pub observe: Option<Value>,
    /// Every instance drew instance 0's noise.
    pub noise_shared: bool,
    /// For a shard of a sweep: which part of the whole it is (index, count, instance range,
    /// the whole sweep's size and hash).
    pub shard: Option<Value>,
    /// The rateforge version that generated the model's code.
    pub version: String,
}

impl Metadata {
    /// The JSON object.
    pub fn to_json(&self) -> Value {
        let map = |pairs: &[(String, f64)]| -> Map<String, Value> {
            pairs.iter().map(|(k, v)| (k.clone(), json!(v))).collect()
        };
        json!({
            "rateforge_version": self.version,
            "model": self.model,
            "model_name": self.model_name,
            "model_hash": self.model_hash,
            "files": self.files,
            "backend": self.backend,
            "solver": self.solver,
            "dt": self.dt,
            "t0": self.t0,
            "time": self.time,
            "n_steps": self.n_steps,
            "record_every_steps": self.record_every_steps,
            "n_instances": self.n_instances,
            "network": self.network.as_ref().map(|(nodes, edges, source)| json!({
                "nodes": nodes,
                "edges": edges,
                "connectivity": source,
            })),
            "noise": self.noise_seed.map(|seed| json!({"seed": seed, "shared_between_instances": self.noise_shared})),
            "parameters": map(&self.parameters),
            "initial_state": map(&self.initial_state),
            "inputs": self.inputs.iter().cloned().collect::<Map<String, Value>>(),
            "varied": self.varied,
            "varied_per_node": self.varied_per_node,
            "recorded": self.recorded,
            "units": self.units.iter().map(|(k, v)| (k.clone(), json!(v))).collect::<Map<String, Value>>(),
            "trace": self.trace,
            "array_axes": if self.network.is_some() { "samples, nodes[, instances]" } else { "samples[, instances]" },
            "stats": self.stats.as_ref().map(|s| json!({
                "names": STATS,
                "transient": s.transient,
                "transient_samples": s.transient_samples,
                "thresholds": map(&s.thresholds),
                "array_axes": if self.network.is_some() { "nodes[, instances]" } else { "[instances]" },
            })),
            "kernel": self.kernel,
            "partial": self.partial,
            "bold": self.observe,
            "shard": self.shard,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(partial: bool, values: Vec<f64>) -> RunResult {
        RunResult {
            time: vec![0.0, 1.0, 2.0],
            names: vec!["x".into()],
            n_instances: 1,
            n_nodes: 1,
            network: false,
            trace: values,
            stats: Vec::new(),
            steps_done: vec![if partial { 1 } else { 2 }],
            final_state: vec![0.5],
            metadata: json!({"n_steps": 2, "record_every_steps": 1}),
            varied: Vec::new(),
            partial,
            observed: None,
            tr: 0.0,
            per_instance: Vec::new(),
            instance_axis: false,
        }
    }

    #[test]
    fn an_interrupted_run_says_so_in_its_csv() {
        let dir = std::env::temp_dir().join(format!("rf-partial-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("out.csv");
        result(true, vec![1.0, 0.5, f64::NAN]).write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# partial: the run was interrupted after 1 of 2 steps; later rows are NaN\ntime,x\n0.0,1.0\n1.0,0.5\n2.0,NaN\n"
        );
        result(false, vec![1.0, 0.5, 0.25]).write(&path).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .starts_with("time,x\n")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn traces_written_from_the_trace_itself_have_the_samples_of_their_value() {
        use ndarray_npy::NpzReader;
        let dir = std::env::temp_dir().join(format!("rf-views-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // (network, nodes, instances, instance axis): every shape an array of samples can take.
        for (network, nn, n, axis) in [
            (true, 2, 3, false),
            (true, 2, 1, false),
            (false, 1, 3, false),
            (false, 1, 1, false),
            (false, 1, 1, true),
        ] {
            let (nt, nr) = (3, 2);
            let mut r = result(false, (0..nt * nr * nn * n).map(|k| k as f64).collect());
            r.names = vec!["x".into(), "y".into()];
            (r.network, r.n_nodes, r.n_instances, r.instance_axis) = (network, nn, n, axis);
            r.steps_done = vec![2; n];
            let path = dir.join("out.npz");
            r.write_npz(&path).unwrap();
            let mut npz = NpzReader::new(std::fs::File::open(&path).unwrap()).unwrap();
            for (v, name) in ["x", "y"].into_iter().enumerate() {
                let a: ndarray::ArrayD<f64> = npz.by_name(&format!("{name}.npy")).unwrap();
                let mut shape = vec![nt];
                shape.extend(network.then_some(nn));
                shape.extend((n > 1 || axis).then_some(n));
                assert_eq!(a.shape(), &shape[..], "{name} {network} {nn} {n}");
                // Sample j, node k, instance i of value v lies at ((j * nr + v) * nn + k) * n + i.
                let expected: Vec<f64> = (0..nt)
                    .flat_map(|j| (0..nn * n).map(move |ki| ((j * nr + v) * nn * n + ki) as f64))
                    .collect();
                assert_eq!(a.iter().copied().collect::<Vec<_>>(), expected);
                let copied = r.npz_array(name).unwrap();
                assert_eq!((copied.shape, copied.data), (shape, expected));
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn all_finite_sees_every_nan_and_infinity_in_any_place() {
        for len in [0, 1, 7, 8, 9, 17, 64] {
            let mut v: Vec<f64> = (0..len).map(|k| k as f64 * -1.5e300).collect();
            assert!(all_finite(&v), "{len}");
            for k in 0..len {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let keep = v[k];
                    v[k] = bad;
                    assert!(!all_finite(&v), "{len} {k} {bad}");
                    v[k] = keep;
                }
            }
        }
    }

    #[test]
    fn non_finite_instances_are_found_in_the_samples_they_reached() {
        // Not finite from the second sample on.
        let r = result(false, vec![1.0, f64::INFINITY, f64::NAN]).with_non_finite();
        assert_eq!(
            r.non_finite(),
            vec![NonFinite {
                instance: 0,
                time: Some(1.0)
            }]
        );
        assert_eq!(
            r.metadata["non_finite"],
            json!([{"instance": 0, "time": 1.0}])
        );
        // An interrupted run's unreached samples are NaN by design: not reported.
        assert!(
            result(true, vec![1.0, 0.5, f64::NAN])
                .non_finite()
                .is_empty()
        );
    }
}
