"""rateforge: fast kernels for rate-based neural models, from Python.

Describe a model once (PyRates-style YAML or TVB RateML/LEMS XML); rateforge generates a kernel
specialised for it, compiles it (cached), and runs single simulations, networks and sweeps of
many parameter values. Results are numpy arrays.

>>> import rateforge as rf
>>> m = rf.load("examples/models/montbrio.yaml/qif")
>>> r = m.run(time=100, dt=1e-3, solver="rk4", every=0.01,
...           inputs={"p/qif_op/I_ext": "30*(t>=30)*(t<60)"},
...           record=["p/qif_op/r", "p/qif_op/v"])
>>> r["p/qif_op/r"].shape
(10001,)

Errors in a model or in a run's arguments raise :class:`ModelError` (a ``ValueError``) whose text
is rateforge's diagnostic: file:line:col, the text underlined, a help line. Ctrl-C stops a run and
raises ``KeyboardInterrupt`` with the partial result as its ``.result``.

PyRates users: :mod:`rateforge.pyrates` has ``CircuitTemplate`` and ``grid_search``.
"""

from __future__ import annotations

import json
import os
import sys
import time as _time
import warnings
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np

from . import _rateforge
from ._rateforge import ModelError

__all__ = ["load", "from_source", "merge", "Model", "Result", "ModelError", "__version__"]

__version__ = _rateforge.version()


def load(model: Union[str, os.PathLike], model_path: Optional[Sequence[Union[str, os.PathLike]]] = None) -> Model:
    """Load a model, as the command line names it.

    ``model`` is ``"file.yaml/Template"``, ``"dir/file/Template"``, ``"package.file.Template"``
    (searched in ``model_path``, a list of directories, and the current directory), a YAML file
    with a single circuit, or a RateML/LEMS file ``"model.xml"``. Returns a :class:`Model`;
    raises :class:`ModelError` with the located diagnostic when the model does not load.
    """
    paths = None if model_path is None else [str(p) for p in model_path]
    return Model(_rateforge.load(str(model), paths))


def merge(shards: Sequence[Union[str, os.PathLike]], output: Union[str, os.PathLike]) -> int:
    """Merge the ``.npz`` files of a sweep's shards into ``output`` (``rateforge merge``): they
    must be shards of one sweep, cover every instance once and be complete (else
    :class:`ModelError` says what is missing, doubled, foreign or partial). Returns the number
    of instances."""
    instances, _ = _rateforge.merge([str(p) for p in shards], str(output))
    return instances


def from_source(text: str, format: str = "yaml", template: Optional[str] = None) -> Model:
    """A model from text: ``format="yaml"`` (PyRates templates; ``template`` names the circuit or
    node to run unless there is a single one) or ``format="xml"`` (RateML/LEMS)."""
    return Model(_rateforge.from_source(text, format, template))


def _record_list(record):
    if record is None:
        return []
    if isinstance(record, str):
        return [r.strip() for r in record.split(",") if r.strip()]
    return [str(r) for r in record]


class _Progress:
    """A progress bar for runs over a second: tqdm when it is installed (terminals and notebooks),
    else a line on a terminal's stderr."""

    def __init__(self, show):
        self.show = show
        self.start = _time.monotonic()
        self.bar = None
        self.last = 0

    def __call__(self, done, total):
        if not self.show or _time.monotonic() - self.start < 1.0:
            return
        if self.bar is None:
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, unit="step", unit_scale=True, leave=False)
            except ImportError:
                if not sys.stderr.isatty():
                    self.show = False
                    return
                self.bar = "text"
        if self.bar == "text":
            sys.stderr.write(f"\r{100.0 * done / max(total, 1):5.1f}% of {total} steps")
            sys.stderr.flush()
        else:
            self.bar.update(done - self.last)
        self.last = done

    def close(self):
        if self.bar == "text":
            sys.stderr.write("\r" + " " * 40 + "\r")
        elif self.bar is not None:
            self.bar.close()


