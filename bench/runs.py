"""One training run: `spacy train` in a subprocess, then model-best (chosen on dev) scored on
test with the project's scorer. The result is saved beside the run, so a sweep that stops
resumes where it was."""
import json
import os
import re
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Collection, Dict, Iterator, List, Optional, Sequence, Tuple

import spacy
from spacy.tokens import DocBin
from spacy.training import Example

from spacy_lowner.corpora.docs import tokens_only
from spacy_lowner.model.scoring import score_entities, score_token_accuracy, score_tokens
from spacy_lowner.tools.outputs import write_files

# spaCy's console table rows: epoch, step, the losses, the scores, and the weighted score last.
_TABLE_ROW = re.compile(r"^\s*(\d+)\s+(\d+)\s+.*?([0-9.]+)\s*$")


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
    # The labeled sentences of the training split (count sweeps, `bench ratios --counts`), instead of a ratio.
    count: Optional[int] = None
    # (step, dev score) of every evaluation, to show where the best checkpoint was.
    dev_curve: List[Tuple[int, float]] = field(default_factory=list)
    # Which docs the run's split labeled (ratio sweeps: bench/ratios.py Split.record).
    split: Optional[Dict[str, Any]] = None
    # The `spacy train` command that trained the run, and the `python -m bench` command that ran it.
    train_command: Optional[str] = None
    bench_command: Optional[str] = None

    @property
    def seconds_per_epoch(self) -> float:
        return self.train_seconds / max(self.epochs, 1)

    @property
    def size(self) -> Optional[float]:
        """How much of train the run's split labeled: its count of sentences, or its ratio;
        None: all of train."""
        return self.count if self.count is not None else self.ratio

    @property
    def best_step(self) -> Optional[int]:

        return max(self.dev_curve, key=lambda point: point[1])[0] if self.dev_curve else None

    @property
    def trainings(self) -> List["RunResult"]:
        """The trainings this result cost: the run itself (a best-of row: all its restarts)."""
        return [self]


# Fields that older records lack: written only when set, so that rewriting an old report
# leaves its results.json as it was.
_OPTIONAL_FIELDS = ("count", "split", "train_command", "bench_command")


def train_command(config: Path, output: Path, seed: int, overrides: Dict[str, str], gpu_id: int) -> List[str]:
    """The `spacy train` argv of a run. The overrides come after --system.seed: spaCy keeps
    the last value of an option given twice, so a system's own system.seed (a restart) wins."""
    args = [sys.executable, "-m", "spacy", "train", str(config), "--output", str(output)]
    args += ["--gpu-id", str(gpu_id), "--system.seed", str(seed)]
    for key, value in overrides.items():
        args += [f"--{key}", str(value)]
    return args


def logged_lines(args: List[str], log_path: Path, failure: str) -> Iterator[str]:
    """Run a training command in a subprocess and yield each line of its output as it comes,
    written to log_path too; raise RuntimeError(failure, naming the log) if it fails."""
    with log_path.open("w", encoding="utf8") as log_file:
        # Unbuffered, so that progress shows while the run goes on.
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        for line in process.stdout:  # type: ignore[union-attr]
            log_file.write(line)
            log_file.flush()
            yield line
        if process.wait() != 0:
            raise RuntimeError(f"{failure}; see {log_path}")


def train_run(
    config: Path, output: Path, seed: int, overrides: Dict[str, str], gpu_id: int, log: Callable
) -> Dict:
    """Run `spacy train`; return what its log says about length, time and the dev curve, and
    the command (with `python` for this interpreter's path)."""
    args = train_command(config, output, seed, overrides, gpu_id)
    output.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    curve: List[Tuple[int, float]] = []
    epoch = step = 0
    for line in logged_lines(args, output / "train.log", f"spacy train failed for {output}"):
        row = _TABLE_ROW.match(line)
        if row:
            epoch, step = int(row.group(1)), int(row.group(2))
            curve.append((step, float(row.group(3))))
            log(f"  epoch {epoch} step {step}: {line.strip()}")
    # The epoch column counts finished epochs; the run ended inside the next one.
    return {
        "steps": step, "epochs": epoch + 1, "train_seconds": time.perf_counter() - start, "dev_curve": curve,
        "train_command": shlex.join(["python", *args[1:]]),
    }


def load_examples(nlp, path: Path) -> List[Example]:
    """The gold docs of a DocBin, each with an unannotated copy of its tokens to predict on.

    The copy keeps the corpus tokenization, as the project's readers do (TaggedCorpus,
    MixedCorpus): a CoNLL corpus's text is its tokens joined by spaces, which the pipeline's
    tokenizer may split otherwise (AL-AIN, Jean-Luc), and a gold entity would then straddle
    predicted tokens."""
    return [Example(tokens_only(doc, nlp.vocab), doc) for doc in DocBin().from_disk(path).get_docs(nlp.vocab)]


# The scores computed a second time on the test docs whose text is not in train.
DEDUP_SCORES = ("ents_p", "ents_r", "ents_f", "tokens_macro_f", "tokens_acc_no_o")


