"""`python -m spacy_lowner kl-phase`: the KL regularisers as their paper runs them, a second
training phase on a trained pipeline (training/kl_phase.py)."""
import json
import time
from pathlib import Path
from typing import List, Optional

import typer
from spacy.language import Language
from spacy.tokens import DocBin
from spacy.training import Example

from ..component.pipe import LowNERTagger
from ..corpora import CorpusFormatError
from ..corpora.docs import tokens_only
from ..errors import NonFiniteScoresError, TrainingDivergedError
from ..tools.outputs import OutputError, check_outputs, new_folder
from ..training.kl_phase import PAPER_PAIRS, TERMS, Checkpoint, KLPhase, KLPhaseSettings
from ..training.readers import UNLABELED_SUFFIXES, read_unlabeled
from . import app, fail, load_pipeline, say

# What OUTPUT holds besides model-best and model-last: the settings and every checkpoint's scores.
RESULT_FILE = "kl_phase.json"


@app.command("kl-phase")
def kl_phase_command(
    model: Path = typer.Argument(..., help="A trained pipeline with a lowner_ner component (its model-best).", exists=False),
    output: Path = typer.Argument(..., help="A new folder for model-best, model-last and kl_phase.json."),
    labeled: Path = typer.Option(..., "--labeled", "-l", help="Labeled docs (.spacy), e.g. the training set's."),
    unlabeled: Optional[Path] = typer.Option(
        None, "--unlabeled", "-u",
        help='Unlabeled text: .spacy (annotation ignored), .txt (a text per line) or .jsonl ({"text": ...} per line); '
        "not needed with --kl-steps-off.",
    ),
    dev: Path = typer.Option(..., "--dev", "-d", help="Labeled dev docs (.spacy): the best pair on them is model-best."),
    term: str = typer.Option(..., "--term", "-t", help=f"The KL term: {' or '.join(TERMS)}."),
    pairs: Optional[int] = typer.Option(
        None, "--pairs", "-n",
        help=f"Pairs of one KL step and one supervised step; default the paper's: "
        f"{', '.join(f'{n} for {t}' for t, n in PAPER_PAIRS.items())}.",
    ),
    freeze_encoder: bool = typer.Option(
        True, "--freeze-encoder/--train-encoder",
        help="Train only the lowner_ner head, on the encoder's output in inference mode (the paper's frozen BERT), "
        "or the encoder too (through nlp.update; give a --lr and --kl-lr the encoder trains at).",
    ),
    stop_gradient: bool = typer.Option(
        False, "--stop-gradient",
        help="Hold the confidence KL's sharpened target constant, as the kl_confidence objective does (the authors' "
        "code does not).",
    ),
    control: bool = typer.Option(
        False, "--kl-steps-off",
        help="The control: the same run (the same labeled batches, in the same order) without the KL steps.",
    ),
    reduction: str = typer.Option(
        "sum", "--reduction",
        help="sum: the authors' (the confidence KL summed over the batch's tokens, the prior KL one value per batch); "
        "doc_mean: the objectives' scale (per unlabeled doc).",
    ),
    batch_size: int = typer.Option(
        128, "--batch-size", "-b", help="Docs per batch, labeled and unlabeled (the paper's: 128)."
    ),
    learn_rate: float = typer.Option(
        0.001, "--lr", help="Learning rate of the supervised steps' Adam (the authors': 0.001)."
    ),
    kl_learn_rate: float = typer.Option(
        0.001, "--kl-lr", help="Learning rate of the KL steps' Adam (the authors': 0.001)."
    ),
    eval_every: int = typer.Option(10, "--eval-every", help="Score dev every this many pairs, and after the last."),
    seed: int = typer.Option(0, "--seed", "-s", help="Seeds the batch order and the dropout."),
    component: Optional[str] = typer.Option(
        None, "--component", "-c", help="The lowner_ner component to train, if the pipeline has several."
    ),
    gpu_id: int = typer.Option(-1, "--gpu-id", "-g", help="GPU id, or -1 for CPU."),
) -> None:
    """Continue a trained pipeline as the KL-regulariser paper does: pairs of one step on the KL term over an unlabeled batch (an Adam of its own) and one supervised step over a labeled batch (another Adam), 40 pairs for --term prior and 80 for --term confidence, with the encoder frozen.

    Dev is scored before the first pair and every --eval-every pairs: the best pipeline on dev (the one given, if no pair beats it) is OUTPUT/model-best, the last OUTPUT/model-last, and every checkpoint's scores are in OUTPUT/kl_phase.json. Run it again with --kl-steps-off for the control that tells what the KL steps add. Writes OUTPUT when it has finished, or nothing.
    """
    if unlabeled is None and not control:
        fail("--unlabeled is needed for the KL steps (only --kl-steps-off, the control, runs without it)")
    try:
        settings = KLPhaseSettings(
            term=term, pairs=pairs, kl_steps=0 if control else 1, batch_size=batch_size, learn_rate=learn_rate,
            kl_learn_rate=kl_learn_rate, freeze_encoder=freeze_encoder, stop_gradient=stop_gradient,
            reduction=reduction, eval_every=eval_every, seed=seed,
        )
    except ValueError as err:
        fail(str(err))
    inputs = {"--labeled": labeled, "--dev": dev, **({"--unlabeled": unlabeled} if unlabeled else {})}
    _check_paths(model, output, inputs)
    nlp = load_pipeline(model, gpu_id)
    if not any(isinstance(pipe, LowNERTagger) for _, pipe in nlp.pipeline):
        components = ", ".join(nlp.pipe_names) or "none"
        fail(f"{model} has no lowner_ner component (its components: {components}); kl-phase continues a trained one")
    labeled_examples = _gold_examples(nlp, labeled, "--labeled")
    dev_examples = _gold_examples(nlp, dev, "--dev")
    unlabeled_examples = _text_examples(nlp, unlabeled) if unlabeled else []
    try:
        phase = KLPhase(nlp, labeled_examples, unlabeled_examples, settings, component)
    except ValueError as err:
        fail(f"{model}: {err}")
    what = "the control (supervised steps only)" if control else f"the {term} KL"
    encoder = "the encoder frozen" if freeze_encoder else "the encoder training"
    say("info", f"{settings.n_pairs} pairs of {what}, {encoder}: {len(phase.labeled)} labeled, "
        f"{len(phase.unlabeled)} unlabeled and {len(dev_examples)} dev docs")
    start = time.perf_counter()
    try:
        with new_folder(output) as folder:
            result = phase.run(dev_examples, folder, progress=_progress_printer(settings.n_pairs, start))
            summary = {"model": str(model), "settings": {**vars(settings), "pairs": settings.n_pairs}, **result.to_dict()}
            # The time of the pairs and dev scores, which the benchmark harness records.
            summary["seconds"] = round(time.perf_counter() - start, 1)
            (folder / RESULT_FILE).write_text(json.dumps(summary, indent=2), encoding="utf8")
    except (TrainingDivergedError, NonFiniteScoresError) as err:
        fail(f"{model}: {err} Here: lower --lr and --kl-lr.")
    best = result.best
    say("good", f"Wrote {output / 'model-best'} (pair {best.pair}) and {output / 'model-last'} "
        f"({result.kl_steps} KL and {result.supervised_steps} supervised steps, {time.perf_counter() - start:.0f} s)")
    say("info", f"Best on dev, pair {best.pair}: {_scores_line(best)}")


