#!/usr/bin/env python3
"""rateforge against its peers, on the same problems, in one run.

What it measures (every case: 3 repetitions, alternating rateforge and the peer, medians):

  a. Montbrió–Pazó–Roxin on the 68-region connectome with delays (examples/models/networks/mpr68.yaml),
     Heun, TVB's linear coupling `a` swept over 64 (and 256) instances, 4000 steps at dt 0.01 and 0.1 ms.
     Peers: TVB 2.10's numba backend (tvb.simulator.backend.nb_mpr.NbMPRBackend, its generated `integrate`,
     instances one after the other) and vbjax (its delay helper, Heun step and MPR right-hand side in a
     jax.lax.scan, vmapped over a subset of the instances). The model's cv = 0 (TVB's default) switches the
     V coupling off: rateforge's kernel then computes only r's coupling (a gated coupling, see
     docs/pyrates-yaml.md), where TVB computes both. A third rateforge run ("both couplings") records c_V
     too, which makes its kernel compute that coupling as TVB does: the like-for-like kernel.
  b. The QIF (Montbrió) population swept over 100 values of eta with PyRates' grid_search (Euler).
  c. PyRates' Jansen–Rit circuit (JRC template, 3 populations), 2 s at dt 1e-4, Euler.
  d. A network of 2048 lumped Jansen–Rit nodes (PyRates' jrc_pop) with dense random coupling, Euler.

How it is timed:
  * a peer runs in its own process (pinned to CPU 0 with taskset, NUMBA/OMP/OPENBLAS/MKL threads = 1,
    XLA single-threaded), which builds and compiles everything first (untimed) and then times only its
    simulation loop on request, so repetitions alternate with rateforge's without rebuilding the peer;
  * rateforge is timed as the whole `rateforge run|sweep` process (wall clock: start-up, loading the model
    and the connectivity, the cached kernel, writing the .npz), after one untimed run with the same
    RATEFORGE_CACHE_DIR that compiles the kernel; `--threads 1` (pinned to CPU 0) and `--threads 2`.
Both sides compute in float64. Agreement: the largest absolute difference between the two sides'
trajectories (or final states), against a tolerance stated per case. Each case runs under a timeout; a
case that fails reports why in its row. The table goes to stdout and, as markdown with the machine and
the date, to --markdown FILE.

Entry point: scripts/bench-peers (creates .venv-peers with the pinned peers, then runs this file).
This file is also the peer worker (`--worker KIND`), run by the driver inside .venv-peers.
"""

import argparse
import datetime
import json
import os
import platform
import queue
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MPR68_MODEL = "examples/models/networks/mpr68.yaml/mpr68"
CONNECTIVITY_68 = ROOT / "examples/data/connectivity_68"
PROTOCOL = "@@BENCH "  # a worker's replies on stdout start with this; everything else is ignored

# Threads of the peer processes: one core each.
PEER_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "JAX_ENABLE_X64": "1",
    "JAX_PLATFORMS": "cpu",
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "PYTHONUNBUFFERED": "1",
}


# ---------------------------------------------------------------------------------------------------
# Peer workers (run inside .venv-peers). Each builds and warms up in __init__ (untimed); run() times one
# repetition of the simulation loop and returns seconds; save() writes what the agreement check needs.
# ---------------------------------------------------------------------------------------------------

def mpr_initial_state(n):
    """The initial state of the TVB reference runs: r = 1 / 0.0625, V = -0.5 / -2 (every third node)."""
    i = np.arange(n)
    return np.array([np.where(i % 3 == 0, 1.0, 0.0625), np.where(i % 3 == 0, -0.5, -2.0)])