class Model:
    """A loaded model: edit it (:meth:`set`, :meth:`drive`, :meth:`set_noise`), inspect it
    (:meth:`check`), run it (:meth:`run`) or sweep it (:meth:`sweep`). Kernels are built once per
    model and set of compile options, and reused by later runs."""

    def __init__(self, native):
        self._native = native

    def copy(self) -> Model:
        """An independent copy."""
        return Model(self._native.copy())

    def set(self, path: str, value: float) -> Model:
        """Set a parameter's value or a state's initial value; returns the model."""
        self._native.set(str(path), float(value))
        return self

    def drive(self, path: str, expression: str) -> Model:
        """Drive an input with an expression of the time ``t``, e.g. ``"30*(t>=30)*(t<60)"``."""
        self._native.drive(str(path), str(expression))
        return self

    def set_noise(self, path: str, sigma: float) -> Model:
        """Add noise ``sigma dW`` to a state (the stochastic solvers are ``euler`` and ``heun``)."""
        self._native.set_noise(str(path), float(sigma))
        return self

    def set_connectivity(self, path: Union[str, os.PathLike], tract_lengths=None, delays=None) -> Model:
        """Run this network model on a connectivity: a directory or a TVB zip (``weights.txt``,
        ``tract_lengths.txt``, ...), or a weights file with optional ``tract_lengths`` or
        ``delays`` files (the command line's ``--connectivity``, ``--tract-lengths``,
        ``--delays``)."""
        self._native.set_connectivity(str(path), None if tract_lengths is None else str(tract_lengths),
                                      None if delays is None else str(delays))
        return self

    def set_history(self, history: str) -> Model:
        """The history before the start: ``"initial"`` (each state's initial value) or ``"zero"``."""
        self._native.set_history(history)
        return self

    def check(self) -> dict[str, Any]:
        """Validate the model and describe it: a dict with ``name``, ``hash``, ``states`` (path,
        initial value), ``parameters`` (path, value, kind), ``derived``, ``network``,
        ``sweep_axes``, ``record``, ``warnings`` and the ``listing`` that ``rateforge check``
        prints. Raises :class:`ModelError` when the model is invalid."""
        return self._native.check()

    def __repr__(self):
        info = self._native.check()
        return f"<rateforge.Model {info['name']}: {len(info['states'])} states, {len(info['parameters'])} parameters>"

    def run(self, time: float, dt: float, solver: str = "rk4", *, t0: float = 0.0,
            every: Optional[float] = None, record: Union[None, str, Sequence[str]] = None,
            inputs: Optional[Mapping[str, Union[str, np.ndarray]]] = None,
            instance_values: Optional[Mapping[str, Any]] = None,
            node_values: Optional[Mapping[str, Any]] = None, seed: int = 0,
            threads: Optional[int] = None, parallel: str = "auto", backend: str = "native",
            precision: str = "f64",
            history_precision: str = "f64", fast: bool = False, lanes: Optional[int] = None,
            generic: bool = False, trace: bool = True, stats: bool = False,
            transient: Optional[float] = None, thresholds: Optional[Mapping[str, float]] = None,
            set: Optional[Mapping[str, float]] = None, noise: Optional[Mapping[str, float]] = None,
            connectivity: Union[None, str, os.PathLike] = None, history: Optional[str] = None,
            same_noise: bool = False, bold: Optional[Mapping[str, Any]] = None,
            target: Optional[Mapping[str, Any]] = None,
            progress: Union[bool, Any] = True) -> Result:
        """Simulate the model; the same options and results as ``rateforge run``.

        time, dt: the simulated time and the step (``time`` a whole number of steps).
        solver: ``"euler"``, ``"heun"`` or ``"rk4"``. t0: the start time.
        every: the sampling interval (a whole number of steps; default every step).
        record: paths to record (a list, or comma-separated text); default the model's states.
        inputs: ``{path: expression}`` (text, of the time ``t``) or ``{path: array}`` with one row
            per step (one column, or one per node or per instance), held constant within a step.
        instance_values: ``{path: values}``, one value per instance (parameters or initial states).
        node_values: ``{path: values}``, one initial value per node of a network.
        seed: the noise seed. threads: worker threads (default all cores). parallel: how the
            threads share a network, ``"auto"``, ``"instances"`` or ``"nodes"``.
        backend: ``"native"`` (compiled for this CPU), ``"interp"`` (the reference evaluator),
            ``"cuda"``/``"cuda:N"`` (a GPU), ``"cuda-emulated"``.
        precision, history_precision: ``"f64"`` or ``"f32"``. fast: faster, less exact arithmetic.
        lanes: SIMD lanes (default chosen from the run). generic: no parameters compiled in.
        trace: keep every sample (else statistics and final states only).
        stats, transient, thresholds: streaming statistics (``last``, ``mean``, ``var``, ``min``,
            ``max``, ``above``) after ``transient`` time units, ``above`` for ``{path: threshold}``.
        set, noise, connectivity, history: for this run only, as :meth:`set`, :meth:`set_noise`,
            :meth:`set_connectivity` and :meth:`set_history` (``--set``, ``--noise``,
            ``--connectivity``, ``--history``).
        same_noise: every instance draws instance 0's noise (common random numbers).
        bold: BOLD (Balloon-Windkessel), FC and FCD computed inside the kernel (default: as the
            model declares it; ``False``: none), as a dict:
            ``driver`` (the path that drives it, required), ``tr`` (s, 0.72), ``bold_dt`` (s,
            1e-3), ``time_unit`` (``"ms"`` or ``"s"``, the model's), ``balloon``
            (``"stephan2007"``, ``"friston2003"`` or ``"cubnm"``), ``transient`` (s, 0),
            ``fcd_window`` and ``fcd_step`` (BOLD samples; window 0: no FCD), ``keep_bold``
            (False). The result then has ``fc``, ``fcd``, ``bold`` and ``bold_time``
            (docs/fitting.md).
        target: empirical data, ``dict(fc=FC, fcd=FCD)`` or ``dict(bold=BOLD)`` (numpy arrays):
            every instance's goodness of fit as ``fit/cost``, ``fit/fc_corr``, ``fit/fc_rmse``,
            ``fit/fc_diff``, ``fit/fcd_ks``.
        progress: a progress bar for runs that take over a second (tqdm when installed, in
            terminals and notebooks), ``False`` for none, or a callable ``progress(done, total)``
            (instance-steps) called about every 50 ms.

        Returns a :class:`Result`. Ctrl-C raises ``KeyboardInterrupt`` whose ``.result`` holds what
        was done.
        """
        return self._call(locals(), sweep=None)

    def sweep(self, grid: Optional[Mapping[str, Any]] = None, *, mode: str = "product",
              points: Optional[Mapping[str, int]] = None,
              samples: Optional[int] = None, sample_seed: int = 0,
              table: Optional[Mapping[str, Any]] = None, time: float, dt: float,
              solver: str = "rk4", traces: bool = False,
              shard: Optional[tuple[int, int]] = None, **options: Any) -> Result:
        """Simulate many parameter values at once, one instance each; ``rateforge sweep``.

        grid: ``{path: values}``; values are a list or array of numbers, or the command line's
            text: ``"lo:hi:n"`` (numpy's linspace), ``"log:lo:hi:n"``, or ``"lo:hi"`` for random
            designs. Axes combine by ``mode``: ``"product"`` (every combination, the first axis
            slowest), ``"zip"`` (position by position), ``"uniform"`` or ``"lhs"`` (``samples``
            random instances, seeded by ``sample_seed``).
        points: ``{name: n}``, points of the model's declared swept parameters (RateML's
            ``<Parameter dimension="lo, hi">``, always swept first, 4 points by default or 1 where
            lo = hi; ``rateforge sweep --points``). ``grid`` replaces a declared axis it names.
        table: ``{path: values}`` columns of given instances (a pandas DataFrame works too).
        traces: keep every sample of every instance (default: statistics only, as the CLI).
        shard: ``(k, n)`` runs the k-th of n contiguous blocks of the instances (k from 1), with
            the noise and drawn initial values they have in the whole sweep (``rateforge sweep
            --shard K/N``); :func:`merge` puts the shards' files together, and
            :func:`rateforge.dask.sweep` runs them on a Dask cluster.
        Other options as :meth:`run`. The result's ``grid`` holds each instance's values.
        """
        axes = []
        for path, values in (grid or {}).items():
            if isinstance(values, str):
                axes.append((str(path), values))
            else:
                axes.append((str(path), [float(v) for v in np.asarray(values, dtype=float).ravel()]))
        columns = []
        if table is not None:
            for path in table.keys():
                columns.append((str(path), [float(v) for v in np.asarray(table[path], dtype=float).ravel()]))
        sweep = {
            "axes": axes,
            "points": [(str(k), int(v)) for k, v in (points or {}).items()],
            "mode": mode,
            "samples": samples,
            "seed": int(sample_seed),
            "table": columns,
            "shard": None if shard is None else (int(shard[0]), int(shard[1])),
        }
        options.setdefault("trace", traces)
        options.update(time=time, dt=dt, solver=solver)
        return self._call(options, sweep=sweep)

    def fit(self, free: Mapping[str, Sequence[float]], target: Mapping[str, Any], *,
            bold: Mapping[str, Any], time: float, dt: float, solver: str = "heun",
            method: str = "cmaes", points: int = 8, population: Optional[int] = None,
            generations: int = 20, sigma: float = 0.3, progress: Union[bool, Any] = True,
            **options: Any) -> dict[str, Any]:
        """Fit free parameters to empirical FC (and FCD); ``rateforge fit``.

        free: ``{path: (lo, hi)}``. target: ``dict(fc=FC, fcd=FCD)`` or ``dict(bold=BOLD)``.
        bold: as in :meth:`run` (required). method: ``"cmaes"`` (``population`` points per
        generation, default ``4 + floor(3 ln n)`` and at least 8, ``generations``, initial step
        ``sigma`` as a fraction of each range) or ``"grid"`` (``points`` values per parameter).
        Each generation is one launch of the kernel. ``seed`` seeds the noise and the search;
        ``same_noise=True`` compares every point under one noise realisation. Other options as
        :meth:`run`. progress: print one line per generation (``True``), ``False``, or a callable
        ``progress(generation, generations, best_cost, best_point)``.

        Returns a dict of numpy arrays named as the command line's ``.npz`` (``grid/<path>``,
        ``fit/<metric>``, ``generation``, ``best/<path>``, ``best/<metric>``), plus ``best`` (a
        dict path -> value) and ``interrupted``. Ctrl-C stops after the current generation.
        """
        given = dict(options)
        given.update(time=time, dt=dt, solver=solver, bold=bold, trace=False)
        native, args, exprs, series = self._prepare(given)
        names = [str(p) for p in free.keys()]
        bounds = [(str(p), float(free[p][0]), float(free[p][1])) for p in names]

        def show(g, of, cost, point):
            at = ", ".join(f"{p} = {v:.6g}" for p, v in zip(names, point))
            print(f"generation {g}/{of}: best cost {cost:.5f} at {at}", file=sys.stderr)

        callback = progress if callable(progress) else (show if progress else None)
        arrays, interrupted = native._fit(args, exprs, series, _target(target), bounds,
                                          str(method), int(points), population,
                                          int(generations), float(sigma), callback)
        out = dict(arrays)
        out["best"] = {p: float(arrays[f"best/{p}"][0]) for p in names if f"best/{p}" in arrays}
        out["interrupted"] = bool(interrupted)
        return out

    def _prepare(self, given):
        native = self._native
        if given.get("set") or given.get("noise") or given.get("connectivity") or given.get("history"):
            model = self.copy()
            if given.get("history"):
                model.set_history(given["history"])
            if given.get("connectivity"):
                model.set_connectivity(given["connectivity"])
            for path, value in (given.get("set") or {}).items():
                model.set(path, value)
            for path, sigma in (given.get("noise") or {}).items():
                model.set_noise(path, sigma)
            native = model._native
        args = {
            "time": float(given["time"]),
            "dt": float(given["dt"]),
            "solver": str(given.get("solver", "rk4")),
            "t0": float(given.get("t0", 0.0)),
            "every": None if given.get("every") is None else float(given["every"]),
            "record": _record_list(given.get("record")),
            "seed": int(given.get("seed", 0)),
            "threads": given.get("threads"),
            "parallel": str(given.get("parallel", "auto")),
            "backend": str(given.get("backend", "native")),
            "precision": str(given.get("precision", "f64")),
            "history_precision": str(given.get("history_precision", "f64")),
            "fast": bool(given.get("fast", False)),
            "lanes": given.get("lanes"),
            "generic": bool(given.get("generic", False)),
            "trace": bool(given.get("trace", True)),
            "stats": bool(given.get("stats", False)),
            "transient": None if given.get("transient") is None else float(given["transient"]),
            "thresholds": {str(k): float(v) for k, v in (given.get("thresholds") or {}).items()},
            "instance_values": {
                str(k): [float(x) for x in np.asarray(v, dtype=float).ravel()]
                for k, v in (given.get("instance_values") or {}).items()
            },
            "node_values": {
                str(k): [float(x) for x in np.asarray(v, dtype=float).ravel()]
                for k, v in (given.get("node_values") or {}).items()
            },
            "same_noise": bool(given.get("same_noise", False)),
            "bold": _bold(given.get("bold")),
            "no_bold": given.get("bold") is False,
        }
        exprs, series = [], []
        for path, value in (given.get("inputs") or {}).items():
            if isinstance(value, str):
                exprs.append((str(path), value))
            else:
                a = np.asarray(value, dtype=np.float64)
                if a.ndim == 1:
                    a = a[:, None]
                if a.ndim != 2:
                    raise ModelError(
                        f"error: the input of `{path}` has {a.ndim} dimensions\n"
                        "  = help: give one row per step: a vector, or a matrix with one column per node or instance"
                    )
                series.append((str(path), np.ascontiguousarray(a)))
        return native, args, exprs, series

    def _call(self, given, sweep):
        native, args, exprs, series = self._prepare(given)
        progress = given.get("progress", True)
        bar = progress if callable(progress) else _Progress(bool(progress))
        try:
            result = native._run(args, exprs, series, sweep, bar, _target(given.get("target")))
        except KeyboardInterrupt as e:
            partial = getattr(e, "result", None)
            if partial is not None:
                e.result = Result(partial)
            raise
        finally:
            if isinstance(bar, _Progress):
                bar.close()
        bad = result.non_finite()
        if bad:
            first = ", ".join(f"{i}" + ("" if t is None else f" (t = {t:g})") for i, t in bad[:5])
            warnings.warn(f"{len(bad)} instance(s) went NaN or infinite: {first}"
                          f"{', ...' if len(bad) > 5 else ''}; see Result.non_finite()",
                          RuntimeWarning, stacklevel=3)
        return Result(result)


