"""Shared by the figure scripts: paths, the quick/full switch, the matplotlib set-up."""

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "examples" / "models"
FIGURES = ROOT / "docs" / "figures"


def arguments(description):
    """`--quick` (reduced sizes, for the tests) and `--out DIR` (default docs/figures)."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="reduced sizes (the test suite's run)")
    p.add_argument("--out", type=Path, default=FIGURES, help="where the PNGs go")
    return p.parse_args()


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 110, "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False})
    return plt
