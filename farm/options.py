"""What a run was asked to do: one value, made and checked by pipeline.options before anything starts."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from farm.guest.selection import Selection
from farm.host.cache import Cache
from farm.model.arches import Accel
from farm.model.matrix import Cell, Matrix

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """What a run was asked to do (validated before it starts: pipeline.options)."""

    matrix: Matrix
    cells: tuple[Cell, ...]
    cache: Cache
    out: Path  # this run's results directory
    junit: Path
    accel: Accel = Accel.AUTO
    selection: Selection = field(default_factory=Selection)
    # Bisect: build this checkout as it is (in build dirs of its own) instead of base/series.
    checkout: Path | None = None
    selftests: bool = True  # the kernel's own mm/memfd selftests, built from each tree
    jobs: int = 1  # guests at once
    retries: int = 0  # reruns of a suite's failed programs, each in a fresh guest (farm.reruns)
    started: float = field(default_factory=time.time)  # when the command made its Options (epoch seconds)

    def wants_selftests(self) -> bool:
        return self.selftests and self.selection.wants_selftests()
