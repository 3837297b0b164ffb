import math

import pytest
import torch

from torch.nn import functional as F

from spacy_lowner.layers.losses import (
    doc_mean,
    focal_loss,
    kl_divergence,
    soft_cross_entropy,
    squared_error,
    token_cross_entropy,
)


def test_doc_mean_sums_tokens_and_averages_docs():
    values = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]])
    mask = torch.tensor([[True, True, False], [True, False, False], [False, False, False]])
    # docs with tokens: (1 + 2) and 4; the empty third row is not a doc of this term
    assert doc_mean(values, mask).item() == pytest.approx(3.5)
    assert doc_mean(values, torch.zeros_like(mask)).item() == 0.0


def test_token_cross_entropy_skips_unknown_tags():
    scores = torch.tensor([[[2.0, 0.0], [0.0, 0.0]]])
    gold = torch.tensor([[0, -1]])
    losses = token_cross_entropy(scores, gold)
    assert losses[0, 0].item() == pytest.approx(math.log(1 + math.exp(-2.0)))
    assert losses[0, 1].item() == 0.0


def test_kl_on_hand_made_distributions():
    p = torch.tensor([0.5, 0.5, 0.0])
    q = torch.tensor([0.25, 0.25, 0.5])
    assert kl_divergence(p, q).item() == pytest.approx(math.log(2))
    assert kl_divergence(q, q).item() == pytest.approx(0.0, abs=1e-7)
    assert kl_divergence(torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])).item() > 20  # finite, large


def test_soft_labels():
    probs = torch.tensor([[[0.25, 0.75]]])
    targets = torch.tensor([[[0.0, 1.0]]])
    assert soft_cross_entropy(probs, targets).item() == pytest.approx(-math.log(0.75))
    assert squared_error(probs, targets).item() == pytest.approx(2 * 0.25**2)


def test_focal_loss_is_the_papers_formula_with_an_alpha_per_resource():
    # DATNet's eq. 1 with r = p(source): a source doc costs alpha (1 - r)^gamma (-log r), a
    # target doc (1 - alpha) r^gamma (-log(1 - r)); class 0 is the source, 1 the target.
    r = torch.tensor([0.9, 0.6, 0.2, 0.7])
    resource = torch.tensor([0, 0, 1, 1])
    alpha, gamma = 0.25, 2.0
    losses = focal_loss(torch.stack([r, 1 - r], dim=1).log(), resource, torch.tensor([alpha, 1 - alpha]), gamma)
    expected = [
        alpha * 0.1**2 * -math.log(0.9),
        alpha * 0.4**2 * -math.log(0.6),
        (1 - alpha) * 0.2**2 * -math.log(0.8),
        (1 - alpha) * 0.7**2 * -math.log(0.3),
    ]
    assert losses.tolist() == pytest.approx(expected, rel=1e-5)
    # the easy source doc (r = 0.9) weighs less than the hard target doc (r = 0.7) by far more
    # than their cross-entropies do
    assert losses[0] / losses[3] < 0.05 * math.log(0.9) / math.log(0.3)


def test_focal_loss_with_equal_alphas_and_gamma_0_is_the_cross_entropy():
    logits = torch.tensor([[2.0, -1.0], [0.3, 0.1], [-0.5, 1.5]])
    target = torch.tensor([0, 1, 1])
    cross_entropy = F.cross_entropy(logits, target, reduction="none")
    log_probs = logits.log_softmax(-1)
    # the paper's plain discriminator (alpha = 0.5): half the cross-entropy; alphas of 1: all of it
    half = focal_loss(log_probs, target, torch.tensor([0.5, 0.5]), 0.0)
    assert half.tolist() == pytest.approx((0.5 * cross_entropy).tolist(), rel=1e-6)
    assert focal_loss(log_probs, target, torch.ones(2), 0.0).tolist() == pytest.approx(cross_entropy.tolist(), rel=1e-6)


def test_focal_loss_is_finite_with_its_gradient_on_a_sure_row():
    logits = torch.tensor([[40.0, 0.0], [0.0, 0.0]], requires_grad=True)
    losses = focal_loss(logits.log_softmax(-1), torch.tensor([0, 1]), torch.tensor([0.25, 0.75]), 0.5)
    losses.sum().backward()
    assert torch.isfinite(losses).all() and torch.isfinite(logits.grad).all()
    assert losses[0].item() == pytest.approx(0.0, abs=1e-12)
