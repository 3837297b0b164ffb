"""`python -m spacy_lowner pseudo-label`: self-training data from a trained pipeline."""
import time
from pathlib import Path
from typing import Callable, Optional

import typer
from spacy.tokens import DocBin

from ..corpora import CorpusFormatError
from ..tools.outputs import OutputError, check_outputs, write_files
from ..training.pseudo_labels import OUTSIDE, SELECTIONS, PseudoLabelReport, pseudo_label
from ..training.readers import read_unlabeled
from . import app, fail, load_pipeline, say

# A progress line every this many docs.
PROGRESS_EVERY = 1000
SELECT_HELP = (
    "doc: keep a doc only if every token is sure; token: keep every doc with a sure token, its unsure tokens "
    "(and any entity they are part of) left unknown for the CRF to marginalise."
)


def progress_printer() -> Callable[[PseudoLabelReport], None]:
    """A `progress` callback for pseudo_label: a line every PROGRESS_EVERY docs."""
    start = time.perf_counter()
    shown = [0]

    def show_progress(report: PseudoLabelReport) -> None:
        if report.docs >= shown[0] + PROGRESS_EVERY:
            shown[0] = report.docs
            say("info", f"{report.docs} docs tagged, {report.kept} kept ({time.perf_counter() - start:.0f} s)")

    return show_progress


@app.command("pseudo-label")
def pseudo_label_command(
    model: Path = typer.Argument(
        ..., help="A trained pipeline with a lowner_ner component (folder or installed package name).", exists=False
    ),
    input_path: Path = typer.Argument(
        ...,
        metavar="INPUT",
        help='Unlabeled text: .txt (a text per line), .jsonl ({"text": ...} per line) or .spacy (tokens kept, '
        "annotation ignored).",
        exists=True,
        dir_okay=False,
    ),
    output: Path = typer.Argument(
        ..., help="The .spacy DocBin to write: the confident docs, their predicted entities as annotation.", dir_okay=False
    ),
    threshold: float = typer.Option(
        0.9, "--threshold", "-t", help="A token is sure if its decoded tag has at least this probability (CRF marginal)."
    ),
    min_entities: int = typer.Option(
        1, "--min-entities", "-m",
        help="Keep a doc only if the pipeline finds at least this many entities in it (0: all-O docs too).",
    ),
    outside: str = typer.Option(
        "O",
        "--outside",
        help="The tokens outside the predicted entities: O, or missing (left unknown; lowner_ner's CRF marginalises "
        "them, so entities the pipeline missed are not taught as O).",
    ),
    select: str = typer.Option(
        "doc", "--select", help=SELECT_HELP,
    ),
    component: Optional[str] = typer.Option(
        None, "--component", "-c", help="The lowner_ner component to read, if the pipeline has several."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Tag unlabeled text with a trained pipeline and keep the docs it is sure of, its entities as their annotation: training data for self-training (train again on the labeled docs plus OUTPUT, e.g. with both in one folder as paths.train).

    By default a doc is kept only if every token is sure (its decoded tag's CRF marginal at least --threshold), so one unsure token leaves the whole doc out; --select token keeps the sure tokens of every doc instead. Docs with fewer than --min-entities predicted entities are left out too: a weak tagger's all-O docs are mostly docs whose entities it missed.
    """
    if outside not in OUTSIDE:
        fail(f"--outside must be one of {', '.join(OUTSIDE)}, got {outside!r}")
    if select not in SELECTIONS:
        fail(f"--select must be one of {', '.join(SELECTIONS)}, got {select!r}")
    if output.suffix.lower() != ".spacy":
        fail(f"OUTPUT must be a .spacy file, got {output}")
    try:
        check_outputs([output], [input_path] + ([model] if model.exists() else []))
    except OutputError as err:
        fail(str(err))
    nlp = load_pipeline(model, gpu_id)
    start = time.perf_counter()
    try:
        kept, report = pseudo_label(
            nlp, read_unlabeled(input_path, nlp), threshold, min_entities, outside, component,
            progress=progress_printer(), selection=select,
        )
    except CorpusFormatError as err:
        fail(str(err))
    except ValueError as err:
        fail(f"{input_path}: {err}")
    if not report.docs:
        fail(f"{input_path} holds no text")
    write_files({output: DocBin(docs=kept, store_user_data=True).to_bytes()})
    seconds = time.perf_counter() - start
    n_entities = sum(report.entities.values())
    say("good", f"Kept {report.kept} of {report.docs} docs ({n_entities} entities) in {output} ({seconds:.1f} s)")
    unsure = f"with a token below {threshold}" if select == "doc" else f"with no token at {threshold} or above"
    say("info", f"left out: {report.too_unsure} {unsure}, {report.too_few_entities} with fewer than {min_entities} entities")
    if report.unknown_tokens:
        say("info", f"{report.unknown_tokens} unsure tokens of the kept docs left unknown")
    if report.entities:
        say("info", "entities: " + ", ".join(f"{label} {n}" for label, n in sorted(report.entities.items())))
