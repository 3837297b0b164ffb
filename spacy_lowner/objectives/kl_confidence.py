"""The confidence KL regulariser on unlabeled text (BERT NER with KL regularisers, the
"Confidence KL", after Xie et al.'s deep embedded clustering): each unlabeled token's tag
distribution q is pulled towards a sharpened copy of itself, p_j proportional to q_j^2 / f_j with
f_j the soft frequency of tag j over the batch's unlabeled tokens. p is held constant.

loss = sum over unlabeled tokens of KL(p || q), averaged over unlabeled docs (the platform's
scale). Dividing by f_j keeps the sharpening from simply favouring the most frequent tag (O).
"""
from typing import Dict

import torch

from ..layers.losses import EPSILON, doc_mean, kl_divergence
from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from ..settings import NonNegativeFloat, NonNegativeInt
from .base import Objective
from .schedules import linear_ramp


def sharpen(probs: torch.Tensor) -> torch.Tensor:
    """(N, K) -> (N, K) p_ij = (q_ij^2 / f_j) / sum_k (q_ik^2 / f_k), f_j = sum_i q_ij, with the
    gradient through p, as the authors' code has it (training/kl_phase.py without stop_gradient)."""
    frequency = probs.sum(0).clamp(min=EPSILON)
    weighted = probs.pow(2) / frequency
    return weighted / weighted.sum(-1, keepdim=True).clamp(min=EPSILON)


def sharpened_target(probs: torch.Tensor) -> torch.Tensor:
    """`sharpen(probs)` held constant: no gradient through the target."""
    return sharpen(probs.detach())


class KLConfidenceObjective(Objective):
    def __init__(self, weight: float, start_step: int, warmup_steps: int):
        super().__init__()
        self.weight = weight
        self.start_step = start_step
        self.warmup_steps = warmup_steps

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        scale = self.weight * linear_ramp(self.step, self.start_step, self.warmup_steps)
        unlabeled = batch.unlabeled_tokens
        if scale == 0 or not bool(unlabeled.any()):
            return {}
        probs = batch.marginals(head)
        target = torch.zeros_like(probs)
        target[unlabeled] = sharpened_target(probs[unlabeled])
        return {"": scale * doc_mean(kl_divergence(target, probs), unlabeled)}


@lowner_objectives("spacy_lowner.kl_confidence.v1")
def make_kl_confidence(
    weight: NonNegativeFloat = 1.0, start_step: NonNegativeInt = 0, warmup_steps: NonNegativeInt = 0
) -> KLConfidenceObjective:
    """KL(sharpened q || q) on the unlabeled tokens.

    weight: its factor in the summed loss.
    start_step, warmup_steps: off before start_step, then its weight rises linearly over
        warmup_steps (the paper trains supervised first, then adds the regulariser).
    """
    return KLConfidenceObjective(weight, start_step, warmup_steps)
