"""The supervised loss on labeled docs: the negative log-likelihood of the gold tags."""
from typing import Dict

import torch

from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from ..settings import NonNegativeFloat
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
        # Docs are scored under their own label set (a domain whose corpus has other entity
        # types has its own tag projection and CRF); one mean over the labeled docs of all.
        per_doc = []
        for label_set, rows in batch.label_set_rows(batch.labeled).items():
            gold = batch.gold[rows]
            if bool((gold >= 0).any()):
                scores = batch.head_pass(head).tag_scores(label_set)[rows]
                per_doc.append(head.nll(scores, gold, batch.mask[rows], label_set))
        if not per_doc:
            return {}
        return {"": self.weight * torch.cat(per_doc).mean()}


@lowner_objectives("spacy_lowner.supervised.v1")
def make_supervised(weight: NonNegativeFloat = 1.0) -> SupervisedObjective:
    """The tagging loss on the labeled docs (weight: its factor in the summed loss)."""
    return SupervisedObjective(weight=weight)
