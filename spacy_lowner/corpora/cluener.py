"""Reader for CLUENER2020 JSON lines: `{"text": str, "label": {type: {surface: [[start, end], ...]}}}`.

Offsets are character offsets with an *inclusive* end and every character is a token.
Each span is checked against the text (`text[start:end + 1] == surface`).

Overlapping spans: `doc.ents` cannot hold them, so the longest (outermost) span is kept
and the spans it overlaps are dropped (`spacy.util.filter_spans`: among spans of equal
length the first one listed wins). In the official data this happens once, in train: the
book title 《招商银行：投资永隆银行浮亏逾百亿港元》 contains the company 招商银行. The
dropped spans are kept in `doc.spans[DROPPED_SPANS_KEY]` so they can be counted and
inspected.

Rows without a "label" (the unlabeled test split) become docs without entity annotation.
"""
from pathlib import Path
from typing import Any, Iterator, Tuple

from spacy.tokens import Doc, Span
from spacy.util import filter_spans
from spacy.vocab import Vocab

from .docs import make_doc
from .errors import CorpusFormatError, shorten
from .text import read_json_rows

DROPPED_SPANS_KEY = "lowner_dropped_nested"


def read_cluener(path: Path, vocab: Vocab) -> Iterator[Doc]:
    for line_no, row in read_json_rows(path):
        doc = make_doc(vocab, list(row["text"]), spaced=False)
        if row.get("label") is not None:
            spans = [
                Span(doc, start, end + 1, label=label)
                for label, start, end in _label_spans(path, line_no, row["text"], row["label"])
            ]
            kept = filter_spans(spans)
            doc.set_ents(kept, default="outside")
            dropped = [span for span in spans if span not in kept]
            if dropped:
                doc.spans[DROPPED_SPANS_KEY] = dropped
        yield doc


def _label_spans(path: Path, line_no: int, text: str, labels: Any) -> Iterator[Tuple[str, int, int]]:
    """Yield (type, start, inclusive end) for each validated span of a row's "label"."""
    shape = '"label" must be {type: {surface: [[start, end], ...]}}'
    if not isinstance(labels, dict):
        raise CorpusFormatError(path, line_no, shape)
    for label, surfaces in labels.items():
        if not label or not isinstance(surfaces, dict):
            raise CorpusFormatError(path, line_no, shape)
        for surface, offsets in surfaces.items():
            if not isinstance(offsets, list) or not all(_is_pair(pair) for pair in offsets):
                raise CorpusFormatError(path, line_no, shape)
            for start, end in offsets:
                where = f"{label} span [{start}, {end}]"
                if not 0 <= start <= end < len(text):
                    raise CorpusFormatError(
                        path, line_no, f"{where} is out of range for a text of {len(text)} characters"
                    )
                if text[start : end + 1] != surface:
                    found = text[start : end + 1]
                    raise CorpusFormatError(path, line_no, f"{where} is {shorten(found)} in the text, not {shorten(surface)}")
                yield label, start, end


def _is_pair(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(isinstance(i, int) and not isinstance(i, bool) for i in value)
    )
