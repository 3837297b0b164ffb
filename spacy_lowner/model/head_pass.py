"""What one head computes on one batch, each thing at most once.

Objectives share the head's pass over a batch (one dropout mask, one forward through the head
modules), and a second head (a mean teacher) or the same head on a perturbed copy of the token
vectors (adversarial training at the tok2vec output) gets a pass of its own. A second pass
costs a second forward and backward through the head (its modules, hidden layer, projection
and CRF), not through the tok2vec: the perturbed vectors are the tok2vec's output plus a
tensor, so the tok2vec still runs once and is backpropagated once per batch.
"""
from typing import Dict, List, Optional

import torch

from .head import TaggerHead, last_output


class HeadPass:
    """`head` over token vectors (B, T, D) with their mask and each doc's domain (None: none)."""

    def __init__(self, head: TaggerHead, vectors: torch.Tensor, mask: torch.Tensor, domains: Optional[List[Optional[str]]]):
        self.head = head
        self.vectors = vectors
        self.mask = mask
        self.domains = domains
        self._stack_outputs: Optional[Dict[str, torch.Tensor]] = None
        self._features: Optional[torch.Tensor] = None
        self._scores: Dict[Optional[str], torch.Tensor] = {}
        self._marginals: Dict[Optional[str], torch.Tensor] = {}

    @property
    def stack_outputs(self) -> Dict[str, torch.Tensor]:
        """The token vectors after each step of the head by name ("input", then each head
        module's block name): `TaggerHead.stack_outputs`."""
        if self._stack_outputs is None:
            self._stack_outputs = self.head.stack_outputs(self.vectors, self.domains, self.mask)
        return self._stack_outputs

    @property
    def features(self) -> torch.Tensor:
        """The head's last hidden layer (B, T, feature_width)."""
        if self._features is None:
            self._features = self.head.hidden(last_output(self.stack_outputs))
        return self._features

    def tag_scores(self, label_set: Optional[str] = None) -> torch.Tensor:
        """(B, T, n_tags) emission scores of every doc under a label set (None: the default)."""
        if label_set not in self._scores:
            self._scores[label_set] = self.head.tag_scores(self.features, label_set)
        return self._scores[label_set]

    def marginals(self, label_set: Optional[str] = None) -> torch.Tensor:
        """(B, T, n_tags) the distribution over tags per token (0 at padding)."""
        if label_set not in self._marginals:
            self._marginals[label_set] = self.head.marginals(self.tag_scores(label_set), self.mask, label_set)
        return self._marginals[label_set]
