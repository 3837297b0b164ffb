"""`python -m spacy_lowner ...`: the commands project.yml calls.

Each sub-module adds its commands to `app`; importing them here registers them.
"""
import sys
from typing import NoReturn

import spacy
import typer
from wasabi import Printer, color
from wasabi.util import locale_escape

app = typer.Typer(
    name="spacy_lowner",
    help="Data and encoder tools for spacy-lowner (low-resource NER for spaCy).",
    no_args_is_help=True,
    add_completion=False,
)

_printer = Printer(no_print=True)


def say(kind: str, text: str) -> None:
    """Print `text` as wasabi's `kind` message ("info", "good", "warn", "fail") on stderr, on
    one line: wasabi wraps at 80 columns, which would split the file:line prefixes, paths and
    pip commands these messages carry."""
    if _printer.pretty:
        text = locale_escape(f"{_printer.icons[kind]} {text}").strip()
        if _printer.show_color:
            text = color(text, fg=_printer.colors[kind])
    print(text, file=sys.stderr)


def fail(text: str) -> NoReturn:
    """Report a user error (bad input, bad option) in one line and exit 1, no traceback."""
    say("fail", text)
    raise typer.Exit(1)


def load_pipeline(model, gpu_id: int):
    """spacy.load(model), on the GPU gpu_id (-1: CPU), or a one-line error and exit 1."""
    if gpu_id >= 0:
        try:
            spacy.require_gpu(gpu_id)
        except (ImportError, ValueError, RuntimeError) as err:  # no CuPy, no GPU; CuPy's CUDA errors are RuntimeErrors
            fail(f"Cannot use GPU {gpu_id} (--gpu-id): {err}; --gpu-id -1 runs on the CPU")
    try:
        return spacy.load(model)
    except (OSError, ValueError) as err:
        fail(f"Cannot load the pipeline {model}: {err}")


from . import config, convert, encoder, errors, kl_phase, package, pick, pseudo_label, sample, train  # noqa: E402,F401  (registers the commands)
