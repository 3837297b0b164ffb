"""KL-phase systems in a ratio sweep: a system that continues a base system's model-best
(trained earlier in the same sweep, on the same split) with `python -m spacy_lowner kl-phase`
(spacy_lowner/training/kl_phase.py): the KL regularisers as their paper runs them, after the
tagger has converged, or the control that takes the same supervised steps without the KL steps.

The continuation reads the split's labeled docs (--labeled), its unlabeled docs (--unlabeled)
and dev (--dev: the best pair on dev is model-best, the base's own pipeline, pair 0, among
them), with the run's seed, in a subprocess as `spacy train` runs for the other systems; its
model-best is scored on test like every run, and its model-last too (the scores `KEY_last`):
the paper stops after its 40 or 80 pairs and picks no checkpoint, and a dev-picked model-best
that is the base itself (no pair beat it on dev) reads the same as the base, whatever the pairs
did. At ratio 1.0 nothing of train is left over and the
split's unlabeled text is the training text itself (bench/ratios.py make_split): the paper's
labeled data is a subset of its unlabeled pool too.
"""
import json
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Collection, Dict, List, Optional

from .ratios import Split
from .runs import RunResult, evaluate_model, logged_lines, read_result, write_result
from .systems import KLContinuation, System

# What kl-phase writes beside model-best and model-last: its settings, steps, seconds and every
# checkpoint's dev scores. Named here, not imported: the harness does not import the package's CLI.
PHASE_FILE = "kl_phase.json"
# The suffix of the test scores of a continuation's model-last (after all its pairs).
LAST = "_last"


def kl_phase_command(
    settings: KLContinuation, base_model: Path, output: Path, split: Split, dev: Path, seed: int, gpu_id: int
) -> List[str]:
    """The `kl-phase` argv of a run; the control reads no unlabeled text."""
    args = [sys.executable, "-m", "spacy_lowner", "kl-phase", str(base_model), str(output), "--labeled", str(split.labeled)]
    if not settings.off:
        args += ["--unlabeled", str(split.unlabeled)]
    return args + ["--dev", str(dev), *settings.options(), "--seed", str(seed), "--gpu-id", str(gpu_id)]


def run_kl_phase(args: List[str], output: Path, log: Callable = print) -> None:
    """Run kl-phase into `output`. It writes the folder when it has finished, or nothing, so its
    log is written beside it (.NAME.log) and moved into it, as train.log, once it has."""
    output.parent.mkdir(parents=True, exist_ok=True)
    log_path = output.with_name(f".{output.name}.log")
    for line in logged_lines(args, log_path, f"kl-phase failed for {output}"):
        log(f"  {line.rstrip()}")
    log_path.replace(output / "train.log")


def continue_and_score(
    system: System,
    seed: int,
    base_run: Path,
    run_dir: Path,
    split: Split,
    dev: Path,
    test: Path,
    gpu_id: int = -1,
    log: Callable = print,
    train_texts: Collection[str] = (),
    bench_command: Optional[str] = None,
) -> RunResult:
    """Continue the model-best of base_run (a finished run of the system's base) into run_dir,
    score run_dir/model-best on test and write run_dir/result.json. A continuation that
    finished before (run_dir/kl_phase.json) without being scored is scored, not run again."""
    settings = system.kl_phase
    base_model = base_run / "model-best"
    if not base_model.is_dir():
        raise FileNotFoundError(f"{system.name} continues {settings.base}, whose run {base_run} has no model-best: train it first")
    args = kl_phase_command(settings, base_model, run_dir, split, dev, seed, gpu_id)
    if not (run_dir / PHASE_FILE).exists():
        run_kl_phase(args, run_dir, log)
    phase = json.loads((run_dir / PHASE_FILE).read_text(encoding="utf8"))
    scores = evaluate_model(run_dir / "model-best", test, train_texts)
    last = evaluate_model(run_dir / "model-last", test, train_texts)
    scores.update({f"{key}{LAST}": value for key, value in last.items()})
    result = RunResult(
        system.name, seed, read_result(base_run / "result.json").config, test=scores,
        split=split.record, train_command=shlex.join(["python", *args[1:]]), bench_command=bench_command, **_phase_info(phase),
    )
    write_result(result, run_dir / "result.json")
    return result


def _phase_info(phase: Dict[str, Any]) -> Dict[str, Any]:
    """What a RunResult records of kl_phase.json: the steps (KL and supervised), the seconds,
    the best dev F1 and the dev curve, each checkpoint at the steps taken by then (pair 0 is
    the base's pipeline). A continuation counts pairs, not epochs: epochs is 0."""
    steps = phase["kl_steps"] + phase["supervised_steps"]
    per_pair = steps / phase["settings"]["pairs"]
    curve = [(round(point["pair"] * per_pair), point["scores"].get("ents_f", 0.0)) for point in phase["curve"]]
    return {
        "steps": steps, "epochs": 0, "train_seconds": phase["seconds"], "dev_f": phase["best"]["scores"].get("ents_f", 0.0),
        "dev_curve": curve,
    }
