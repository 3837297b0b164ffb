"""The labeled-ratio benchmark: F1 against the fraction of labeled training sentences.

For each ratio and seed, one low-resource split (spacy_lowner.sampling: every entity type
present) is drawn and shared by every system; the rest of train, plus any extra unlabeled
text, is the unlabeled part. Each system trains on it with `spacy train` (model chosen on
dev) and is scored on test. Runs are resumable, as in the benchmark module, and the table
and plot are rewritten after every run from all the runs finished in the output folder, so
a sweep cut short still reports what it has, and sweeps over other ratios or systems (or
running beside it) add rows instead of replacing the table. The training cost of each
system is measured in one process on the same batches.
"""
import json
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

from spacy.cli._util import _parse_override
from spacy.tokens import DocBin
from spacy.training.initialize import init_nlp
from spacy.util import load_config, minibatch, registry
from spacy.vocab import Vocab

from .benchmark import RunResult, mean_std, train_and_score
from .sampling import sample_labeled, write_split


def make_split(
    train_path: Path, ratio: float, seed: int, folder: Path, extra_unlabeled: Optional[Path] = None
) -> Dict[str, Path]:
    """Write labeled.spacy and unlabeled.spacy for one (ratio, seed) into folder, or reuse
    the ones written before (the sampler is deterministic, so they would be the same)."""
    paths = {"labeled": folder / "labeled.spacy", "unlabeled": folder / "unlabeled.spacy"}
    if all(path.exists() for path in paths.values()):
        return paths
    vocab = Vocab()
    docs = list(DocBin().from_disk(train_path).get_docs(vocab))
    extra = list(DocBin().from_disk(extra_unlabeled).get_docs(vocab)) if extra_unlabeled else []
    split = sample_labeled(docs, ratio=ratio, seed=seed)
    write_split(docs, split, paths["labeled"], paths["unlabeled"], extra_unlabeled=extra)
    return paths


def run_ratio_sweep(
    systems: Dict[str, Path],
    ratios: Sequence[float],
    seeds: Sequence[int],
    output: Path,
    train_path: Path,
    dev_path: Path,
    test_path: Path,
    overrides: Dict[str, str],
    extra_unlabeled: Optional[Path] = None,
    gpu_id: int = -1,
    baseline: Optional[str] = None,
    title: str = "",
    train_missing: bool = True,
    log: Callable = print,
) -> List[RunResult]:
    """Train the missing runs, ratio-major: the smallest ratios, where the systems differ
    most, finish first. train_missing=False trains nothing. Reports and returns every run
    finished in output, including those of other ratios and systems."""
    total = len(ratios) * len(seeds) * len(systems)
    done = 0
    for ratio in ratios:
        for seed in seeds:
            split = make_split(train_path, ratio, seed, output / "splits" / f"r{ratio}-seed{seed}", extra_unlabeled)
            run_overrides = {
                "paths.train": str(split["labeled"]),
                "paths.unlabeled": str(split["unlabeled"]),
                "paths.dev": str(dev_path),
                **overrides,
            }
            for system, config in systems.items():
                done += 1
                prefix = f"[{done}/{total}] ratio {ratio} seed {seed} {system}"
                log(f"{prefix}: {config}")
                run_dir = output / "runs" / f"r{ratio}" / f"{system}-seed{seed}"
                if not train_missing and not (run_dir / "result.json").exists():
                    log(f"{prefix}: not run yet, left out")
                    continue
                result, trained = train_and_score(system, seed, config, run_dir, test_path, run_overrides, gpu_id, log)
                log(f"{prefix}: test F1 {100 * result.test.get('ents_f', 0.0):.2f}" + ("" if trained else " (done before)"))
                if trained:
                    write_reports(finished_runs(output, list(systems)), output, baseline, title)
    results = finished_runs(output, list(systems))
    write_reports(results, output, baseline, title)
    return results


def finished_runs(output: Path, systems: Sequence[str]) -> List[RunResult]:
    """Every run finished under output/runs, whichever sweep trained it, so that sweeps over
    other ratios or systems, or run in parallel, never drop each other's rows from the
    reports. The given systems come first, in their order."""
    results = []
    for result_file in output.glob("runs/r*/*/result.json"):
        result = RunResult(**json.loads(result_file.read_text()))
        result.ratio = float(result_file.parent.parent.name[1:])  # runs/r{ratio}/{system}-seed{seed}
        results.append(result)
    order = {name: i for i, name in enumerate(systems)}
    return sorted(results, key=lambda r: (order.get(r.system, len(order)), r.system, r.ratio, r.seed))


