"""`python -m spacy_lowner train`: `spacy train`, then rounds of self-training."""
import shutil
from pathlib import Path
from typing import Optional

import spacy
import torch
import typer
from confection import ConfigValidationError
from spacy import util
from spacy.cli._util import parse_config_overrides
from spacy.cli.train import train

from ..corpora import CorpusFormatError
from ..tools.outputs import OutputError, check_folder_output, check_outputs, check_replaceable, folder_in_place
from ..training.pseudo_labels import OUTSIDE, SELECTIONS, write_self_training_data
from ..training.readers import read_unlabeled
from . import app, fail, load_pipeline, say
from .pseudo_label import SELECT_HELP, progress_printer

# What self-training writes into OUTPUT: an existing OUTPUT that holds anything else is refused.
SELF_TRAINING_FILES = ("model-best", "model-last", "teacher", "self_training", "round[0-9]*")


@app.command("train", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def train_command(
    ctx: typer.Context,
    config_path: Path = typer.Argument(..., metavar="CONFIG", help="The training config.", exists=True, dir_okay=False),
    output: Path = typer.Option(
        ..., "--output", "-o", help="Folder for the trained pipeline (model-best, model-last), as `spacy train`'s."
    ),
    rounds: int = typer.Option(
        0, "--self-train-rounds", "-r",
        help="Rounds of self-training after the first training; 0 trains once, exactly as `spacy train`.",
    ),
    threshold: float = typer.Option(
        0.9, "--threshold", "-t", help="Self-training: a token is sure if its decoded tag has at least this probability."
    ),
    min_entities: int = typer.Option(
        1, "--min-entities", "-m", help="Self-training keeps a doc only if the model finds at least this many entities in it."
    ),
    outside: str = typer.Option(
        "O", "--outside", help="The tokens outside a kept doc's predicted entities: O, or missing (left unknown)."
    ),
    select: str = typer.Option("doc", "--select", help=SELECT_HELP),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
    threads: int = typer.Option(
        0, "--threads",
        help="CPU threads for torch; 0 leaves torch's default (one per core). The same seed trains another "
        "model with another thread count (float sums in another order): give the count to reproduce a run.",
    ),
) -> None:
    """Train a pipeline as `spacy train` does (the same config, --section.key overrides and output), then, with --self-train-rounds N, N rounds of self-training: the last model-best tags the text of paths.unlabeled, and training starts again on paths.train plus the docs it is sure of (see `pseudo-label`).

    The first model goes to OUTPUT/teacher, round k's data to OUTPUT/self_training/round{k} and its model to OUTPUT/round{k}; the last round's model is OUTPUT/model-best, where `spacy evaluate` and `package` look for it. Each round starts from the config's initial weights, not from the previous model. Self-training replaces an OUTPUT of an earlier run as a whole, only once it has finished (an error or Ctrl-C puts the old one back), and refuses an OUTPUT that holds anything else.
    """
    overrides = parse_config_overrides(ctx.args)
    if rounds < 0:
        fail(f"--self-train-rounds must be 0 or more, got {rounds}")
    if threads < 0:
        fail(f"--threads must be 0 (torch's default) or more, got {threads}")
    if threads:
        torch.set_num_threads(threads)
    paths = _config_paths(config_path, overrides)
    _check_output(output, config_path, paths)
    if rounds == 0:
        train(config_path, output, use_gpu=gpu_id, overrides=overrides)
        return
    if outside not in OUTSIDE:
        fail(f"--outside must be one of {', '.join(OUTSIDE)}, got {outside!r}")
    if select not in SELECTIONS:
        fail(f"--select must be one of {', '.join(SELECTIONS)}, got {select!r}")
    if not 0 <= threshold <= 1:
        fail(f"--threshold must be in [0, 1], got {threshold}")
    labeled, unlabeled = _self_training_inputs(config_path, paths)
    try:
        check_replaceable(output, "self-training", SELF_TRAINING_FILES)
    except OutputError as err:
        fail(str(err))
    try:  # read it all before training: a bad line must not surface after the first training
        n_unlabeled = sum(1 for doc in read_unlabeled(unlabeled, spacy.blank("xx")) if len(doc))
    except CorpusFormatError as err:
        fail(str(err))
    except ValueError as err:  # not a DocBin
        fail(f"paths.unlabeled: {unlabeled}: {err}")
    # The pipelines' configs record the corpus folders by path, so the run is written where it
    # stays, with an old OUTPUT aside until it has finished.
    with folder_in_place(output):
        if not n_unlabeled:
            say("warn", f"{unlabeled} holds no text to self-train on: training once")
            train(config_path, output, use_gpu=gpu_id, overrides=overrides)
            return
        model = output / "teacher"
        say("info", f"Round 0: the labeled docs only, into {model}")
        train(config_path, model, use_gpu=gpu_id, overrides=overrides)
        scores = [f"round 0 {_dev_score(model)}"]
        for k in range(1, rounds + 1):
            data = output / "self_training" / f"round{k}"
            nlp = load_pipeline(model / "model-best", gpu_id)
            report = write_self_training_data(
                nlp, labeled, unlabeled, data, threshold, min_entities, outside, progress=progress_printer(), selection=select
            )
            say(
                "info",
                f"Round {k}: {model / 'model-best'} keeps {report.kept} of {report.docs} unlabeled docs "
                f"({sum(report.entities.values())} entities) in {data}",
            )
            if not report.kept:
                # The next round would train on the labeled docs alone again: the same run.
                say("warn", f"Round {k}: no unlabeled doc is sure enough, so self-training stops here with round {k - 1}'s "
                    "pipeline (a lower --threshold or --min-entities, or --select token, keeps more)")
                for name in ("model-best", "model-last"):
                    shutil.copytree(model / name, output / name)
                break
            model = output if k == rounds else output / f"round{k}"
            train(config_path, model, use_gpu=gpu_id, overrides={**overrides, "paths.train": str(data)})
            scores.append(f"round {k} {_dev_score(model)}")
        say("good", f"Self-training done, dev F1: {', '.join(scores)}; the last round's pipeline is {output / 'model-best'}")


def _config_paths(config_path: Path, overrides: dict) -> dict:
    """The [paths] section of the config, after overrides, or a one-line error."""
    try:
        return util.load_config(config_path, overrides=overrides, interpolate=True).get("paths", {})
    except ConfigValidationError as err:
        fail(f"{config_path}: {_one_line(err)}")


def _check_output(output: Path, config_path: Path, paths: dict) -> None:
    """Before anything trains: the output is a folder that holds no input and lies in none."""
    inputs = [config_path] + [Path(v) for v in paths.values() if isinstance(v, str) and v and Path(v).exists()]
    try:
        check_folder_output(output)
        check_outputs([output], inputs)
    except OutputError as err:
        fail(str(err))


def _self_training_inputs(config_path: Path, paths: dict):
    """paths.train and paths.unlabeled of the config (after overrides), checked."""
    found = {}
    for key in ("train", "unlabeled"):
        value: Optional[str] = paths.get(key)
        if value is None:
            fail(f"self-training needs paths.{key} (set it in {config_path} or with --paths.{key})")
        if not Path(value).exists():
            fail(f"paths.{key}: {value} does not exist")
        found[key] = Path(value)
    return found["train"], found["unlabeled"]


def _dev_score(model: Path) -> str:
    """model-best's dev entity F1 from its meta.json, as spaCy wrote it after training."""
    meta = util.load_meta(model / "model-best" / "meta.json")
    score = meta.get("performance", {}).get("ents_f")
    return "?" if score is None else f"{100 * score:.2f}"


def _one_line(err: ConfigValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in err.errors) or str(err.title)
