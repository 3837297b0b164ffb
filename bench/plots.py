"""The labeled-ratio plot: a score against the ratio or count (log scale), a line per system."""
import statistics
from pathlib import Path
from typing import List

from .runs import RunResult
from .tables import by_ratio, size_column


def plot_ratios(results: List[RunResult], path: Path, title: str = "", metric: str = "ents_f") -> None:
    """Mean test score per ratio (or count) and system with a ±1 std band."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    table = by_ratio(results)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for system in dict.fromkeys(r.system for r in results):
        points = [
            (ratio, [r.test[metric] for r in runs[system] if r.test.get(metric) is not None])
            for ratio, runs in table.items()
            if system in runs
        ]
        points = [(ratio, scores) for ratio, scores in points if scores]
        xs = [ratio for ratio, _ in points]
        means = [100 * statistics.mean(scores) for _, scores in points]
        stds = [100 * statistics.stdev(scores) if len(scores) > 1 else 0.0 for _, scores in points]
        ax.plot(xs, means, marker="o", label=system)
        ax.fill_between(xs, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)], alpha=0.2)
    ax.set_xscale("log")
    counting = size_column(results) == "sentences"
    ax.set_xlabel("labeled sentences of the training split" if counting else "labeled ratio of the training split")
    ax.set_ylabel("test F1 (%), mean ± std over seeds")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
