"""DATNet's adversarial training (AT; Zhou et al. 2019, after Goodfellow et al. 2015) as a
training objective.

The supervised loss's gradient g at the head's input (the tok2vec output, `batch.features`: the
input of DATNet's BiLSTM once the BiLSTM is a head module) gives the perturbation

    r = epsilon * g / ||g||,    ||g|| over each doc's (tokens, width), as the authors' code,

the direction in which the loss rises fastest at first order. g is a constant (the code's
stop_gradient): it is taken with `torch.autograd.grad` without a graph of its own. The
supervised loss of the head on `features + r` is this objective's term, so that the summed loss
is the paper's eq. 4, l(x) + l(x + r), with `weight = 1`. r is added to the tok2vec output, so
the term's gradient reaches the tok2vec as the supervised one does.

Cost per batch: one backward through the head for g (through the shared pass, whose graph is
kept for the summed loss), then a second forward and backward through the head on the perturbed
vectors; the tok2vec still runs once.
"""
from typing import Dict

import torch

from ..model.batch import TaggerBatch
from ..model.head import TaggerHead
from ..registry import lowner_objectives
from ..settings import NonNegativeFloat
from .base import Objective
from .supervised import labeled_nll

# A doc whose gradient is all zeros (no known tag) gets no perturbation, not a division by 0.
MIN_NORM = 1e-12


def doc_unit(vectors: torch.Tensor) -> torch.Tensor:
    """(B, T, D) `vectors` divided by each doc's L2 norm over (T, D); a zero doc stays zero."""
    norms = vectors.flatten(1).norm(dim=1).clamp(min=MIN_NORM)
    return vectors / norms[:, None, None]


class AdversarialTrainingObjective(Objective):
    def __init__(self, weight: float, epsilon: float):
        super().__init__()
        self.weight = weight
        self.epsilon = epsilon

    def __call__(self, batch: TaggerBatch, head: TaggerHead) -> Dict[str, torch.Tensor]:
        clean = labeled_nll(batch, batch.head_pass(head))
        if clean is None:
            return {}
        vectors = batch.features + self.epsilon * loss_direction(clean, batch)
        adversarial = labeled_nll(batch, batch.head_pass(head, vectors=vectors))
        return {"": self.weight * adversarial}


def loss_direction(loss: torch.Tensor, batch: TaggerBatch) -> torch.Tensor:
    """(B, T, D) g / ||g|| per doc, g the gradient of `loss` at the batch's token vectors, a
    constant; zero on the docs the loss does not read."""
    # The graph is kept: the summed loss is backpropagated through the same pass later.
    (grad,) = torch.autograd.grad(loss, batch.features, retain_graph=True)
    return doc_unit(grad * batch.mask.unsqueeze(-1))


@lowner_objectives("spacy_lowner.adversarial_training.v1")
def make_adversarial_training(
    weight: NonNegativeFloat = 1.0, epsilon: NonNegativeFloat = 5.0
) -> AdversarialTrainingObjective:
    """The supervised loss on the tok2vec output plus its adversarial perturbation (DATNet's AT);
    use it beside the `supervised` objective.

    weight: the adversarial loss's factor in the summed loss (1 in the paper).
    epsilon: the perturbation's L2 norm per doc, over its tokens and the tok2vec width (5 in the
        paper, on its word and character embeddings).
    """
    return AdversarialTrainingObjective(weight=weight, epsilon=epsilon)
