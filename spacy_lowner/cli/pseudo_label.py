"""`python -m spacy_lowner pseudo-label`: self-training data from a trained pipeline."""
import time
from pathlib import Path
from typing import Callable, List, Optional

import typer
from spacy.language import Language
from spacy.tokens import DocBin

from ..corpora import CorpusFormatError
from ..tools.outputs import OutputError, check_outputs, write_files
from ..training.pseudo_labels import OUTSIDE, SELECTIONS, PseudoLabelReport, pseudo_label, write_soft_labels
from ..training.readers import read_unlabeled
from . import app, fail, load_pipeline, say

# A progress line every this many docs.
PROGRESS_EVERY = 1000
SELECT_HELP = (
    "doc: keep a doc only if every token is sure; token: keep every doc with a sure token, its unsure tokens "
    "(and any entity they are part of) left unknown for the CRF to marginalise."
)
# The options that choose what is sure; --soft writes every doc's whole distribution instead.
SELECTION_OPTIONS = {"threshold": "--threshold", "min_entities": "--min-entities", "outside": "--outside", "select": "--select"}


def progress_printer() -> Callable[[PseudoLabelReport], None]:
    """A `progress` callback for pseudo_label: a line every PROGRESS_EVERY docs."""
    start = time.perf_counter()
    shown = [0]

    def show_progress(report: PseudoLabelReport) -> None:
        if report.docs >= shown[0] + PROGRESS_EVERY:
            shown[0] = report.docs
            say("info", f"{report.docs} docs tagged, {report.kept} kept ({time.perf_counter() - start:.0f} s)")

    return show_progress


def given_options(ctx: typer.Context, options: dict) -> List[str]:
    """The options (parameter name -> flag) that were given on the command line."""
    # By the source's name: recent typer versions vendor click, with an enum of their own.
    sources = {name: ctx.get_parameter_source(name) for name in options}
    return [flag for name, flag in options.items() if getattr(sources[name], "name", None) == "COMMANDLINE"]


@app.command("pseudo-label")
def pseudo_label_command(
    ctx: typer.Context,
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
        ...,
        help="The .spacy DocBin to write: the confident docs, their predicted entities as annotation (with --soft: every "
        "doc, its tag distributions as soft labels).",
        dir_okay=False,
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
    soft: bool = typer.Option(
        False,
        "--soft",
        help="Soft labels: write every doc as text only (no entity annotation) with the pipeline's probability of "
        "each tag per token (CRF marginals, float16) as its teacher channel, for an objective that reads batch.teacher; "
        "--threshold, --min-entities, --outside and --select do not apply.",
    ),
    component: Optional[str] = typer.Option(
        None, "--component", "-c", help="The lowner_ner component to read, if the pipeline has several."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Tag unlabeled text with a trained pipeline and keep the docs it is sure of, its entities as their annotation: training data for self-training (train again on the labeled docs plus OUTPUT, e.g. with both in one folder as paths.train).

    By default a doc is kept only if every token is sure (its decoded tag's CRF marginal at least --threshold), so one unsure token leaves the whole doc out; --select token keeps the sure tokens of every doc instead. Docs with fewer than --min-entities predicted entities are left out too: a weak tagger's all-O docs are mostly docs whose entities it missed.

    With --soft every doc is written, unlabeled, with the pipeline's tag distribution per token as soft labels (a student distils them; MixedCorpus's `unlabeled` keeps them).
    """
    misplaced = given_options(ctx, SELECTION_OPTIONS) if soft else []
    if misplaced:
        fail(f"{', '.join(misplaced)}: not with --soft, which writes every doc with its whole tag distribution")
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
    if soft:
        write_soft_label_file(nlp, input_path, output, component)
        return
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


def write_soft_label_file(nlp: Language, input_path: Path, output: Path, component: Optional[str]) -> None:
    """`pseudo-label --soft`: every doc of `input_path`, soft-labeled by `nlp`, to `output`."""
    start = time.perf_counter()
    try:
        report = write_soft_labels(nlp, read_unlabeled(input_path, nlp), output, component, progress=progress_printer())
    except CorpusFormatError as err:
        fail(str(err))
    except ValueError as err:
        fail(f"{input_path}: {err}")
    seconds = time.perf_counter() - start
    size = output.stat().st_size / 1e6
    say("good", f"Soft-labeled {report.docs} docs in {output} ({size:.1f} MB, {seconds:.1f} s)")