def _check_paths(model: Path, output: Path, inputs: dict) -> None:
    """Every input is a file, and OUTPUT is new and holds no input."""
    for option, path in inputs.items():
        if not path.is_file():
            fail(f"{option}: {path} {'is a folder, not a file' if path.is_dir() else 'does not exist'}")
    if output.exists():
        fail(f"{output} exists: kl-phase writes a new folder; give another OUTPUT or move it")
    try:
        check_outputs([output], [*inputs.values(), *([model] if model.exists() else [])])
    except OutputError as err:
        fail(str(err))


def _gold_examples(nlp: Language, path: Path, option: str) -> List[Example]:
    """The docs of a labeled DocBin, each with a copy of its tokens to predict on, or a one-line error."""
    if path.suffix.lower() != ".spacy":
        fail(f"{option}: {path} must be a .spacy DocBin of labeled docs")
    try:
        docs = list(DocBin().from_disk(path).get_docs(nlp.vocab))
    except ValueError as err:  # not a DocBin
        fail(f"{option}: {path}: {err}")
    for i, doc in enumerate(docs, start=1):
        if not doc.has_annotation("ENT_IOB"):
            fail(f"{option}: doc {i} of {path} has no entity annotation; unlabeled text goes in --unlabeled")
    if not any(len(doc) for doc in docs):
        fail(f"{option}: {path} holds no docs")
    if option == "--dev" and not any(doc.ents for doc in docs):
        fail(f"{option}: {path} has no gold entities to pick the best pair by")
    return [Example(tokens_only(doc, nlp.vocab), doc) for doc in docs]


def _text_examples(nlp: Language, path: Path) -> List[Example]:
    """The unlabeled docs of `path` as examples without annotation, or a one-line error."""
    if path.suffix.lower() not in UNLABELED_SUFFIXES:
        fail(f"--unlabeled: {path} must be {', '.join(UNLABELED_SUFFIXES)}")
    try:
        docs = [doc for doc in read_unlabeled(path, nlp) if len(doc)]
    except CorpusFormatError as err:
        fail(str(err))
    except ValueError as err:  # not a DocBin
        fail(f"--unlabeled: {path}: {err}")
    if not docs:
        fail(f"--unlabeled: {path} holds no text")
    return [Example(tokens_only(doc, nlp.vocab), doc) for doc in docs]


def _progress_printer(n_pairs: int, start: float):
    """A line per checkpoint: the losses since the last one and the dev scores."""

    def show(point: Checkpoint, best: Checkpoint) -> None:
        losses = ", ".join(
            f"{name} loss {value:.4g}"
            for name, value in (("KL", point.kl_loss), ("supervised", point.supervised_loss))
            if value is not None
        )
        where = "the pipeline as given" if point.pair == 0 else f"pair {point.pair}/{n_pairs}"
        mark = " (best)" if best is point else ""
        say("info", f"{where}: {losses + '; ' if losses else ''}dev {_scores_line(point)}{mark} "
            f"({time.perf_counter() - start:.0f} s)")

    return show


def _scores_line(point: Checkpoint) -> str:
    """Entity F1 and the paper's token-level scores, in percent."""
    names = {"ents_f": "entity F1", "tokens_macro_f": "token macro F1 (no O)", "tokens_acc_no_o": "token accuracy without O"}
    return ", ".join(f"{label} {100 * point.scores[key]:.2f}" for key, label in names.items() if key in point.scores)
