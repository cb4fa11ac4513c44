"""The vocabulary every benchmark reports in: one table row per measurement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Row:
    """One line of the results table.

    `value` is the median of `runs` runs (in `unit`); `baseline` names what it is compared with
    and `ratio` is value / baseline measured in the same run (for "lower is better" metrics the
    ratio is still value / baseline and the target says which way it must go).
    """

    item: str
    what: str
    value: Optional[float]
    unit: str
    runs: int = 0
    baseline: str = ""
    ratio: Optional[float] = None
    target: str = ""
    met: Optional[bool] = None
    note: str = ""
    samples: list[float] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        if self.met is None:
            return "—" if not self.target else "TODO"
        return "met" if self.met else "MISSED"
