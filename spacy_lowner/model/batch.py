"""One training batch as the objectives see it: the padded token vectors, and its channels.

Every objective works on the same padded tensor, so that all their losses sum into one
gradient on the tok2vec output and the listener is backpropagated once per batch
(a second backprop through spacy-transformers' listener is silently dropped). This module
decodes the channels; what a head computes on the batch (features, tag scores, marginals) is
a `HeadPass` (head_pass.py), one per head and batch, so objectives share one pass and one
dropout mask.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from spacy.training import Example
from thinc.api import torch2xp, xp2torch
from thinc.types import Floats2d
from torch.nn.utils.rnn import pad_sequence

from .channels import doc_domain, doc_teacher, teacher_rows
from .head import TaggerHead
from .head_pass import HeadPass
from .tags import TagScheme


@dataclass
class TaggerBatch:
    """features: (B, T, D) padded token vectors; their gradient flows back to the tok2vec.
    mask: (B, T) True on real tokens.
    Channels (see channels.py) are computed from the examples when first asked for."""

    features: torch.Tensor
    mask: torch.Tensor
    examples: Sequence[Example] = ()
    scheme: Optional[TagScheme] = None
    leaves: Sequence[torch.Tensor] = ()
    # The schemes of the domains whose docs have entity types of their own (label sets).
    domain_schemes: Dict[str, TagScheme] = field(default_factory=dict)
    _cache: Dict[str, object] = field(default_factory=dict, init=False, repr=False)

    def _cached(self, key: str, compute):
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    # --- channels --------------------------------------------------------------------------

    @property
    def labeled(self) -> torch.Tensor:
        """(B,) True for docs whose reference carries entity annotation."""
        return self._cached(
            "labeled",
            lambda: torch.tensor(
                [eg.reference.has_annotation("ENT_IOB") for eg in self.examples], dtype=torch.bool, device=self.device
            ),
        )

    @property
    def unlabeled_tokens(self) -> torch.Tensor:
        """(B, T) True at the real tokens of the docs without entity annotation."""
        return self._cached("unlabeled_tokens", lambda: self.mask & ~self.labeled.unsqueeze(1))

    @property
    def gold(self) -> torch.Tensor:
        """(B, T) tag ids, each doc's in its label set's scheme; -1 where the tag is unknown
        (missing annotation, unlabeled docs, padding)."""
        return self._cached("gold", self._gold)

    def _gold(self) -> torch.Tensor:
        gold = torch.full(self.mask.shape, -1, dtype=torch.long)
        for i, eg in enumerate(self.examples):
            if eg.reference.has_annotation("ENT_IOB"):
                label_set = self.label_set(i)
                scheme = self.scheme if label_set is None else self.domain_schemes[label_set]
                ids = scheme.from_biluo(eg.get_aligned_ner())
                gold[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        return gold.to(self.device)

    @property
    def domains(self) -> List[Optional[str]]:
        """Each doc's domain (None where the reader gave none)."""
        return self._cached("domains", lambda: [doc_domain(eg.reference) for eg in self.examples])

    def domain_ids(self, names: Sequence[str]) -> torch.Tensor:
        """(B,) the index of each doc's domain in `names`; a domain not in it is an error."""
        index = {name: i for i, name in enumerate(names)}
        unknown = sorted({str(d) for d in self.domains if d not in index})
        if unknown:
            raise ValueError(f"docs of domain(s) {', '.join(unknown)} in a batch; expected only {', '.join(names)}")
        return torch.tensor([index[d] for d in self.domains], dtype=torch.long, device=self.device)

    def domain_tokens(self, names: Sequence[str], default: Optional[str] = None) -> torch.Tensor:
        """(B, T) the real tokens of the docs whose domain (`default` for a doc without one) is
        one of `names`."""
        rows = [(default if domain is None else domain) in names for domain in self.domains]
        return self.mask & torch.tensor(rows, dtype=torch.bool, device=self.device).unsqueeze(1)

    @property
    def has_teacher(self) -> torch.Tensor:
        """(B,) True for docs whose reference carries a teacher's tag distributions."""
        return self._cached(
            "has_teacher",
            lambda: torch.tensor(
                [doc_teacher(eg.reference) is not None for eg in self.examples], dtype=torch.bool, device=self.device
            ),
        )

    @property
    def teacher_tokens(self) -> torch.Tensor:
        """(B, T) True at the real tokens of the docs with a teacher's distributions."""
        return self._cached("teacher_tokens", lambda: self.mask & self.has_teacher.unsqueeze(1))

    @property
    def teacher(self) -> torch.Tensor:
        """(B, T, n_tags) the teacher's tag distribution per token, in the scheme's tag order;
        0 at padding and on the docs without one (`has_teacher`)."""
        return self._cached("teacher", self._teacher)

    def _teacher(self) -> torch.Tensor:
        probs = torch.zeros(*self.mask.shape, len(self.scheme.tags))
        for i, eg in enumerate(self.examples):
            if doc_teacher(eg.reference) is not None:
                rows = teacher_rows(eg, self.scheme.tags)
                probs[i, : len(rows)] = torch.from_numpy(rows)
        return probs.to(self.device)

    # --- label sets: each doc is scored under its domain's entity types ----------------------

    def label_set(self, i: int) -> Optional[str]:
        """The label set of doc i: its domain if that has a set of its own, else None (the default)."""
        return self.domains[i] if self.domains[i] in self.domain_schemes else None

    def label_set_rows(self, docs: Optional[torch.Tensor] = None) -> Dict[Optional[str], torch.Tensor]:
        """The indices of the docs of each label set (among `docs`, a (B,) bool, if given)."""
        rows: Dict[Optional[str], List[int]] = {}
        for i in range(len(self.examples)):
            if docs is None or bool(docs[i]):
                rows.setdefault(self.label_set(i), []).append(i)
        return {key: torch.tensor(value, dtype=torch.long, device=self.device) for key, value in rows.items()}

    # --- what a head computes, once per batch and head (head_pass.py) -------------------------

    def head_pass(self, head: TaggerHead, vectors: Optional[torch.Tensor] = None) -> HeadPass:
        """`head`'s pass over the batch's token vectors, shared by every objective that asks;
        or, given `vectors` (a perturbed copy of `features`), a pass of its own, not shared."""
        domains = self.domains if self.examples else None
        if vectors is not None:
            return HeadPass(head, vectors, self.mask, domains)
        return self._cached(f"pass-{id(head)}", lambda: HeadPass(head, self.features, self.mask, domains))

    def hidden(self, head: TaggerHead) -> torch.Tensor:
        """The head's features (B, T, feature_width) of every doc."""
        return self.head_pass(head).features

    def tag_scores(self, head: TaggerHead) -> torch.Tensor:
        """(B, T, n_tags) emission scores of `hidden` under the default label set."""
        return self.head_pass(head).tag_scores()

    def marginals(self, head: TaggerHead) -> torch.Tensor:
        """(B, T, n_tags) the tagger's distribution over tags per token (0 at padding)."""
        return self.head_pass(head).marginals()

    # --- shapes and gradients ----------------------------------------------------------------

    @property
    def device(self) -> torch.device:
        return self.features.device

    @property
    def lengths(self) -> List[int]:
        return [int(leaf.shape[0]) for leaf in self.leaves]

    def input_gradients(self) -> List[Floats2d]:
        """The gradient of the summed loss w.r.t. each doc's token vectors, as thinc arrays."""
        return [
            torch2xp(leaf.grad if leaf.grad is not None else torch.zeros_like(leaf))
            for leaf in self.leaves
        ]