def evaluate_model(model: Path, test_path: Path, train_texts: Collection[str] = ()) -> Dict[str, float]:
    """Test scores of any NER pipeline (lowner_ner or spaCy's `ner`) with one scorer, ours, so
    that every system gets the same span semantics and the NAM / NOM group scores, plus the
    KL paper's two token-level scores: the macro F1 over the entity types (tokens_macro_f)
    and the accuracy without O (tokens_acc_no_o).

    With train_texts, those scores are also computed without the test docs whose text is one
    of them (KEY_dedup, DEDUP_SCORES): a test sentence that train holds verbatim may be tagged
    from memory (WeiboNER: 40 of its 270), which says nothing of what was learnt."""
    nlp = spacy.load(model)
    gold = load_examples(nlp, test_path)
    predicted = nlp.pipe(eg.predicted for eg in gold)
    examples = [Example(doc, eg.reference) for doc, eg in zip(predicted, gold)]
    scores = _scores(examples)
    if train_texts:
        unseen = _scores([eg for eg in examples if eg.reference.text not in train_texts])
        scores.update({f"{key}_dedup": unseen[key] for key in DEDUP_SCORES})
    return {key: value for key, value in scores.items() if isinstance(value, float)}


def _scores(examples: List[Example]) -> Dict[str, Any]:
    return {**score_entities(examples), **score_tokens(examples), **score_token_accuracy(examples)}


def train_and_score(
    system: str,
    seed: int,
    config: Path,
    run_dir: Path,
    test_path: Path,
    overrides: Dict[str, str],
    gpu_id: int = -1,
    log: Callable = print,
    train_texts: Collection[str] = (),
    split: Optional[Dict[str, Any]] = None,
    bench_command: Optional[str] = None,
) -> Tuple[RunResult, bool]:
    """Train one (system, seed) run into run_dir and score model-best on test, or read the
    result a finished run left there. Returns the result and whether it was trained now.
    train_texts: score on test without them too (evaluate_model); split and bench_command
    are recorded with the result."""
    result_file = run_dir / "result.json"
    if result_file.exists():
        return read_result(result_file), False
    info = train_run(config, run_dir, seed, overrides, gpu_id, log)
    model = run_dir / "model-best"
    dev_f = json.loads((model / "meta.json").read_text())["performance"].get("ents_f") or 0.0
    test = evaluate_model(model, test_path, train_texts)
    result = RunResult(system, seed, str(config), dev_f=dev_f, test=test, split=split, bench_command=bench_command, **info)
    write_result(result, result_file)
    return result, True


def write_result(result: RunResult, path: Path) -> None:
    write_files({path: _json_bytes(_record(result))})


def write_record(results: Sequence[RunResult], markdown: str, output: Path) -> None:
    """A report's results.json and results.md, both or neither, each by one rename: a sweep
    stopped while writing, or a second sweep writing the same report, never leaves a
    truncated record (results.json is all a fresh clone keeps of the runs)."""
    write_files({output / "results.json": _json_bytes([_record(r) for r in results]), output / "results.md": markdown.encode("utf8")})


def _record(result: RunResult) -> Dict[str, Any]:
    data = asdict(result)
    return {key: value for key, value in data.items() if key not in _OPTIONAL_FIELDS or value is not None}


def _json_bytes(data) -> bytes:
    return json.dumps(data, indent=2).encode("utf8")


def _result_from_dict(data: Dict) -> RunResult:
    """A run from its record, old or new: fields a record lacks take their defaults, and fields
    this version does not know (a newer harness wrote them) are left out."""
    known = {f.name for f in fields(RunResult)}
    data = {key: value for key, value in data.items() if key in known}
    data["dev_curve"] = [tuple(point) for point in data.get("dev_curve", [])]
    return RunResult(**data)


def read_result(path: Path) -> RunResult:
    return _result_from_dict(json.loads(path.read_text()))


def in_report_order(results: List[RunResult], systems: Sequence[str]) -> List[RunResult]:
    """The given systems first, in their order, then the others by name; each system's runs
    by split size (ratio or count) and seed."""
    order = {name: i for i, name in enumerate(systems)}
    return sorted(results, key=lambda r: (order.get(r.system, len(order)), r.system, r.size or 0.0, r.seed))


def restore_recorded_runs(output: Path, run_dir: Callable[[RunResult], Path], log: Callable = print) -> int:
    """Write each run that output/results.json records, and whose folder (run_dir(result))
    holds no result.json, back as that folder's result.json; return how many.

    The runs/ folders are not committed, so a report folder on a fresh clone holds its
    results.json and nothing else. Without this, a sweep into it would train every run
    again, and the reports it rewrites would hold only the runs trained here: the committed
    figures of every system it was not asked for would be gone. A restored run has no
    model, so whatever needs one (a self-training teacher, the speed rounds) says so."""
    record = output / "results.json"
    if not record.exists():
        return 0
    restored = 0
    for data in json.loads(record.read_text()):
        result = _result_from_dict(data)
        result_file = run_dir(result) / "result.json"
        if not result_file.exists():
            write_result(result, result_file)
            restored += 1
    if restored:
        log(f"Restored {restored} finished runs from {record} (their models are not kept)")
    return restored