def _bold(bold):
    """``bold=`` with every key filled in."""
    if bold is None or bold is False:
        return None
    if "driver" not in bold:
        raise ModelError("error: `bold` needs a `driver`\n  = help: e.g. bold=dict(driver=\"S\", tr=0.72)")
    defaults = dict(tr=0.72, bold_dt=1e-3, time_unit="ms", balloon="stephan2007", transient=0.0,
                    fcd_window=0, fcd_step=1, keep_bold=False)
    unknown = set(bold) - set(defaults) - {"driver"}
    if unknown:
        raise ModelError(f"error: unknown `bold` option(s) {sorted(unknown)}\n"
                         f"  = help: the options are driver, {', '.join(defaults)}")
    out = dict(defaults)
    out.update(bold)
    return {"driver": str(out["driver"]), "tr": float(out["tr"]), "bold_dt": float(out["bold_dt"]),
            "time_unit": str(out["time_unit"]), "balloon": str(out["balloon"]),
            "transient": float(out["transient"]), "fcd_window": int(out["fcd_window"]),
            "fcd_step": int(out["fcd_step"]), "keep_bold": bool(out["keep_bold"])}


def _target(target):
    """``target=`` as float64 matrices."""
    if target is None:
        return None
    unknown = set(target) - {"fc", "fcd", "bold"}
    if unknown:
        raise ModelError(f"error: unknown `target` key(s) {sorted(unknown)}\n"
                         "  = help: give dict(fc=FC, fcd=FCD) or dict(bold=BOLD)")
    return {k: (None if target.get(k) is None
                else np.ascontiguousarray(np.asarray(target[k], dtype=np.float64)))
            for k in ("fc", "fcd", "bold")}


