"""`python -m spacy_lowner sample`: a low-resource split of a labeled DocBin."""
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ..training.sampling import CoverTooLargeError, sample_corpus
from . import app, fail

_UNLABELED_HELP = (
    "Where the other docs go, without entity annotation, by suffix: .spacy (a DocBin of their "
    'tokens, tokenization kept; what the project uses), .txt (a text per line) or .jsonl ({"text": '
    "...} per line). spacy_lowner.MixedCorpus.v1 reads all three as `unlabeled`."
)


@app.command("sample")
def sample_cli(
    input_path: Path = typer.Argument(
        ..., metavar="INPUT", help="Labeled DocBin (.spacy) to split, e.g. the converted train set.",
        exists=True, dir_okay=False,
    ),
    labeled_path: Path = typer.Argument(
        ..., metavar="LABELED", help="The .spacy file for the labeled docs (unchanged).", dir_okay=False
    ),
    unlabeled_path: Path = typer.Argument(..., metavar="UNLABELED", help=_UNLABELED_HELP, dir_okay=False),
    ratio: Optional[float] = typer.Option(
        None, "--ratio", "-r", help="Fraction of the docs to keep labeled, in (0, 1]: max(1, round(R * docs))."
    ),
    count: Optional[int] = typer.Option(None, "--count", "-n", help="Number of docs to keep labeled."),
    seed: int = typer.Option(0, "--seed", "-s", help="Random seed: the same input and seed give the same split."),
    keep_labels: bool = typer.Option(
        False, "--keep-labels", help="Keep the rest labeled too (a .spacy file): holds out LABELED as a dev split."
    ),
) -> None:
    # One line per paragraph: typer keeps the docstring's line breaks in --help.
    """Keep a few docs of a labeled corpus labeled and turn the rest into unlabeled text, to simulate a low-resource setting. Give exactly one of --ratio and --count.

    The labeled docs are a seeded random sample that shows every entity type of INPUT at least once: a greedy cover of the types is taken first, then filled up at random. If the size asked for is smaller than that cover, the command says what to ask for and exits 1. Both outputs keep the input order and are written only if everything succeeded.
    """
    if (ratio is None) == (count is None):
        fail("Give either --ratio or --count (one of them, not both).")
    msg.info(f"Sampling {input_path}")
    try:
        report = sample_corpus(input_path, labeled_path, unlabeled_path, ratio=ratio, count=count, seed=seed, keep_labels=keep_labels)
    except CoverTooLargeError as err:
        fail(err.advice("--count ", "--ratio "))
    except (ValueError, OSError) as err:  # OSError: a file that could not be written
        fail(str(err))
    split = report.split
    n_docs = len(split.labeled) + len(split.unlabeled)
    msg.good(f"Labeled: {len(split.labeled)} of {n_docs} docs, {sum(report.labeled_entities.values())} entities")
    msg.text(f"to {labeled_path}")
    msg.good(f"{'Rest (labeled)' if keep_labels else 'Unlabeled'}: {len(split.unlabeled)} docs")
    msg.text(f"to {unlabeled_path}")
    msg.text(f"{len(split.types)} entity types, all labeled; {len(split.cover)} docs picked to cover them (seed {seed})")
    if split.types:
        rows = [(label, report.labeled_entities[label], report.input_entities[label]) for label in split.types]
        msg.table(rows, header=("type", "labeled", "input"), aligns=("l", "r", "r"))
