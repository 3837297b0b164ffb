"""Paired comparisons over seeds: the mean difference, its 95% t-interval, wins and losses."""
import math
import statistics
from dataclasses import dataclass
from typing import Dict, Optional, Sequence

# Two-sided 95% quantiles of Student's t for 1-30 degrees of freedom; 1.96 above.
_T95 = (
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
    2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
    2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
)


def t_quantile(df: int) -> float:
    return _T95[df - 1] if 1 <= df <= len(_T95) else 1.96


@dataclass(frozen=True)
class PairedDifference:
    """Differences system - baseline over the seeds both have."""

    n: int
    mean: float
    low: Optional[float]  # 95% interval; None with a single pair
    high: Optional[float]
    wins: int
    losses: int

    def format(self, scale: float = 100.0) -> str:
        """"+1.23 [-0.50, +2.96] 3/2": mean, interval, wins/losses, in percent points."""
        text = f"{scale * self.mean:+.2f}"
        if self.low is not None:
            text += f" [{scale * self.low:+.2f}, {scale * self.high:+.2f}]"
        return f"{text} {self.wins}/{self.losses}"


def paired_difference(system: Dict[int, float], baseline: Dict[int, float]) -> Optional[PairedDifference]:
    """The paired difference of two {seed: score} maps, or None if they share no seed."""
    seeds = sorted(set(system) & set(baseline))
    if not seeds:
        return None
    diffs = [system[s] - baseline[s] for s in seeds]
    mean = statistics.mean(diffs)
    low = high = None
    if len(diffs) > 1:
        half = t_quantile(len(diffs) - 1) * statistics.stdev(diffs) / math.sqrt(len(diffs))
        low, high = mean - half, mean + half
    return PairedDifference(
        n=len(diffs), mean=mean, low=low, high=high,
        wins=sum(d > 0 for d in diffs), losses=sum(d < 0 for d in diffs),
    )


def mean_std(values: Sequence[float]) -> str:
    """"60.00 ± 10.00" in percent; one value alone has no spread."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"
