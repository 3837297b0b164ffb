"""Tag schemes (BIO / BIOES) for token-level NER and their conversion to and from spaCy's BILUO."""
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch

SCHEMES = ("BIO", "BIOES")
_PREFIXES = {"BIO": ("B", "I"), "BIOES": ("B", "I", "E", "S")}
# Prefixes that continue the entity opened by the previous token.
_CONTINUATIONS = {"BIO": ("I",), "BIOES": ("I", "E")}
# Prefixes after which the entity is still open, so the next token may continue it.
_OPENERS = ("B", "I")
# spaCy marks tokens without a gold tag with None, and misaligned tokens with "-".
_MISSING_BILUO = (None, "-")
# BILUO's L and U have no BIO counterpart; BIO loses nothing since B marks every start.
_FROM_BILUO = {"BIO": {"L": "I", "U": "B"}, "BIOES": {"L": "E", "U": "S"}}


class TagScheme:
    """The tag inventory for a set of entity labels, with "O" at index 0."""

    def __init__(self, labels: Iterable[str], scheme: str = "BIO") -> None:
        if scheme not in SCHEMES:
            raise ValueError(f"Unknown tag scheme {scheme!r}; expected one of {SCHEMES}.")
        self.labels: List[str] = sorted(set(labels))
        self._label_set = frozenset(self.labels)
        self.scheme = scheme
        self.tags: List[str] = ["O"] + [
            f"{prefix}-{label}" for label in self.labels for prefix in _PREFIXES[scheme]
        ]
        self._ids = {tag: i for i, tag in enumerate(self.tags)}
        # (prefix, label) per tag id; ("O", "") for O keeps the rules free of special cases.
        self._parts: List[Tuple[str, str]] = [_split(tag) for tag in self.tags]

    def __len__(self) -> int:
        return len(self.tags)

    def __repr__(self) -> str:
        return f"TagScheme(labels={self.labels!r}, scheme={self.scheme!r})"

    # --- constraints -------------------------------------------------------------------

    def allowed_transitions(self) -> torch.Tensor:
        """(K, K) bool; [i, j] is True if tag j may directly follow tag i."""
        return torch.tensor(
            [[self._may_follow(prev, nxt) for nxt in self._parts] for prev in self._parts],
            dtype=torch.bool,
        )

    def allowed_start(self) -> torch.Tensor:
        """(K,) bool; True for tags a sequence may start with."""
        return torch.tensor([not self._continues(part) for part in self._parts], dtype=torch.bool)

    def allowed_end(self) -> torch.Tensor:
        """(K,) bool; True for tags a sequence may end with."""
        return torch.tensor([not self._needs_continuation(part) for part in self._parts], dtype=torch.bool)

    def _continues(self, part: Tuple[str, str]) -> bool:
        return part[0] in _CONTINUATIONS[self.scheme]

    def _needs_continuation(self, part: Tuple[str, str]) -> bool:
        # Only BIOES closes entities explicitly (E/S); in BIO any tag may end an entity.
        return self.scheme == "BIOES" and part[0] in _OPENERS

    def _may_follow(self, prev: Tuple[str, str], nxt: Tuple[str, str]) -> bool:
        if self._continues(nxt):
            return prev[0] in _OPENERS and prev[1] == nxt[1]
        return not self._needs_continuation(prev)

    # --- conversion ----------------------------------------------------------------------

    def from_biluo(self, tags: Sequence[Optional[str]]) -> List[int]:
        """Tag ids for spaCy's aligned BILUO tags; missing ("-" or None) becomes -1."""
        return [self._biluo_to_id(tag) for tag in tags]

    def _biluo_to_id(self, tag: Optional[str]) -> int:
        if tag in _MISSING_BILUO:
            return -1
        if tag == "O":
            return 0
        prefix, label = _split(tag)
        if prefix not in ("B", "I", "L", "U"):
            raise ValueError(f"Not a BILUO tag: {tag!r}.")
        if label not in self._label_set:
            raise ValueError(f"Entity label {label!r} (tag {tag!r}) is not in the tag scheme {self.labels}.")
        prefix = _FROM_BILUO[self.scheme].get(prefix, prefix)
        return self._ids[f"{prefix}-{label}"]

    def to_biluo(self, ids: Sequence[int]) -> List[str]:
        """BILUO tags for a sequence of tag ids, for `biluo_tags_to_spans`.

        Ill-formed sequences are repaired rather than rejected: a continuation tag that
        does not follow an open entity of its label starts a new entity.
        """
        parts = [self._parts[self._check_id(i)] for i in ids]
        continued = [i > 0 and self._continues_from(parts[i - 1], parts[i]) for i in range(len(parts))]
        biluo = []
        for i, (prefix, label) in enumerate(parts):
            if prefix == "O":
                biluo.append("O")
                continue
            begins = not continued[i]
            ends = i + 1 == len(parts) or not continued[i + 1]
            biluo_prefix = "U" if begins and ends else "B" if begins else "L" if ends else "I"
            biluo.append(f"{biluo_prefix}-{label}")
        return biluo

    def _continues_from(self, prev: Tuple[str, str], cur: Tuple[str, str]) -> bool:
        return self._continues(cur) and prev[0] in _OPENERS and prev[1] == cur[1]

    def _check_id(self, tag_id: int) -> int:
        tag_id = int(tag_id)
        if not 0 <= tag_id < len(self.tags):
            raise ValueError(f"Tag id {tag_id} is out of range for {len(self.tags)} tags.")
        return tag_id

    # --- serialisation -------------------------------------------------------------------

    def to_dict(self) -> Dict[str, Any]:
        return {"labels": list(self.labels), "scheme": self.scheme}

    @classmethod
    def from_dict(cls, data: Dict[str, Any]) -> "TagScheme":
        return cls(data["labels"], data["scheme"])


def _split(tag: str) -> Tuple[str, str]:
    """("B", "PER") for "B-PER"; ("O", "") for "O". Labels may themselves contain "-"."""
    if tag == "O":
        return "O", ""
    prefix, sep, label = tag.partition("-")
    if not sep or not label:
        raise ValueError(f"Malformed tag {tag!r}; expected PREFIX-LABEL or O.")
    return prefix, label