class TvbMpr:
    """TVB 2.10's numba backend for Montbrió–Pazó–Roxin with delays (tvb/simulator/backend/nb_mpr.py).

    NbMPRBackend.run_sim renders nb-montbrio.py.mako into a numba function `integrate` and calls it once
    per simulation. We build it the same way (compatibility_mode=True: one coupling per step, used by both
    Heun stages, as TVB's HeunDeterministic does) and call it per instance. TVB writes the coupling's `a`
    into the generated source, so a sweep would recompile per value; instead it is compiled once with
    a = 1 and each instance gets weights * a (the same arithmetic up to rounding). History and state are
    float64 in this backend (unlike the Simulator's float32 history)."""

    def __init__(self, p):
        from tvb.simulator.lab import simulator, models, coupling, integrators, monitors, connectivity, noise
        from tvb.simulator.backend.nb_mpr import NbMPRBackend
        w = np.load(p["weights"])
        lengths = np.load(p["tract_lengths"])
        n = w.shape[0]
        self.dt, self.nstep, self.stride = p["dt"], p["nstep"], p["stride"]
        self.a_values = np.array(p["a_values"])
        self.compare = p["compare"]
        self.x0 = mpr_initial_state(n)
        conn = connectivity.Connectivity(
            weights=w, tract_lengths=lengths, speed=np.array([2.0]), centres=np.zeros((n, 3)),
            region_labels=np.array([f"r{i}" for i in range(n)]))
        sim = simulator.Simulator(
            model=models.MontbrioPazoRoxin(), connectivity=conn, coupling=coupling.Linear(a=np.array([1.0])),
            integrator=integrators.HeunStochastic(dt=self.dt, noise=noise.Additive(nsig=np.array([0.0]))),
            monitors=[monitors.Raw()], simulation_length=self.nstep * self.dt)
        sim.configure()
        self.sim, self.n, self.horizon = sim, n, sim.connectivity.horizon
        self.integrate = NbMPRBackend().build_py_func(
            '<%include file="nb-montbrio.py.mako"/>', dict(compatibility_mode=True, sim=sim), name="integrate")
        self._one(1.0, nstep=2)  # numba compiles on the first call
        self.final, self.traj = None, None

    def _one(self, a, nstep):
        h, n = self.horizon, self.n
        # the generated code reads buffer[n, i] as the step's precomputed additive noise: zeros
        r = np.zeros((n, h + nstep))
        v = np.zeros((n, h + nstep))
        r[:, :h] = self.x0[0][:, None]  # constant history equal to the initial state
        v[:, :h] = self.x0[1][:, None]
        t0 = time.perf_counter()
        r, v = self.integrate(
            N=n, dt=self.dt, nstep=nstep, i0=h, r=r, V=v, weights=a * self.sim.connectivity.weights,
            idelays=self.sim.connectivity.idelays, parmat=self.sim.model.spatial_parameter_matrix.T,
            stimulus=None)
        return time.perf_counter() - t0, r, v

    def run(self):
        h, s = self.horizon, self.stride
        final = np.empty((len(self.a_values), 2, self.n))
        traj = []
        total = 0.0
        for k, a in enumerate(self.a_values):
            dt, r, v = self._one(a, self.nstep)
            total += dt
            final[k] = r[:, -1], v[:, -1]
            if k in self.compare:
                # column h + m - 1 holds the state after step m
                cols = [h - 1] + [h + j * s - 1 for j in range(1, self.nstep // s + 1)]
                traj.append(np.stack([r[:, cols].T, v[:, cols].T], axis=1))  # (samples, 2, nodes)
        self.final, self.traj = final, np.array(traj)
        return total

    def save(self, path):
        np.savez(path, final=self.final, traj=self.traj, instances=np.arange(len(self.a_values)),
                 compare=np.array(self.compare))


class VbjaxMpr:
    """vbjax: the same delayed MPR network from vbjax's pieces: make_delay_helper/delay_apply for the
    delayed coupling (lags replaced by TVB's round-half-even steps; vbjax floors), heun_step with
    mpr_dfun and mpr_r_positive for r >= 0, the coupling computed once per step and held over both Heun
    stages (TVB's scheme; vbjax's make_sdde would re-read the history at the corrector), in float64.
    Instances are a vmap over `a` (vbjax's usual way; measured faster here than a loop over instances)."""

    def __init__(self, p):
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        import vbjax
        w = np.load(p["weights"])
        lengths = np.load(p["tract_lengths"])
        n = w.shape[0]
        dt, nstep, stride = p["dt"], p["nstep"], p["stride"]
        self.instances = np.array(p["instances"])
        self.a_values = jnp.array(np.array(p["a_values"])[self.instances])
        self.compare = p["compare"]
        lags = np.rint(lengths / 2.0 / dt).astype(np.int32)  # speed 2 mm/ms, round half to even
        nh = int(lags.max())
        # delay_apply computes sum_b Wt[a, b] x_b(t - lags[a, b]) with Wt = weights.T: pass W.T so that
        # Wt = W (row = target, as in TVB).
        dh = vbjax.make_delay_helper(jnp.array(w.T), jnp.array(lengths), dt=dt, v_c=2.0)
        dh = dh._replace(lags=jnp.array(lags), max_lag=nh + 1)
        theta = vbjax.mpr_default_theta  # tau 1, Delta 1, J 15, eta -5, cr 1, cv 0: TVB's defaults
        adhoc = lambda x, *_: vbjax.mpr_r_positive(x, None)
        x0 = jnp.array(mpr_initial_state(n))

        def one(a):
            buf = jnp.zeros((nh + 1 + nstep, 2, n)) + x0[None]

            def step(buf, t):
                c = a * vbjax.delay_apply(dh, nh + t, buf)
                nx = vbjax.heun_step(buf[nh + t], vbjax.mpr_dfun, dt, c, theta, adhoc=adhoc)
                return buf.at[nh + t + 1].set(nx), None

            buf, _ = jax.lax.scan(step, buf, jnp.arange(nstep))
            return buf[nh::stride]  # (samples, 2, nodes), sample 0 = the initial state

        # compile ahead of time (untimed)
        self.fn = jax.jit(jax.vmap(one)).lower(self.a_values).compile()
        self.out = None

    def run(self):
        t0 = time.perf_counter()
        out = self.fn(self.a_values)
        out.block_until_ready()
        dt = time.perf_counter() - t0
        self.out = np.asarray(out)
        return dt

    def save(self, path):
        pos = [list(self.instances).index(k) for k in self.compare]
        np.savez(path, final=self.out[:, -1], traj=self.out[pos], instances=self.instances,
                 compare=np.array(self.compare))


class PyratesLoop:
    """Times PyRates' own integration loop. The public API runs once in __init__ (building the model,
    generating and importing the numpy code: untimed) with BaseBackend._solve wrapped to keep its
    arguments; each repetition calls the same _solve (PyRates' forward-Euler loop) again on a copy of
    the initial state, and checks that it reproduces the first run bit for bit. PyRates computes in
    float32 unless told otherwise; every case here asks for float64 (rateforge's precision)."""

    def __init__(self):
        from pyrates.backend.base import base_backend
        self._orig = base_backend.BaseBackend._solve
        this = self

        def recording_solve(backend, **kw):
            this.backend, this.kw = backend, dict(kw, y0=np.array(kw["y0"], copy=True))
            t0 = time.perf_counter()
            res = this._orig(backend, **kw)
            this.first_loop_s = time.perf_counter() - t0
            this.first = np.array(res, copy=True)
            return res

        base_backend.BaseBackend._solve = recording_solve
        self.identical = True

    def uninstall(self):
        from pyrates.backend.base import base_backend
        base_backend.BaseBackend._solve = self._orig

    def run(self):
        kw = dict(self.kw, y0=self.kw["y0"].copy())
        t0 = time.perf_counter()
        res = self._orig(self.backend, **kw)
        dt = time.perf_counter() - t0
        self.identical = self.identical and np.array_equal(res, self.first)
        return dt


class PyratesQif(PyratesLoop):
    """PyRates grid_search over eta of model_templates.neural_mass_models.qif.qif (numpy backend)."""

    def __init__(self, p):
        super().__init__()
        from pyrates import grid_search
        etas = np.array(p["etas"])
        res, pmap = grid_search(
            "model_templates.neural_mass_models.qif.qif", param_grid={"eta": etas},
            param_map={"eta": {"vars": ["qif_op/eta"], "nodes": ["p"]}}, step_size=p["dt"],
            simulation_time=p["time"], sampling_step_size=p["every"], outputs={"r": "p/qif_op/r"},
            solver="euler", backend="default", float_precision="float64", vectorize=True, verbose=False)
        self.uninstall()
        cols = [("r", name, "p", "qif_op/r") for name in pmap.index]
        self.r = res[cols].to_numpy()  # (samples, instances), in grid order
        self.eta = pmap["eta"].to_numpy()

    def save(self, path):
        np.savez(path, r=self.r, eta=self.eta, identical=self.identical, first_loop_s=self.first_loop_s)


class PyratesJrc(PyratesLoop):
    """PyRates' JRC circuit template (pc/ein/iin), Euler, numpy backend."""

    def __init__(self, p):
        super().__init__()
        from pyrates import CircuitTemplate
        c = CircuitTemplate.from_yaml("model_templates.neural_mass_models.jansenrit.JRC")
        res = c.run(simulation_time=p["time"], step_size=p["dt"], sampling_step_size=p["every"],
                    outputs={"ve": "pc/rpo_e_in/v", "vi": "pc/rpo_i/v"}, solver="euler", backend="default",
                    float_precision="float64", verbose=False)
        self.uninstall()
        self.v_pc = res["ve"].to_numpy() + res["vi"].to_numpy()

    def save(self, path):
        np.savez(path, v_pc=self.v_pc, identical=self.identical, first_loop_s=self.first_loop_s)


class PyratesJrNet(PyratesLoop):
    """A PyRates circuit of N jrc_pop nodes (lumped 8-state Jansen–Rit) with dense coupling
    m_j -> m_in_i, weight W[i, j], built with CircuitTemplate.add_edges_from_matrix (vectorised)."""

    def __init__(self, p):
        super().__init__()
        from pyrates import CircuitTemplate, NodeTemplate
        w = np.load(p["weights"])
        names = [f"n{i}" for i in range(w.shape[0])]
        node = NodeTemplate.from_yaml("model_templates.neural_mass_models.jansenrit.jrc_pop")
        t0 = time.perf_counter()
        c = CircuitTemplate(name="net", nodes={nm: node for nm in names})
        # min_weight=0: keep every edge (the default drops weights below 1e-6)
        c.add_edges_from_matrix("jrc_op/m", "jrc_op/m_in", names, weight=w, min_weight=0.0)
        self.build_s = time.perf_counter() - t0
        self.probe = p["probe"]
        outputs = {}
        for i in self.probe:
            outputs[f"ve{i}"] = f"n{i}/jrc_op/V_e"
            outputs[f"vi{i}"] = f"n{i}/jrc_op/V_i"
        res = c.run(simulation_time=p["steps"] * p["dt"], step_size=p["dt"], sampling_step_size=p["every"],
                    outputs=outputs, solver="euler", backend="default", float_precision="float64",
                    vectorize=True, verbose=False)
        self.uninstall()
        self.v = np.stack([res[f"ve{i}"].to_numpy() - res[f"vi{i}"].to_numpy() for i in self.probe], axis=1)

    def save(self, path):
        np.savez(path, v=self.v, probe=np.array(self.probe), identical=self.identical,
                 first_loop_s=self.first_loop_s, build_s=self.build_s)


WORKERS = {"tvb_mpr": TvbMpr, "vbjax_mpr": VbjaxMpr, "pyrates_qif": PyratesQif,
           "pyrates_jrc": PyratesJrc, "pyrates_jrnet": PyratesJrNet}


def worker_main(kind, params_file, out_file):
    def reply(msg):
        sys.stdout.write(PROTOCOL + json.dumps(msg) + "\n")
        sys.stdout.flush()

    params = json.loads(Path(params_file).read_text())
    t0 = time.perf_counter()
    try:
        peer = WORKERS[kind](params)
    except Exception as e:  # reported in the table
        import traceback
        traceback.print_exc()
        reply({"error": f"setup failed: {type(e).__name__}: {e}"})
        return 1
    reply({"ready": True, "setup_s": time.perf_counter() - t0})
    for line in sys.stdin:
        cmd = line.strip()
        try:
            if cmd == "run":
                reply({"time": peer.run()})
            elif cmd == "save":
                peer.save(out_file)
                reply({"saved": True})
            elif cmd == "quit":
                break
        except Exception as e:
            import traceback
            traceback.print_exc()
            reply({"error": f"{cmd} failed: {type(e).__name__}: {e}"})
    return 0


# ---------------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------------

class CaseError(Exception):
    pass


def pin(cmd, cpus="0"):
    return (["taskset", "-c", cpus] + cmd) if shutil.which("taskset") else cmd


def tail(path, n=6):
    try:
        lines = [l for l in Path(path).read_text(errors="replace").splitlines() if l.strip()]
        return " | ".join(lines[-n:])
    except OSError:
        return ""


class Peer:
    """A peer worker process: setup on start, then `run` / `save` on request, each with a deadline."""

    def __init__(self, name, kind, params, work, python):
        self.name = name
        self.log = work / f"{name}.log"
        self.out = work / f"{name}.npz"
        pfile = work / f"{name}.json"
        pfile.write_text(json.dumps(params))
        env = dict(os.environ, **PEER_ENV)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                pin([python, str(Path(__file__).resolve()), "--worker", kind, "--params", str(pfile),
                     "--out", str(self.out)]),
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=ROOT)
        self.replies = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.proc.stdout:
            if line.startswith(PROTOCOL):
                self.replies.put(json.loads(line[len(PROTOCOL):]))
        self.replies.put(None)  # end of output

    def wait(self, deadline):
        try:
            msg = self.replies.get(timeout=max(1.0, deadline - time.monotonic()))
        except queue.Empty:
            self.kill()
            raise CaseError(f"{self.name}: timed out (log: {self.log})")
        if msg is None:
            self.proc.wait()
            raise CaseError(f"{self.name} exited {self.proc.returncode}: {tail(self.log)}")
        if "error" in msg:
            raise CaseError(f"{self.name}: {msg['error']} ({tail(self.log, 2)})")
        return msg

    def request(self, cmd, deadline):
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self.wait(deadline)

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=20)
            except (OSError, subprocess.TimeoutExpired):
                self.kill()

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Rateforge:
    def __init__(self, binary, cache):
        self.binary = str(binary)
        self.env = dict(os.environ, RATEFORGE_CACHE_DIR=str(cache))

    def __call__(self, args, threads, deadline):
        """Runs `rateforge ARGS --threads N -q` and returns its wall-clock seconds (1 thread: pinned)."""
        cmd = [self.binary] + args + ["--threads", str(threads), "-q"]
        if threads == 1:
            cmd = pin(cmd)
        timeout = max(1.0, deadline - time.monotonic())
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise CaseError(f"rateforge timed out: {' '.join(args[:2])}")
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            err = " | ".join(l for l in p.stderr.splitlines() if l.strip())[-400:]
            raise CaseError(f"rateforge exited {p.returncode}: {err}")
        return dt


