"""Word-boundary features for character-level Chinese NER.

A character encoder does not know where words begin and end, and Chinese entity boundaries
are mostly word boundaries (the lexicon-based Lattice LSTM and SoftLexicon gain several F1 from
them). `spacy_lowner.WithWordBoundaries.v1` segments each text with a maintained segmenter that
ships its dictionary on PyPI (jieba), gives every token its place in its word (B, M, E, S; X
for whitespace), embeds that tag and concatenates it with the tok2vec's output, before the head.
It wraps any tok2vec, a CNN or a transformer listener.
"""
import bisect
from functools import lru_cache
from typing import Callable, List, Sequence, Tuple

from spacy.tokens import Doc
from spacy.util import registry
from thinc.api import Embed, Model, chain, concatenate, with_array
from thinc.types import Floats2d, Ints1d

TAGS = ("B", "M", "E", "S", "X")
SEGMENTERS = ("jieba",)
# Segmentations kept per text: training sees the same texts every epoch.
CACHE_SIZE = 100_000


def boundary_tags(doc: Doc, words: Sequence[Tuple[int, int]]) -> List[str]:
    """Each token's place in the word (start, end character offsets) that holds its first
    character: S for a whole word, B / E for its first / last part, M in between; X for
    whitespace and for characters no word covers."""
    starts = [start for start, _ in words]
    tags = []
    for token in doc:
        if token.is_space:
            tags.append("X")
            continue
        i = bisect.bisect_right(starts, token.idx) - 1
        if i < 0 or words[i][1] <= token.idx:
            tags.append("X")
            continue
        start, end = words[i]
        first, last = token.idx == start, token.idx + len(token) >= end
        tags.append("S" if first and last else "B" if first else "E" if last else "M")
    return tags


def load_segmenter(name: str) -> Callable[[str], Tuple[Tuple[int, int], ...]]:
    """A cached function from a text to its words' (start, end) character offsets."""
    if name not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {name!r}; use one of {', '.join(SEGMENTERS)}")
    try:
        import jieba
    except ImportError:
        raise ImportError(
            "The word-boundary features segment text with jieba, which is not installed: "
            "pip install 'spacy-lowner[segment]'"
        ) from None
    jieba.setLogLevel(60)  # no "Building prefix dict" chatter on stderr

    @lru_cache(maxsize=CACHE_SIZE)
    def segment(text: str) -> Tuple[Tuple[int, int], ...]:
        return tuple((start, end) for _, start, end in jieba.tokenize(text))

    return segment


def boundary_ids(segmenter: str) -> Model[List[Doc], List[Ints1d]]:
    """Docs -> the id of each token's boundary tag (no parameters, no gradient)."""
    index = {tag: i for i, tag in enumerate(TAGS)}

    def forward(model: Model, docs: List[Doc], is_train: bool):
        segment = model.attrs.get("segment")
        if segment is None:
            segment = model.attrs["segment"] = load_segmenter(segmenter)
        ids = [model.ops.asarray1i([index[tag] for tag in boundary_tags(doc, segment(doc.text))]) for doc in docs]
        return ids, lambda d_ids: []

    return Model("boundary_ids", forward, attrs={"segmenter": segmenter})


@registry.architectures("spacy_lowner.WithWordBoundaries.v1")
def with_word_boundaries(
    tok2vec: Model[List[Doc], List[Floats2d]], width: int = 16, segmenter: str = "jieba", dropout: float = 0.0
) -> Model[List[Doc], List[Floats2d]]:
    """The tok2vec's vectors with a learned `width`-wide embedding of each token's word-boundary
    tag (B/M/E/S/X, from `segmenter`) appended.

    tok2vec: any tok2vec (an inline CNN, a Tok2VecListener or a TransformerListener).
    width: width of the boundary embedding.
    segmenter: "jieba" (install with the `segment` extra).
    dropout: dropout on the boundary embedding.
    """
    if segmenter not in SEGMENTERS:
        raise ValueError(f"unknown segmenter {segmenter!r}; use one of {', '.join(SEGMENTERS)}")
    boundaries = chain(boundary_ids(segmenter), with_array(Embed(nO=width, nV=len(TAGS), dropout=dropout)))
    return concatenate(tok2vec, boundaries)
