"""`python -m spacy_lowner errors`: an error report of gold against predicted entities."""
import json
import time
from pathlib import Path
from typing import Optional

import typer
from spacy.tokens import DocBin
from spacy.training import Example

from ..corpora import FORMATS, CorpusFormatError, read_docs
from ..errors import NonFiniteScoresError
from ..tools.error_analysis import analyse
from ..tools.error_page import render_page
from ..tools.outputs import OutputError, check_outputs, write_files
from . import app, fail, load_pipeline, say


@app.command("errors")
def errors_command(
    model: Path = typer.Argument(..., help="A trained pipeline folder (or an installed package name).", exists=False),
    data: Path = typer.Argument(..., help="Gold data: a .spacy DocBin, or a corpus file with --format.", exists=True, dir_okay=False),
    output: Path = typer.Argument(..., help="The HTML page to write (self-contained, opens offline).", dir_okay=False),
    limit: int = typer.Option(200, "--limit", "-n", help="Documents with errors to draw, most errors first (at least 1)."),
    json_path: Optional[Path] = typer.Option(None, "--json", help="Also write the figures as JSON for scripts.", dir_okay=False),
    fmt: Optional[str] = typer.Option(None, "--format", "-f", help=f"Read DATA as a corpus file: {', '.join(FORMATS)}."),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Run a pipeline over gold data and write a page of its errors: counts by kind (correct, wrong type, wrong boundary, both, missed, spurious) overall, per label and per label group, a label confusion table, and the documents with errors drawn gold above predicted.

    The precision, recall and F1 on the page are those `spacy evaluate` reports for the same pipeline and data.
    """
    if limit < 1:
        fail(f"--limit must be at least 1, got {limit}")
    if not data.is_file():  # a device such as /dev/zero would be read into memory without end
        fail(f"{data} is not a regular file: give a .spacy DocBin, or a corpus file with --format")
    outputs = [output] + ([json_path] if json_path else [])
    try:
        check_outputs(outputs, [data] + ([model] if model.exists() else []))
    except OutputError as err:
        fail(str(err))
    nlp = load_pipeline(model, gpu_id)
    try:
        if fmt:
            if fmt not in FORMATS:
                fail(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
            gold = list(read_docs(fmt, data, nlp))
        else:
            gold = list(DocBin().from_disk(data).get_docs(nlp.vocab))
    except (CorpusFormatError, ValueError) as err:
        fail(f"{data}: {err}" if not isinstance(err, CorpusFormatError) else str(err))
    if not gold:
        fail(f"{data} holds no documents")
    if not any(doc.has_annotation("ENT_IOB") for doc in gold):
        fail(f"{data} has no entity annotation: the report compares predictions with gold entities")
    start = time.perf_counter()
    # Tokenized by the pipeline, as `spacy evaluate` does, so that the figures are its figures;
    # the scorer aligns the predicted entities to the gold tokens.
    try:
        predicted = list(nlp.pipe(nlp.make_doc(doc.text) for doc in gold))
    except NonFiniteScoresError as err:  # a diverged model: it cannot tag
        fail(f"{model}: {err}")
    report = analyse(Example(p, g) for p, g in zip(predicted, gold))
    title = f"Errors of {model} on {data.name}"
    files = {output: render_page(report, gold, predicted, title, limit).encode("utf8")}
    if json_path:
        files[json_path] = json.dumps({"model": str(model), "data": str(data), **report.to_dict()}, indent=2, ensure_ascii=False).encode("utf8")
    write_files(files)
    scores = report.scores()
    say("good", f"Wrote {', '.join(map(str, files))} ({len(gold)} docs in {time.perf_counter() - start:.1f} s)")
    say("info", f"P {100 * scores['ents_p']:.2f}  R {100 * scores['ents_r']:.2f}  F1 {100 * scores['ents_f']:.2f}; "
        + ", ".join(f"{kind} {report.counts[kind]}" for kind in report.counts))
