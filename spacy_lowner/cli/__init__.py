"""`python -m spacy_lowner ...`: the commands project.yml calls.

Each sub-module adds its commands to `app`; importing them here registers them.
"""
import typer

app = typer.Typer(
    name="spacy_lowner",
    help="Data and encoder tools for spacy-lowner (low-resource NER for spaCy).",
    no_args_is_help=True,
    add_completion=False,
)

from . import benchmark, convert, encoder, package  # noqa: E402,F401  (registers the commands)
