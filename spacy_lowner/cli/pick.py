"""`python -m spacy_lowner pick`: AdvPicker's discriminator-picked soft labels (training/picking.py)."""
import time
from pathlib import Path
from typing import Callable, List, Optional

import typer

from ..corpora import CorpusFormatError
from ..tools.outputs import OutputError, check_outputs
from ..training.picking import DEFAULT_RHO, language_objective, write_picked
from ..training.pseudo_labels import find_tagger
from ..training.readers import read_unlabeled
from . import app, fail, load_pipeline, say
from .pseudo_label import PROGRESS_EVERY


def progress_printer(n_teachers: int) -> Callable[[int, int], None]:
    """A `progress` callback for write_picked: a line every PROGRESS_EVERY docs of each teacher."""
    start = time.perf_counter()
    shown = [-1, 0]  # (teacher, docs) last shown

    def show_progress(teacher: int, done: int) -> None:
        if teacher != shown[0]:
            shown[:] = [teacher, 0]
        if done >= shown[1] + PROGRESS_EVERY:
            shown[1] = done
            say("info", f"teacher {teacher + 1}/{n_teachers}: {done} docs tagged ({time.perf_counter() - start:.0f} s)")

    return show_progress


@app.command("pick")
def pick_command(
    paths: List[Path] = typer.Argument(
        ...,
        metavar="TEACHER... INPUT OUTPUT",
        help="One or more teacher pipelines trained with the language_adversarial objective (folders or package names), "
        'then the unlabeled target-language text (.txt: a text per line; .jsonl: {"text": ...} per line; .spacy: tokens '
        "kept), then the .spacy DocBin to write.",
    ),
    rho: float = typer.Option(
        DEFAULT_RHO, "--rho", help="The share of the sentences to keep: the most language-independent, by 1 - |p - 0.5|."
    ),
    component: Optional[str] = typer.Option(
        None, "--component", "-c", help="The lowner_ner component to read, if the pipelines have several."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Pick the target-language sentences a language discriminator finds most language-independent (AdvPicker) and write them with a teacher's tag distributions as soft labels, for a student trained with the distillation objective (configs/parts/distillation.cfg).

    Each sentence's p is the teacher's kept discriminator's mean probability of "source" over its tokens; the top --rho of the sentences by 1 - |p - 0.5| are written. With several teachers (seeds), each sentence takes the labels, and the p, of the teacher whose labels are surest (the highest mean probability of the top tag): one picked set for every student seed.
    """
    if len(paths) < 3:
        fail("give at least one TEACHER, then INPUT and OUTPUT")
    *teachers, input_path, output = paths
    if not 0 < rho <= 1:
        fail(f"--rho must be in (0, 1], got {rho}")
    if not input_path.is_file():
        fail(f"INPUT {input_path} is not a file")
    if output.suffix.lower() != ".spacy":
        fail(f"OUTPUT must be a .spacy file, got {output}")
    try:
        check_outputs([output], [input_path] + [model for model in teachers if model.exists()])
    except OutputError as err:
        fail(str(err))
    pipelines = [load_teacher(model, component, gpu_id) for model in teachers]
    start = time.perf_counter()
    try:
        report = write_picked(
            pipelines, read_unlabeled(input_path, pipelines[0]), output, rho, component,
            progress=progress_printer(len(pipelines)),
        )
    except CorpusFormatError as err:
        fail(str(err))
    except ValueError as err:
        fail(f"{input_path}: {err}")
    seconds = time.perf_counter() - start
    say("good", f"Picked {report.picked} of {report.docs} docs in {output} (rho {rho}, {seconds:.1f} s)")
    say(
        "info",
        f"P(source): mean {report.mean_picked:.3f} picked, {report.mean_left_out:.3f} left out; "
        f"the cut at 1 - |p - 0.5| = {report.cut:.3f}" + (f"; {report.empty} empty docs left out" if report.empty else ""),
    )
    if len(pipelines) > 1:
        say("info", "labels by teacher: " + ", ".join(f"{model} {n}" for model, n in zip(teachers, report.by_teacher)))


def load_teacher(model: Path, component: Optional[str], gpu_id: int):
    """A teacher pipeline whose lowner_ner component keeps a language discriminator, or a
    one-line error naming it."""
    nlp = load_pipeline(model, gpu_id)
    try:
        language_objective(nlp, find_tagger(nlp, component))
    except ValueError as err:
        fail(f"{model}: {err}")
    return nlp
