"""`python -m spacy_lowner package`: a trained pipeline as a wheel under an exact name."""
from pathlib import Path

import typer
from wasabi import msg

from ..tools.packaging import PackagingError, package_pipeline
from . import app, fail


@app.command("package")
def package_cli(
    input_dir: Path = typer.Argument(
        ...,
        metavar="INPUT_DIR",
        help="Pipeline folder to package (config.cfg, meta.json and the component data, "
        "e.g. training/model-best).",
        exists=True,
        file_okay=False,
    ),
    output_dir: Path = typer.Argument(
        ...,
        metavar="OUTPUT_DIR",
        help="Parent folder; the package goes to OUTPUT_DIR/NAME-VERSION.",
        file_okay=False,
    ),
    name: str = typer.Option(
        ...,
        "--name",
        "-n",
        help="Exact distribution and module name, with no language prefix added "
        "(a Python identifier, lowercase recommended, e.g. lowner_weibo).",
    ),
    version: str = typer.Option("0.0.0", "--version", "-v", help="Package version (PEP 440)."),
    force: bool = typer.Option(
        False, "--force", "-f", help="Replace an existing OUTPUT_DIR/NAME-VERSION folder that `package` wrote (one with other files is refused)."
    ),
) -> None:
    """Package a trained pipeline as an installable wheel named exactly NAME.

    Unlike `spacy package`, no language prefix is added: after `pip install` of the wheel,
    `spacy.load("NAME")` loads the pipeline. Requirements (spacy, spacy-lowner and e.g.
    spacy-transformers) come from the pipeline's meta.json and config. The wheel is built
    with the installed setuptools, without network access.
    """
    if name != name.lower():
        msg.warn(f"'{name}' has uppercase letters; module names are usually lowercase")
    msg.info(f"Packaging {input_dir} as '{name}' {version}")
    try:
        wheel = package_pipeline(input_dir, output_dir, name, version=version, force=force)
    except OSError as err:  # a file that could not be copied or written
        fail(str(err))
    except PackagingError as err:
        # The first line is the reason; the rest (a build log) keeps its line breaks.
        reason, _, details = str(err).partition("\n")
        if details:
            typer.echo(details, err=True)
        fail(reason)
    msg.good("Built wheel", str(wheel))
    # Plain echo: wasabi would wrap the path inside the command.
    typer.echo(f"Install it with:  pip install {wheel}")
    typer.echo(f"then load it with:  spacy.load(\"{name}\")")