class Result:
    """A run's result. ``result[name]`` is a numpy array named as in the ``.npz`` file the command
    line writes: ``time``, each recorded path (shape ``(samples, [nodes,] [instances])``; a complex
    variable recorded whole also as one ``complex128`` array), ``<stat>/<path>`` statistics,
    ``grid/<path>`` swept values, ``steps_done`` for an interrupted run."""

    def __init__(self, native):
        self._native = native
        self._cache = {}

    def keys(self):
        """The array names, in the order of the ``.npz`` file."""
        return list(self._native.names())

    def __iter__(self):
        return iter(self.keys())

    def __contains__(self, name):
        return name in self.keys()

    def __getitem__(self, name):
        if name not in self._cache:
            a = self._native.array(name)
            if a is None:
                raise KeyError(f"{name!r}: the result has {', '.join(self.keys())}")
            a.flags.writeable = False
            self._cache[name] = a
        return self._cache[name]

    @property
    def time(self):
        """The sample times."""
        return self["time"]

    @property
    def recorded(self):
        """The recorded paths."""
        return self._native.recorded

    @property
    def metadata(self):
        """The run's metadata (model, hash, solver, dt, parameters, version, ...), a dict."""
        return json.loads(self._native.metadata_json())

    @property
    def units(self):
        """The units the model gives its recorded values: ``{path: unit}``."""
        return dict(self.metadata.get("units") or {})

    @property
    def n_instances(self):
        return self._native.n_instances

    @property
    def n_nodes(self):
        return self._native.n_nodes

    @property
    def run_seconds(self):
        """Seconds the simulation itself took (without the Python call's own costs)."""
        return self._native.run_seconds

    @property
    def partial(self):
        """Whether the run was stopped early."""
        return self._native.partial

    @property
    def grid(self):
        """The values varied between instances: ``{path: array}``."""
        return {p: np.asarray(v) for p, v in self._native.varied}

    def non_finite(self):
        """Instances that went NaN or infinite: ``[(instance, time or None), ...]``."""
        return self._native.non_finite()

    def write(self, path):
        """Write a ``.npz`` or ``.csv`` file, exactly as ``rateforge run -o`` does."""
        self._native.write(str(path))

    def __repr__(self):
        return (f"<rateforge.Result: {len(self.recorded)} recorded, {self.n_instances} instance(s), "
                f"{self.n_nodes} node(s), arrays {self.keys()}>")

    def to_pandas(self):
        """The traces of a run with one instance as a pandas DataFrame indexed by time, one column
        per recorded path (``path[node]`` for networks)."""
        import pandas as pd

        if self.n_instances != 1:
            raise ValueError("to_pandas() takes a run with one instance; use to_xarray() for sweeps")
        columns = {}
        for path in self.recorded:
            a = self[path]
            if a.ndim == 1:
                columns[path] = a
            else:
                for node in range(a.shape[1]):
                    columns[f"{path}[{node}]"] = a[:, node]
        return pd.DataFrame(columns, index=pd.Index(self.time, name="time"))

    def to_xarray(self):
        """An xarray Dataset: each recorded path over dims ``time``, ``node`` (networks) and
        ``instance`` (several instances), statistics as ``<stat>/<path>``, the swept values as
        coordinates along ``instance``, and the metadata as attributes."""
        import xarray as xr

        network = self._native.network
        many = self.n_instances > 1
        block = (["node"] if network else []) + (["instance"] if many else [])
        data = {}
        units = self.units
        for name in self.keys():
            if name in ("time", "steps_done") or name.startswith("grid/"):
                continue
            a = self[name]
            dims = (["time"] if a.ndim == len(block) + 1 else []) + block
            unit = units.get(name)
            data[name] = (dims, a, {"units": unit} if unit else {})
        coords = {}
        if "time" in self:
            coords["time"] = self.time
        if many:
            coords["instance"] = np.arange(self.n_instances)
            for path, values in self.grid.items():
                coords[path] = ("instance", values)
        if network:
            coords["node"] = np.arange(self.n_nodes)
        attrs = {k: (json.dumps(v) if isinstance(v, (dict, list)) else v)
                 for k, v in self.metadata.items() if v is not None}
        return xr.Dataset(data, coords=coords, attrs=attrs)

    def plot(self, paths=None, ax=None):
        """Plot the recorded traces against time with matplotlib (one panel per path; nodes and
        instances overlaid). Returns the figure."""
        import matplotlib.pyplot as plt

        paths = self.recorded if paths is None else _record_list(paths)
        if ax is None:
            fig, axes = plt.subplots(len(paths), 1, sharex=True, squeeze=False,
                                     figsize=(8, 2.2 * len(paths) + 0.6))
            axes = axes[:, 0]
        else:
            fig, axes = ax.figure, [ax] * len(paths)
        for a, path in zip(axes, paths):
            y = self[path]
            a.plot(self.time, y.reshape(len(self.time), -1), lw=0.8)
            a.set_ylabel(path)
        axes[-1].set_xlabel("time")
        fig.suptitle(self.metadata.get("model_name", ""))
        return fig
