"""The data-distribution KL regulariser on unlabeled text (BERT NER with KL regularisers, the
"Data Distribution KL"): the tagger's mean tag distribution over a batch's unlabeled tokens is
pulled towards a prior, the tag frequencies of the labeled data (or one given in the config).

loss = KL(prior || q_mean), q_mean the mean over the batch's unlabeled tokens of the tagger's
per-token tag distribution (CRF marginals, or the softmax with that decoder). One KL per batch,
times the unlabeled tokens per unlabeled doc, so that each token weighs as in a token-level term
on the platform's scale (the KL's gradient per token is 1/N of it).
"""
from typing import Dict, Optional

import torch

from ..layers.losses import EPSILON, kl_divergence
from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from ..settings import NonNegativeFloat, NonNegativeInt
from .base import Objective, ObjectiveContext
from .schedules import linear_ramp


class KLPriorObjective(Objective):
    def __init__(self, weight: float, prior: Optional[Dict[str, float]], start_step: int, warmup_steps: int):
        super().__init__()
        self.weight = weight
        self.given_prior = prior
        self.start_step = start_step
        self.warmup_steps = warmup_steps
        self.prior: Optional[torch.Tensor] = None

    def initialize(self, context: ObjectiveContext) -> None:
        tags = context.scheme.tags
        if self.given_prior is not None:
            unknown = sorted(set(self.given_prior) - set(tags))
            if unknown:
                raise ValueError(f"kl_prior: the prior names tags {unknown} that are not among {tags}")
            counts = torch.tensor([float(self.given_prior.get(tag, 0.0)) for tag in tags])
        else:
            counts = torch.zeros(len(tags))
            for eg in context.get_examples():
                if eg.reference.has_annotation("ENT_IOB"):
                    for tag_id in context.scheme.from_biluo(eg.get_aligned_ner()):
                        if tag_id >= 0:
                            counts[tag_id] += 1
        if not counts.sum() > 0:
            raise ValueError("kl_prior: no tag counts to make a prior from; give `prior` in the config")
        # Smoothed, so that a tag the labeled sample lacks is not forbidden outright.
        self.prior = ((counts + EPSILON) / (counts + EPSILON).sum()).to(context.head.device)

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        scale = self.weight * linear_ramp(self.step, self.start_step, self.warmup_steps)
        unlabeled = batch.unlabeled_tokens
        if scale == 0 or not bool(unlabeled.any()):
            return {}
        probs = batch.marginals(head)[unlabeled]  # (N, K)
        mean = probs.mean(0)
        tokens_per_doc = len(probs) / int(unlabeled.any(1).sum())
        return {"": scale * tokens_per_doc * kl_divergence(self.prior, mean)}


@lowner_objectives("spacy_lowner.kl_prior.v1")
def make_kl_prior(
    weight: NonNegativeFloat = 1.0,
    prior: Optional[Dict[str, NonNegativeFloat]] = None,
    start_step: NonNegativeInt = 0,
    warmup_steps: NonNegativeInt = 0,
) -> KLPriorObjective:
    """KL(prior || mean tag distribution of the unlabeled tokens).

    weight: its factor in the summed loss.
    prior: tag -> probability (e.g. {"O": 0.9, "B-PER.NAM": 0.01, ...}; normalised, missing
        tags 0); null: the tag frequencies of the labeled training docs.
    start_step, warmup_steps: off before start_step, then its weight rises linearly over
        warmup_steps (the paper trains supervised first, then adds the regulariser).
    """
    return KLPriorObjective(weight, prior, start_step, warmup_steps)
