import math

import pytest
import torch

from spacy_lowner.layers.losses import doc_mean, kl_divergence, soft_cross_entropy, squared_error, token_cross_entropy


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
