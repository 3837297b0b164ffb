"""The plots of the reports: a score against the labeled ratio or count (log scale), a line per
system; and a workflow's systems side by side, a line per seed (the runs pair by seed)."""
import statistics
from pathlib import Path
from typing import List, Sequence

from .runs import RunResult
from .tables import by_ratio, size_column


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    return plt


def _save(plt, fig, ax, path: Path, title: str) -> None:
    """Title and legend, then the file; the figure is closed (a sweep draws after every run)."""
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_ratios(results: List[RunResult], path: Path, title: str = "", metric: str = "ents_f") -> None:
    """Mean test score per ratio (or count) and system with a ±1 std band."""
    plt = _pyplot()
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
    ax.grid(True, which="both", alpha=0.3)
    _save(plt, fig, ax, path, title)


def plot_systems(results: List[RunResult], systems: Sequence[str], path: Path, title: str = "", metric: str = "ents_f") -> None:
    """Each system's test score by seed, the systems in the given order along x, a line per
    seed joining its runs (the paired comparisons are read along those lines), the mean marked."""
    plt = _pyplot()
    shown = [name for name in systems if any(r.system == name and r.test.get(metric) is not None for r in results)]
    fig, ax = plt.subplots(figsize=(1.3 * len(shown) + 2.0, 4.2))
    for seed in sorted({r.seed for r in results}):
        points = [(i, r.test[metric]) for i, name in enumerate(shown) for r in results
                  if r.system == name and r.seed == seed and r.test.get(metric) is not None]
        ax.plot([i for i, _ in points], [100 * score for _, score in points], marker="o", alpha=0.6, label=f"seed {seed}")
    for i, name in enumerate(shown):
        scores = [r.test[metric] for r in results if r.system == name and r.test.get(metric) is not None]
        ax.hlines(100 * statistics.mean(scores), i - 0.25, i + 0.25, colors="black", linewidth=2)
    ax.set_xticks(range(len(shown)), shown, rotation=20)
    ax.set_ylabel("test F1 (%); bar: mean over seeds")
    ax.grid(True, axis="y", alpha=0.3)
    _save(plt, fig, ax, path, title)
