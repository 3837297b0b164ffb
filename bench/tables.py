"""Markdown tables of finished runs: the full-data benchmark and the labeled-ratio benchmark,
each system beside the baseline (and the reader control) as paired differences over seeds."""
import statistics
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .runs import RunResult
from .stats import mean_std, paired_difference


def _systems(results: Sequence[RunResult]) -> List[str]:
    return list(dict.fromkeys(r.system for r in results))


def _scores(runs: Sequence[RunResult], metric: str) -> Dict[int, float]:
    return {r.seed: r.test[metric] for r in runs if r.test.get(metric) is not None}


def _difference(runs: Sequence[RunResult], against: Sequence[RunResult], metric: str) -> str:
    return _paired(_scores(runs, metric), _scores(against, metric))


def _paired(scores: Dict[int, float], against: Dict[int, float]) -> str:
    difference = paired_difference(scores, against)
    return difference.format() if difference else "-"


def _steps(runs: Sequence[RunResult], summary: Callable[[List[int]], float]) -> str:
    """The training steps of a system's runs, summarised; a best-of row's run counts the steps
    of all its restarts, and says how many trainings that was."""
    trainings = max(len(r.trainings) for r in runs)
    text = f"{round(summary([sum(t.steps for t in r.trainings) for r in runs]))}"
    return text + (f" ({trainings} trainings)" if trainings > 1 else "")


