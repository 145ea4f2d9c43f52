"""PyRates' interface on rateforge: a PyRates script changes its import and runs.

    from rateforge.pyrates import CircuitTemplate, grid_search   # was: from pyrates import ...

    qif = CircuitTemplate.from_yaml("model_templates.neural_mass_models.qif.qif")
    res = qif.run(simulation_time=100.0, step_size=1e-3, sampling_step_size=1e-2,
                  inputs={"p/qif_op/I_ext": inp}, outputs={"r": "p/qif_op/r"}, solver="euler")

What a script can notice (rateforge computes what the equations say; see the README's
"Differences from PyRates"):

* ``t`` in equations is the time, not the step index; ``heun`` is the true second-order Heun
  method; ``rk4`` is available; ``solver="scipy"`` runs ``rk4`` at ``step_size`` (no adaptive
  stepping); everything is float64 unless ``float_precision="float32"``.
* ``run`` returns the samples at ``k * sampling_step_size`` for ``k = 0 .. n-1`` as PyRates does
  (the final state is not a row), rows before ``cutoff`` dropped. Options that only steer PyRates'
  code generation (``backend``, ``vectorize``, ``clear``, ``in_place``, ``verbose``, ``file_name``)
  are accepted and ignored.
* ``grid_search`` runs every parameter combination as one instance of one kernel; its result has
  two column levels, ``(output, circuit)`` (PyRates adds node and variable levels), and the
  parameter table is indexed by the same circuit names (``<template>_<row>``).
* Edge parameters are named ``source->target/weight`` (and ``/delay``) in rateforge; ``param_map``
  entries with ``edges`` are translated to them.
"""

import importlib.util
import os
import sys
from pathlib import Path

import numpy as np

from . import load

__all__ = ["CircuitTemplate", "grid_search"]

_SOLVERS = {"euler": "euler", "heun": "heun", "rk4": "rk4", "scipy": "rk4"}


def _model_reference(path):
    """Where a template lives: a file path as rateforge reads it, or PyRates' dotted
    ``package.module.Template`` resolved through Python's import path (so installed template
    packages such as ``model_templates`` are found)."""
    path = str(path)
    if "/" in path or os.sep in path or "." not in path:
        return path, None
    parts = path.split(".")
    for k in range(len(parts) - 2, 0, -1):
        package = ".".join(parts[:k])
        try:
            spec = importlib.util.find_spec(package)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.submodule_search_locations:
            continue
        for location in spec.submodule_search_locations:
            base = Path(location).joinpath(*parts[k:-1])
            for ext in (".yaml", ".yml"):
                if base.with_suffix(ext).is_file():
                    return f"{base.with_suffix(ext)}/{parts[-1]}", None
    # Not a Python package: rateforge's own search (the current directory and model_path).
    return path, [os.getcwd(), *sys.path]


class CircuitTemplate:
    """A circuit loaded from a template, as PyRates' ``CircuitTemplate``."""

    def __init__(self, model, name):
        self._model = model
        self.name = name

    @classmethod
    def from_yaml(cls, path):
        """Load ``"package.module.Template"`` (searched on Python's import path, as PyRates
        does), ``"dir/file.yaml/Template"`` or ``"dir/file/Template"``."""
        reference, search = _model_reference(path)
        model = load(reference, model_path=search)
        return cls(model, model.check()["name"])

    def update_var(self, node_vars=None, edge_vars=None):
        """Change values: ``node_vars={"node/op/var": value}`` and
        ``edge_vars=[(source, target, {"weight": w, "delay": d})]``. Returns the template."""
        for key, value in (node_vars or {}).items():
            self._model.set(key, float(value))
        for source, target, attributes in edge_vars or []:
            for attribute, value in attributes.items():
                self._model.set(f"{source}->{target}/{attribute}", float(value))
        return self

    def run(self, simulation_time, step_size, inputs=None, outputs=None, sampling_step_size=None,
            cutoff=0.0, solver="euler", backend=None, vectorize=True, verbose=True, clear=True,
            in_place=True, float_precision="float64", **kwargs):
        """Simulate and return a pandas DataFrame indexed by time with one column per output
        (``outputs={name: "node/op/var"}``, or a list of paths). ``inputs={path: array}`` gives
        one value per step, held within the step."""
        import pandas as pd

        result, names = _simulate(self._model, simulation_time, step_size, inputs, outputs,
                                  sampling_step_size, solver, float_precision)
        rows = _rows(simulation_time, step_size, sampling_step_size)
        time = result.time[:rows]
        frame = pd.DataFrame({name: result[path][:rows] for name, path in names},
                             index=pd.Index(time))
        return frame[frame.index >= cutoff - 1e-12 * max(abs(cutoff), 1.0)] if cutoff else frame


