"""One training batch as the objectives see it: the padded token vectors, and its channels.

Every objective works on the same padded tensor, so that all their losses sum into one
gradient on the tok2vec output and the listener is backpropagated once per batch
(a second backprop through spacy-transformers' listener is silently dropped). What the
head computes on the real tokens (features, tag scores, marginals) is cached per batch, so
objectives share one pass and one dropout mask.
"""
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import torch
from spacy.training import Example
from thinc.api import torch2xp, xp2torch
from thinc.types import Floats2d
from torch.nn.utils.rnn import pad_sequence

from .channels import TEACHER_KEY, doc_domain
from .head import TaggerHead
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
        """(B, T) tag ids, -1 where the tag is unknown (missing annotation, unlabeled docs, padding)."""
        return self._cached("gold", self._gold)

    def _gold(self) -> torch.Tensor:
        gold = torch.full(self.mask.shape, -1, dtype=torch.long)
        for i, eg in enumerate(self.examples):
            if eg.reference.has_annotation("ENT_IOB"):
                ids = self.scheme.from_biluo(eg.get_aligned_ner())
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

    @property
    def teacher(self) -> torch.Tensor:
        """(B, T, n_tags) the teacher's tag distribution per token, in the scheme's tag order;
        0 at padding."""
        return self._cached("teacher", self._teacher)

    def _teacher(self) -> torch.Tensor:
        tags = self.scheme.tags
        probs = torch.zeros(*self.mask.shape, len(tags))
        for i, eg in enumerate(self.examples):
            saved = eg.reference.user_data[TEACHER_KEY]
            if sorted(saved["tags"]) != sorted(tags):
                raise ValueError(f"the teacher's tags {saved['tags']} are not this component's {tags}")
            rows = torch.tensor(saved["probs"], dtype=torch.float32)
            if len(rows) != len(eg.predicted):
                raise ValueError(f"the teacher gives {len(rows)} tokens for a doc of {len(eg.predicted)}")
            order = [saved["tags"].index(tag) for tag in tags]
            probs[i, : len(rows)] = rows[:, order]
        return probs.to(self.device)

    # --- what the head computes on the real tokens, once per batch ---------------------------

    def hidden(self, head: TaggerHead) -> torch.Tensor:
        """The head's features (B, T, feature_width) of every doc."""
        return self._cached("hidden", lambda: head.features(self.features, self.domains if self.examples else None))

    def tag_scores(self, head: TaggerHead) -> torch.Tensor:
        """(B, T, n_tags) emission scores of `hidden`."""
        return self._cached("tag_scores", lambda: head.tag_scores(self.hidden(head)))

    def marginals(self, head: TaggerHead) -> torch.Tensor:
        """(B, T, n_tags) the tagger's distribution over tags per token (0 at padding)."""
        return self._cached("marginals", lambda: head.marginals(self.tag_scores(head), self.mask))

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
    examples: Sequence[Example], tokvecs: Sequence[Floats2d], scheme: TagScheme
) -> TaggerBatch:
    """Pad the token vectors of a training batch; its channels come from `examples`."""
    batch = pad_features(tokvecs, requires_grad=True)
    batch.examples = examples
    batch.scheme = scheme
    return batch
