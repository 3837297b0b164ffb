"""Channels: named per-doc and per-token values of a training batch that objectives ask for.

| channel   | level | where it comes from                                                       |
|-----------|-------|---------------------------------------------------------------------------|
| `labeled` | doc   | `reference.has_annotation("ENT_IOB")`: unlabeled text has no entity tags   |
| `gold`    | token | the reference's entity tags as tag ids; -1 where unknown                  |
| `domain`  | doc   | `reference.user_data["lowner_domain"]`: a resource or a language, e.g. "source", "es" |
| `teacher` | token | `reference.user_data["lowner_teacher"]`: `{"tags": [...], "probs": (n_tokens, n_tags) float16}`, a teacher's tag distribution per token; optional per doc |

Readers put `domain` and `teacher` on the reference docs (`set_domain`, `set_teacher`;
`python -m spacy_lowner pseudo-label --soft` writes `teacher`); DocBins keep them
(`store_user_data=True`), and `Language.update` hands the references to the component
unchanged. An objective names the channels it needs (`Objective.needs`); the component checks
them on the training data at initialisation, so a reader that does not provide one is an error
before training starts, not a crash in the middle of it. `domain` must be on every doc;
`teacher` is optional per doc (soft-labeled docs and others in one corpus: `batch.has_teacher`
says which), but at least one doc must carry it, and every one that does must match the
component's tags and the doc's tokens.
"""
from typing import Callable, Dict, NamedTuple, Optional, Sequence

import numpy
from spacy.tokens import Doc
from spacy.training import Example

DOMAIN_KEY = "lowner_domain"
TEACHER_KEY = "lowner_teacher"
# Soft labels are stored in half precision: 2 bytes a value instead of msgpack's 9 for a float,
# each within 2^-11 of its value, relatively (3e-8 absolutely below 6e-5), so that the small
# probabilities a distillation loss reads are kept, where rounding to 3 decimals zeroes them.
TEACHER_DTYPE = "float16"
# How far from 1 a token's distribution given to set_teacher may sum: float32 CRF marginals
# drift from it with the doc's length (up to 1.4e-3 on WeiboNER's dev set).
SUM_TOLERANCE = 1e-2


class Channel(NamedTuple):
    level: str  # "doc" or "token"
    source: str  # where it comes from, for error messages
    provided: Callable[[Example], bool]
    # True: some docs may lack it (at least one must have it); False: every doc must have it.
    optional: bool = False
    # Why a doc's value cannot serve a component with these tags (None if it can).
    problem: Optional[Callable[[Example, Sequence[str]], Optional[str]]] = None


CHANNELS: Dict[str, Channel] = {
    "labeled": Channel("doc", "the reference's entity annotation", lambda eg: True),
    "gold": Channel("token", "the reference's entity annotation", lambda eg: True),
    "domain": Channel(
        "doc", f'reference.user_data["{DOMAIN_KEY}"] (a reader\'s `domain` setting)', lambda eg: doc_domain(eg.reference) is not None
    ),
    "teacher": Channel(
        "token",
        f'reference.user_data["{TEACHER_KEY}"] (a teacher\'s predictions)',
        lambda eg: doc_teacher(eg.reference) is not None,
        optional=True,
        problem=lambda eg, tags: _teacher_problem(eg, tags),  # defined below
    ),
}


def set_domain(doc: Doc, domain: str) -> Doc:
    doc.user_data[DOMAIN_KEY] = domain
    return doc


def doc_domain(doc: Doc) -> Optional[str]:
    return doc.user_data.get(DOMAIN_KEY)


def set_teacher(doc: Doc, tags: Sequence[str], probs: Sequence[Sequence[float]]) -> Doc:
    """Store a teacher's tag distribution over `tags` for each token of `doc` (an array or
    nested lists of len(doc) rows of len(tags) probabilities), in half precision."""
    rows = numpy.asarray(probs, dtype="float32")
    if rows.size == 0:  # [] has no second dimension
        rows = rows.reshape(len(rows), len(tags))
    if rows.shape != (len(doc), len(tags)):
        raise ValueError(f"teacher probabilities must be {len(doc)} rows of {len(tags)} values")
    if not (numpy.isfinite(rows).all() and (rows >= 0).all() and numpy.allclose(rows.sum(1), 1, atol=SUM_TOLERANCE)):
        raise ValueError("teacher probabilities must be finite, non-negative and sum to 1 per token")
    doc.user_data[TEACHER_KEY] = {"tags": list(tags), "probs": rows.astype(TEACHER_DTYPE)}
    return doc


def doc_teacher(doc: Doc) -> Optional[dict]:
    """The teacher's `{"tags": ..., "probs": ...}` stored on `doc`, or None."""
    return doc.user_data.get(TEACHER_KEY)


def teacher_rows(eg: Example, tags: Sequence[str]) -> numpy.ndarray:
    """(n_tokens, len(tags)) float32: the teacher's distribution per token of `eg`, in the order
    of `tags`. ValueError if the teacher's tags are not `tags` (a teacher trained with other
    labels or another scheme) or it gives another number of tokens than the doc has."""
    saved = doc_teacher(eg.reference)
    if sorted(saved["tags"]) != sorted(tags):
        lacks, extra = sorted(set(tags) - set(saved["tags"])), sorted(set(saved["tags"]) - set(tags))
        raise ValueError(
            f"the teacher's tags are not this component's: they lack {_few(lacks)} and have {_few(extra)} "
            "(a teacher trained with other labels or another scheme)"
        )
    rows = numpy.asarray(saved["probs"], dtype="float32")
    if rows.size == 0:  # an empty doc's rows, written as a list
        rows = rows.reshape(len(rows), len(tags))
    if rows.shape != (len(eg.predicted), len(tags)):
        raise ValueError(
            f"the teacher gives {rows.shape[0]} rows of {rows.shape[1]} probabilities for a doc of {len(eg.predicted)} tokens "
            "(a reader that tokenizes the text anew, as spaCy's Corpus does; MixedCorpus keeps a DocBin's tokens)"
        )
    order = [list(saved["tags"]).index(tag) for tag in tags]
    return rows[:, order]


def _few(names: Sequence[str], shown: int = 3) -> str:
    """The first `shown` names and how many more, for a one-line message."""
    if not names:
        return "none"
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


def _teacher_problem(eg: Example, tags: Sequence[str]) -> Optional[str]:
    """Why the teacher channel of `eg` cannot serve a component with these tags, or None."""
    try:
        teacher_rows(eg, tags)
    except ValueError as err:
        return str(err)
    return None


def missing_channel(name: str, examples: Sequence[Example], tags: Sequence[str]) -> Optional[str]:
    """Why the training examples cannot give channel `name` to a component with these tags, or
    None if they can: every example has it (or, for an optional channel, at least one), and
    every value is one the component can read."""
    if name not in CHANNELS:
        return f"there is no channel {name!r} (known: {', '.join(CHANNELS)})"
    channel = CHANNELS[name]
    provided = 0
    for i, eg in enumerate(examples, start=1):
        if not channel.provided(eg):
            if channel.optional:
                continue
            return f"the training corpus does not provide it: example {i} has no {channel.source}"
        provided += 1
        problem = channel.problem(eg, tags) if channel.problem is not None else None
        if problem:
            return f"example {i} cannot give it: {problem}"
    if channel.optional and not provided:
        return f"the training corpus does not provide it: no example has {channel.source}"
    return None