def measure(rf, rf_args, peer, reps, threads, deadline, extra=None):
    """Alternates rateforge (each thread count) and the peer, `reps` times; returns medians by
    thread count. `extra` maps a label to (other rateforge arguments, threads), timed in the same
    rounds under that label. The peer builds while rateforge's untimed first run compiles its kernel."""
    extra = extra or {}
    rf(rf_args, threads[0], deadline)  # compiles the kernel into the cache (untimed)
    for args, t in extra.values():
        rf(args, t, deadline)
    ready = peer.wait(deadline)
    rf_times = {t: [] for t in list(threads) + list(extra)}
    peer_times = []
    for _ in range(reps):
        for t in threads:
            rf_times[t].append(rf(rf_args, t, deadline))
            if t == threads[0]:
                peer_times.append(peer.request("run", deadline)["time"])
        for label, (args, t) in extra.items():
            rf_times[label].append(rf(args, t, deadline))
    peer.request("save", deadline)
    med = {t: statistics.median(v) for t, v in rf_times.items()}
    return med, statistics.median(peer_times), ready


def fmt_s(s):
    if s is None:
        return "—"
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.1f} ms"
    return f"{s * 1e6:.1f} µs"


def verdict(diff, tol, what):
    return f"{'ok' if diff <= tol else 'FAIL'} {diff:.1e} (tol {tol:.0e}{what}"


