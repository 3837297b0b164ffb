"""The full-data benchmark: every system trained with every seed on the same splits, scored
on test, and timed at inference in one process."""
import json
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from spacy.tokens import DocBin
from spacy.vocab import Vocab

from .runs import RunResult, train_and_score
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
    results: List[RunResult] = []
    total = len(systems) * len(seeds)
    common = {"paths.train": str(train_path), "paths.dev": str(dev_path), **overrides}
    # Seed-major order: an interrupted sweep still holds every system for the seeds it finished.
    for i, (system, seed) in enumerate((s, seed) for seed in seeds for s in systems.values()):
        prefix = f"[{i + 1}/{total}] {system.name} seed {seed}"
        log(f"{prefix}: {system.spec}")
        run_dir = output / "runs" / f"{system.name}-seed{seed}"
        result, trained = train_and_score(
            system.name, seed, system.config_file(output), run_dir, test_path, {**common, **system.overrides}, gpu_id, log
        )
        log(f"{prefix}: test F1 {100 * (result.test.get('ents_f') or 0):.2f}" + ("" if trained else " (done before)"))
        results.append(result)
    log("Measuring inference speed (all models, alternating rounds)")
    texts = [doc.text for doc in DocBin().from_disk(test_path).get_docs(Vocab())]
    models = {f"{r.system}-seed{r.seed}": output / "runs" / f"{r.system}-seed{r.seed}" / "model-best" for r in results}
    speeds = measure_speed(models, texts)
    for r in results:
        r.words_per_second = speeds[f"{r.system}-seed{r.seed}"]
    write_reports(results, output, baseline)
    return results


def write_reports(results: List[RunResult], output: Path, baseline: Optional[str] = None) -> None:
    """results.json and results.md (the benchmark table) in output."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    (output / "results.md").write_text(benchmark_table(results, baseline) + "\n")