def pad_features(tokvecs: Sequence[Floats2d], *, requires_grad: bool) -> TaggerBatch:
    """Stack per-doc (n_i, D) arrays into (B, T, D) on the arrays' own device."""
    # Listener outputs can be half precision on GPU; the head and its losses run in float32.
    leaves = [xp2torch(vecs, requires_grad=requires_grad) for vecs in tokvecs]
    # A listener gives an empty doc a (0, 0) array, whatever the width of the others.
    width = max((leaf.shape[1] for leaf in leaves if leaf.ndim == 2), default=0)
    rows = [leaf.float() if leaf.numel() else leaf.float().reshape(0, width) for leaf in leaves]
    features = pad_sequence(rows, batch_first=True)
    lengths = torch.tensor([leaf.shape[0] for leaf in leaves], device=features.device)
    positions = torch.arange(features.shape[1], device=features.device)
    mask = positions.unsqueeze(0) < lengths.unsqueeze(1)
    return TaggerBatch(features=features, mask=mask, leaves=leaves)


def training_batch(
    examples: Sequence[Example],
    tokvecs: Sequence[Floats2d],
    scheme: TagScheme,
    domain_schemes: Optional[Dict[str, TagScheme]] = None,
) -> TaggerBatch:
    """Pad the token vectors of a training batch; its channels come from `examples`, its gold
    tags from `scheme` or, for the docs of a domain in `domain_schemes`, from that domain's."""
    batch = pad_features(tokvecs, requires_grad=True)
    batch.examples = examples
    batch.scheme = scheme
    batch.domain_schemes = dict(domain_schemes or {})
    return batch
