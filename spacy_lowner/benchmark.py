"""Train-and-evaluate sweeps that print honest figures.

Each (system, seed) run trains with `spacy train` in a subprocess, keeps model-best (chosen
on dev) and scores it on the test split; its result is saved beside it, so an interrupted
sweep resumes where it stopped. Inference speed is measured afterwards for every model in
one process, in alternating rounds, so that speed ratios compare like with like.
"""
import json
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import spacy
from spacy.tokens import DocBin
from spacy.training import Example
from spacy.vocab import Vocab

from .scoring import score_entities

# spaCy's console table rows start with the epoch and the step.
_TABLE_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+")


@dataclass
class RunResult:
    system: str
    seed: int
    config: str
    steps: int
    epochs: int
    train_seconds: float
    dev_f: float
    test: Dict[str, float] = field(default_factory=dict)
    words_per_second: Optional[float] = None
    # The labeled fraction of the training split (ratio sweeps); None: the whole split.
    ratio: Optional[float] = None

    @property
    def seconds_per_epoch(self) -> float:
        return self.train_seconds / max(self.epochs, 1)


def train_run(
    config: Path, output: Path, seed: int, overrides: Dict[str, str], gpu_id: int, log: Callable
) -> Dict:
    """Run `spacy train` and return what its log says about length and time."""
    args = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output)]
    args += ["--gpu-id", str(gpu_id), "--system.seed", str(seed)]
    for key, value in overrides.items():
        args += [f"--{key}", str(value)]
    output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with (output / "train.log").open("w", encoding="utf8") as log_file:
        # Unbuffered, so that progress shows while the run goes on.
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        epoch = step = 0
        for line in process.stdout:  # type: ignore[union-attr]
            log_file.write(line)
            log_file.flush()
            row = _TABLE_ROW.match(line)
            if row:
                epoch, step = int(row.group(1)), int(row.group(2))
                log(f"  epoch {epoch} step {step}: {line.strip()}")
        if process.wait() != 0:
            raise RuntimeError(f"spacy train failed for {output}; see {output / 'train.log'}")
    # The epoch column counts finished epochs; the run ended inside the next one.
    return {"steps": step, "epochs": epoch + 1, "train_seconds": time.perf_counter() - start}


def load_examples(nlp, path: Path) -> List[Example]:
    docs = DocBin().from_disk(path).get_docs(nlp.vocab)
    return [Example(nlp.make_doc(doc.text), doc) for doc in docs]


def evaluate_model(model: Path, test_path: Path) -> Dict[str, float]:
    """Test scores of any NER pipeline (lowner_ner or spaCy's `ner`) with one scorer, ours,
    so that every system gets the same span semantics and the NAM / NOM group scores."""
    nlp = spacy.load(model)
    gold = load_examples(nlp, test_path)
    predicted = nlp.pipe(eg.predicted for eg in gold)
    scores = score_entities([Example(doc, eg.reference) for doc, eg in zip(predicted, gold)])
    return {key: value for key, value in scores.items() if isinstance(value, float)}


def measure_speed(models: Dict[str, Path], texts: Sequence[str], rounds: int = 3) -> Dict[str, float]:
    """Words per second of `nlp.pipe` per model, the best of `rounds` alternating rounds."""
    pipelines = {name: spacy.load(path) for name, path in models.items()}
    n_words = {name: sum(len(doc) for doc in nlp.tokenizer.pipe(texts)) for name, nlp in pipelines.items()}
    best: Dict[str, float] = {}
    for name, nlp in pipelines.items():  # warm-up
        list(nlp.pipe(texts[:32]))
    for _ in range(rounds):
        for name, nlp in pipelines.items():
            start = time.perf_counter()
            for _ in nlp.pipe(texts, batch_size=64):
                pass
            best[name] = max(best.get(name, 0.0), n_words[name] / (time.perf_counter() - start))
    return best


