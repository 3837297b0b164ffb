"""The supervised loss on labeled docs: the negative log-likelihood of the gold tags."""
from typing import Dict

import torch

from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from .base import Objective


class SupervisedObjective(Objective):
    """With the CRF decoder: the negative log-likelihood of the gold tags, where tokens whose
    tag is missing are marginalised out. With the softmax decoder: the sum of the token
    cross-entropies over the tokens whose tag is known. Either way a sum over a doc's tokens,
    averaged over the labeled docs of the batch (the platform's scale); unlabeled docs
    contribute nothing.
    """

    def __init__(self, weight: float = 1.0):
        super().__init__()
        self.weight = weight

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        labeled = batch.labeled
        gold = batch.gold[labeled]
        if not bool((gold >= 0).any()):
            return {}
        scores = batch.tag_scores(head)[labeled]
        return {"": self.weight * head.nll(scores, gold, batch.mask[labeled]).mean()}


@lowner_objectives("supervised")
def make_supervised(weight: float = 1.0) -> SupervisedObjective:
    """The tagging loss on the labeled docs (weight: its factor in the summed loss)."""
    return SupervisedObjective(weight=weight)