def benchmark_table(results: List[RunResult], baseline: Optional[str] = None) -> str:
    """One row per system: test and dev scores (mean ± std over seeds), the paired test-F1
    difference from the baseline, training length and time, and inference speed."""
    systems = _systems(results)
    header = "| system | seeds | test F1 | test P | test R | F1 NAM | F1 NOM | dev F1 | steps | epochs | s/epoch | words/s |"
    if baseline:
        header += f" F1 − {baseline} [95% CI] w/l | speed vs {baseline} |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    by_system = {s: [r for r in results if r.system == s] for s in systems}
    # Runs trained elsewhere (scripts/gpu_check.sh) have no inference speed: "-", not 0.
    measured = {s: [r.words_per_second for r in runs if r.words_per_second] for s, runs in by_system.items()}
    speeds = {s: statistics.mean(values) if values else None for s, values in measured.items()}
    for system, runs in by_system.items():
        get = lambda key: [r.test[key] for r in runs if r.test.get(key) is not None]  # noqa: E731
        row = [
            system, ",".join(str(r.seed) for r in runs), mean_std(get("ents_f")), mean_std(get("ents_p")),
            mean_std(get("ents_r")), mean_std(get("ents_f_NAM")), mean_std(get("ents_f_NOM")),
            mean_std([r.dev_f for r in runs]), _steps(runs, statistics.mean),
            f"{statistics.mean(r.epochs for r in runs):.1f}", f"{statistics.mean(r.seconds_per_epoch for r in runs):.1f}",
            f"{speeds[system]:.0f}" if speeds[system] else "-",
        ]
        if baseline:
            row.append("-" if system == baseline else _difference(runs, by_system.get(baseline, []), "ents_f"))
            both = speeds[system] and speeds.get(baseline)
            row.append(f"{speeds[system] / speeds[baseline]:.2f}x" if both else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def metric_table(results: List[RunResult], metric: str, baseline: Optional[str] = None) -> str:
    """One row per system: a test score (mean ± std over seeds) and its paired difference from
    the baseline's."""
    header = f"| system | seeds | {metric} |" + (f" {metric} − {baseline} [95% CI] w/l |" if baseline else "")
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    by_system = {s: [r for r in results if r.system == s] for s in _systems(results)}
    for system, runs in by_system.items():
        scores = _scores(runs, metric)
        row = [system, ",".join(map(str, scores)), mean_std(list(scores.values()))]
        if baseline:
            row.append("-" if system == baseline else _difference(runs, by_system.get(baseline, []), metric))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def by_ratio(results: Sequence[RunResult]) -> Dict[float, Dict[str, List[RunResult]]]:
    """The runs by split size (the ratio, or the count of a count sweep), then by system."""
    table: Dict[float, Dict[str, List[RunResult]]] = {}
    for r in sorted(results, key=lambda r: (r.size, r.seed)):
        table.setdefault(r.size, {}).setdefault(r.system, []).append(r)  # type: ignore[arg-type]
    return table


def size_column(results: Sequence[RunResult]) -> str:
    """The name of the split-size column: the labeled sentences of a count sweep, else the ratio."""
    return "sentences" if any(r.count is not None for r in results) else "ratio"


def ratio_table(
    results: List[RunResult], baseline: Optional[str] = None, control: Optional[str] = None, metric: str = "ents_f"
) -> str:
    """Per ratio (or count): each system's test score (mean ± std over seeds), then each
    system's paired difference from the baseline and, for the methods, from the reader control."""
    systems = _systems(results)
    against_baseline = [s for s in systems if baseline and s != baseline]
    against_control = [s for s in systems if control and s not in (baseline, control)]
    header = [size_column(results), "seeds"] + [f"{s}" for s in systems]
    header += [f"{s} − {baseline}" for s in against_baseline] + [f"{s} − {control}" for s in against_control]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for ratio, runs in by_ratio(results).items():
        seeds = sorted({r.seed for system_runs in runs.values() for r in system_runs})
        row = [f"{ratio:g}", ",".join(map(str, seeds))]
        row += [mean_std(list(_scores(runs.get(s, []), metric).values())) for s in systems]
        row += [_difference(runs.get(s, []), runs.get(baseline, []), metric) for s in against_baseline]
        row += [_difference(runs.get(s, []), runs.get(control, []), metric) for s in against_control]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def continuation_table(
    results: List[RunResult],
    continuations: Dict[str, Tuple[str, Optional[str]]],
    metric: str = "ents_f",
    base_metric: Optional[str] = None,
) -> str:
    """Per ratio (or count), a row per continuation (a system that continues a base's
    model-best: name -> (base, control or None)): its test score, its paired difference from
    its control, the same continuation without the method, and from its base, the model it
    continued, on the base's `base_metric` (default `metric`: a continuation's model-last
    score is compared with its base's plain one)."""
    header = f"| {size_column(results)} | system | seeds | score | control | − control | base | − base |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for size, runs in by_ratio(results).items():
        for system, (base, control) in continuations.items():
            if system not in runs:
                continue
            scores = _scores(runs[system], metric)
            row = [f"{size:g}", system, ",".join(map(str, scores)), mean_std(list(scores.values()))]
            row += [control or "-", _difference(runs[system], runs.get(control, []), metric) if control else "-"]
            row += [base, _paired(_scores(runs[system], metric), _scores(runs.get(base, []), base_metric or metric))]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def comparison_table(results: List[RunResult], comparisons: Dict[str, List[str]], metric: str = "ents_f") -> str:
    """Per ratio (or count), a row per asked comparison (name -> the systems it is compared
    with) where both have runs: the paired difference over the seeds both finished."""
    lines = [f"| {size_column(results)} | comparison | difference |", "|---|---|---|"]
    for size, runs in by_ratio(results).items():
        for system, others in comparisons.items():
            for other in others:
                if system in runs and other in runs:
                    lines.append(f"| {size:g} | {system} − {other} | {_difference(runs[system], runs[other], metric)} |")
    found = set(_systems(results))
    missing = sorted({name for system, others in comparisons.items() for name in [system, *others]} - found)
    return "\n".join(lines) + (f"\n\nNo runs of {', '.join(missing)}." if missing else "")


def budget_table(results: List[RunResult]) -> str:
    """Where the best dev checkpoint was, per ratio and system: a best step near the last one
    means the run had not reached its plateau."""
    lines = [f"| {size_column(results)} | system | steps | best dev step (median, min-max) |", "|---|---|---|---|"]
    for ratio, runs in by_ratio(results).items():
        for system, system_runs in runs.items():
            best = sorted(r.best_step for r in system_runs if r.best_step is not None)
            if best:
                lines.append(
                    f"| {ratio:g} | {system} | {_steps(system_runs, max)} | "
                    f"{statistics.median(best):g} ({best[0]}-{best[-1]}) |"
                )
    return "\n".join(lines)
