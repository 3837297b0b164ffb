"""The supervised loss on labeled docs: CRF negative log-likelihood, or token cross-entropy."""
from typing import Dict

import torch
from torch.nn import functional as F

from ..batch import TaggerBatch
from ..layers.head import TaggerHead
from ..registry import lowner_objectives
from .base import Objective


class SupervisedObjective(Objective):
    """With the CRF decoder: the negative log-likelihood of the gold tags, where tokens whose
    tag is missing are marginalised out; averaged over labeled docs. With the softmax
    decoder: cross-entropy over the labeled tokens whose tag is known.
    Unlabeled docs in the batch contribute nothing.
    """

    def __init__(self, weight: float = 1.0):
        self.weight = weight

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        labeled = batch.labeled
        gold, mask = batch.gold[labeled], batch.mask[labeled]
        known = gold >= 0
        if not bool(known.any()):
            return {}
        scores = head.emission(batch.hidden(head)[labeled])
        if head.crf is not None:
            loss = -head.crf.log_likelihood(scores, gold, mask).mean()
        else:
            loss = F.cross_entropy(scores[known], gold[known])
        return {"supervised": self.weight * loss}


@lowner_objectives("supervised")
def make_supervised(weight: float = 1.0) -> SupervisedObjective:
    return SupervisedObjective(weight=weight)
