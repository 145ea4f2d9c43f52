"""Type stubs of the native module (see rateforge/__init__.py for the public API)."""

from os import PathLike
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np

class ModelError(ValueError): ...

def version() -> str: ...
def load(model: str, model_path: Optional[Sequence[str]] = None) -> Model: ...
def from_source(text: str, format: str = "yaml", template: Optional[str] = None) -> Model: ...
def merge(shards: list[str], output: str) -> tuple[int, int]: ...

class Model:
    def copy(self) -> Model: ...
    def set(self, path: str, value: float) -> None: ...
    def drive(self, path: str, expression: str) -> None: ...
    def set_noise(self, path: str, sigma: float) -> None: ...
    def check(self) -> dict[str, Any]: ...
    def _run(
        self,
        args: dict[str, Any],
        exprs: list[tuple[str, str]],
        series: list[tuple[str, np.ndarray]],
        sweep: Optional[dict[str, Any]] = None,
        progress: Optional[Callable[[int, int], None]] = None,
        target: Optional[dict[str, Optional[np.ndarray]]] = None,
    ) -> RunResult: ...
    def _fit(
        self,
        args: dict[str, Any],
        exprs: list[tuple[str, str]],
        series: list[tuple[str, np.ndarray]],
        target: dict[str, Optional[np.ndarray]],
        free: list[tuple[str, float, float]],
        method: str,
        points: int,
        population: Optional[int],
        generations: int,
        sigma: float,
        progress: Optional[Callable[[int, int, float, list[float]], None]] = None,
    ) -> tuple[dict[str, np.ndarray], bool]: ...

class RunResult:
    recorded: list[str]
    n_instances: int
    n_nodes: int
    network: bool
    partial: bool
    run_seconds: float
    varied: list[tuple[str, list[float]]]
    def names(self) -> list[str]: ...
    def array(self, name: str) -> Optional[np.ndarray]: ...
    def metadata_json(self) -> str: ...
    def non_finite(self) -> list[tuple[int, Optional[float]]]: ...
    def write(self, path: Union[str, PathLike[str]]) -> None: ...
