"""`python -m spacy_lowner convert`: a corpus file to a spaCy DocBin."""
from enum import Enum
from pathlib import Path
from typing import Optional

import typer
from wasabi import msg

from ..corpora import FORMATS, CorpusFormatError, convert
from . import app, fail

# typer offers a fixed set of choices through an Enum.
Format = Enum("Format", [(fmt, fmt) for fmt in FORMATS], type=str)  # type: ignore[misc]

_FORMAT_HELP = (
    "Input format: weibo (WeiboNER character+position columns), conll (CoNLL-2002/2003 and "
    "WNUT-17 columns: first the word, last the BIO tag), cluener (CLUENER2020 JSON lines), "
    'text (unlabeled, a document per line), jsonl (unlabeled, {"text": ...} per line).'
)
_LANG_HELP = (
    "Pipeline language. Tokenizes text and jsonl (required for them); for conll, zh and ja "
    "join the words without spaces. Default: zh for weibo and cluener, xx for conll."
)


@app.command("convert")
def convert_cli(
    fmt: Format = typer.Argument(..., metavar="FORMAT", help=_FORMAT_HELP),
    input_path: Path = typer.Argument(
        ..., metavar="INPUT", help="Corpus file to read.", exists=True, dir_okay=False
    ),
    output_path: Path = typer.Argument(
        ..., metavar="OUTPUT", help="The .spacy file (DocBin) to write.", dir_okay=False
    ),
    lang: Optional[str] = typer.Option(None, "--lang", "-l", help=_LANG_HELP),
    nam_only: bool = typer.Option(
        False, "--nam-only", help="weibo only: drop the nominal mentions (*.NOM), keep the named ones."
    ),
    allow_empty: bool = typer.Option(
        False, "--allow-empty", help="Write an empty DocBin for an input with no documents (an error otherwise)."
    ),
) -> None:
    """Convert a corpus file to a spaCy DocBin and summarise it.

    A format error is reported as PATH:LINE: MESSAGE with exit code 1; no output file is written then. OUTPUT may not be INPUT.
    """
    msg.info(f"Converting {input_path} ({fmt.value})")
    try:
        report = convert(fmt.value, input_path, output_path, lang=lang, nam_only=nam_only, allow_empty=allow_empty)
    except (CorpusFormatError, ValueError, OSError) as err:  # OSError: a file that could not be written
        fail(str(err))
    msg.good(f"Wrote {report.docs} docs, {report.tokens} tokens, {report.n_entities} entities")
    msg.text(f"to {output_path}")
    if report.entities:
        msg.table(sorted(report.entities.items()), header=("type", "entities"), aligns=("l", "r"))
    if report.dropped_nested:
        msg.warn(
            f"Dropped {report.dropped_nested} span(s) that overlap another one: of overlapping "
            "spans the longest is kept, or the first listed among equally long ones"
        )
