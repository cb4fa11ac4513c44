"""Timing measurement robust to a noisy machine: interleaved batches, minimum per class.

The minimum over many batches estimates the undisturbed cost of an operation (noise only ever
adds time), and interleaving classes in random order spreads drift (frequency scaling, other
processes) over all of them equally.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping


def min_batch_ns(
    operations: Mapping[str, Callable[[], object]], *, batches: int = 300, per_batch: int = 200, seed: int = 1
) -> dict[str, float]:
    """For each named operation, the smallest mean time per call (ns) over `batches` batches."""
    rng = random.Random(seed)
    best = {name: float("inf") for name in operations}
    names = list(operations)
    for _ in range(batches):
        rng.shuffle(names)
        for name in names:
            operation = operations[name]
            started = time.perf_counter_ns()
            for _ in range(per_batch):
                operation()
            best[name] = min(best[name], (time.perf_counter_ns() - started) / per_batch)
    return best
