"""Channels: named per-doc and per-token values of a training batch that objectives ask for.

| channel   | level | where it comes from                                                       |
|-----------|-------|---------------------------------------------------------------------------|
| `labeled` | doc   | `reference.has_annotation("ENT_IOB")`: unlabeled text has no entity tags   |
| `gold`    | token | the reference's entity tags as tag ids; -1 where unknown                  |
| `domain`  | doc   | `reference.user_data["lowner_domain"]`: a resource or a language, e.g. "source", "es" |
| `teacher` | token | `reference.user_data["lowner_teacher"]`: `{"tags": [...], "probs": [[...], ...]}`, a teacher's tag distribution per token |

Readers put `domain` and `teacher` on the reference docs (`set_domain`, `set_teacher`);
DocBins keep them (`store_user_data=True`), and `Language.update` hands the references to the
component unchanged. An objective names the channels it needs (`Objective.needs`); the
component checks them on the training data at initialisation, so a reader that does not
provide one is an error before training starts, not a crash in the middle of it.
"""
from typing import Callable, Dict, NamedTuple, Optional, Sequence

from spacy.tokens import Doc
from spacy.training import Example

DOMAIN_KEY = "lowner_domain"
TEACHER_KEY = "lowner_teacher"


class Channel(NamedTuple):
    level: str  # "doc" or "token"
    source: str  # where it comes from, for error messages
    provided: Callable[[Example], bool]


CHANNELS: Dict[str, Channel] = {
    "labeled": Channel("doc", "the reference's entity annotation", lambda eg: True),
    "gold": Channel("token", "the reference's entity annotation", lambda eg: True),
    "domain": Channel(
        "doc", f'reference.user_data["{DOMAIN_KEY}"] (a reader\'s `domain` setting)', lambda eg: doc_domain(eg.reference) is not None
    ),
    "teacher": Channel(
        "token", f'reference.user_data["{TEACHER_KEY}"] (a teacher\'s predictions)', lambda eg: TEACHER_KEY in eg.reference.user_data
    ),
}


def set_domain(doc: Doc, domain: str) -> Doc:
    doc.user_data[DOMAIN_KEY] = domain
    return doc


def doc_domain(doc: Doc) -> Optional[str]:
    return doc.user_data.get(DOMAIN_KEY)


def set_teacher(doc: Doc, tags: Sequence[str], probs: Sequence[Sequence[float]]) -> Doc:
    """Store a teacher's tag distribution over `tags` for each token of `doc`."""
    if len(probs) != len(doc) or any(len(row) != len(tags) for row in probs):
        raise ValueError(f"teacher probabilities must be {len(doc)} rows of {len(tags)} values")
    doc.user_data[TEACHER_KEY] = {"tags": list(tags), "probs": [list(map(float, row)) for row in probs]}
    return doc


def missing_channel(name: str, examples: Sequence[Example]) -> Optional[str]:
    """Why the training examples cannot give channel `name`, or None if every one can."""
    if name not in CHANNELS:
        return f"there is no channel {name!r} (known: {', '.join(CHANNELS)})"
    channel = CHANNELS[name]
    for i, eg in enumerate(examples, start=1):
        if not channel.provided(eg):
            return f"the training corpus does not provide it: example {i} has no {channel.source}"
    return None
