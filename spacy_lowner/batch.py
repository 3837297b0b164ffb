"""Padding the per-doc token vectors of a batch into one tensor, and back.

Every objective works on the same padded tensor, so that all their losses sum into one
gradient on the tok2vec output and the listener is backpropagated once per batch
(a second backprop through spacy-transformers' listener is silently dropped).
"""
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import torch
from spacy.training import Example
from thinc.api import torch2xp, xp2torch
from thinc.types import Floats2d
from torch.nn.utils.rnn import pad_sequence

from .layers.head import TaggerHead
from .tags import TagScheme


@dataclass
class TaggerBatch:
    """One batch as the objectives see it.

    features: (B, T, D) padded token vectors; their gradient flows back to the tok2vec.
    mask: (B, T) True on real tokens.
    gold: (B, T) tag ids, -1 where the tag is unknown (missing annotation, unlabeled docs, padding).
    labeled: (B,) True for docs whose reference carries entity annotation.
    """

    features: torch.Tensor
    mask: torch.Tensor
    gold: Optional[torch.Tensor] = None
    labeled: Optional[torch.Tensor] = None
    examples: Sequence[Example] = ()
    leaves: Sequence[torch.Tensor] = ()
    _hidden: Optional[torch.Tensor] = field(default=None, init=False, repr=False)

    def hidden(self, head: TaggerHead) -> torch.Tensor:
        """The head's hidden features (B, T, width) of every doc, computed on the first call.
        Objectives share them, so the head runs once per batch on the real tokens and all
        terms see the same dropout mask."""
        if self._hidden is None:
            self._hidden = head.features(self.features)
        return self._hidden

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
    """Pad the token vectors and attach gold tag ids for the labeled examples."""
    batch = pad_features(tokvecs, requires_grad=True)
    batch.examples = examples
    device = batch.features.device
    batch.labeled = torch.tensor(
        [eg.reference.has_annotation("ENT_IOB") for eg in examples], device=device
    )
    gold = torch.full(batch.mask.shape, -1, dtype=torch.long)
    for i, eg in enumerate(examples):
        if batch.labeled[i]:
            ids = scheme.from_biluo(eg.get_aligned_ner())
            gold[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
    batch.gold = gold.to(device)
    return batch