def write_reports(results: List[RunResult], output: Path, baseline: Optional[str], title: str) -> None:
    """results.json, results.md (with the training cost measured before, if any) and the plot."""
    output.mkdir(parents=True, exist_ok=True)
    (output / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    text = ratio_table(results, baseline) + "\n"
    cost_file = output / "cost.json"
    if cost_file.exists():
        text += "\n" + cost_table(json.loads(cost_file.read_text()))
    (output / "results.md").write_text(text)
    plot_ratios(results, output / "f1_by_ratio.png", title)


def _by_ratio(results: List[RunResult]) -> Dict[float, Dict[str, List[RunResult]]]:
    table: Dict[float, Dict[str, List[RunResult]]] = {}
    for r in results:
        table.setdefault(r.ratio, {}).setdefault(r.system, []).append(r)  # type: ignore[arg-type]
    return dict(sorted(table.items()))


def _f1s(runs: List[RunResult]) -> List[float]:
    return [r.test.get("ents_f", 0.0) for r in runs]


def ratio_table(results: List[RunResult], baseline: Optional[str] = None) -> str:
    """Test F1 (mean ± std over seeds, in %) per ratio and system, and each system's mean
    difference from the baseline over the seeds both have finished."""
    systems = list(dict.fromkeys(r.system for r in results))
    others = [s for s in systems if s != baseline] if baseline else []
    header = ["ratio", "seeds"] + [f"{s} test F1" for s in systems] + [f"{s} − {baseline}" for s in others]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for ratio, by_system in _by_ratio(results).items():
        seeds = sorted({r.seed for runs in by_system.values() for r in runs})
        row = [f"{ratio:g}", ",".join(map(str, seeds))]
        row += [mean_std(_f1s(by_system.get(s, []))) for s in systems]
        for system in others:
            base = {r.seed: r.test.get("ents_f", 0.0) for r in by_system.get(baseline, [])}  # type: ignore[arg-type]
            diffs = [r.test.get("ents_f", 0.0) - base[r.seed] for r in by_system.get(system, []) if r.seed in base]
            row.append(f"{100 * statistics.mean(diffs):+.2f}" if diffs else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def plot_ratios(results: List[RunResult], path: Path, title: str = "") -> None:
    """Test F1 against the labeled ratio (log scale), a line per system with a ±1 std band."""
    import matplotlib

    matplotlib.use("Agg")  # no display: write the file only
    import matplotlib.pyplot as plt

    by_ratio = _by_ratio(results)
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for system in dict.fromkeys(r.system for r in results):
        points = [(ratio, _f1s(runs[system])) for ratio, runs in by_ratio.items() if system in runs]
        xs = [ratio for ratio, _ in points]
        means = [100 * statistics.mean(f1s) for _, f1s in points]
        stds = [100 * statistics.stdev(f1s) if len(f1s) > 1 else 0.0 for _, f1s in points]
        ax.plot(xs, means, marker="o", label=system)
        ax.fill_between(xs, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)], alpha=0.2)
    ax.set_xscale("log")
    ax.set_xlabel("labeled ratio of the training split")
    ax.set_ylabel("test F1 (%), mean ± std over seeds")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def measure_training_cost(
    systems: Dict[str, Path],
    corpus_system: str,
    overrides: Dict[str, str],
    batches: int = 20,
    batch_size: int = 32,
    log: Callable = print,
) -> Dict[str, float]:
    """Seconds per `nlp.update` of each system on the same batches, timed in alternation in
    this process. The batches are the first ones of `corpus_system`'s training corpus (for
    a mixed corpus: labeled and unlabeled docs together)."""
    # Values as `spacy train` reads them from its command line (numbers, booleans, strings).
    overrides = {key: _parse_override(value) for key, value in overrides.items()}
    pipelines = {}
    for name, config_path in systems.items():
        nlp = init_nlp(load_config(config_path, overrides=overrides, interpolate=False))
        # As `spacy train` resolves them: schedules may refer to other settings
        # (e.g. total_steps = ${training.max_steps}).
        config = nlp.config.interpolate()
        optimizer = registry.resolve({"optimizer": config["training"]["optimizer"]})["optimizer"]
        pipelines[name] = (nlp, optimizer)
        if name == corpus_system:
            examples = list(registry.resolve(config["corpora"])["train"](nlp))
    chunks = list(minibatch(examples, size=batch_size))[: batches + 1]
    seconds = {name: 0.0 for name in pipelines}
    for i, chunk in enumerate(chunks):
        for name, (nlp, optimizer) in pipelines.items():
            start = time.perf_counter()
            nlp.update(chunk, sgd=optimizer, losses={})
            if i:  # the first batch is a warm-up
                seconds[name] += time.perf_counter() - start
    n = max(len(chunks) - 1, 1)
    log(f"Timed {n} batches of {batch_size} docs per system")
    return {name: total / n for name, total in seconds.items()}


def save_training_cost(
    output: Path, seconds: Dict[str, float], baseline: str, split: str, batches: int, batch_size: int
) -> Dict:
    """Save measure_training_cost's figures, with each system's ratio to the baseline, to
    cost.json (write_reports puts them under the table); return what was saved."""
    cost = {
        "split": split, "batches": batches, "batch_size": batch_size, "baseline": baseline,
        "systems": {name: {"seconds_per_update": s, "ratio": s / seconds[baseline]} for name, s in seconds.items()},
    }
    (output / "cost.json").write_text(json.dumps(cost, indent=2))
    return cost


def cost_table(cost: Dict) -> str:
    text = f"Training cost per update on the same batches ({cost['split']}, {cost['batches']} batches of {cost['batch_size']} docs):\n\n"
    text += f"| system | s/update | vs {cost['baseline']} |\n|---|---|---|\n"
    return text + "".join(
        f"| {name} | {c['seconds_per_update']:.3f} | {c['ratio']:.2f}x |\n" for name, c in cost["systems"].items()
    )
