"""Knowledge distillation from a teacher's soft labels (AdvPicker's student, Chen et al. 2021,
after Wu et al. 2020): per token, the squared difference between the student's distribution over
the tags and the teacher's, on the docs that carry a teacher's distributions (the `teacher`
channel, written by `python -m spacy_lowner pick` or `pseudo-label --soft`); docs without
soft labels (labeled source docs, other text) contribute nothing.

- The student's distribution is the head's: with `decoder = "softmax"` the softmax of its tag
  scores (the paper's student: a linear layer and a softmax, no CRF, decoded by Viterbi under
  the scheme's constraints, which the softmax decoder does), with `decoder = "crf"` the CRF's
  marginals. The squared error is the one mean_teacher's consistency uses
  (`layers/losses.squared_error`), with no temperature on either side (the code's).
- The scale: summed over the tags and a doc's tokens, averaged over docs, as every term here;
  the code's `MSELoss(reduction="mean")` averages over tokens and tags instead. With the
  distillation loss alone under Adam the two train alike (Adam's step does not depend on the
  loss's scale); beside the supervised loss `weight` sets the balance.
"""
from typing import Dict

import torch

from ..layers.losses import doc_mean, squared_error
from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from ..settings import NonNegativeFloat
from .base import Objective


class DistillationObjective(Objective):
    """The squared error between the student's per-token tag distribution and the teacher's."""

    needs = ("teacher",)

    def __init__(self, weight: float):
        super().__init__()
        self.weight = weight

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        tokens = batch.teacher_tokens
        if self.weight == 0 or not bool(tokens.any()):
            return {}
        per_token = squared_error(batch.marginals(head), batch.teacher)
        return {"": self.weight * doc_mean(per_token, tokens)}


@lowner_objectives("spacy_lowner.distillation.v1")
def make_distillation(weight: NonNegativeFloat = 1.0) -> DistillationObjective:
    """Learn a teacher's soft labels (the `teacher` channel) by the squared error of the
    distributions; weight: its factor in the summed loss."""
    return DistillationObjective(weight)