class Bench:
    def __init__(self, opts):
        self.opts = opts
        self.work = ROOT / "out" / "bench-peers-work"
        self.work.mkdir(parents=True, exist_ok=True)
        self.rf = Rateforge(opts.rateforge, self.work / "cache")
        self.python = opts.python
        self.site = subprocess.run(
            [self.python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True, text=True, check=True).stdout.strip()
        self.rows = []

    def row(self, case, peer, peer_t, rf_t, rf_label, agree, note=""):
        ratio = f"{peer_t / rf_t:.2f}×" if (peer_t and rf_t) else "—"
        self.rows.append([case, peer, fmt_s(peer_t), f"{fmt_s(rf_t)} ({rf_label})", ratio, agree, note])
        print(" | ".join(self.rows[-1]), flush=True)

    def failed(self, case, peer, why):
        self.rows.append([case, peer, "—", "—", "—", f"failed: {why}", ""])
        print(" | ".join(self.rows[-1]), flush=True)

    # -- case a ----------------------------------------------------------------------------------
    def mpr68(self, dt, n_inst, peers):
        nstep = 4000
        every = 1.0  # ms: compare a sample every 1 ms (every 100 steps at dt 0.01, 10 at dt 0.1)
        stride = int(round(every / dt))
        # TVB's reference runs use a = 20 at dt 0.01. At dt 0.1 Heun diverges (r -> inf) from a ~ 12 on,
        # so that sweep stays below.
        a_lo, a_hi = (10.0, 30.0) if dt < 0.05 else (0.0, 10.0)
        a_values = np.linspace(a_lo, a_hi, n_inst)
        compare = [int(k) for k in np.linspace(0, n_inst - 4, 4) // 4 * 4]  # multiples of 4
        case = f"a. mpr68 delays, Heun, dt {dt} ms, {n_inst} inst × {nstep} steps, a = {a_lo:g}…{a_hi:g}"
        init = self.work / "mpr68_initial_state.npy"
        np.save(init, mpr_initial_state(68))
        out = self.work / f"rf_mpr68_{dt}_{n_inst}.npz"
        rf_args = ["sweep", MPR68_MODEL,
                   "--range", f"mpr_op/r->mpr_op/c_r/a={a_lo}:{a_hi}:{n_inst}",
                   "--range", f"mpr_op/V->mpr_op/c_V/a={a_lo}:{a_hi}:{n_inst}", "--zip",
                   "--initial-state", str(init), "--dt", str(dt), "-n", str(nstep), "--solver", "heun",
                   "--record", "mpr_op/r,mpr_op/V", "--every", str(every), "--traces", "-o", str(out)]
        common = dict(weights=str(CONNECTIVITY_68 / "weights.npy"),
                      tract_lengths=str(CONNECTIVITY_68 / "tract_lengths.npy"),
                      dt=dt, nstep=nstep, stride=stride, a_values=a_values.tolist(), compare=compare)
        for peer_name in peers:
            deadline = time.monotonic() + self.opts.case_timeout
            if peer_name == "tvb":
                label = "TVB 2.10 numba (NbMPRBackend)"
                params, kind, scale = dict(common), "tvb_mpr", 1.0
                note = "peer: integrate() calls, instances one after the other"
            else:
                label = f"vbjax {self._version('vbjax')} (jax, x64)"
                sub = list(range(0, n_inst, self.opts.vbjax_every))
                params, kind = dict(common, instances=sub), "vbjax_mpr"
                scale = n_inst / len(sub)
                note = (f"peer: vmap over {len(sub)} of the {n_inst} instances, time × {scale:g}"
                        if scale != 1 else "peer: vmap over the instances")
            peer = None
            try:
                peer = Peer(f"{peer_name}_mpr68_{dt}_{n_inst}", kind, params, self.work, self.python)
                threads = [1, 2] if peer_name == "tvb" else [1]
                # TVB computes both couplings (r and V) though cv = 0 turns V's off; rateforge
                # computes only r's unless c_V is recorded: that run is the like-for-like kernel.
                both = [a if a != "mpr_op/r,mpr_op/V" else "mpr_op/r,mpr_op/V,mpr_op/c_V" for a in rf_args]
                both[both.index(str(out))] = str(out.with_name(out.stem + "_both.npz"))
                extra = {"both": (both, 1)} if peer_name == "tvb" else {}
                med, peer_t, _ = measure(self.rf, rf_args, peer, self.opts.reps, threads, deadline, extra)
                peer_t *= scale
                agree = self._agree_mpr(out, peer.out, compare)
                self.row(case, label, peer_t, med[1], "1 thread", agree, note)
                if 2 in med:
                    self.row(case, label, peer_t, med[2], "2 threads", "same run", "")
                if "both" in med:
                    self.row(case, label, peer_t, med["both"], "1 thread, both couplings", "same run",
                             "rateforge computes the V coupling too (c_V recorded), as TVB does")
            except CaseError as e:
                self.failed(case, label, str(e))
            finally:
                if peer:
                    peer.close()

    def _agree_mpr(self, rf_out, peer_out, compare):
        rf = np.load(rf_out)
        r, v = rf["mpr_op/r"], rf["mpr_op/V"]  # (samples, nodes, instances)
        pe = np.load(peer_out)
        rf_traj = np.stack([r[:, :, compare], v[:, :, compare]], axis=2).transpose(3, 0, 2, 1)
        d_traj = np.abs(rf_traj - pe["traj"]).max()
        inst = pe["instances"]
        rf_final = np.stack([r[-1][:, inst], v[-1][:, inst]], axis=0).transpose(2, 0, 1)
        d_final = np.abs(rf_final - pe["final"]).max()
        what = f"r, V of {len(compare)} inst every 1 ms + final state of {len(inst)}"
        bad_rf = int((~np.isfinite(r)).any(axis=(0, 1)).sum())
        bad_peer = int((~np.isfinite(pe["final"])).any(axis=(1, 2)).sum())
        if bad_rf or bad_peer:
            return f"FAIL: non-finite values in {bad_rf} rateforge / {bad_peer} peer instances ({what})"
        return verdict(max(d_traj, d_final), 1e-9, f"): {what}")

    # -- case b ----------------------------------------------------------------------------------
    def qif_sweep(self):
        n, T, dt, every = 100, 100.0, 1e-3, 1.0
        steps = int(round(T / dt))
        case = f"b. QIF (Montbrió) eta sweep, Euler, {n} inst × {steps} steps"
        label = "PyRates 1.2.3 grid_search (numpy backend)"
        deadline = time.monotonic() + self.opts.case_timeout
        out = self.work / "rf_qif.npz"
        rf_args = ["sweep", "model_templates.neural_mass_models.qif.qif", "--model-path", self.site,
                   "--range", f"p/qif_op/eta=-6:-4:{n}", "--time", str(T), "--dt", str(dt),
                   "--solver", "euler", "--record", "p/qif_op/r", "--every", str(every), "--traces",
                   "-o", str(out)]
        params = dict(etas=np.linspace(-6, -4, n).tolist(), dt=dt, time=T, every=every)
        peer = None
        try:
            peer = Peer("pyrates_qif", "pyrates_qif", params, self.work, self.python)
            med, peer_t, ready = measure(self.rf, rf_args, peer, self.opts.reps, [1], deadline)
            pe = np.load(peer.out)
            rf = np.load(out)
            if not np.array_equal(rf["grid/p/qif_op/eta"], pe["eta"]):
                raise CaseError("the eta grids differ")
            rel = np.abs(rf["p/qif_op/r"][:-1] - pe["r"]).max() / np.abs(pe["r"]).max()
            agree = verdict(rel, 1e-9, f", relative): r of all {n} inst every {every:g} (PyRates never "
                                       "stores r(T))")
            note = (f"peer: Euler loop only; whole grid_search {fmt_s(ready['setup_s'])}; loop reruns "
                    f"{'bit-identical' if pe['identical'] else 'NOT identical'}")
            self.row(case, label, peer_t, med[1], "1 thread", agree, note)
        except CaseError as e:
            self.failed(case, label, str(e))
        finally:
            if peer:
                peer.close()

    # -- case c ----------------------------------------------------------------------------------
    def jrc_single(self):
        T, dt, every = 2.0, 1e-4, 1e-3
        steps = int(round(T / dt))
        case = f"c. Jansen–Rit circuit (JRC), Euler, 1 inst × {steps} steps (per step)"
        label = "PyRates 1.2.3 (numpy backend)"
        deadline = time.monotonic() + self.opts.case_timeout
        out = self.work / "rf_jrc.npz"
        rf_args = ["run", "model_templates.neural_mass_models.jansenrit.JRC", "--model-path", self.site,
                   "--time", str(T), "--dt", str(dt), "--solver", "euler",
                   "--record", "pc/rpo_e_in/v,pc/rpo_i/v", "--every", str(every), "-o", str(out)]
        peer = None
        try:
            peer = Peer("pyrates_jrc", "pyrates_jrc", dict(time=T, dt=dt, every=every), self.work, self.python)
            med, peer_t, ready = measure(self.rf, rf_args, peer, self.opts.reps, [1], deadline)
            pe = np.load(peer.out)
            rf = np.load(out)
            v = rf["pc/rpo_e_in/v"][:-1] + rf["pc/rpo_i/v"][:-1]
            rel = np.abs(v - pe["v_pc"]).max() / np.abs(pe["v_pc"]).max()
            agree = verdict(rel, 1e-9, ", relative): v_pc every 1 ms")
            note = (f"totals: PyRates loop {fmt_s(peer_t)}, rateforge process {fmt_s(med[1])} "
                    f"(start-up included)")
            self.row(case, label, peer_t / steps, med[1] / steps, "1 thread", agree, note)
        except CaseError as e:
            self.failed(case, label, str(e))
        finally:
            if peer:
                peer.close()

    # -- case d ----------------------------------------------------------------------------------
    def jr_network(self):
        n, dt, steps, every = self.opts.jr_nodes, 1e-4, self.opts.jr_steps, 1e-3
        case = f"d. Jansen–Rit network, {n} nodes, dense coupling, Euler, {steps} steps (per step)"
        label = "PyRates 1.2.3 (numpy backend, vectorised)"
        deadline = time.monotonic() + self.opts.jr_timeout
        rng = np.random.default_rng(1)
        w = rng.uniform(0.0, 2.0 / n, (n, n))  # row = target; the row sums are about 1
        wfile = self.work / f"jr_weights_{n}.npy"
        np.save(wfile, w)
        probe = [int(i) for i in np.linspace(0, n - 1, 16)]
        out = self.work / "rf_jrnet.npz"
        rf_args = ["run", "model_templates.neural_mass_models.jansenrit.JRC2", "--model-path", self.site,
                   "--connectivity", str(wfile), "--coupling", "jrc/jrc_op/m->jrc/jrc_op/m_in:linear:a=1",
                   "--steps", str(steps), "--dt", str(dt), "--solver", "euler",
                   "--record", "jrc/jrc_op/V_e,jrc/jrc_op/V_i", "--every", str(every), "-o", str(out)]
        params = dict(weights=str(wfile), steps=steps, dt=dt, every=every, probe=probe)
        peer = None
        try:
            peer = Peer("pyrates_jrnet", "pyrates_jrnet", params, self.work, self.python)
            med, peer_t, ready = measure(self.rf, rf_args, peer, self.opts.reps, [1, 2], deadline)
            pe = np.load(peer.out)
            rf = np.load(out)
            v = (rf["jrc/jrc_op/V_e"] - rf["jrc/jrc_op/V_i"])[:-1][:, probe]
            rel = np.abs(v - pe["v"]).max() / np.abs(pe["v"]).max()
            agree = verdict(rel, 1e-9, f", relative): V_e − V_i of {len(probe)} nodes every 1 ms")
            note = (f"PyRates build + first run {fmt_s(ready['setup_s'])} (untimed); totals: PyRates loop "
                    f"{fmt_s(peer_t)}, rateforge process {fmt_s(med[1])} / {fmt_s(med[2])} (start-up and "
                    f"reading the {n}×{n} weights included)")
            self.row(case, label, peer_t / steps, med[1] / steps, "1 thread", agree, note)
            self.row(case, label, peer_t / steps, med[2] / steps, "2 threads", "same run", "")
        except CaseError as e:
            self.failed(case, label, str(e))
        finally:
            if peer:
                peer.close()

    # -- report ----------------------------------------------------------------------------------
    def _version(self, dist):
        p = subprocess.run([self.python, "-c", f"import importlib.metadata as m; print(m.version('{dist}'))"],
                           capture_output=True, text=True)
        return p.stdout.strip() or "?"

    def header(self, elapsed):
        cpu, cores = platform.processor() or "?", str(os.cpu_count())
        try:
            info = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
            fields = dict(l.split(":", 1) for l in info.splitlines() if ":" in l)
            cpu = fields.get("Model name", cpu).strip()
            cores = fields.get("CPU(s)", cores).strip()
        except OSError:
            pass
        rf_version = subprocess.run([self.opts.rateforge, "--version"], capture_output=True,
                                    text=True).stdout.strip()
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
        peers = ", ".join(f"{d} {self._version(d)}" for d in
                          ["tvb-library", "numba", "vbjax", "jax", "pyrates", "numpy"])
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return [
            "# rateforge against TVB, vbjax and PyRates",
            "",
            f"* machine: {cpu}, {cores} CPUs (`lscpu`)",
            f"* date: {date}; whole benchmark {elapsed / 60:.1f} min (`scripts/bench-peers`)",
            f"* {rf_version} (git {commit}); {peers}",
            f"* medians of {self.opts.reps} repetitions, alternating rateforge and the peer. Peer time: its "
            "simulation loop only, after building and JIT compilation, in its own process pinned to one "
            "core (NUMBA/OMP/OPENBLAS/MKL threads 1, XLA single-threaded). rateforge time: the whole "
            "`rateforge run|sweep` process (start-up, model, connectivity, cached kernel, writing the "
            ".npz), kernel cache warm; `--threads 1` pinned to one core, `--threads 2` on both.",
            "* float64 on both sides. ratio = peer time / rateforge time (above 1: rateforge is faster).",
            "",
        ]

    def table(self):
        head = ["case", "peer", "peer time", "rateforge time", "ratio (peer/rateforge)", "agreement", "notes"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            lines.append("| " + " | ".join(c.replace("|", "/") for c in r) + " |")
        return lines


def parse():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--markdown", default=str(ROOT / "out" / "bench-peers.md"), metavar="FILE",
                    help="write the table as markdown here (default out/bench-peers.md)")
    ap.add_argument("--cases", default="a,b,c,d", help="comma-separated subset of a,b,c,d (default all)")
    ap.add_argument("--reps", type=int, default=3, help="repetitions per side (default 3)")
    ap.add_argument("--no-big", action="store_true", help="skip the 256-instance mpr68 row")
    ap.add_argument("--jr-nodes", type=int, default=2048, help="nodes of case d (default 2048)")
    ap.add_argument("--jr-steps", type=int, default=1000, help="Euler steps of case d (default 1000)")
    ap.add_argument("--vbjax-every", type=int, default=4,
                    help="vbjax simulates every k-th instance of case a, time scaled by k (default 4)")
    ap.add_argument("--case-timeout", type=float, default=300, help="seconds per case and peer")
    ap.add_argument("--jr-timeout", type=float, default=480, help="seconds for case d")
    ap.add_argument("--rateforge", default=str(ROOT / "target/release/rateforge"))
    ap.add_argument("--python", default=str(ROOT / ".venv-peers/bin/python"),
                    help="python of the peers' environment")
    ap.add_argument("--no-install", action="store_true", help="(handled by scripts/bench-peers)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--params", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    return ap.parse_args()


def main():
    opts = parse()
    if opts.worker:
        return worker_main(opts.worker, opts.params, opts.out)
    if not Path(opts.rateforge).exists():
        sys.exit(f"bench-peers: {opts.rateforge} not found (cargo build --release -p rateforge-cli)")
    start = time.monotonic()
    bench = Bench(opts)
    cases = set(opts.cases.split(","))
    print("case | peer | peer time | rateforge time | ratio | agreement | notes", flush=True)
    if "a" in cases:
        bench.mpr68(0.01, 64, ["tvb", "vbjax"])
        bench.mpr68(0.1, 64, ["tvb", "vbjax"])
        if not opts.no_big:
            bench.mpr68(0.1, 256, ["tvb"])
    if "b" in cases:
        bench.qif_sweep()
    if "c" in cases:
        bench.jrc_single()
    if "d" in cases:
        bench.jr_network()
    elapsed = time.monotonic() - start
    md = bench.header(elapsed) + bench.table()
    Path(opts.markdown).parent.mkdir(parents=True, exist_ok=True)
    Path(opts.markdown).write_text("\n".join(md) + "\n")
    print()
    print("\n".join(md))
    print(f"\nwrote {opts.markdown}; took {elapsed / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
