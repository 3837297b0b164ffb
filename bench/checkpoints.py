"""The checkpoint that dev picks against the last one: model-best and model-last of each
finished run scored on the same test set. On a small dev set the best dev score is partly
luck, so whether choosing on dev helps on test is a question the runs can answer."""
import json
import statistics
from pathlib import Path
from typing import Callable, Dict, List

from spacy_lowner.tools.outputs import write_files

from .runs import evaluate_model, read_result
from .stats import mean_std, paired_difference

CHECKPOINTS_FILE = "checkpoints.json"


def score_last_checkpoints(output: Path, test_path: Path, log: Callable = print) -> List[Dict]:
    """Score model-last of every run under output/runs that has one (a benchmark's
    runs/NAME-seedK or a ratio sweep's runs/rRATIO/NAME-seedK), beside the test F1 its
    result.json records for model-best, into output/checkpoints.json, rewritten after each run
    (runs scored before are kept, not scored again)."""
    record = output / CHECKPOINTS_FILE
    rows = {_run_key(r): r for r in json.loads(record.read_text())} if record.exists() else {}
    without_model = 0
    for result_file in sorted(output.glob("runs/**/result.json")):
        result = read_result(result_file)
        run = {"system": result.system, "ratio": result.ratio, "seed": result.seed}
        if _run_key(run) in rows:
            continue
        last = result_file.parent / "model-last"
        if not last.is_dir():
            without_model += 1
            continue
        log(f"{_group(run)} seed {result.seed}: scoring model-last")
        rows[_run_key(run)] = {
            **run,
            "best": result.test.get("ents_f") or 0.0,
            "last": evaluate_model(last, test_path).get("ents_f") or 0.0,
            "best_step": result.best_step,
            "last_step": result.steps,
            "dev_best": result.dev_f,
            "dev_last": result.dev_curve[-1][1] if result.dev_curve else None,
        }
        _write(sorted(rows.values(), key=_run_order), output)
    if without_model:
        log(f"{without_model} runs have no model-last here (restored from results.json, or trained elsewhere): not scored")
    return sorted(rows.values(), key=_run_order)


def _run_key(row: Dict):
    return row["system"], row.get("ratio"), row["seed"]


def _run_order(row: Dict):
    return row["system"], row.get("ratio") or 0.0, row["seed"]


def _group(row: Dict) -> str:
    return row["system"] if row.get("ratio") is None else f"{row['system']} at {row['ratio']}"


def _write(rows: List[Dict], output: Path) -> None:
    """checkpoints.json and checkpoints.md, both or neither."""
    write_files({
        output / CHECKPOINTS_FILE: json.dumps(rows, indent=2).encode("utf8"),
        output / "checkpoints.md": (checkpoint_table(rows) + "\n").encode("utf8"),
    })


def checkpoint_table(rows: List[Dict]) -> str:
    """Per system (and ratio), and over all runs together: test F1 of the checkpoint dev picked
    and of the last one, and their paired difference (last − dev-picked)."""
    header = "| system | runs | best dev step (median) | test F1, dev-picked | test F1, last | last − dev-picked [95% CI] w/l |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    groups: Dict[str, List[Dict]] = {}
    for row in rows:
        groups.setdefault(_group(row), []).append(row)
    if len(groups) > 1:
        groups["all runs"] = rows
    for name, runs in groups.items():
        # keyed by run, not seed: over all runs one seed stands for several pairs
        difference = paired_difference(
            {i: r["last"] for i, r in enumerate(runs)}, {i: r["best"] for i, r in enumerate(runs)}
        )
        steps = [r["best_step"] for r in runs if r["best_step"] is not None]
        cells = [
            name, str(len(runs)), f"{statistics.median(steps):.0f}" if steps else "-",
            mean_std([r["best"] for r in runs]), mean_std([r["last"] for r in runs]),
            difference.format() if difference else "-",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
