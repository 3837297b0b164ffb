"""Best of N restarts chosen on dev: a compute-matched baseline for methods that train N times.

Self-training with two rounds trains three times; one supervised run is not the baseline
that compute calls for (../shared/docs/BENCHMARKS.md, section 4). N systems trained on the
same split with different training seeds (`--set restart1:system.seed=101`) are restarts;
a best-of row takes, per split, the restart with the highest dev F1 and reads its test
scores, as a practitioner with N trainings to spend would. It is derived from the runs at
report time, never trained or recorded, and is compared like any other system.
"""
from dataclasses import dataclass, field, fields
from typing import Dict, List, Optional, Sequence, Tuple

from .runs import RunResult


@dataclass
class BestOfRun(RunResult):
    """The run dev chose among a split's restarts, under the best-of row's name."""

    restarts: List[RunResult] = field(default_factory=list)

    @property
    def trainings(self) -> List[RunResult]:
        return self.restarts


def best_of_runs(results: Sequence[RunResult], best_of: Dict[str, List[str]]) -> List[BestOfRun]:
    """One row per best-of name and split (ratio or count, seed) on which every one of its
    systems has finished: the run with the highest dev F1, the first listed of equals. A split
    missing a restart gets no row, so that every row is the best of the same N."""
    runs: Dict[Tuple[str, Optional[float], int], RunResult] = {(r.system, r.size, r.seed): r for r in results}
    splits = sorted({(r.size, r.seed) for r in results}, key=lambda split: (split[0] or 0.0, split[1]))
    rows = []
    for name, systems in best_of.items():
        for ratio, seed in splits:
            restarts = [runs.get((system, ratio, seed)) for system in systems]
            if all(restarts):
                chosen = max(restarts, key=lambda r: r.dev_f)
                values = {f.name: getattr(chosen, f.name) for f in fields(RunResult)}
                rows.append(BestOfRun(**{**values, "system": name}, restarts=restarts))
    return rows