def mean_std(values: Sequence[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:  # no spread to report from one seed
        return f"{100 * values[0]:.2f}"
    return f"{100 * statistics.mean(values):.2f} ± {100 * statistics.stdev(values):.2f}"


def markdown_table(results: List[RunResult], baseline: Optional[str] = None) -> str:
    systems = sorted({r.system for r in results}, key=[r.system for r in results].index)
    header = "| system | seeds | test F1 | test P | test R | F1 NAM | F1 NOM | dev F1 | steps | epochs | s/epoch | words/s |"
    if baseline:
        header += f" speed vs {baseline} |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    speeds = {s: statistics.mean([r.words_per_second for r in results if r.system == s and r.words_per_second] or [0]) for s in systems}
    for system in systems:
        runs = [r for r in results if r.system == system]
        get = lambda key: [r.test[key] for r in runs if r.test.get(key) is not None]  # noqa: E731
        row = [
            system,
            ",".join(str(r.seed) for r in runs),
            mean_std(get("ents_f")),
            mean_std(get("ents_p")),
            mean_std(get("ents_r")),
            mean_std(get("ents_f_NAM")),
            mean_std(get("ents_f_NOM")),
            mean_std([r.dev_f for r in runs]),
            str(round(statistics.mean(r.steps for r in runs))),
            f"{statistics.mean(r.epochs for r in runs):.1f}",
            f"{statistics.mean(r.seconds_per_epoch for r in runs):.1f}",
            f"{speeds[system]:.0f}",
        ]
        if baseline:
            ratio = speeds[system] / speeds[baseline] if speeds.get(baseline) else float("nan")
            row.append(f"{ratio:.2f}x")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def train_and_score(
    system: str,
    seed: int,
    config: Path,
    run_dir: Path,
    test_path: Path,
    overrides: Dict[str, str],
    gpu_id: int = -1,
    log: Callable = print,
) -> Tuple[RunResult, bool]:
    """Train one (system, seed) run into run_dir and score model-best on test, or read the
    result a finished run left there. Returns the result and whether it was trained now."""
    result_file = run_dir / "result.json"
    if result_file.exists():
        return RunResult(**json.loads(result_file.read_text())), False
    info = train_run(config, run_dir, seed, overrides, gpu_id, log)
    model = run_dir / "model-best"
    dev_f = json.loads((model / "meta.json").read_text())["performance"].get("ents_f") or 0.0
    result = RunResult(system, seed, str(config), dev_f=dev_f, test=evaluate_model(model, test_path), **info)
    result_file.write_text(json.dumps(asdict(result), indent=2))
    return result, True


def run_sweep(
    systems: Dict[str, Path],
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
    run_overrides = {"paths.train": str(train_path), "paths.dev": str(dev_path), **overrides}
    # Seed-major order: an interrupted sweep still holds every system for the seeds it finished.
    for i, (system, seed) in enumerate((s, seed) for seed in seeds for s in systems):
        log(f"[{i + 1}/{total}] {system} seed {seed}: {systems[system]}")
        run_dir = output / "runs" / f"{system}-seed{seed}"
        result, trained = train_and_score(system, seed, systems[system], run_dir, test_path, run_overrides, gpu_id, log)
        log(f"[{i + 1}/{total}] {system} seed {seed}: test F1 {100 * (result.test.get('ents_f') or 0):.2f}" + ("" if trained else " (done before)"))
        results.append(result)
    log("Measuring inference speed (all models, alternating rounds)")
    texts = [doc.text for doc in DocBin().from_disk(test_path).get_docs(Vocab())]
    models = {f"{r.system}-seed{r.seed}": output / "runs" / f"{r.system}-seed{r.seed}" / "model-best" for r in results}
    speeds = measure_speed(models, texts)
    for r in results:
        r.words_per_second = speeds[f"{r.system}-seed{r.seed}"]
    (output / "results.json").write_text(json.dumps([asdict(r) for r in results], indent=2))
    table = markdown_table(results, baseline)
    (output / "results.md").write_text(table + "\n")
    return results
