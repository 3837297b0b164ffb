"""The full-data benchmark: every system trained with every seed on the same splits, scored
on test, and timed at inference in one process."""
import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from .runs import RunResult, in_report_order, read_result, restore_recorded_runs, train_and_score, write_result
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
    listed = {(r.system, r.seed) for r in results}
    others = [read_result(path) for path in sorted(output.glob("runs/*/result.json"))]
    everything = results + [r for r in others if (r.system, r.seed) not in listed]
    write_reports(in_report_order(everything, list(systems)), output, baseline)
    return results


def _run_folder(output: Path, system: str, seed: int) -> Path:
    return output / "runs" / f"{system}-seed{seed}"


def write_reports(results: List[RunResult], output: Path, baseline: Optional[str] = None) -> None:
    """results.json and results.md (the benchmark table) in output."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    (output / "results.md").write_text(benchmark_table(results, baseline) + "\n")
