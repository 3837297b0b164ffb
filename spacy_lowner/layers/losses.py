"""The loss terms objectives share, on one scale.

The scale: a term sums over the tokens it covers and averages over the docs it covers. The
CRF's negative log-likelihood of a sentence is such a sum, so token-level terms (cross-entropy,
a discriminator's log-loss, a KL to a target distribution) put next to it weigh each token the
same, and a term's `weight` means the same thing in every objective.
"""
import torch
from torch.nn import functional as F

# Probabilities are clamped to this before a log, so that a hard 0 gives a large finite loss.
EPSILON = 1e-12


def doc_mean(token_values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Sum of `token_values` (B, T) over the tokens in `mask`, divided by the number of docs
    that have any: the platform's scale. 0 (with a gradient path) when no token is covered."""
    covered = mask.any(dim=1)
    total = (token_values * mask).sum()
    return total / covered.sum().clamp(min=1)


def token_cross_entropy(scores: torch.Tensor, gold: torch.Tensor) -> torch.Tensor:
    """(B, T) cross-entropy of the tag scores against gold tag ids; 0 where gold < 0."""
    known = gold >= 0
    losses = F.cross_entropy(scores.flatten(0, 1), gold.clamp(min=0).flatten(), reduction="none")
    return losses.view(gold.shape) * known


def soft_cross_entropy(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B, T) -sum_k target_k log prob_k: cross-entropy to soft labels (distillation)."""
    return -(targets * probs.clamp(min=EPSILON).log()).sum(-1)


def kl_divergence(targets: torch.Tensor, probs: torch.Tensor) -> torch.Tensor:
    """(...) KL(targets || probs) over the last dimension; 0 log 0 counts as 0."""
    return (targets * (targets.clamp(min=EPSILON).log() - probs.clamp(min=EPSILON).log())).sum(-1)


def squared_error(probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """(B, T) sum_k (prob_k - target_k)^2: AdvPicker's distillation loss per token."""
    return (probs - targets).pow(2).sum(-1)


def focal_loss(log_probs: torch.Tensor, target: torch.Tensor, alpha: torch.Tensor, gamma: float) -> torch.Tensor:
    """(N,) -alpha[y] (1 - p_y)^gamma log p_y for each row's class y (Lin et al. 2017), from
    log-probabilities (N, K), class ids (N,) and one weight per class (K,): DATNet's GRAD loss
    with one alpha per resource. The factor (1 - p_y)^gamma shrinks the loss of the rows the
    classifier already gets right. alpha = 1 for every class and gamma = 0 is the cross-entropy;
    DATNet's alpha = 0.5 with gamma = 0 is half of it."""
    log_p = log_probs.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    # 1 - p_y from log p_y without cancelling, kept above 0 so that a gamma below 1 has a
    # finite gradient at p_y = 1.
    miss = (-torch.expm1(log_p)).clamp(min=EPSILON)
    return -alpha[target] * miss.pow(gamma) * log_p
