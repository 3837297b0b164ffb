"""The full-data benchmark: every system trained with every seed on the same splits, scored
on test, and timed at inference in one process."""
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from .runs import RunResult, in_report_order, read_result, restore_recorded_runs, train_and_score, write_record, write_result
from .speed import measure_speed
from .systems import System
from .tables import benchmark_table


def run_sweep(
    systems: Dict[str, System],
    seeds: Sequence[int],
    output: Path,
    train_path: Path,
    dev_path: Path,
    test_path: Path,
    overrides: Dict[str, str],
    gpu_id: int = -1,
    baseline: Optional[str] = None,
    log: Callable = print,
) -> List[RunResult]:
    """Train and score the missing runs, time the models of the listed systems in one process,
    and report them with every other run finished in output (earlier sweeps' systems)."""
    restore_recorded_runs(output, lambda r: _run_folder(output, r.system, r.seed), log)
    results: List[RunResult] = []
    total = len(systems) * len(seeds)
    common = {"paths.train": str(train_path), "paths.dev": str(dev_path), **overrides}
    # Seed-major order: an interrupted sweep still holds every system for the seeds it finished.
    for i, (system, seed) in enumerate((s, seed) for seed in seeds for s in systems.values()):
        prefix = f"[{i + 1}/{total}] {system.name} seed {seed}"
        log(f"{prefix}: {system.spec}")
        run_dir = _run_folder(output, system.name, seed)
        result, trained = train_and_score(
            system.name, seed, system.config_file(output), run_dir, test_path, {**common, **system.overrides}, gpu_id, log
        )
        log(f"{prefix}: test F1 {100 * (result.test.get('ents_f') or 0):.2f}" + ("" if trained else " (done before)"))
        results.append(result)
        if trained:
            # results.json is all that a fresh clone keeps of a run (runs/ is not committed):
            # written after each new run, a sweep stopped midway loses none of those it finished
            write_reports(finished_runs(output, list(systems)), output, baseline)
    run_dirs = {f"{r.system}-seed{r.seed}": _run_folder(output, r.system, r.seed) for r in results}
    models = {name: run_dir / "model-best" for name, run_dir in run_dirs.items() if (run_dir / "model-best").is_dir()}
    if len(models) < len(results):
        log(f"{len(results) - len(models)} runs have no model (restored from results.json): their speed is the one recorded")
    log("Measuring inference speed (the models here, alternating rounds)")
    texts = [doc.text for doc in DocBin().from_disk(test_path).get_docs(Vocab())]
    speeds = measure_speed(models, texts)
    for r in results:
        name = f"{r.system}-seed{r.seed}"
        if name in speeds:
            r.words_per_second = speeds[name]
            write_result(r, run_dirs[name] / "result.json")
    write_reports(finished_runs(output, list(systems)), output, baseline)
    return results


def finished_runs(output: Path, systems: Sequence[str]) -> List[RunResult]:
    """Every run finished under output/runs, whichever sweep trained it; the given systems
    first, in their order."""
    return in_report_order([read_result(path) for path in output.glob("runs/*/result.json")], systems)


def _run_folder(output: Path, system: str, seed: int) -> Path:
    return output / "runs" / f"{system}-seed{seed}"


def write_reports(results: List[RunResult], output: Path, baseline: Optional[str] = None) -> None:
    """results.json and results.md (the benchmark table) in output."""
    write_record(results, benchmark_table(results, baseline) + "\n", output)
