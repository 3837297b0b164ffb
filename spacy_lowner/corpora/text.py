"""Unlabeled text: `text` (one document per non-empty line) and `jsonl` (one JSON object
with a "text" key per line). The docs are tokenized by the given pipeline (a blank
Chinese pipeline makes one token per character) and carry no entity annotation."""
import json
from pathlib import Path
from typing import Any, Dict, Iterator, Tuple

from spacy.language import Language
from spacy.tokens import Doc

from .errors import CorpusFormatError, read_lines


def read_text(path: Path, nlp: Language) -> Iterator[Doc]:
    for _, line in read_lines(path):
        if line.strip():
            yield nlp.make_doc(line.strip())


def read_jsonl(path: Path, nlp: Language) -> Iterator[Doc]:
    for _, row in read_json_rows(path):
        if row["text"].strip():
            yield nlp.make_doc(row["text"].strip())


def read_json_rows(path: Path) -> Iterator[Tuple[int, Dict[str, Any]]]:
    """Yield (line number, object) for each non-blank line; each must be a JSON object
    with a string "text"."""
    for line_no, line in read_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise CorpusFormatError(path, line_no, f"invalid JSON: {err.msg} (column {err.colno})") from None
        except RecursionError:
            raise CorpusFormatError(path, line_no, "invalid JSON: nested too deeply") from None
        if not isinstance(row, dict) or not isinstance(row.get("text"), str):
            raise CorpusFormatError(path, line_no, 'expected a JSON object with a string "text"')
        yield line_no, row
