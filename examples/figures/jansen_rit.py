#!/usr/bin/env python3
"""Jansen-Rit: the dominant frequency and amplitude of the pyramidal cells' potential as the
connectivity constant C is swept, and the frequency band over the excitatory and inhibitory
synaptic time constants (PyRates, Gast et al. 2019, after Jansen & Rit 1995).

    .venv/bin/python examples/figures/jansen_rit.py [--quick] [--out DIR]

Writes jansen_rit_C.png and jansen_rit_bands.png. The model is examples/models/jansen_rit.yaml
(PyRates' three-population JRC, constant input p = 220 Hz, no noise); C scales the four
connections as Jansen & Rit's C1..C4 = C, 0.8 C, 0.25 C, 0.25 C. The PC potential is
v_e - v_i (the `pc/rpo_e_in/v + pc/rpo_i/v` of the template, in mV), analysed after 1 s.
"""

import numpy as np

import rateforge as rf
from _common import MODELS, arguments, pyplot

JRC = str(MODELS / "jansen_rit.yaml/JRC")
WEIGHTS = {  # path -> multiple of C
    "pc/pro/m->ein/rpo_e/m_in/weight": 1.0,
    "ein/pro/m->pc/rpo_e_in/m_in/weight": 0.8,
    "pc/pro/m->iin/rpo_e/m_in/weight": 0.25,
    "iin/pro/m->pc/rpo_i/m_in/weight": 0.25,
}
TAU_E = ["pc/rpo_e_in/tau", "ein/rpo_e/tau", "iin/rpo_e/tau"]
TAU_I = "pc/rpo_i/tau"
BANDS = [("delta", 1, 4), ("theta", 4, 8), ("alpha", 8, 12), ("beta", 12, 30), ("gamma", 30, 100)]
DT, EVERY, SETTLE = 1e-4, 1e-3, 1.0


def spectra(result):
    """Per instance: the dominant frequency (Hz; 0 without oscillation) and the peak-to-peak
    amplitude (mV) of the PC potential after the first second."""
    v = (result["pc/rpo_e_in/v"] + result["pc/rpo_i/v"]) * 1e3
    v = v[int(round(SETTLE / EVERY)):]
    v = v.reshape(len(v), -1)
    amplitude = v.max(axis=0) - v.min(axis=0)
    x = (v - v.mean(axis=0)) * np.hanning(len(v))[:, None]
    power = np.abs(np.fft.rfft(x, n=8 * len(v), axis=0)) ** 2
    freq = np.fft.rfftfreq(8 * len(v), EVERY)
    band = (freq >= 0.5) & (freq <= 100)
    dominant = freq[band][np.argmax(power[band], axis=0)]
    return np.where(amplitude > 1e-3, dominant, 0.0), amplitude


def sweep_c(values, time):
    m = rf.load(JRC)
    grid = {p: np.asarray(values) * k for p, k in WEIGHTS.items()}
    r = m.sweep(grid, mode="zip", time=time, dt=DT, solver="rk4", every=EVERY, traces=True,
                record=["pc/rpo_e_in/v", "pc/rpo_i/v"], progress=False)
    return spectra(r)


def sweep_taus(tau_e, tau_i, time):
    m = rf.load(JRC)
    e, i = np.meshgrid(tau_e, tau_i, indexing="ij")
    grid = {p: e.ravel() for p in TAU_E}
    grid[TAU_I] = i.ravel()
    r = m.sweep(grid, mode="zip", time=time, dt=DT, solver="rk4", every=EVERY, traces=True,
                record=["pc/rpo_e_in/v", "pc/rpo_i/v"], progress=False)
    freq, amplitude = spectra(r)
    return freq.reshape(e.shape), amplitude.reshape(e.shape)


def main(quick=False, out=None):
    plt = pyplot()
    n_c, n_tau, time = (12, 6, 2.0) if quick else (60, 24, 4.0)
    c = np.unique(np.append(np.linspace(50, 400, n_c), 135.0))
    freq, amplitude = sweep_c(c, time)
    fig, (a, b) = plt.subplots(2, 1, sharex=True, figsize=(6, 4.2))
    a.axhspan(8, 12, color="tab:green", alpha=0.15, lw=0, label="alpha band (8-12 Hz)")
    a.plot(c, freq, "o-", ms=3)
    a.set_ylabel("dominant frequency (Hz)")
    a.legend(frameon=False, loc="upper right")
    b.plot(c, amplitude, "o-", ms=3, color="tab:red")
    b.set_ylabel("PC potential, peak to peak (mV)")
    b.set_xlabel("connectivity constant C")
    for ax in (a, b):
        ax.axvline(135, color="grey", lw=0.8, ls=":")
    fig.suptitle("Jansen-Rit: oscillation vs. connectivity C (p = 220 Hz)")
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    fig.savefig(out / "jansen_rit_C.png")
    plt.close(fig)

    tau_e = np.linspace(4e-3, 20e-3, n_tau)
    tau_i = np.linspace(8e-3, 40e-3, n_tau)
    bands, band_amp = sweep_taus(tau_e, tau_i, time)
    index = np.zeros(bands.shape)
    for k, (_, lo, hi) in enumerate(BANDS, start=1):
        index[(bands >= lo) & (bands < hi)] = k
    fig, ax = plt.subplots(figsize=(5.6, 4.2))
    cmap = plt.get_cmap("viridis", len(BANDS) + 1)
    im = ax.pcolormesh(tau_i * 1e3, tau_e * 1e3, index, cmap=cmap, vmin=-0.5,
                       vmax=len(BANDS) + 0.5, shading="nearest")
    bar = fig.colorbar(im, ticks=range(len(BANDS) + 1))
    bar.ax.set_yticklabels(["none"] + [f"{n} ({lo}-{hi} Hz)" for n, lo, hi in BANDS])
    ax.plot([20], [10], "w+", ms=10, mew=2)
    ax.set_xlabel("inhibitory time constant tau_i (ms)")
    ax.set_ylabel("excitatory time constant tau_e (ms)")
    ax.set_title("Jansen-Rit: dominant frequency band of the PC potential")
    fig.tight_layout()
    fig.savefig(out / "jansen_rit_bands.png")
    plt.close(fig)
    k135 = int(np.argmin(np.abs(c - 135)))
    return {
        "C": c, "frequency": freq, "amplitude": amplitude,
        "f135": float(freq[k135]), "a135": float(amplitude[k135]),
        "tau_e": tau_e, "tau_i": tau_i, "band_frequency": bands,
    }


if __name__ == "__main__":
    args = arguments(__doc__)
    numbers = main(args.quick, args.out)
    print(f"C = 135: {numbers['f135']:.2f} Hz, {numbers['a135']:.2f} mV peak to peak")