def _rows(simulation_time, step_size, sampling_step_size):
    every = sampling_step_size or step_size
    return int(round(simulation_time / every))


def _simulate(model, simulation_time, step_size, inputs, outputs, sampling_step_size, solver,
              float_precision, instance_values=None):
    if solver not in _SOLVERS:
        raise ValueError(f"unknown solver {solver!r}: use 'euler', 'heun', 'rk4' or 'scipy'")
    if outputs is None:
        outputs = {}
    names = list(outputs.items()) if isinstance(outputs, dict) else [(p, p) for p in outputs]
    steps = int(round(simulation_time / step_size))
    series = {}
    for path, values in (inputs or {}).items():
        a = np.asarray(values, dtype=np.float64)
        if a.shape[0] < steps:
            raise ValueError(f"the input of {path!r} has {a.shape[0]} values, the run {steps} steps")
        series[path] = a[:steps]
    precision = "f32" if str(float_precision) in ("float32", "f32") else "f64"
    result = model.run(time=steps * step_size, dt=step_size, solver=_SOLVERS[solver],
                       every=sampling_step_size or step_size,
                       record=[p for _, p in names], inputs=series, precision=precision,
                       instance_values=instance_values, progress=False)
    return result, names


def _linearize_grid(param_grid, permute_grid):
    """The rows of a parameter grid, as PyRates orders them."""
    import pandas as pd

    if isinstance(param_grid, pd.DataFrame):
        return param_grid.reset_index(drop=True)
    lengths = {len(v) for v in param_grid.values()}
    if len(lengths) == 1 and not permute_grid:
        return pd.DataFrame(param_grid)
    if permute_grid:
        keys = list(param_grid.keys())
        values = np.stack(np.meshgrid(*[np.asarray(param_grid[k]) for k in keys]), -1)
        return pd.DataFrame(values.reshape(-1, len(keys)), columns=keys)
    raise ValueError("Wrong number of parameter combinations. If `permute` is False, all parameter "
                     "vectors in grid must have the same number of elements.")


def grid_search(circuit_template, param_grid, param_map, step_size, simulation_time, outputs,
                inputs=None, sampling_step_size=None, permute_grid=False, **kwargs):
    """Run every row of ``param_grid`` (every combination with ``permute_grid=True``) as one
    instance of one kernel. ``param_map={key: {"vars": ["op/var"], "nodes": ["node"]}}`` or
    ``{key: {"vars": ["weight"], "edges": [(source, target)]}}`` says what each grid key sets.

    Returns ``(results, param_grid)``: a DataFrame indexed by time with columns
    ``(output, circuit)``, and the grid indexed by the circuit names."""
    import pandas as pd

    if isinstance(circuit_template, str):
        circuit_template = CircuitTemplate.from_yaml(circuit_template)
    grid = _linearize_grid(param_grid, permute_grid)
    instance_values = {}
    for key in grid.columns:
        entry = param_map[key]
        values = grid[key].to_numpy(dtype=float)
        paths = []
        if "nodes" in entry:
            paths = [f"{n}/{v}" for n in entry["nodes"] for v in entry["vars"]]
        else:
            for edge in entry["edges"]:
                source, target = edge[0], edge[1]
                suffix = f"#{edge[2] + 1}" if len(edge) > 2 and edge[2] > 0 else ""
                paths += [f"{source}->{target}/{v}{suffix}" for v in entry["vars"]]
        for p in paths:
            instance_values[p] = values
    solver = kwargs.pop("solver", "euler")
    precision = kwargs.pop("float_precision", "float64")
    result, names = _simulate(circuit_template._model, simulation_time, step_size, inputs, outputs,
                              sampling_step_size, solver, precision, instance_values)
    circuits = [f"{circuit_template.name}_{i}" for i in range(len(grid))]
    rows = _rows(simulation_time, step_size, sampling_step_size)
    columns, data = [], []
    for name, path in names:
        values = result[path][:rows].reshape(rows, -1)
        for i, circuit in enumerate(circuits):
            columns.append((name, circuit))
            data.append(values[:, i])
    results = pd.DataFrame(np.column_stack(data) if data else np.empty((rows, 0)),
                           index=pd.Index(result.time[:rows]),
                           columns=pd.MultiIndex.from_tuples(columns))
    grid.index = circuits
    return results, grid
