"""The supervised loss on labeled docs: the negative log-likelihood of the gold tags."""
from typing import Dict, Optional

import torch

from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..model.head_pass import HeadPass
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
        loss = labeled_nll(batch, batch.head_pass(head))
        return {} if loss is None else {"": self.weight * loss}


def labeled_nll(batch: TaggerBatch, head_pass: HeadPass) -> Optional[torch.Tensor]:
    """The negative log-likelihood of the gold tags under `head_pass`'s tag scores (the shared
    pass, or a pass on perturbed vectors), averaged over the labeled docs; None when no doc has
    a known tag."""
    # Docs are scored under their own label set (a domain whose corpus has other entity
    # types has its own tag projection and CRF); one mean over the labeled docs of all.
    per_doc = []
    for label_set, rows in batch.label_set_rows(batch.labeled).items():
        gold = batch.gold[rows]
        if bool((gold >= 0).any()):
            scores = head_pass.tag_scores(label_set)[rows]
            per_doc.append(head_pass.head.nll(scores, gold, batch.mask[rows], label_set))
    return torch.cat(per_doc).mean() if per_doc else None


@lowner_objectives("spacy_lowner.supervised.v1")
def make_supervised(weight: NonNegativeFloat = 1.0) -> SupervisedObjective:
    """The tagging loss on the labeled docs (weight: its factor in the summed loss)."""
    return SupervisedObjective(weight=weight)
