"""Give every CJK character a tokenizer piece of its own.

e5's unigram vocabulary merges frequent runs of characters ("在北京" is one piece), and
spacy-transformers gives each character of a piece that piece's vector: an entity boundary
inside a piece cannot be seen, and about 2% of WeiboNER's entity boundaries fall inside one
(reports/encoder_floor). Chinese BERTs read one character per piece. `encoder single-chars`
copies an encoder folder with a pre-tokenizer that isolates each CJK character before the
unigram model, so each character the vocabulary holds becomes its own piece (the me5-zh
vocabulary keeps every single-character piece of the source); Latin words, digits and emoji
are split as before. The weights are unchanged: single-character pieces are in e5's
vocabulary and pretraining, only their sequences are new to it, which is what training on
the task has to show.
"""
import json
from pathlib import Path

from ..tools.outputs import check_outputs, edited_copy
from .cjk import cjk_character_class
from .folder import PROVENANCE, read_provenance, write_json

TOKENIZER = "tokenizer.json"


def single_character_pre_tokenizer(pre_tokenizer: dict) -> dict:
    """A sentencepiece Metaspace pre-tokenizer preceded by a split that isolates each CJK
    character. The Metaspace then marks only the text's first piece as a word start ("first"),
    as it did when the characters were not split apart: with "always" each character would
    get a "▁" piece or prefix of its own."""
    split = {"type": "Split", "pattern": {"Regex": cjk_character_class()}, "behavior": "Isolated", "invert": False}
    if (pre_tokenizer.get("pretokenizers") or [None])[0] == split:
        raise ValueError("its pre-tokenizer gives each CJK character a piece of its own already")
    if pre_tokenizer.get("type") != "Metaspace":
        raise ValueError(
            f"its pre-tokenizer is {pre_tokenizer.get('type')!r}; single characters are made for a sentencepiece "
            "(Metaspace) tokenizer such as e5's (BERT's own pre-tokenizer splits CJK characters already)"
        )
    return {"type": "Sequence", "pretokenizers": [split, {**pre_tokenizer, "prepend_scheme": "first"}]}


def make_single_character_folder(source: Path, output: Path) -> Path:
    """Copy the encoder folder `source` to `output` with single-character CJK pieces (all or
    nothing: the copy is made beside `output` and renamed into place)."""
    source, output = Path(source), Path(output)
    check_outputs([output], [source])
    if output.exists():
        raise FileExistsError(f"{output} exists; give a new folder")
    tokenizer_path = source / TOKENIZER
    if not tokenizer_path.is_file():
        raise ValueError(f"{source} has no {TOKENIZER} (a fast tokenizer, as `encoder build` writes)")
    tokenizer = json.loads(tokenizer_path.read_text(encoding="utf8"))
    try:
        tokenizer["pre_tokenizer"] = single_character_pre_tokenizer(tokenizer.get("pre_tokenizer") or {})
    except ValueError as err:
        raise ValueError(f"{tokenizer_path}: {err}") from None
    with edited_copy(source, output) as folder:
        write_json(folder / TOKENIZER, tokenizer)
        if (folder / PROVENANCE).is_file():
            provenance = read_provenance(folder)
            provenance["single_characters"] = True
            if "request" in provenance:  # not what `encoder build` writes: it must not reuse this folder
                provenance["request"]["single_characters"] = True
            write_json(folder / PROVENANCE, provenance)
    return output
