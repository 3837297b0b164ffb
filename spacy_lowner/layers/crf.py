"""A linear-chain CRF with hard transition constraints, and a shared Viterbi decoder.

Shapes: B = batch, T = time (padded), K = tags. Masks are (B, T) bool and left-aligned:
True for the first `length` positions of a row, False for padding.
"""
from typing import List, Tuple

import numpy as np
import torch
from torch import nn

# Score given to disallowed transitions. Finite rather than -inf so that logsumexp over
# rows where everything is disallowed (and its gradient, a softmax) never computes
# -inf - -inf = NaN; -1e4 is still far below any reachable path score, so exp() of it
# vanishes next to an allowed path, and it is representable in float16/bfloat16 too.
DISALLOWED_SCORE = -1e4


def apply_constraints(scores: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
    """`scores` where `allowed`, DISALLOWED_SCORE elsewhere (no gradient flows to those).

    With `scores = torch.zeros(K, K)` this gives the transition scores for constrained
    decoding of a softmax tagger with `viterbi_decode`.
    """
    return torch.where(allowed.to(scores.device), scores, DISALLOWED_SCORE)


def viterbi_decode(
    scores: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """Best tag path per row: argmax of start + sum(scores) + sum(transitions) + end.

    scores (B, T, K), mask (B, T) bool, transitions (K, K) [prev, next], start/end (K,).
    Returns (B, T) long on the scores' device; padding positions (and rows of length 0) are 0.

    Decoding runs in numpy on the CPU: it is a loop over time of tiny (B, K, K) steps, where
    numpy's per-call cost is a fraction of torch's (and of a GPU kernel launch), and the
    paths are needed on the CPU anyway to set `doc.ents`.
    """
    batch, length, num_tags = scores.shape
    if length == 0:
        return torch.zeros(batch, 0, dtype=torch.long, device=scores.device)
    scores_np, mask_np = _numpy(scores), mask.cpu().numpy()
    trans, start_np, end_np = (_numpy(x) for x in (transitions, start, end))
    # At padding the backpointer is the identity, so backtracking from the last position
    # carries a row's final tag unchanged back to its real last position.
    identity = np.broadcast_to(np.arange(num_tags), (batch, num_tags))
    backpointers = np.empty((length, batch, num_tags), dtype=np.int64)
    best = start_np + scores_np[:, 0]
    for t in range(1, length):
        candidates = best[:, :, None] + trans
        argmax = candidates.argmax(axis=1)
        step = np.take_along_axis(candidates, argmax[:, None, :], axis=1)[:, 0] + scores_np[:, t]
        keep = mask_np[:, t, None]
        best = np.where(keep, step, best)
        backpointers[t] = np.where(keep, argmax, identity)
    path = np.empty((batch, length), dtype=np.int64)
    tag = (best + end_np).argmax(axis=1)
    path[:, -1] = tag
    rows = np.arange(batch)
    for t in range(length - 1, 0, -1):
        tag = backpointers[t, rows, tag]
        path[:, t - 1] = tag
    return torch.from_numpy(np.where(mask_np, path, 0)).to(scores.device)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def _forward_alphas(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    normalized: bool = False,
) -> List[torch.Tensor]:
    """alpha[t] (B, K): the log-sum of the scores of all paths up to and including position t;
    after a row's last real position it stays as it was there. T >= 1. `normalized`: each
    alpha[t] less its log-sum over tags (the scaled forward algorithm), so that it stays near 0
    however long the row; the marginals need only its differences between tags."""
    # unbind() rather than emissions[:, t]: each indexing op's backward would allocate and
    # zero a full (B, T, K) gradient, making the backward pass quadratic in T.
    step_emissions = emissions.unbind(1)
    step_keep = mask.unsqueeze(2).unbind(1)
    alphas = [_log_normalize(start + step_emissions[0]) if normalized else start + step_emissions[0]]
    for emission, keep in zip(step_emissions[1:], step_keep[1:]):
        step = torch.logsumexp(alphas[-1].unsqueeze(2) + transitions, dim=1) + emission
        alphas.append(torch.where(keep, _log_normalize(step) if normalized else step, alphas[-1]))
    return alphas


def _log_normalize(scores: torch.Tensor) -> torch.Tensor:
    """(B, K) log-scores less their log-sum over the last dimension."""
    return scores - torch.logsumexp(scores, dim=-1, keepdim=True)


def _forward_algorithm(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """(B,) log of the summed exp-scores of all paths; 0 for rows of length 0."""
    batch, length, _ = emissions.shape
    if length == 0:
        return emissions.new_zeros(batch)
    log_z = torch.logsumexp(_forward_alphas(emissions, mask, transitions, start)[-1] + end, dim=1)
    return torch.where(mask[:, 0], log_z, torch.zeros_like(log_z))


def _forward_backward(
    emissions: torch.Tensor,
    mask: torch.Tensor,
    transitions: torch.Tensor,
    start: torch.Tensor,
    end: torch.Tensor,
) -> torch.Tensor:
    """(B, T, K) marginal probability of each tag at each position; 0 at padding.

    alpha[t] sums the paths up to and including position t, beta[t] the paths after it (with
    the end score), so p(tag k at t) = exp(alpha[t, k] + beta[t, k] - log Z). Both recursions
    are loops over time of (B, K, K) steps, differentiable like the forward algorithm.
    Both are scaled (each step less its log-sum over tags) and each position is normalised
    over its tags rather than by log Z: unscaled, alpha grows with the row (thousands for 100
    tokens with scores in the tens), where float32 keeps about 1e-4 of it, and each row of
    marginals summed to 1 +- 1e-3.
    """
    batch, length, num_tags = emissions.shape
    if length == 0:
        return emissions.new_zeros(batch, 0, num_tags)
    alphas = _forward_alphas(emissions, mask, transitions, start, normalized=True)
    step_emissions = emissions.unbind(1)
    step_keep = mask.unsqueeze(2).unbind(1)
    # After a row's last real position (and in its padding) beta is the end score.
    end_scores = _log_normalize(end.expand(batch, num_tags))
    betas = [end_scores]
    for t in range(length - 2, -1, -1):
        after = (step_emissions[t + 1] + betas[-1]).unsqueeze(1)
        step = _log_normalize(torch.logsumexp(transitions + after, dim=2))
        betas.append(torch.where(step_keep[t + 1], step, end_scores))
    betas.reverse()
    log_marginals = _log_normalize(torch.stack(alphas, 1) + torch.stack(betas, 1))
    return torch.where(mask.unsqueeze(2), log_marginals.exp(), torch.zeros_like(log_marginals))


class CRF(nn.Module):
    """Linear-chain CRF whose disallowed transitions (e.g. O -> I-X in BIO) stay disallowed."""

    def __init__(
        self,
        allowed_transitions: torch.Tensor,
        allowed_start: torch.Tensor,
        allowed_end: torch.Tensor,
    ) -> None:
        super().__init__()
        num_tags = allowed_start.shape[0]
        if allowed_transitions.shape != (num_tags, num_tags) or allowed_end.shape != (num_tags,):
            shapes = [tuple(x.shape) for x in (allowed_transitions, allowed_start, allowed_end)]
            raise ValueError(f"Expected allowed transitions (K, K), start (K,), end (K,); got {shapes}.")
        self.register_buffer("allowed_transitions", allowed_transitions.bool().clone())
        self.register_buffer("allowed_start", allowed_start.bool().clone())
        self.register_buffer("allowed_end", allowed_end.bool().clone())
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))

    @property
    def num_tags(self) -> int:
        return self.allowed_start.shape[0]

    def masked_transitions(self, like: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(transitions, start, end) with constraints applied, on `like`'s device and dtype."""
        return (
            apply_constraints(self.transitions.to(like), self.allowed_transitions),
            apply_constraints(self.start_transitions.to(like), self.allowed_start),
            apply_constraints(self.end_transitions.to(like), self.allowed_end),
        )

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B,) log Z for emissions (B, T, K) and mask (B, T) bool."""
        return _forward_algorithm(emissions, mask, *self.masked_transitions(emissions))

    def log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B,) log P(tags); tags (B, T) long, negative = unknown (any tag allowed there).

        The numerator sums over every path that agrees with the known tags: the same
        forward algorithm, run on emissions where the tags contradicting the gold are
        disallowed. Rows of length 0 give 0.
        """
        constrained = self.masked_transitions(emissions)
        unknown = (tags < 0).unsqueeze(2)
        gold = nn.functional.one_hot(tags.clamp(min=0), self.num_tags).bool()
        gold_emissions = apply_constraints(emissions, unknown | gold)
        # One forward pass over both halves halves the number of (small) per-step ops.
        both = _forward_algorithm(torch.cat([gold_emissions, emissions]), mask.repeat(2, 1), *constrained)
        gold_score, log_z = both.chunk(2)
        return gold_score - log_z

    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T, K) p(tag at position); rows sum to 1 on real tokens, 0 at padding."""
        return _forward_backward(emissions, mask, *self.masked_transitions(emissions))

    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(B, T) long best paths; 0 at padding."""
        return viterbi_decode(emissions, mask, *self.masked_transitions(emissions))
