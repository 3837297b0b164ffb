"""`python -m spacy_lowner config compose`: a training config from a base and partials."""
from pathlib import Path
from typing import List

import typer

from ..tools.outputs import OutputError, check_outputs, write_files
from ..training.compose import ComposeError, compose
from . import app, fail, say

config_app = typer.Typer(help="Training configs made of a base config and partial configs.", no_args_is_help=True)
app.add_typer(config_app, name="config")


@config_app.command("compose")
def compose_command(
    base: Path = typer.Argument(..., help="Base config: a dataset and an encoder, supervised (e.g. configs/weibo_cnn.cfg).", exists=True, dir_okay=False),
    parts: List[Path] = typer.Argument(
        None, help="Partial configs merged in order (e.g. configs/parts/mixed_batches.cfg configs/objectives/ssgan.cfg).", exists=True, dir_okay=False
    ),
    output: Path = typer.Option(..., "--output", "-o", help="The composed config to write.", dir_okay=False),
) -> None:
    """Merge partial configs into a base config, keeping their comments, and check that the result builds a pipeline.

    Blocks a partial adds are inserted under their parent; a block whose registered function a partial changes (@readers, @batchers, ...) is replaced whole; other settings are replaced one by one. Two partials that set one setting differently are an error. Settings can still be overridden on the `spacy train` command line.
    """
    parts = parts or []
    try:
        check_outputs([output], [base, *parts])
        text = compose(base, parts)
        write_files({output: text.encode("utf8")})
    except (ComposeError, OutputError, OSError) as err:
        fail(str(err))
    say("good", f"Wrote {output} ({base} + {len(parts)} part{'s' if len(parts) != 1 else ''})")
